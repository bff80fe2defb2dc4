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
- ``para2``: an independently written paraphrase task (added below in a second commit, so the
  long pass-key caches could start building; also committed before any fusion result on it).

Splits: ``fusion_tasks.split_of`` on the same keys as the generators they copy (document +
name for pass keys, ``module:line:function`` for code), about half each.

Example:
    >>> [p.name for p in nz_modules()][:3]  # the Python 3.11.7 of this machine
    ['netrc.py', 'numbers.py', 'os.py']
"""

from __future__ import annotations

import ast
import random
import sysconfig
from collections import Counter
from itertools import accumulate
from pathlib import Path

try:
    from benchmarks.bench_code_retrieval import first_sentence, strip_docstrings
    from benchmarks.fusion_tasks import (
        Corpus,
        Query,
        passkey_b_corpus,
        passkey_corpus,
        split_of,
    )
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from bench_code_retrieval import first_sentence, strip_docstrings  # type: ignore[no-redef]
    from fusion_tasks import (  # type: ignore[no-redef]
        Corpus,
        Query,
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


def code_queries(corpus: Corpus, files: list[Path], task: str) -> Corpus:
    """Add ``files`` (docstrings stripped) and their docstring queries to ``corpus``.

    The rules of ``fusion_tasks.code_corpus``, copied (that generator is frozen and takes no
    file list), with the task name as a parameter.
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


def code_nz_corpus() -> Corpus:
    """The ``code_nz`` task (see the module docstring)."""
    files = nz_modules()
    corpus = code_queries(Corpus("code_nz"), files, "code_nz")
    corpus.notes["code_nz_modules"] = len(files)
    corpus.notes["code_nz_bytes"] = sum(p.stat().st_size for p in files)
    return corpus


if __name__ == "__main__":
    c = code_nz_corpus()
    print([p.name for p in nz_modules()], c.notes)
    for sp in ("dev", "test"):
        print("code_nz", sp, sum(q.split == sp for q in c.queries))
    for q in c.queries[:8]:
        print(q.split, q.doc, q.span, "|", q.text)
