"""Confirmation task of issue 16 (``conf3``): questions about real sentences of man 2, 3, 7.

Written and committed before any fusion number on it was printed, independently of
``fusion_heldout.py``'s ``conf`` (its own sentence rule, function-word list, drop rule and
question templates; only the ``Corpus``/``Query`` plumbing and ``split_of`` are shared), on
text no other fusion task uses: man sections 2 (system calls), 3 (library functions) and 7
(overviews, conventions; PostgreSQL's SQL commands, OpenSSL's guides). The other tasks use
man sections 1, 5 and 8, Debian READMEs and the Python standard library. It plays no part in
choosing a setting: the lead reads both splits as one confirmation set.

The corpus: ``RENDER`` pages of each of sections 2, 3 and 7 in their seeded order
(``manpages.render_pages(RENDER, s, SEED)``), pooled and shuffled with ``SEED``; pages whose
rendered text is the same as an earlier page's (``.so`` stubs: ``CIRCLEQ_INIT.3`` renders the
``circleq`` page) are skipped, and the first ``PAGES`` of 2,500-12,000 characters are kept,
each page one document as rendered (no inserted text).

One query per page at most, scored Acc@1 over documents:

1. A *statement* of the page: a blank-line block of the page (section heading lines, such as
   ``DESCRIPTION`` at column 0, left out) split after ``.`` followed by a
   space and an upper-case letter; kept when it has 8-30 tokens, ends in ``.``, at least 6 of
   its tokens are plain lower-case words, and no token looks like a flag, a path or markup
   (``-x``, ``/usr``, ``<...>``). Only statements whose text (lower-cased, whitespace
   collapsed) occurs in no other page of the corpus qualify; a page without one gets no query.
2. *Forgetting*: the statement is cut into identifiers (``[A-Za-z0-9_]+``, case kept, so
   ``malloc()`` gives ``malloc``); the *content* tokens are those of 3+ characters not in
   :data:`FUNCTION_WORDS`. A drop rate is drawn uniformly from 0.30-0.50 per query and that
   share (rounded up) of the content tokens is dropped, at random positions, keeping at least
   two; function words and short tokens all stay, in order.
3. *Asking*: the remains are wrapped in one of :data:`TEMPLATES` (six questions of a reader
   who half-remembers a passage; their words are mostly not in the pages).

Splits: ``fusion_tasks.split_of("conf3:<doc>")``. Everything depends only on the seed and the
man pages installed on the machine.

Run ``python benchmarks/fusion_confirm.py`` for the sizes and sample queries (no model loaded);
the cache: ``benchmarks/fusion_cache.py --corpus conf3``.

Example:
    >>> forget("The call returns the number of bytes written to the file.", random.Random(0))
    'The returns the of written to the file'
"""

from __future__ import annotations

import hashlib
import math
import random
import re

try:
    from benchmarks.fusion_tasks import Corpus, Query, split_of
    from benchmarks.manpages import render_pages
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from fusion_tasks import Corpus, Query, split_of  # type: ignore[no-redef]
    from manpages import render_pages  # type: ignore[no-redef]

TASK = "conf3"
SECTIONS = ("2", "3", "7")
RENDER = 450  # pages rendered per section (seeded order), before the length and duplicate rules
PAGES = 200  # pages kept
MIN_CHARS, MAX_CHARS = 2_500, 12_000
SEED = 1607
MIN_TOKENS, MAX_TOKENS = 8, 30
DROP_LOW, DROP_HIGH = 0.30, 0.50
MIN_KEPT = 2  # content tokens left at least

#: Question framings of a reader half-remembering a passage ({s}: the forgotten statement).
TEMPLATES = (
    "Which page tells me {s}?",
    "Somewhere it says {s} - where?",
    "Need the reference that explains why {s}",
    "what doc had the bit about {s}",
    "Can you dig up the manual entry claiming {s}?",
    "I half recall: {s}. Whose documentation?",
)

#: Words kept when forgetting: articles, pronouns, auxiliaries, prepositions, conjunctions and
#: a few quantifiers (written for this task; tokens under 3 characters are kept anyway).
FUNCTION_WORDS = frozenset(
    """the and but nor for yet with without within into onto upon over under about above below
    after before since until from than then also only just even very such same other another
    this that these those there here where when whence while which who whom whose what why how
    all any each every some none both either neither more most less least few many much
    can could may might must shall should will would does did done has have had having was
    were are been being its his her hers him she they them their theirs our ours your yours
    you not nor per via""".split()  # noqa: SIM905
)

_BREAK = re.compile(r"(?<=\.)\s+(?=[A-Z])")
_TOKEN = re.compile(r"[A-Za-z0-9_]+")
_PLAIN = re.compile(r"[a-z]+[,;:]?")
_HEADING = re.compile(r"[A-Z][A-Z0-9 ,_-]*")  # a section heading line (``DESCRIPTION``)
_NOISY = re.compile(r"^-|/|[<>{}\[\]=|\\]|\.\.\.|::")


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def statements(page: str) -> list[str]:
    """Candidate statements of a rendered page (rule 1 of the module docstring, without the
    uniqueness check), in page order."""
    out = []
    for block in re.split(r"\n[ \t]*\n", page):
        lines = [line for line in block.splitlines() if not _HEADING.fullmatch(line)]
        flat = " ".join(" ".join(lines).split())
        for part in _BREAK.split(flat):
            tokens = part.split()
            if not MIN_TOKENS <= len(tokens) <= MAX_TOKENS or not part.endswith("."):
                continue
            if sum(bool(_PLAIN.fullmatch(t)) for t in tokens) < 6:
                continue
            if any(_NOISY.search(t) for t in tokens):
                continue
            out.append(part)
    return out


def forget(statement: str, rng: random.Random) -> str:
    """The statement's identifiers with 30-50 % of its content tokens dropped (rule 2)."""
    tokens = _TOKEN.findall(statement)
    content = [i for i, t in enumerate(tokens) if len(t) >= 3 and t.lower() not in FUNCTION_WORDS]
    rate = rng.uniform(DROP_LOW, DROP_HIGH)
    n_drop = min(math.ceil(rate * len(content)), max(len(content) - MIN_KEPT, 0))
    gone = set(rng.sample(content, n_drop))
    return " ".join(t for i, t in enumerate(tokens) if i not in gone)


def pages(n_pages: int = PAGES, seed: int = SEED) -> dict[str, str]:
    """Document name (``<page>.txt``) -> rendered text of the corpus's pages."""
    order = [p for s in SECTIONS for p in render_pages(RENDER, s, seed)]
    random.Random(seed).shuffle(order)
    kept: dict[str, str] = {}
    seen: set[bytes] = set()
    for path in order:
        text = path.read_text(encoding="utf-8")
        digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
        if digest in seen:
            continue
        seen.add(digest)
        name = f"{path.stem}.txt"
        if MIN_CHARS <= len(text) <= MAX_CHARS and name not in kept:
            kept[name] = text
        if len(kept) >= n_pages:
            break
    return kept


def build_queries(docs: dict[str, str], seed: int = SEED) -> tuple[list[Query], int]:
    """One query per document that has a page-unique statement; also the number without one."""
    rng = random.Random(f"{TASK}-{seed}")
    squashed = {name: _squash(text) for name, text in docs.items()}
    queries: list[Query] = []
    missing = 0
    for name in sorted(docs):
        others = [t for n, t in squashed.items() if n != name]
        unique = [s for s in statements(docs[name]) if not any(_squash(s) in t for t in others)]
        if not unique:
            missing += 1
            continue
        text = rng.choice(TEMPLATES).format(s=forget(rng.choice(unique), rng))
        key = f"{TASK}:{name}"
        queries.append(Query(key, TASK, split_of(key), text, name))
    return queries, missing


def conf3_corpus(n_pages: int = PAGES, seed: int = SEED) -> Corpus:
    """The ``conf3`` corpus and task (see the module docstring)."""
    corpus = Corpus(TASK)
    corpus.docs = pages(n_pages, seed)
    corpus.queries, missing = build_queries(corpus.docs, seed)
    corpus.notes = {"conf3_pages": len(corpus.docs), "conf3_no_unique_statement": missing}
    return corpus


if __name__ == "__main__":
    c = conf3_corpus()
    print(len(c.docs), "pages", sum(len(t) for t in c.docs.values()), "chars", c.notes)
    for q in c.queries[:12]:
        print(q.split, q.doc, "|", q.text)
    for sp in ("dev", "test"):
        print(sp, sum(q.split == sp for q in c.queries))
