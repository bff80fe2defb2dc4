"""TopicChunker speed: documents/s before (torch embedder, one document at a time) and after
(ONNX Runtime embedder, sentences of many documents in one batched stream), same Pk.

Claim (issue 15): >= 5x the documents/s of the torch, one-document-at-a-time path on the
Choi-style benchmark of ``bench_topic.py`` (its test split: seed 1, man section 1 pages), with
Pk unchanged (+-0.005). Same chunker settings (the defaults) for every system.

Systems, all with one inference thread:
- ``torch, per document``: ``TopicChunker(embedder=SentenceEmbedder()).segment(doc)`` (before);
- ``onnx, per document``: the same loop with the ONNX embedder (the backend's share);
- ``onnx, batched``: ``segment_many`` over groups of ``--group`` documents (after).
Documents are processed in blocks of ``--group``, the systems in rotated order per block
(A B C, B C A, ...), so the machine's load falls on all alike. Models are loaded (and the
ONNX file exported) before timing.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_topic_speed.py --docs 96``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_topic import Doc, boundary_string, make_docs, page_pools, scores, to_sentence_starts
from machine import cpu_model, load_average

from lcmem.chunkers.topic import TopicChunker
from lcmem.embedders.onnx import OnnxEmbedder
from lcmem.embedders.sentence import SentenceEmbedder


def per_doc(chunker: TopicChunker) -> Callable[[list[Doc]], list[list[int]]]:
    return lambda docs: [chunker.segment(d.text) for d in docs]


def batched(chunker: TopicChunker) -> Callable[[list[Doc]], list[list[int]]]:
    return lambda docs: chunker.segment_many([d.text for d in docs])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=96)
    ap.add_argument("--seed", type=int, default=1, help="seed of bench_topic's test split")
    ap.add_argument("--group", type=int, default=32, help="documents per batched call")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    test_pages, _ = page_pools()
    docs = make_docs(test_pages, args.docs, args.seed)
    torch_emb, onnx_emb = SentenceEmbedder(), OnnxEmbedder(threads=1)
    torch_emb.embed(["warm up"]), onnx_emb.embed(["warm up"])
    systems = {
        "torch, per document (before)": per_doc(TopicChunker(embedder=torch_emb)),
        "onnx, per document": per_doc(TopicChunker(embedder=onnx_emb)),
        "onnx, batched (after)": batched(TopicChunker(embedder=onnx_emb)),
    }
    names = list(systems)
    seconds = dict.fromkeys(names, 0.0)
    found: dict[str, list[list[int]]] = {n: [] for n in names}
    blocks = [docs[i : i + args.group] for i in range(0, len(docs), args.group)]
    for b, block in enumerate(blocks):
        for name in names[b % len(names) :] + names[: b % len(names)]:
            t = time.perf_counter()
            found[name] += systems[name](block)
            seconds[name] += time.perf_counter() - t
    n_sent = sum(len(d.sentences) for d in docs)
    print(
        f"# {cpu_model()}; load {load_average()}; {len(docs)} documents, {n_sent} sentences "
        f"({n_sent / len(docs):.1f} per document), group {args.group}, 1 thread"
    )
    print(f"{'system':<32}{'Pk':>8}{'WinDiff':>9}{'docs/s':>9}{'x before':>10}")
    base = len(docs) / seconds[names[0]]
    for name in names:
        pks, wds = [], []
        for doc, offsets in zip(docs, found[name], strict=True):
            starts = sorted(set(to_sentence_starts(doc, offsets)))
            p, w = scores(doc, boundary_string(len(doc.sentences), starts))
            pks.append(p)
            wds.append(w)
        rate = len(docs) / seconds[name]
        print(
            f"{name:<32}{statistics.mean(pks):>8.4f}{statistics.mean(wds):>9.4f}"
            f"{rate:>9.2f}{rate / base:>10.2f}"
        )


if __name__ == "__main__":
    main()
