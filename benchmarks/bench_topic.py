"""Topic segmentation on a Choi-style benchmark built from man section 1 pages: Pk and
WindowDiff of lcmem's TopicChunker vs nltk's TextTilingTokenizer and the evenly spaced baseline.

Data (after Choi, 2000): each document is the concatenation of 4-10 segments; a segment is a
run of 3-11 consecutive sentences of one man page (sentences of its paragraphs, see
``manpages.py``), each segment of a document from a different page; the gold boundaries are
the joins. Sentences are the units: like Choi's one-sentence-per-line files, every system gets
the same text with one sentence per paragraph (``"\\n\\n"`` between sentences; TextTiling needs
paragraph breaks) and its boundaries are mapped to the nearest sentence start. The test split
(``--seed``) and the dev split used for tuning (``--dev-seed``) draw from disjoint halves of
the pages (generated ``gcloud`` pages excluded).

Metrics: Pk (Beeferman et al., 1999) and WindowDiff (Pevzner and Hearst, 2002) from
``nltk.metrics.segmentation`` over per-sentence boundary strings, with k = half the mean gold
segment length of the document (rounded, at least 1), averaged over documents; lower is better.

Systems: lcmem ``TopicChunker`` (packaged all-MiniLM-L6-v2) deciding the number of topics itself
(threshold) and told the gold number (``n_segments``); TextTiling with nltk's defaults (w=20,
k=10) and its own English stopword list (no nltk data download); the gold number of segments
placed evenly.

Run: ``.venv/bin/python benchmarks/bench_topic.py --docs 300`` (``--tune`` grid-searches the
chunker's settings on the dev split first and prints the best).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import shlex
import statistics
import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    from benchmarks.manpages import LOW_PRIORITY, page_files, render_pages, split_paragraphs
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from manpages import (  # type: ignore[no-redef]
        LOW_PRIORITY,
        page_files,
        render_pages,
        split_paragraphs,
    )

from lcmem.chunkers.sentences import split_sentences
from lcmem.chunkers.topic import TopicChunker, topic_starts
from lcmem.embedders.base import Embedder, Kind

try:
    from benchmarks.machine import cpu_model
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from machine import cpu_model  # type: ignore[no-redef]

# English stopwords (the list nltk ships as corpora/stopwords/english, written out so the
# benchmark never needs an nltk data download).
STOPWORDS = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
    yourselves he him his himself she she's her hers herself it it's its itself they them their
    theirs themselves what which who whom this that that'll these those am is are was were be
    been being have has had having do does did doing a an the and but if or because as until
    while of at by for with about against between into through during before after above below
    to from up down in out on off over under again further then once here there when where why
    how all any both each few more most other some such no nor not only own same so than too
    very s t can will just don don't should should've now d ll m o re ve y ain aren aren't
    couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't
    ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
    weren weren't won won't wouldn wouldn't
    """.split()  # noqa: SIM905
)


# -- data ------------------------------------------------------------------------------------


@dataclass
class Doc:
    """A benchmark document: its sentences, text and gold segment sizes (in sentences)."""

    sentences: list[str]
    sizes: list[int]
    text: str = ""
    starts: list[int] | None = None  # character offset of each sentence

    def __post_init__(self) -> None:
        self.text = "\n\n".join(self.sentences)
        starts, at = [], 0
        for s in self.sentences:
            starts.append(at)
            at += len(s) + 2
        self.starts = starts

    @property
    def gold(self) -> str:
        return boundary_string(len(self.sentences), list(itertools.accumulate(self.sizes))[:-1])


def page_sentences(path: Path, min_words: int = 3) -> list[str]:
    """Sentences of a rendered page's paragraphs, those of ``min_words`` words or more."""
    out = []
    for para in split_paragraphs(path.read_text(encoding="utf-8")):
        for a, b in split_sentences(para):
            if len(para[a:b].split()) >= min_words:
                out.append(para[a:b])
    return out


def page_pools(min_sentences: int = 11) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of every usable section 1 page, as (test half, dev half) of the pages."""
    n = sum(1 for p in page_files("1") if not p.name.startswith(LOW_PRIORITY))
    paths = [p for p in render_pages(n, "1", seed=0) if not p.name.startswith(LOW_PRIORITY)]
    pages = [s for s in map(page_sentences, paths) if len(s) >= min_sentences]
    return pages[0::2], pages[1::2]


def make_docs(pages: list[list[str]], n_docs: int, seed: int) -> list[Doc]:
    """``n_docs`` documents of 4-10 segments of 3-11 sentences, each from a different page."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        n_seg = rng.randint(4, 10)
        sentences, sizes = [], []
        for page in rng.sample(pages, n_seg):
            size = rng.randint(3, 11)
            start = rng.randrange(len(page) - size + 1)
            sentences += page[start : start + size]
            sizes.append(size)
        docs.append(Doc(sentences, sizes))
    return docs


# -- metrics ---------------------------------------------------------------------------------


def boundary_string(n: int, ends: Sequence[int]) -> str:
    """``"0"``/``"1"`` per sentence; ``"1"`` where a segment ends after it (``ends`` are the
    indices of the first sentence of each segment after the first)."""
    marks = ["0"] * n
    for j in ends:
        if 0 < j < n:
            marks[j - 1] = "1"
    return "".join(marks)


def to_sentence_starts(doc: Doc, offsets: Sequence[int]) -> list[int]:
    """Sentence indices of character offsets: the nearest sentence start to each."""
    starts = doc.starts or []
    out = []
    for x in offsets:
        j = bisect_left(starts, x)
        if j == len(starts) or (j > 0 and x - starts[j - 1] < starts[j] - x):
            j -= 1
        out.append(j)
    return out


def scores(doc: Doc, hyp: str) -> tuple[float, float]:
    """(Pk, WindowDiff) of ``hyp`` against the gold segmentation of ``doc``."""
    from nltk.metrics.segmentation import pk, windowdiff

    n, n_seg = len(doc.sentences), len(doc.sizes)
    k = max(1, int(n / n_seg / 2 + 0.5))
    return pk(doc.gold, hyp, k=k), windowdiff(doc.gold, hyp, k=k)


# -- systems ---------------------------------------------------------------------------------


class CachedEmbedder(Embedder):
    """Wraps an embedder and remembers every vector it gave (texts recur across settings)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.inner.dim

    @property
    def max_tokens(self) -> int:  # type: ignore[override]
        return self.inner.max_tokens

    def embed(
        self, texts: Sequence[str], kind: Kind = "document", progress: Callable | None = None
    ) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            for t, v in zip(missing, self.inner.embed(missing, kind), strict=True):
                self.cache[t] = v
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.cache[t] for t in texts])


def lcmem_threshold(chunker: TopicChunker) -> Callable[[Doc], list[int]]:
    return lambda doc: to_sentence_starts(doc, chunker.segment(doc.text))


def lcmem_known(chunker: TopicChunker) -> Callable[[Doc], list[int]]:
    return lambda doc: to_sentence_starts(doc, chunker.segment(doc.text, len(doc.sizes)))


def texttiling(w: int = 20, k: int = 10) -> Callable[[Doc], list[int]]:
    """nltk's TextTiling (``w``: pseudo-sentence size in words, ``k``: block size)."""
    from nltk.tokenize.texttiling import TextTilingTokenizer

    tt = TextTilingTokenizer(w=w, k=k, stopwords=list(STOPWORDS))

    def run(doc: Doc) -> list[int]:
        try:
            segments = tt.tokenize(doc.text)
        except ValueError:  # too short for its windows: one segment
            run.failures += 1  # type: ignore[attr-defined]
            return []
        offsets = list(itertools.accumulate(len(s) for s in segments))[:-1]
        return to_sentence_starts(doc, offsets)

    run.failures = 0  # type: ignore[attr-defined]
    return run


def even(doc: Doc) -> list[int]:
    n, n_seg = len(doc.sentences), len(doc.sizes)
    return [round(i * n / n_seg) for i in range(1, n_seg)]


def evaluate(docs: list[Doc], system: Callable[[Doc], list[int]]) -> dict[str, float]:
    pks, wds, counts = [], [], []
    t = time.perf_counter()
    for doc in docs:
        starts = sorted(set(system(doc)))
        p, w = scores(doc, boundary_string(len(doc.sentences), starts))
        pks.append(p)
        wds.append(w)
        counts.append(len([j for j in starts if 0 < j < len(doc.sentences)]) + 1)
    return {
        "pk": statistics.mean(pks),
        "wd": statistics.mean(wds),
        "segments": statistics.mean(counts),
        "seconds": time.perf_counter() - t,
    }


# -- tuning on the dev split -----------------------------------------------------------------

GRID = {
    "window": [3, 4, 6, 8, 10],
    "weighting": ["linear", "mean"],
    "smoothing": [0, 1],
    "min_segment_tokens": [16, 32, 48],
    "sensitivity": [-1.0, -0.75, -0.5, 0.0],
}


TEXTTILING_GRID = {"w": [10, 15, 20, 30], "k": [3, 5, 7, 10]}


def tune_texttiling(docs: list[Doc]) -> tuple[int, int]:
    """TextTiling's ``(w, k)`` with the lowest mean Pk on ``docs`` (fairness: lcmem is tuned
    on the same dev split)."""
    results = []
    for w, k in itertools.product(*TEXTTILING_GRID.values()):
        results.append((evaluate(docs, texttiling(w, k))["pk"], (w, k)))
    results.sort()
    print(
        "TextTiling on the dev split (mean Pk): "
        + ", ".join(f"w={w} k={k}: {p:.4f}" for p, (w, k) in results[:4])
    )
    return results[0][1]


def tune(docs: list[Doc], chunker: TopicChunker, top: int = 8) -> None:
    """Grid search of the post-embedding settings on ``docs`` (embeddings computed once)."""
    prepared = []
    for doc in docs:
        units = chunker.units(doc.text)
        vectors = chunker.embedder.embed([doc.text[a:b] for a, b, _ in units])
        prepared.append((doc, units, vectors, [n for _, _, n in units]))

    def run(known: bool, **kw) -> float:
        pks = []
        for doc, units, vectors, tokens in prepared:
            n_seg = len(doc.sizes) if known else None
            starts, _ = topic_starts(vectors, tokens, n_segments=n_seg, **kw)
            hyp = to_sentence_starts(doc, [units[i][0] for i in starts])
            pks.append(scores(doc, boundary_string(len(doc.sentences), hyp))[0])
        return statistics.mean(pks)

    results = []
    for values in itertools.product(*GRID.values()):
        kw = dict(zip(GRID, values, strict=True))
        results.append((run(False, **kw), kw))
    results.sort(key=lambda r: r[0])
    print(f"dev split, {len(docs)} documents: best threshold settings (mean Pk)")
    for pk_, kw in results[:top]:
        print(f"  Pk {pk_:.4f}  {kw}")
    known = []
    fixed = [k for k in GRID if k != "sensitivity"]
    for values in itertools.product(*(GRID[k] for k in fixed)):
        kw = dict(zip(fixed, values, strict=True))
        known.append((run(True, **kw), kw))
    known.sort(key=lambda r: r[0])
    print("best settings with n_segments given (mean Pk)")
    for pk_, kw in known[:top]:
        print(f"  Pk {pk_:.4f}  {kw}")


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300, help="test documents")
    parser.add_argument("--seed", type=int, default=1, help="seed of the test split")
    parser.add_argument("--dev-docs", type=int, default=100)
    parser.add_argument("--dev-seed", type=int, default=2, help="seed of the dev split")
    parser.add_argument("--tune", action="store_true", help="grid-search on the dev split first")
    args = parser.parse_args()
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])

    import torch

    from lcmem.embedders.sentence import SentenceEmbedder

    test_pages, dev_pages = page_pools()
    embedder = CachedEmbedder(SentenceEmbedder())
    chunker = TopicChunker(embedder=embedder)
    tt_tuned: tuple[int, int] | None = None
    if args.tune:
        dev = make_docs(dev_pages, args.dev_docs, args.dev_seed)
        tune(dev, chunker)
        tt_tuned = tune_texttiling(dev)
        print()

    docs = make_docs(test_pages, args.docs, args.seed)
    n_sent = sum(len(d.sentences) for d in docs)
    t = time.perf_counter()
    texts = [d.text[a:b] for d in docs for a, b, _ in chunker.units(d.text)]
    embedder.embed(texts)
    embed_s = time.perf_counter() - t
    known = TopicChunker(embedder=embedder)

    systems: dict[str, Callable[[Doc], list[int]]] = {
        "lcmem TopicChunker (threshold)": lcmem_threshold(chunker),
        "lcmem TopicChunker (n_segments given)": lcmem_known(known),
        "nltk TextTiling (defaults)": texttiling(),
    }
    if tt_tuned is not None:
        w, k = tt_tuned
        systems[f"nltk TextTiling (dev-tuned w={w} k={k})"] = texttiling(w, k)
    systems["even baseline (n_segments given)"] = even
    rows = {name: evaluate(docs, fn) for name, fn in systems.items()}

    gold_seg = statistics.mean(len(d.sizes) for d in docs)
    print(
        f"Choi-style topic segmentation, man section 1: {len(docs)} documents, {n_sent} "
        f"sentences, {gold_seg:.2f} gold segments per document on average "
        f"({len(test_pages)} test pages, seed {args.seed})"
    )
    print(f"{'system':<42} {'Pk':>7} {'WinDiff':>8} {'segments':>9} {'seconds':>8}")
    for name, r in rows.items():
        print(
            f"{name:<40} {r['pk']:>7.4f} {r['wd']:>8.4f} {r['segments']:>9.2f} {r['seconds']:>8.1f}"
        )
    print(
        f"lcmem seconds exclude embedding: {len(texts)} units embedded in {embed_s:.1f} s "
        f"({len(texts) / embed_s:.0f} units/s) before the runs"
    )
    failures = {n: fn.failures for n, fn in systems.items() if hasattr(fn, "failures")}
    print(f"TextTiling failures (text too short, scored as one segment): {failures}")
    print(f"lcmem settings: { ({k: v for k, v in chunker.config().items() if k != 'n_segments'}) }")
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads, Python {platform.python_version()}"
    )
    print(f"command: {command}")


if __name__ == "__main__":
    main()
