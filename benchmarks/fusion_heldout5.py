"""Held-out fusion tasks of round 5 (issue 16), frozen before any round-5 fusion setting was tried.

Written and committed before the round-5 tuning (which uses the dev splits of the older tasks
only) and before any fusion result on these tasks was looked at. None of them is ever part of a
tuning criterion (``bench_fusion.HELD_OUT``).

- ``passkey16`` / ``passkey_b16``: ``fusion_tasks.passkey_corpus`` and ``passkey_b_corpus``
  unchanged, at 16,384 tokens per document instead of 4,096 (the issue's independent table has
  a "pass-key lookup, 16k-token documents" row). Same 40 documents and seed; the generators'
  rng strings hold the token count, so names, values and filler differ from the 4k corpora.
  Acc@1 over documents. Why: long documents give far more distractor chunks per target.
- ``code_nz``: the docstring -> function task of ``fusion_tasks.code_corpus`` (same rules:
  docstrings removed from the indexed code, query = the docstring's first sentence of 4+ words,
  sentences shared by several functions dropped, a hit counts when its chunk overlaps the
  function), on the stdlib modules whose names start with n-z instead of a-m, every fourth in
  sorted order. That gives 22 modules (740 kB, about 1.5 times ``code``), so a seeded subset is
  kept (:func:`nz_modules`: shuffled, taken while the total stays under ``CODE_NZ_BYTES``) to
  keep the size near ``code``'s. MRR@10 over chunks. Why: same shape as a tuned task, unseen text.
- ``para2``: a second paraphrase task, written without looking at ``para``'s synonym map or
  procedure (only ``fusion_tasks``' module docstring and data classes were read). Documents:
  each installed Debian package's own documentation (:func:`package_doc`: README*, FAQ*, *.txt,
  *.md, *.rst under ``/usr/share/doc/<pkg>/``, prose files only, cut near 8,000 characters),
  kept when it has 1,500+ characters and neither its text nor its synopsis is shared with
  another package. Queries: the package's synopsis line (``dpkg-query``'s
  ``binary:Synopsis``, human-written) reworded by a fixed hand-written map written fresh for
  the words of these synopses (:data:`PHRASES` first, then :data:`WORDS`; one rewording per
  entry, chosen before and independently of any target page; unmapped words and product names
  dropped). A query is kept in family ``zero`` when it shares no BM25 term (the library's
  analyzer) with its target document, in family ``low`` when it shares exactly one, and
  dropped otherwise, or when it has under two terms or the same wording as another package's
  query. The family is in the query id (``para2:zero:<pkg>.txt``). Distractors are the other
  packages' docs. MRR@10 over documents. Why: all of ``para``'s queries come from one map over
  one kind of text; a gain on ``para`` that is a fit to that map should not carry over here.
  Caveat: the top-level READMEs also feed ``passkey_b``'s filler paragraphs
  (``debian_paragraphs``), so some para2 paragraphs appear, as pass-key filler, in those
  corpora (other indices).

Splits: ``fusion_tasks.split_of`` on the same keys as the generators they copy (document +
name for pass keys, ``module:line:function`` for code) and on ``para2:<package>``; about half
each.

Example:
    >>> [p.name for p in nz_modules()][:3]  # the Python 3.11.7 of this machine
    ['netrc.py', 'numbers.py', 'os.py']
"""

from __future__ import annotations

import gzip
import random
import re
import subprocess
import sysconfig
from collections import Counter
from pathlib import Path

from lcmem.indexers.analyzer import ENGLISH_STOPWORDS

try:
    from benchmarks.fusion_tasks import (
        Corpus,
        Query,
        _analyzer,
        code_queries,
        passkey_b_corpus,
        passkey_corpus,
        split_of,
    )
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from fusion_tasks import (  # type: ignore[no-redef]
        Corpus,
        Query,
        _analyzer,
        code_queries,
        passkey_b_corpus,
        passkey_corpus,
        split_of,
    )

LONG_TOKENS = 16_384
CODE_NZ_BYTES = 520_000  # ``code`` (a-m, every fourth) is 480 kB of source
CODE_NZ_SEED = "fusion-heldout5-code_nz"


def _renamed(corpus: Corpus, old: str, new: str) -> Corpus:
    """``corpus`` with its task ``old`` renamed ``new`` (task and qid prefix; splits kept)."""
    corpus.name = new
    for q in corpus.queries:
        assert q.task == old and q.qid.startswith(old + ":"), q
        q.task = new
        q.qid = new + q.qid[len(old) :]
    return corpus


def passkey16_corpus() -> Corpus:
    """``passkey`` at 16,384 tokens per document."""
    return _renamed(passkey_corpus(tokens=LONG_TOKENS), "passkey", "passkey16")


def passkey_b16_corpus() -> Corpus:
    """``passkey_b`` at 16,384 tokens per document."""
    return _renamed(passkey_b_corpus(tokens=LONG_TOKENS), "passkey_b", "passkey_b16")


def nz_modules(max_bytes: int = CODE_NZ_BYTES) -> list[Path]:
    """Every fourth stdlib n-z module (sorted), then a seeded subset under ``max_bytes``."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    every4 = sorted(p for p in lib.glob("*.py") if p.name[0] in "nopqrstuvwxyz")[::4]
    rng = random.Random(CODE_NZ_SEED)
    order = list(every4)
    rng.shuffle(order)
    kept, total = [], 0
    for p in order:
        size = p.stat().st_size
        if total + size <= max_bytes:
            kept.append(p)
            total += size
    return sorted(kept)


def code_nz_corpus() -> Corpus:
    """The ``code_nz`` task (see the module docstring)."""
    files = nz_modules()
    corpus = code_queries(Corpus("code_nz"), files, "code_nz")
    corpus.notes["code_nz_modules"] = len(files)
    corpus.notes["code_nz_bytes"] = sum(p.stat().st_size for p in files)
    return corpus


# -- para2: Debian package synopses, reworded by a hand-written map --------------------------
DOC_ROOT = Path("/usr/share/doc")
PARA2_MIN_CHARS = 1_500
PARA2_MAX_CHARS = 8_000
_DOC_FILE = re.compile(r"^(README.*|FAQ.*|.*\.(txt|md|rst))$", re.IGNORECASE)


def _doc_rank(rel: Path) -> tuple[int, str]:
    """Order of a package's files: top-level READMEs, other READMEs and FAQs, the rest."""
    name = rel.name.upper()
    first = 0 if len(rel.parts) == 1 and name.startswith("README") else 1
    return (first if name.startswith(("README", "FAQ")) else 2, str(rel))


def _prose(text: str) -> bool:
    """Mostly letters and spaces (leaves out lists of codes, tables, data files)."""
    head = text[:PARA2_MAX_CHARS]
    return bool(head) and sum(c.isalpha() or c.isspace() for c in head) >= 0.8 * len(head)


def package_doc(pkg: str, root: Path = DOC_ROOT) -> str:
    """A package's documentation: its README*, FAQ*, *.txt, *.md, *.rst files under
    ``root/pkg`` (any depth, .gz read, symlinks skipped), prose files only, in
    :func:`_doc_rank` order, joined by blank lines and cut at the last blank line before
    ``PARA2_MAX_CHARS`` ('' when the folder is missing or a symlink)."""
    folder = root / pkg
    if not folder.is_dir() or folder.is_symlink():
        return ""
    parts = []
    for path in sorted(folder.rglob("*"), key=lambda p: _doc_rank(p.relative_to(folder))):
        name = path.name.removesuffix(".gz")
        if path.is_symlink() or not path.is_file() or not _DOC_FILE.match(name):
            continue
        try:
            raw = path.read_bytes()
            data = gzip.decompress(raw) if path.name.endswith(".gz") else raw
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        text = data.decode("utf-8", "replace").strip()
        if _prose(text):
            parts.append(text)
    text = "\n\n".join(parts)
    if len(text) > PARA2_MAX_CHARS:
        cut = text.rfind("\n\n", 0, PARA2_MAX_CHARS)
        text = text[: cut if cut > PARA2_MAX_CHARS // 2 else PARA2_MAX_CHARS]
    return text


def synopses() -> dict[str, str]:
    """Installed package -> its synopsis line (``dpkg-query``), sorted by package."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\\t${binary:Synopsis}\\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = (line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    return dict(sorted((p, s.strip()) for p, s in pairs if s.strip()))


# Hand-written for the words of these synopses, fresh for this task (not derived from
# fusion_tasks' map): one fixed rewording per phrase or word, chosen without looking at any
# target document; a query is kept or dropped afterwards by its BM25 overlap with its target.
# Phrases are rewritten first (longest first), then each remaining word; "" drops the word, and
# a word with no entry is dropped too (counted in the notes).
PHRASES: dict[str, str] = {
    "development files": "headers needed when compiling against it",
    "development kit": "headers needed when compiling against it",
    "developers tools": "helpers for programmers",
    "developer tools": "helpers for programmers",
    "runtime library": "loadable component",
    "run-time libraries": "loadable components",
    "shared library files": "loadable component",
    "shared library": "loadable component",
    "main runtime library": "loadable component",
    "runtime version": "loadable edition",
    "support binaries": "accompanying executables",
    "command line": "typed-at-a-prompt",
    "command-line": "typed-at-a-prompt",
    "commandline": "typed-at-a-prompt",
    "cli tool": "prompt-driven executable",
    "privacy guard": "confidentiality shield",
    "revision control": "keeping track of edits over time",
    "file system": "storage hierarchy",
    "stream editor": "pipe-fed rewriter",
    "manual pages": "reference handbook entries",
    "pass-phrase": "secret sentence",
    "secure shell": "encrypted remote login",
    "user interface": "on-screen front end",
    "domain names": "internet host labels",
    "line editor": "one-row-at-a-time modifier",
    "virtual machine": "emulated computer",
    "foreign function interface": "calling routines across language borders",
    "object-oriented": "class-centred",
    "high-level": "abstract",
    "low-level": "close-to-the-metal",
    "base system": "minimal install",
    "bourne again shell": "popular login interpreter",
    "init systems": "boot-time launchers",
    "message bus": "broadcast channel",
    "ca certificates": "trusted issuer credentials",
    "core utilities": "fundamental everyday commands",
    "precision calculator language": "exactness arithmetic notation",
    "arbitrary precision": "unbounded exactness",
    "multiple precision": "unbounded exactness",
    "floating-point": "real-number",
    "font engine": "glyph rasteriser",
    "font family": "typeface collection",
    "type definitions": "capability descriptions",
    "terminal multiplexer": "console splitter",
    "proc file system": "kernel process pseudo-storage",
    "/proc file system": "kernel process pseudo-storage",
    "pattern scanning": "regex-matching",
    "text processing": "prose crunching",
    "process pipeline": "chained child jobs",
    "performance monitoring events": "speed counters",
    "performance analysis": "speed profiling",
    "dynamic analysis": "execution-time inspection",
    "authentication modules": "login-verification plug-ins",
    "authentication abstraction": "login-verification layering",
    "web services": "online endpoints",
    "x keyboard extension": "key-layout add-on for graphical desktops",
    "x rendering extension": "drawing add-on for graphical desktops",
    "x transport": "graphical-desktop connection",
    "x11 extension protocols": "graphical-desktop add-on wire formats",
    "sockets layer": "encrypted channel",
    "server-side": "backend",
    "event-based": "callback-driven",
    "database-cluster manager": "sql-instance supervisor",
    "catalog file": "lookup index",
    "package manager": "installer frontend",
    "package management system": "installation bookkeeping",
    "package installer": "add-on fetcher",
    "translations": "localized renderings",
}
WORDS: dict[str, str] = {
    "add": "create",
    "remove": "delete",
    "users": "accounts",
    "groups": "teams",
    "assistive": "accessibility",
    "technology": "",
    "service": "daemon",
    "provider": "supplier",
    "interface": "api",
    "d-bus": "desktop-ipc",
    "core": "central",
    "debian": "",
    "miscellaneous": "assorted",
    "files": "items",
    "file": "item",
    "master": "canonical",
    "password": "passphrase",
    "group": "team",
    "gnu": "",
    "common": "shared",
    "certificates": "credentials",
    "certificate": "credential",
    "c": "k-and-r",
    "preprocessor": "macro expander",
    "interactively": "hands-on",
    "examine": "browse",
    "program": "codebase",
    "source": "listings",
    "posix-compliant": "standards-conforming",
    "shell": "interpreter",
    "simple": "lean",
    "interprocess": "cross-process",
    "messaging": "signalling",
    "system": "setup",
    "systems": "setups",
    "network": "online",
    "management": "handling",
    "dpkg": "",
    "classic": "venerable",
    "unix": "bell-labs-style",
    "utilities": "helpers",
    "utility": "helper",
    "finding": "locating",
    "find": "locate",
    "files--find": "items",
    "xargs": "argument-batching",
    "generic": "general-purpose",
    "configuration": "settings",
    "library": "toolkit-of-routines",
    "libraries": "toolkits-of-routines",
    "vera": "",
    "derivate": "offshoot",
    "additional": "extra",
    "characters": "glyphs",
    "gcc": "",
    "compiler": "translator-to-machine-code",
    "collection": "suite",
    "base": "foundation",
    "package": "bundle",
    "debugger": "bug hunter",
    "internationalization": "localisation",
    "internationalized": "localised",
    "fast": "speedy",
    "scalable": "growable",
    "distributed": "decentralised",
    "free": "libre",
    "pgp": "",
    "replacement": "substitute",
    "cryptographic": "cipher",
    "agent": "daemon",
    "grep": "",
    "egrep": "",
    "fgrep": "",
    "troff": "",
    "text-formatting": "typesetting",
    "components": "pieces",
    "helper": "assisting",
    "tools": "helpers",
    "tool": "helper",
    "all": "every",
    "iso": "standardised",
    "language": "tongue",
    "territory": "region",
    "currency": "money",
    "script": "alphabet",
    "codes": "identifiers",
    "lightweight": "slim",
    "flexible": "adaptable",
    "json": "javascript-object-notation",
    "processor": "transformer",
    "module": "add-in",
    "differences": "deltas",
    "between": "across",
    "alsa": "",
    "applications": "apps",
    "parsing": "reading-in",
    "generating": "producing",
    "cbor": "concise binary object encoding",
    "rfc": "",
    "7049": "",
    "arguments": "parameters",
    "options": "switches",
    "libcrypt": "",
    "printing": "paper-output",
    "tm": "",
    "storage": "persistence",
    "freetype": "",
    "2": "",
    "lgpl": "",
    "crypto": "cipher",
    "gdk": "",
    "pixbuf": "bitmap",
    "glib": "",
    "routines": "helpers",
    "multiprecision": "big-number",
    "arithmetic": "math",
    "gnutls": "",
    "tls": "transport-security",
    "main": "",
    "gnupg": "",
    "gtk": "",
    "graphical": "windowed",
    "idna2008": "",
    "tr46": "",
    "intel": "x86-vendor",
    "trace": "execution-recording",
    "decoder": "unpacker",
    "encoding": "serialising",
    "decoding": "deserialising",
    "manipulating": "editing",
    "data": "records",
    "reading": "loading",
    "writing": "saving",
    "c++": "cplusplus",
    "mit": "",
    "kerberos": "ticket-based-login",
    "x.509": "",
    "cms": "signed-message-syntax",
    "support": "handling",
    "using": "relying-on",
    "libc": "",
    "functions": "calls",
    "perl": "",
    "xz-format": "lzma2-container",
    "compression": "squeezing",
    "computation": "math",
    "implementing": "realising",
    "http": "web-transfer",
    "protocol": "wire-format",
    "pluggable": "swappable",
    "pfm": "",
    "png": "portable-network-graphics",
    "runtime": "",
    "version": "",
    "1.6": "",
    "pthread": "posix-threads",
    "stubs": "placeholders",
    "provided": "supplied",
    "native": "built-in",
    "readline": "",
    "history": "recall",
    "sax-based": "event-streaming",
    "renderer": "drawer",
    "svg": "scalable-vector-graphics",
    "cyrus": "",
    "sasl": "",
    "s-lang": "",
    "programming": "coding",
    "communication": "messaging",
    "cryptography": "ciphers",
    "signaturing": "signing",
    "manage": "handle",
    "asn.1": "abstract-syntax-notation",
    "structures": "records",
    "gnome": "",
    "xml": "markup",
    "security": "protection",
    "linux": "",
    "llvm": "",
    "directing": "steering",
    "compilation": "builds",
    "basic": "elementary",
    "terminal": "console",
    "net-3": "",
    "networking": "connectivity",
    "toolkit": "kit",
    "node.js": "",
    "javascript": "ecmascript",
    "engine": "runtime-core",
    "openjdk": "",
    "java": "jvm",
    "hotspot": "",
    "jit": "just-in-time",
    "headless": "screenless",
    "ssh": "",
    "client": "consumer",
    "secure": "encrypted",
    "access": "entry",
    "remote": "faraway",
    "machines": "hosts",
    "openssl": "",
    "change": "alter",
    "administer": "oversee",
    "apply": "carry out",
    "diff": "delta",
    "original": "pristine copy",
    "curses-based": "text-mode",
    "pin": "numeric code",
    "entry": "input",
    "dialog": "prompt box",
    "compile": "build",
    "link": "linker",
    "flags": "switches",
    "binaries": "executables",
    "framework": "scaffolding",
    "managing": "handling",
    "administrative": "admin",
    "policies": "rules",
    "privileges": "permissions",
    "postgresql": "postgres",
    "use": "rely on",
    "comprehensive": "thorough",
    "written": "authored",
    "python3": "",
    "python": "",
    "3": "",
    "lazr.restful-based": "hypermedia",
    "uris": "web addresses",
    "spec-compliant": "standards-conforming",
    "implementation": "realisation",
    "oauth": "delegated-authorisation",
    "discovery": "locating",
    "resource": "asset",
    "pkg_resources": "",
    "distutils": "",
    "enhancements": "improvements",
    "makes": "renders",
    "working": "dealing",
    "feel": "seem",
    "like": "similar to",
    "you": "one",
    "yaml": "yet-another-markup",
    "parser": "reader",
    "emitter": "writer",
    "interactive": "conversational",
    "3.11": "",
    "filtering": "sifting",
    "transforming": "reshaping",
    "sgml": "standard-generalized-markup",
    "infrastructure": "plumbing",
    "catalog": "registry",
    "tcl": "",
    "v8.6": "",
    "tk": "",
    "x11": "graphical-desktop",
    "windowing": "gui",
    "instrumentation": "probing",
    "building": "constructing",
    "vi": "",
    "improved": "enhanced",
    "retrieves": "downloads",
    "web": "internet",
    "protocols": "wire-formats",
    "auxiliary": "supporting",
    "headers": "include-files",
    "keyboard": "keys",
    "transport": "carrier",
    "jq": "",
    "wrapper": "shim",
    "documents": "texts",
    "lossless": "bit-exact",
    "algorithm": "method",
    "mawk": "",
    "awk": "",
    "again": "",
    "bc": "",
    "cpp": "",
    "resources": "assets",
    "developers": "programmers",
}
_PUNCT = re.compile(r"--|\s-\s|[(),:;/]|\s+")


def reword(synopsis: str) -> tuple[str, int]:
    """``synopsis`` reworded by :data:`PHRASES` then :data:`WORDS`; also how many of its words
    had no entry (dropped). The analyzer's stopwords (``for``, ``and``...) are kept as they are.

    Example:
        >>> reword("tools for reading manual pages")
        ('helpers for loading reference handbook entries', 0)
    """
    text = " " + " ".join(_PUNCT.sub(" ", synopsis.lower()).split()) + " "
    out: list[str] = []
    unknown = 0
    pieces = [text]
    for phrase in sorted(PHRASES, key=lambda p: (-len(p), p)):
        pieces = [
            part
            for piece in pieces
            for part in (
                [piece]
                if piece.startswith("\0")
                else _interleave(piece.split(f" {phrase} "), "\0" + PHRASES[phrase])
            )
        ]
    for piece in pieces:
        if piece.startswith("\0"):
            out.append(piece[1:])
            continue
        for word in piece.split():
            if word in ENGLISH_STOPWORDS:  # no BM25 term: kept as it is
                out.append(word)
            elif word in WORDS:
                out.append(WORDS[word])
            else:
                unknown += 1
    return " ".join(" ".join(out).split()), unknown


def _interleave(parts: list[str], sep: str) -> list[str]:
    """``parts`` with ``sep`` between each two (a split phrase put back as its rewording)."""
    out = [f" {parts[0]} "]
    for part in parts[1:]:
        out += [sep, f" {part} "]
    return out


def para2_corpus() -> Corpus:
    """The ``para2`` task (see the module docstring)."""
    analyze = _analyzer()
    corpus = Corpus("para2")
    syn = synopses()
    docs = {p: package_doc(p) for p in syn}
    docs = {p: t for p, t in docs.items() if len(t) >= PARA2_MIN_CHARS}
    same_doc = Counter(docs.values())
    same_syn = Counter(syn[p].lower() for p in docs)
    found: list[Query] = []
    for pkg, text in docs.items():
        if same_doc[text] > 1 or same_syn[syn[pkg].lower()] > 1:
            corpus.notes["para2_skipped_shared"] = corpus.notes.get("para2_skipped_shared", 0) + 1
            continue
        doc = f"{pkg}.txt"
        corpus.docs[doc] = text
        query, unknown = reword(syn[pkg])
        corpus.notes["para2_unmapped_words"] = corpus.notes.get("para2_unmapped_words", 0) + unknown
        terms = set(analyze(query))
        shared = terms & set(analyze(text))
        family = "zero" if not shared else "low" if len(shared) == 1 else ""
        if len(terms) < 2 or not family:
            corpus.notes["para2_dropped_overlap"] = corpus.notes.get("para2_dropped_overlap", 0) + 1
            continue
        split = split_of(f"para2:{pkg}")
        found.append(Query(f"para2:{family}:{doc}", "para2", split, query, doc))
    same_query = Counter(q.text for q in found)  # one wording for two packages: ambiguous
    corpus.queries = [q for q in found if same_query[q.text] == 1]
    corpus.notes["para2_dropped_same_query"] = len(found) - len(corpus.queries)
    for family in ("zero", "low"):
        n = sum(q.qid.startswith(f"para2:{family}:") for q in corpus.queries)
        corpus.notes[f"para2_{family}"] = n
    return corpus


if __name__ == "__main__":
    for c in (code_nz_corpus(), para2_corpus()):
        print(c.name, len(c.docs), "documents", sum(map(len, c.docs.values())), "chars", c.notes)
        for sp in ("dev", "test"):
            print(c.name, sp, sum(q.split == sp for q in c.queries))
        for q in c.queries[:8]:
            print(q.qid, q.split, q.span, "|", q.text)
