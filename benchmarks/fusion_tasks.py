"""Frozen retrieval tasks for choosing lcmem's hybrid fusion (issue 16), each split dev / test.

Five tasks over four corpora, all built from text on this machine:

- ``man``: find a man page (section 1, no ``gcloud`` pages) from its NAME description; the
  document is the page without its NAME section (``bench_quality.py``'s task, smaller).
  Metric MRR@10 over documents.
- ``para``: the same pages, queried by a *paraphrase* of the NAME description written by a
  frozen procedure (:func:`paraphrase`): every content word goes through a hand-written
  synonym map (:data:`SYNONYMS`), the first synonym whose stem does not occur anywhere in the
  target page is taken, words without an entry are dropped; a query is kept only when it
  shares no BM25 term at all with the target page. BM25 cannot match the target, by
  construction. Metric MRR@10 over documents.
- ``code``: find a standard-library function from the first sentence of its docstring, the
  docstrings removed from the indexed code (``bench_code_retrieval.py``'s task, every fourth
  a-m module). A hit counts when its chunk overlaps the function. Metric MRR@10 over chunks.
- ``passkey``: 40 documents of about 4,096 tokens of man-page prose, each hiding two facts
  ``The pass key for <first> <made-up surname> is <5 digits>.``; query ``What is the pass key
  for <name>?``. First names repeat across documents. Metric Acc@1 over documents.
- ``passkey_b``: an independently written generator (:func:`passkey_b_task`): Debian README
  text as filler, three other sentence shapes (badge / vault combination / recovery phrase)
  each with its own question shape, another name pool, two targets per document and three decoys
  whose person shares the given name or the surname of a target elsewhere. Acc@1.

Splits: a query goes to ``dev`` or ``test`` by a hash of its key (page, function, or
document + name), about half each; documents are shared (one index per corpus).
Everything depends only on the seeds and the text installed on the machine.

Example:
    >>> split_of("ls.1")
    'test'
    >>> paraphrase("list directory contents", {"list", "directori", "content"})[0]
    'enumerate folder items'
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import random
import re
import sysconfig
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

try:
    from benchmarks import longqa
    from benchmarks.bench_code_retrieval import first_sentence, strip_docstrings
    from benchmarks.bench_quality import split_page
    from benchmarks.manpages import render_pages, split_paragraphs
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    import longqa  # type: ignore[no-redef]
    from bench_code_retrieval import first_sentence, strip_docstrings  # type: ignore[no-redef]
    from bench_quality import split_page  # type: ignore[no-redef]
    from manpages import render_pages, split_paragraphs  # type: ignore[no-redef]

TASKS = ("man", "para", "code", "passkey", "passkey_b")
CORPUS_OF = {"man": "man", "para": "man", "code": "code", "passkey": "passkey"}
CORPUS_OF["passkey_b"] = "passkey_b"
METRIC_OF = {"man": "mrr", "para": "mrr", "code": "mrr", "passkey": "acc1", "passkey_b": "acc1"}
# Held out (round 2): written after the default fusion was chosen, never used to tune it.
HELD_OUT = ("fact",)
CORPUS_OF["fact"] = "fact"
METRIC_OF["fact"] = "acc1"

MAN_PAGES = 150  # pages drawn (non-gcloud, seeded order), before dropping unusable ones
MAN_MAX_CHARS = 30_000  # longer pages are left out (bounds the embedding cost)
PASSKEY_DOCS = 40
PASSKEY_TOKENS = 4096


@dataclass
class Query:
    """One query: its text, the relevant document, and (code) the relevant character span."""

    qid: str
    task: str
    split: str
    text: str
    doc: str
    span: tuple[int, int] | None = None


@dataclass
class Corpus:
    """Documents (file name -> text) and the queries of every task over them."""

    name: str
    docs: dict[str, str] = field(default_factory=dict)
    queries: list[Query] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)


def split_of(key: str) -> str:
    """``dev`` or ``test``, from a hash of ``key`` (stable across runs and machines)."""
    return "dev" if hashlib.blake2b(key.encode(), digest_size=8).digest()[0] % 2 else "test"


def _analyzer() -> Callable[[str], list[str]]:
    from lcmem.indexers.analyzer import Analyzer

    return Analyzer()


# -- man pages and their paraphrases ----------------------------------------------------------
# Hand-written synonym map for the words of man-page NAME lines, written once before any
# retrieval run. Each entry lists replacements in order of preference; multi-word ones allowed.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "list": ("enumerate", "itemize", "catalogue"),
    "lists": ("enumerates", "itemizes"),
    "directory": ("folder",),
    "directories": ("folders",),
    "contents": ("items", "entries"),
    "content": ("substance", "material"),
    "file": ("document", "record"),
    "files": ("documents", "records"),
    "display": ("show", "present", "exhibit"),
    "displays": ("shows", "presents"),
    "show": ("display", "present", "exhibit"),
    "shows": ("displays", "presents"),
    "print": ("output", "emit", "write out"),
    "prints": ("outputs", "emits"),
    "create": ("make", "produce", "generate"),
    "creates": ("makes", "produces"),
    "make": ("create", "produce", "build"),
    "remove": ("delete", "erase", "discard"),
    "removes": ("deletes", "erases"),
    "delete": ("remove", "erase", "discard"),
    "copy": ("duplicate", "replicate", "clone"),
    "copies": ("duplicates", "replicates"),
    "move": ("relocate", "shift", "transfer"),
    "change": ("alter", "modify", "adjust"),
    "changes": ("alterations", "modifications"),
    "modify": ("alter", "adjust", "change"),
    "convert": ("transform", "translate", "turn"),
    "converts": ("transforms", "translates"),
    "conversion": ("transformation", "translation"),
    "manage": ("administer", "handle", "oversee"),
    "management": ("administration", "handling"),
    "manager": ("administrator", "supervisor"),
    "manipulate": ("handle", "alter", "edit"),
    "utility": ("tool", "helper", "program"),
    "utilities": ("tools", "helpers", "programs"),
    "tool": ("utility", "helper", "instrument"),
    "tools": ("utilities", "helpers", "instruments"),
    "program": ("application", "software", "executable"),
    "programs": ("applications", "software", "executables"),
    "command": ("instruction", "order", "directive"),
    "commands": ("instructions", "orders", "directives"),
    "information": ("details", "data", "facts"),
    "info": ("details", "facts"),
    "system": ("machine", "host", "platform"),
    "systems": ("machines", "hosts", "platforms"),
    "user": ("account", "person", "operator"),
    "users": ("accounts", "people", "operators"),
    "network": ("net", "lan", "web"),
    "text": ("prose", "writing", "wording"),
    "search": ("look", "hunt", "seek"),
    "searches": ("looks", "hunts", "seeks"),
    "find": ("locate", "discover", "seek"),
    "finds": ("locates", "discovers"),
    "locate": ("find", "discover", "spot"),
    "compress": ("shrink", "pack", "squeeze"),
    "compressed": ("shrunken", "packed", "squeezed"),
    "compression": ("shrinking", "packing", "squeezing"),
    "decompress": ("unpack", "expand", "inflate"),
    "uncompress": ("unpack", "expand", "inflate"),
    "archive": ("bundle", "collection", "package"),
    "archives": ("bundles", "collections"),
    "format": ("layout", "arrangement", "shape"),
    "formatted": ("laid out", "arranged"),
    "formatting": ("layout", "arrangement"),
    "output": ("result", "emission", "printout"),
    "input": ("entry", "feed", "intake"),
    "read": ("scan", "consume", "ingest"),
    "reads": ("scans", "consumes"),
    "write": ("record", "store", "put"),
    "writes": ("records", "stores", "puts"),
    "run": ("launch", "start", "invoke"),
    "runs": ("launches", "starts", "invokes"),
    "execute": ("launch", "invoke", "perform"),
    "executes": ("launches", "invokes", "performs"),
    "process": ("task", "job", "handle"),
    "processes": ("tasks", "jobs"),
    "processing": ("handling", "treatment"),
    "get": ("obtain", "fetch", "retrieve"),
    "set": ("assign", "configure", "establish"),
    "sets": ("assigns", "configures"),
    "send": ("transmit", "dispatch", "deliver"),
    "sends": ("transmits", "dispatches"),
    "receive": ("accept", "collect", "obtain"),
    "check": ("verify", "inspect", "examine"),
    "checks": ("verifies", "inspects", "examines"),
    "checker": ("verifier", "inspector", "validator"),
    "test": ("try", "probe", "examine"),
    "generate": ("produce", "create", "make"),
    "generates": ("produces", "creates", "makes"),
    "generator": ("producer", "maker", "creator"),
    "edit": ("revise", "alter", "amend"),
    "editor": ("reviser", "composer", "writer"),
    "view": ("see", "inspect", "watch"),
    "viewer": ("browser", "reader", "presenter"),
    "server": ("daemon", "host", "service"),
    "client": ("consumer", "frontend", "requester"),
    "daemon": ("service", "background server"),
    "configuration": ("setup", "settings", "preferences"),
    "configure": ("set up", "adjust", "tune"),
    "package": ("bundle", "parcel", "distribution"),
    "packages": ("bundles", "parcels", "distributions"),
    "data": ("information", "records", "facts"),
    "image": ("picture", "graphic", "photo"),
    "images": ("pictures", "graphics", "photos"),
    "font": ("typeface", "glyph set", "lettering"),
    "fonts": ("typefaces", "glyph sets", "lettering"),
    "terminal": ("console", "tty", "screen"),
    "line": ("row", "entry", "record"),
    "lines": ("rows", "entries", "records"),
    "string": ("sequence", "token", "phrase"),
    "strings": ("sequences", "tokens", "phrases"),
    "character": ("symbol", "glyph", "letter"),
    "characters": ("symbols", "glyphs", "letters"),
    "number": ("count", "figure", "quantity"),
    "numbers": ("counts", "figures", "quantities"),
    "time": ("clock", "duration", "moment"),
    "date": ("day", "calendar", "timestamp"),
    "report": ("summary", "account", "statement"),
    "reports": ("summaries", "accounts", "statements"),
    "status": ("state", "condition", "situation"),
    "query": ("ask", "interrogate", "question"),
    "database": ("datastore", "catalog", "repository"),
    "key": ("secret", "token", "cipher"),
    "keys": ("secrets", "tokens", "ciphers"),
    "password": ("passphrase", "secret", "credential"),
    "passwords": ("passphrases", "secrets", "credentials"),
    "mail": ("email", "post", "correspondence"),
    "message": ("note", "notice", "communication"),
    "messages": ("notes", "notices", "communications"),
    "version": ("release", "revision", "edition"),
    "control": ("govern", "steer", "regulate"),
    "library": ("toolkit", "module", "collection"),
    "libraries": ("toolkits", "modules", "collections"),
    "interface": ("frontend", "facade", "boundary"),
    "filesystem": ("volume", "storage tree", "drive"),
    "filesystems": ("volumes", "drives"),
    "disk": ("drive", "storage", "volume"),
    "memory": ("ram", "storage", "recall"),
    "kernel": ("core", "nucleus", "os core"),
    "module": ("component", "plugin", "unit"),
    "modules": ("components", "plugins", "units"),
    "device": ("gadget", "hardware", "apparatus"),
    "devices": ("gadgets", "hardware", "apparatus"),
    "audio": ("sound", "acoustic", "sonic"),
    "sound": ("audio", "acoustic", "noise"),
    "video": ("film", "movie", "footage"),
    "window": ("pane", "frame", "panel"),
    "windows": ("panes", "frames", "panels"),
    "script": ("routine", "macro", "batch"),
    "scripts": ("routines", "macros", "batches"),
    "shell": ("interpreter", "prompt", "console"),
    "source": ("origin", "original", "raw"),
    "code": ("logic", "software", "cipher"),
    "compiler": ("translator", "builder", "transpiler"),
    "build": ("assemble", "construct", "compile"),
    "install": ("deploy", "set up", "put in place"),
    "installed": ("deployed", "set up"),
    "update": ("refresh", "renew", "upgrade"),
    "updates": ("refreshes", "renews"),
    "upgrade": ("improve", "refresh", "uplift"),
    "download": ("fetch", "retrieve", "pull"),
    "upload": ("push", "submit", "send up"),
    "transfer": ("transmit", "move", "ship"),
    "remote": ("distant", "faraway", "far"),
    "local": ("nearby", "onsite", "resident"),
    "secure": ("safe", "protected", "guarded"),
    "encrypt": ("encipher", "scramble", "encode"),
    "encryption": ("enciphering", "scrambling", "encoding"),
    "decrypt": ("decipher", "unscramble", "decode"),
    "sign": ("endorse", "stamp", "seal"),
    "signature": ("endorsement", "stamp", "seal"),
    "certificate": ("credential", "attestation", "voucher"),
    "certificates": ("credentials", "attestations", "vouchers"),
    "backup": ("spare copy", "safeguard", "reserve"),
    "restore": ("recover", "reinstate", "bring back"),
    "dump": ("unload", "spill", "export"),
    "load": ("bring in", "import", "ingest"),
    "translate": ("render", "convert", "transform"),
    "parse": ("analyse", "dissect", "interpret"),
    "parser": ("analyser", "interpreter", "dissector"),
    "validate": ("verify", "confirm", "check"),
    "verify": ("confirm", "validate", "check"),
    "compare": ("contrast", "diff", "match up"),
    "differences": ("deltas", "discrepancies", "contrasts"),
    "merge": ("combine", "fuse", "unite"),
    "split": ("divide", "break", "separate"),
    "join": ("combine", "connect", "unite"),
    "sort": ("order", "arrange", "rank"),
    "count": ("tally", "tot up", "number"),
    "match": ("fit", "correspond", "agree"),
    "matching": ("fitting", "corresponding"),
    "pattern": ("template", "motif", "model"),
    "patterns": ("templates", "motifs", "models"),
    "replace": ("substitute", "swap", "exchange"),
    "extract": ("pull out", "take out", "unpack"),
    "tree": ("hierarchy", "graph", "nesting"),
    "access": ("entry", "reach", "admission"),
    "statistics": ("figures", "metrics", "numbers"),
    "monitor": ("watch", "observe", "track"),
    "log": ("journal", "record", "diary"),
    "logs": ("journals", "records", "diaries"),
    "logging": ("journaling", "recording"),
    "error": ("fault", "mistake", "failure"),
    "errors": ("faults", "mistakes", "failures"),
    "debug": ("troubleshoot", "diagnose"),
    "debugger": ("troubleshooter", "diagnoser"),
    "documentation": ("manuals", "guides", "reference"),
    "manual": ("handbook", "guide", "reference"),
    "page": ("sheet", "leaf"),
    "pages": ("sheets", "leaves"),
    "simple": ("basic", "plain", "easy"),
    "small": ("little", "tiny", "compact"),
    "fast": ("quick", "rapid", "speedy"),
    "new": ("fresh", "novel", "brand-new"),
    "current": ("present", "active", "existing"),
    "multiple": ("several", "many", "various"),
    "various": ("assorted", "diverse", "several"),
    "specified": ("given", "named", "stated"),
    "given": ("specified", "stated", "supplied"),
    "standard": ("normal", "usual", "regular"),
    "graphical": ("visual", "pictorial"),
    "interactive": ("conversational", "hands-on"),
    "binary": ("compiled", "machine-code"),
    "object": ("item", "thing", "entity"),
    "objects": ("items", "things", "entities"),
    "group": ("team", "set", "cluster"),
    "groups": ("teams", "sets", "clusters"),
    "tables": ("grids", "charts", "matrices"),
    "table": ("grid", "chart", "matrix"),
    "connection": ("link", "session", "channel"),
    "connections": ("links", "sessions", "channels"),
    "address": ("location", "endpoint"),
    "addresses": ("locations", "endpoints"),
    "host": ("machine", "computer", "node"),
    "hosts": ("machines", "computers", "nodes"),
    "port": ("socket", "endpoint"),
    "protocol": ("convention", "standard"),
    "options": ("choices", "settings", "flags"),
    "arguments": ("parameters", "operands", "inputs"),
    "environment": ("surroundings", "context", "setting"),
    "variables": ("parameters", "settings", "values"),
    "variable": ("parameter", "setting", "value"),
    "value": ("amount", "quantity", "setting"),
    "values": ("amounts", "quantities", "settings"),
    "size": ("extent", "magnitude", "dimension"),
    "free": ("unused", "available", "spare"),
    "space": ("room", "capacity", "area"),
    "usage": ("use", "consumption", "utilisation"),
    "hardware": ("devices", "equipment", "gear"),
    "identify": ("recognise", "detect", "determine"),
    "type": ("kind", "sort", "category"),
    "types": ("kinds", "sorts", "categories"),
    "name": ("label", "title", "designation"),
    "names": ("labels", "titles", "designations"),
    "path": ("route", "location", "trail"),
    "paths": ("routes", "locations", "trails"),
    "link": ("connection", "reference", "pointer"),
    "links": ("connections", "references", "pointers"),
    "symbolic": ("soft", "indirect"),
    "permissions": ("rights", "privileges", "modes"),
    "owner": ("proprietor", "holder", "possessor"),
    "session": ("sitting", "period", "connection"),
    "sessions": ("sittings", "periods"),
    "login": ("sign-in", "logon", "entry"),
    "wrapper": ("shim", "front end", "envelope"),
    "frontend": ("front end", "interface", "shell"),
    "helper": ("assistant", "aid", "utility"),
    "language": ("tongue", "notation", "syntax"),
    "document": ("paper", "record", "writing"),
    "documents": ("papers", "records", "writings"),
    "markup": ("annotation", "tagging"),
    "stream": ("flow", "feed", "current"),
    "streams": ("flows", "feeds", "currents"),
    "filter": ("sieve", "screen", "strainer"),
    "encoding": ("charset", "cipher", "representation"),
    "encode": ("represent", "cipher", "transcode"),
    "decode": ("decipher", "interpret", "transcode"),
    "header": ("heading", "preamble", "prefix"),
    "headers": ("headings", "preambles", "prefixes"),
    "signal": ("notify", "alert", "interrupt"),
    "signals": ("notifications", "alerts", "interrupts"),
    "job": ("task", "duty", "assignment"),
    "jobs": ("tasks", "duties", "assignments"),
    "schedule": ("plan", "timetable", "queue"),
    "scheduler": ("planner", "timetabler"),
    "queue": ("line", "backlog", "waiting list"),
    "performance": ("speed", "efficiency", "throughput"),
    "resource": ("asset", "supply", "means"),
    "resources": ("assets", "supplies", "means"),
    "screen": ("display", "monitor", "panel"),
    "keyboard": ("keypad", "typing device"),
    "mouse": ("pointer", "pointing device"),
    "color": ("colour", "hue", "tint"),
    "colors": ("colours", "hues", "tints"),
    "random": ("arbitrary", "chance", "haphazard"),
    "hash": ("digest", "checksum", "fingerprint"),
    "checksum": ("digest", "fingerprint", "hash"),
    "checksums": ("digests", "fingerprints", "hashes"),
    "sum": ("total", "tally", "aggregate"),
    "calculate": ("compute", "work out", "figure"),
    "compute": ("calculate", "work out", "figure"),
    "calculator": ("computer", "reckoner", "adding machine"),
    "evaluate": ("assess", "judge", "appraise"),
    "expression": ("formula", "phrase", "term"),
    "expressions": ("formulas", "phrases", "terms"),
    "regular": ("normal", "ordinary", "usual"),
    "tag": ("label", "marker", "badge"),
    "tags": ("labels", "markers", "badges"),
    "details": ("particulars", "specifics", "facts"),
    "mode": ("manner", "style", "setting"),
    "tests": ("trials", "probes", "checks"),
    "perform": ("carry out", "execute", "do"),
    "operations": ("actions", "procedures", "tasks"),
    "operation": ("action", "procedure", "task"),
}


def _content_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z0-9'+-]*", text)


def paraphrase(
    description: str,
    page_terms: set[str],
    analyze: Callable[[str], list[str]] | None = None,
) -> tuple[str | None, int, int]:
    """Paraphrase a NAME description away from the page's BM25 terms.

    Each word the analyzer keeps is replaced by the first synonym of :data:`SYNONYMS` none of
    whose terms occur in ``page_terms``; a word without an entry (or without such a synonym) is
    dropped; stopwords stay. Returns ``(query or None, words replaced, content words)``; the
    query is None when fewer than 2 words, or fewer than half, could be replaced.
    """
    analyze = analyze or _analyzer()
    out: list[str] = []
    replaced = content = 0
    for word in description.replace("/", " ").split():
        core = re.sub(r"[^A-Za-z0-9'+-]", "", word)
        terms = analyze(core) if core else []
        if not terms:
            if core:
                out.append(core.lower())
            continue
        content += 1
        for alt in SYNONYMS.get(core.lower(), ()):
            if not set(analyze(alt)) & page_terms:
                out.append(alt)
                replaced += 1
                break
    if replaced < 2 or 2 * replaced < content:
        return None, replaced, content
    return " ".join(out), replaced, content


def man_corpus(n_pages: int = MAN_PAGES, start: int = 0) -> Corpus:
    """The ``man`` and ``para`` tasks over one set of pages (see the module docstring).

    ``start`` > 0 draws the ``n_pages`` pages that follow the first ``start`` of the same
    seeded order (``fusion_replicate.py``'s replication blocks); 0 is the frozen task.
    """
    analyze = _analyzer()
    corpus = Corpus("man")
    drawn = render_pages(n_pages, "1", 0, start=start)
    paths = [p for p in drawn if not p.name.startswith("gcloud")]
    split = {p.stem: split_page(p.read_text(encoding="utf-8")) for p in paths}
    counts = Counter(d.lower() for d, _ in split.values() if d)
    kept: dict[str, tuple[str, str]] = {}
    for name, (description, body) in split.items():
        if not description or counts[description.lower()] > 1 or not body.strip():
            corpus.notes["man_skipped_no_or_shared_description"] = (
                corpus.notes.get("man_skipped_no_or_shared_description", 0) + 1
            )
        elif len(body) > MAN_MAX_CHARS:
            corpus.notes["man_skipped_long"] = corpus.notes.get("man_skipped_long", 0) + 1
        else:
            kept[name + ".txt"] = (description, body)
    for doc, (description, body) in sorted(kept.items()):
        corpus.docs[doc] = body
        corpus.queries.append(Query(f"man:{doc}", "man", split_of(doc), description, doc))
        page_terms = set(analyze(body))
        query, _, _ = paraphrase(description, page_terms, analyze)
        if query is not None and not set(analyze(query)) & page_terms:
            corpus.queries.append(Query(f"para:{doc}", "para", split_of(doc), query, doc))
    return corpus


# -- code -------------------------------------------------------------------------------------
def code_corpus() -> Corpus:
    """Every fourth standard-library a-m module (sorted order), docstrings stripped."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in lib.glob("*.py") if p.name[0] in "abcdefghijklm")[::4]
    return code_queries(Corpus("code"), files, "code")


def code_queries(corpus: Corpus, files: list[Path], task: str) -> Corpus:
    """Add ``files`` (docstrings stripped) and their docstring queries to ``corpus``: the first
    sentence (at least 4 words) of each function's docstring, the function's span as the
    target, queries whose text two functions share left out. ``code_corpus``'s rules, with the
    files and the task name as parameters (``fusion_heldout5.code_nz_corpus`` uses them too).
    """
    found: list[Query] = []
    for path in files:
        src = path.read_text(encoding="utf-8")
        try:
            stripped, docs = strip_docstrings(src)
        except SyntaxError:
            continue
        corpus.docs[path.name] = stripped
        starts = list(accumulate((len(x) for x in stripped.splitlines(keepends=True)), initial=0))
        fns = sorted(
            (
                n
                for n in ast.walk(ast.parse(stripped))
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            ),
            key=lambda n: (n.lineno, n.col_offset),
        )
        for k, fn in enumerate(fns):
            if k not in docs:
                continue
            text = first_sentence(docs[k])
            if len(text.split()) < 4:
                continue
            first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)]) - 1
            last = (fn.end_lineno or fn.lineno) - 1
            span = (starts[first], starts[min(last + 1, len(starts) - 1)])
            key = f"{path.name}:{fn.lineno}:{fn.name}"
            found.append(Query(f"{task}:{key}", task, split_of(key), text, path.name, span))
    shared = Counter(q.text for q in found)
    corpus.queries += [q for q in found if shared[q.text] == 1]
    return corpus


# -- pass key, generator A ---------------------------------------------------------------------
def passkey_corpus(
    n_docs: int = PASSKEY_DOCS, tokens: int = PASSKEY_TOKENS, seed: int = 0
) -> Corpus:
    """Generator A: man-page prose, two ``The pass key for <name> is <n>.`` facts per document."""
    from lcmem.tokens import HFTokenizer

    tok = HFTokenizer.default()
    filler = longqa.load_filler(20_000, seed=0)
    counts = tok.count_many(filler)
    rng = random.Random(f"fusion-passkey-{seed}-{tokens}")
    corpus = Corpus(f"passkey{tokens}")
    used: set[str] = set()
    for d in range(n_docs):
        facts = []
        for _ in range(2):
            while True:
                name = f"{rng.choice(longqa.FIRST_NAMES)} {longqa.made_up_word(rng)}"
                if name not in used:
                    used.add(name)
                    break
            facts.append((name, str(rng.randint(10_000, 99_999))))
        sentences = [f"The pass key for {n} is {v}. Remember it." for n, v in facts]
        budget = tokens - sum(tok.count(s) + 2 for s in sentences)
        base = longqa.SEPARATOR.join(longqa._filler(rng, filler, counts, budget))
        text, _ = longqa._insert(base, [(s, "fact", rng.uniform(0.05, 0.95)) for s in sentences])
        doc = f"doc{d:03d}.txt"
        corpus.docs[doc] = text
        for name, _ in facts:
            key = f"{doc}:{name}"
            q = f"What is the pass key for {name}?"
            corpus.queries.append(Query(f"passkey:{key}", "passkey", split_of(key), q, doc))
    return corpus


# -- pass key, generator B (written separately: other shapes, names, filler, decoys) ----------
_B_GIVEN = """Beatriz Cormac Delphine Eamon Fenna Gideon Hollis Isolde Jasper Keziah Lorcan Maren
Niamh Orrin Perpetua Quillon Rosalind Stellan Thea Ulric Verity Wystan Xanthe Yorick Zuleika
Anouk Bastian Cressida Dorian Elspeth""".split()  # noqa: SIM905
_B_SURNAMES = """Okafor Lindqvist Haddad Moreau Szabo Nakamura Ferreira Kowalczyk Brennan Achterberg
Vasquez Oyelaran Petrakis Holmgren Castellanos Idowu Marchetti Rasmussen Takahashi Oduya Varga
Quist Delacroix Mbeki Sorensen Albescu Hartigan Lacerda Nwachukwu Ostrowski Pellegrini Ruiz
Strand Tamminen Uribe Vogel Whitcombe Yilmaz Zapata Abernethy""".split()  # noqa: SIM905
_B_SHAPES = (
    (
        "Badge {code} was issued to {person} of the {dept} office last spring.",
        "Which badge was issued to {person}?",
        lambda r: f"{r.choice('ABCDEFGHJKLMNP')}{r.choice('QRSTUVWXYZ')}-{r.randint(1000, 9999)}",
    ),
    (
        "According to the ledger, {person} keeps the vault combination {code}.",
        "vault combination kept by {person}",
        lambda r: "-".join(str(r.randint(10, 99)) for _ in range(3)),
    ),
    (
        "For {person}, the recovery phrase on file reads {code}.",
        "{person} recovery phrase",
        lambda r: f"{r.choice(_B_WORDS)}-{r.choice(_B_WORDS)}-{r.randint(100, 999)}",
    ),
)
_B_WORDS = "amber basalt cobalt dune ember fjord garnet harbor indigo juniper kestrel".split()  # noqa: SIM905
_B_DEPTS = "archives billing customs dispatch estates forestry grants harbour".split()  # noqa: SIM905


def debian_paragraphs() -> list[str]:
    """Prose paragraphs of the Debian READMEs on this machine (sorted by path, gz read)."""
    out: list[str] = []
    for path in sorted(Path("/usr/share/doc").glob("*/README*")):
        try:
            raw = path.read_bytes()
            data = gzip.decompress(raw) if path.suffix == ".gz" else raw
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        out += [p for p in split_paragraphs(data.decode("utf-8", "replace"), 8) if "." in p]
    return out


def passkey_b_corpus(
    n_docs: int = PASSKEY_DOCS, tokens: int = PASSKEY_TOKENS, seed: int = 0
) -> Corpus:
    """Generator B: Debian README filler, two targets and three near-miss decoys per document."""
    from lcmem.tokens import HFTokenizer

    tok = HFTokenizer.default()
    filler = debian_paragraphs()
    counts = tok.count_many(filler)
    rng = random.Random(f"fusion-passkey-b-{seed}-{tokens}")
    corpus = Corpus(f"passkey_b{tokens}")
    people = [(g, s) for g in _B_GIVEN for s in _B_SURNAMES]
    rng.shuffle(people)
    targets = people[: 2 * n_docs]
    others = people[2 * n_docs :]
    for d in range(n_docs):
        doc = f"rec{d:03d}.txt"
        sentences, questions = [], []
        for given, surname in targets[2 * d : 2 * d + 2]:
            fact, question, value = _B_SHAPES[rng.randrange(len(_B_SHAPES))]
            person = f"{given} {surname}"
            sentences.append(fact.format(code=value(rng), person=person, dept=rng.choice(_B_DEPTS)))
            questions.append((person, question.format(person=person)))
        for _ in range(3):  # decoys: someone sharing the given name or the surname of a target
            g2, s2 = rng.choice(targets)
            dg, ds = rng.choice([p for p in others if p[0] == g2 or p[1] == s2])
            dfact, _, dvalue = _B_SHAPES[rng.randrange(len(_B_SHAPES))]
            sentences.append(
                dfact.format(code=dvalue(rng), person=f"{dg} {ds}", dept=rng.choice(_B_DEPTS))
            )
        budget = tokens - sum(tok.count(s) + 2 for s in sentences)
        base = "\n\n".join(longqa._filler(rng, filler, counts, budget))
        placed = [(s, "fact", rng.uniform(0.03, 0.97)) for s in sentences]
        text, _ = longqa._insert(base, placed)
        corpus.docs[doc] = text
        for person, q in questions:
            key = f"{doc}:{person}"
            corpus.queries.append(Query(f"passkey_b:{key}", "passkey_b", split_of(key), q, doc))
    return corpus


# -- fact lookup, generator C (held out: written after the round-2 default was frozen) --------
_C_CITIES = """Lisbon Porto Valencia Bergen Tallinn Ghent Trieste Krakow Aarhus Lyon Bremen Utrecht
Seville Turku Brno Graz Cork Bilbao Malmo Riga Bordeaux Dresden Verona Gdansk Leeds Basel Split
Nantes Tampere Leiden Coimbra Tartu""".split()  # noqa: SIM905
_C_ADJS = "old north south tall narrow upper lower east west iron stone wooden".split()  # noqa: SIM905
_C_OBJECTS = "gate lighthouse bridge tower fountain ferry tram chapel mill pier".split()  # noqa: SIM905
_C_COLORS = "crimson teal ochre violet amber olive scarlet navy ivory coral maroon jade".split()  # noqa: SIM905


def stdlib_paragraphs(first: str = "n", last: str = "z") -> list[str]:
    """Docstring paragraphs (80+ characters) of the stdlib modules whose names start with
    ``first``-``last``, in a fixed order: prose the other generators do not use."""
    import ast
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    out: list[str] = []
    for path in sorted(root.glob("*.py")):
        if not (first <= path.name[0].lower() <= last) or path.name.startswith("_"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                doc = ast.get_docstring(node)
                for para in (doc or "").split("\n\n"):
                    para = " ".join(para.split())
                    if len(para) >= 80:
                        out.append(para)
    return out


def fact_corpus(n_docs: int = PASSKEY_DOCS, tokens: int = PASSKEY_TOKENS, seed: int = 0) -> Corpus:
    """Generator C: stdlib n-z docstring prose; per document two targets ``The <adj> <object>
    of <city> was painted <color>.`` asked as ``What color was the <adj> <object> of <city>
    painted?`` and three near-miss decoys (the same city with another object or adjective, or
    the same adjective and object in another city)."""
    from lcmem.tokens import HFTokenizer

    tok = HFTokenizer.default()
    filler = stdlib_paragraphs()
    counts = tok.count_many(filler)
    rng = random.Random(f"fusion-fact-{seed}-{tokens}")
    corpus = Corpus(f"fact{tokens}")
    keys = [(a, o, c) for c in _C_CITIES for o in _C_OBJECTS for a in _C_ADJS]
    rng.shuffle(keys)
    targets = keys[: 2 * n_docs]
    taken = set(targets)
    for d in range(n_docs):
        doc = f"town{d:03d}.txt"
        sentences, questions = [], []
        for adj, obj, city in targets[2 * d : 2 * d + 2]:
            sentences.append(f"The {adj} {obj} of {city} was painted {rng.choice(_C_COLORS)}.")
            questions.append(
                (f"{adj} {obj} of {city}", f"What color was the {adj} {obj} of {city} painted?")
            )
        for _ in range(3):
            adj, obj, city = rng.choice(targets[2 * d : 2 * d + 2])
            while True:
                near = rng.choice(
                    [
                        (rng.choice(_C_ADJS), obj, city),
                        (adj, rng.choice(_C_OBJECTS), city),
                        (adj, obj, rng.choice(_C_CITIES)),
                    ]
                )
                if near not in taken:
                    taken.add(near)
                    break
            a2, o2, c2 = near
            sentences.append(f"The {a2} {o2} of {c2} was painted {rng.choice(_C_COLORS)}.")
        budget = tokens - sum(tok.count(s) + 2 for s in sentences)
        base = "\n\n".join(longqa._filler(rng, filler, counts, budget))
        placed = [(s, "fact", rng.uniform(0.03, 0.97)) for s in sentences]
        text, _ = longqa._insert(base, placed)
        corpus.docs[doc] = text
        for key_text, q in questions:
            key = f"{doc}:{key_text}"
            corpus.queries.append(Query(f"fact:{key}", "fact", split_of(key), q, doc))
    return corpus


CORPORA: dict[str, Callable[[], Corpus]] = {
    "man": man_corpus,
    "code": code_corpus,
    "passkey": passkey_corpus,
    "passkey_b": passkey_b_corpus,
    "fact": fact_corpus,
}
