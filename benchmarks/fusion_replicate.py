"""Replication tasks of issue 16 (round 5): the frozen generators, unchanged, on new pages.

Written and committed before any fusion number on them was printed. Why: the issue's bar is
"hybrid >= max(bm25, dense) - 0.02 on every task's test split", and several test splits hold
29-40 queries, so one query moves the metric by 0.025-0.034; the same generators on new text,
with several times the queries, tell a single unlucky query from a real defect. They are held
out (``bench_fusion.HELD_OUT``): never part of a tuning criterion.

Every rule is the original generator's own code, called with the same arguments except where
its pages start (``fusion_tasks.man_corpus(start=...)``, ``fusion_heldout.conf_corpus(skip=...)``;
both default to 0, the frozen tasks). Only the task names change (``man`` -> ``man_r`` etc.,
in the task and the query id; the split each generator computed is kept).

The new pages come in **blocks of the original corpus's size**, one library per block, so each
replication query faces as many distractor documents as the original's did (one big corpus
of 4-5 times the pages would make the task harder and measure something else). A task's
queries are pooled over its blocks (``bench_fusion.py`` loads every cached corpus and groups
queries by task).

- ``man_r`` / ``para_r`` (corpora ``man_r1`` .. ``man_r5``): ``man_corpus``'s rules (NAME
  description -> page, and its frozen paraphrase with the same synonym map, kept only when it
  shares no BM25 term with the page; pages over ``MAN_MAX_CHARS`` and shared descriptions
  dropped, within the block as in the original) on man section 1 pages 150-899 of the same
  seeded order (``render_pages(150, "1", 0, start=150 * b)``, b = 1..5): every whole block of
  150 the machine has after the original's (942 non-gcloud section-1 pages here).
  MRR@10 over documents.
- ``conf_r`` / ``quote_r`` (corpora ``conf_r1`` .. ``conf_r3``): ``conf_corpus``'s rules (a
  question around a page-unique sentence with ~40 % of its words dropped; a quoted 4-6 word
  span found in one page only; uniqueness checked within the block as in the original) on
  the man section 5/8 pages that qualify (2,500-12,000 characters) after the original's 70, in
  the same seeded order: blocks of 70, every whole block there is (300 pages qualify here, so
  3 blocks; the last 20 are not used). Acc@1 over documents.

Caveat: ``passkey``'s filler paragraphs come from man section 1 in the same seeded order
(``longqa.load_filler``), so some man_r pages' prose also appears, as filler, in that corpus
(another index), as the original man pages' does.

Run ``python benchmarks/fusion_replicate.py`` for the sizes (no model is loaded); the caches:
``benchmarks/fusion_cache.py --corpus man_r1,...``.

Example:
    >>> sorted(CORPORA)[:2]
    ['conf_r1', 'conf_r2']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial

try:
    from benchmarks.fusion_heldout import CONF_PAGES, conf_corpus
    from benchmarks.fusion_tasks import MAN_PAGES, Corpus, man_corpus
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from fusion_heldout import CONF_PAGES, conf_corpus  # type: ignore[no-redef]
    from fusion_tasks import MAN_PAGES, Corpus, man_corpus  # type: ignore[no-redef]

MAN_BLOCKS = 5  # section-1 pages 150-899: every whole block of 150 after the original's
CONF_BLOCKS = 3  # qualifying section 5/8 pages 71-280: every whole block of 70 after the original
RENAME = {"man": "man_r", "para": "para_r", "conf": "conf_r", "quote": "quote_r"}
TASKS = tuple(RENAME.values())


def renamed(corpus: Corpus, name: str) -> Corpus:
    """``corpus`` named ``name``, each task ``t`` renamed ``RENAME[t]`` in the task and the
    query id (splits kept as the generator computed them)."""
    corpus.name = name
    for q in corpus.queries:
        old = q.task
        assert q.qid.startswith(old + ":"), q
        q.task = RENAME[old]
        q.qid = q.task + q.qid[len(old) :]
    return corpus


def man_r_corpus(block: int) -> Corpus:
    """Replication block ``block`` (1-based) of ``man`` / ``para``: section-1 pages
    ``150 * block`` .. ``150 * block + 149`` of the seeded order."""
    if not 1 <= block <= MAN_BLOCKS:
        raise ValueError(f"block must be 1..{MAN_BLOCKS}, got {block}")
    return renamed(man_corpus(MAN_PAGES, start=MAN_PAGES * block), f"man_r{block}")


def conf_r_corpus(block: int) -> Corpus:
    """Replication block ``block`` (1-based) of ``conf`` / ``quote``: the 70 qualifying
    section 5/8 pages after the first ``70 * block`` of the seeded order."""
    if not 1 <= block <= CONF_BLOCKS:
        raise ValueError(f"block must be 1..{CONF_BLOCKS}, got {block}")
    return renamed(conf_corpus(CONF_PAGES, skip=CONF_PAGES * block), f"conf_r{block}")


CORPORA: dict[str, Callable[[], Corpus]] = {
    f"man_r{b}": partial(man_r_corpus, b) for b in range(1, MAN_BLOCKS + 1)
}
CORPORA |= {f"conf_r{b}": partial(conf_r_corpus, b) for b in range(1, CONF_BLOCKS + 1)}


def main() -> None:
    """Print each block's pages, characters, notes and queries per task and split."""
    total: Counter = Counter()
    for name, make in CORPORA.items():
        c = make()
        sizes = Counter((q.task, q.split) for q in c.queries)
        total += sizes
        chars = sum(len(t) for t in c.docs.values())
        cells = " ".join(f"{t} {s} {n}" for (t, s), n in sorted(sizes.items()))
        print(f"{name}: {len(c.docs)} documents, {chars} characters, {c.notes}; {cells}")
    for t in TASKS:
        print(f"{t}: dev {total[(t, 'dev')]} test {total[(t, 'test')]}")


if __name__ == "__main__":
    main()
