"""Vector agreement: ONNX Runtime fp32 and int8 against sentence-transformers (torch) fp32.

Claim (issue 15): the ONNX fp32 vectors of the packaged all-MiniLM-L6-v2 match torch's, minimum
cosine >= 0.99999 over at least 1,000 real chunks.

Data: ``--n`` chunks sampled (seeded) from a library built by ``lcmem index`` (``--store``; man
pages, say), embedded as lcmem embeds them (``context + "\\n" + text``). Each system embeds the
same texts: torch (``SentenceEmbedder``), ONNX fp32 and ONNX int8 (``OnnxEmbedder``); cosines
of each ONNX vector with torch's are summarised. One thread each.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_onnx_vectors.py --store LIB --n 1000``
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lcmem.embedders.onnx import OnnxEmbedder
from lcmem.embedders.sentence import SentenceEmbedder


def texts_of(store: Path, n: int, seed: int) -> list[str]:
    con = sqlite3.connect(f"file:{store / 'lcmem.db'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT context, text FROM lcmem_chunks ORDER BY id").fetchall()
    finally:
        con.close()
    rows = random.Random(seed).sample(rows, min(n, len(rows)))
    return [f"{c}\n{t}" if c else t for c, t in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    texts = texts_of(args.store, args.n, args.seed)
    systems = {
        "torch fp32": SentenceEmbedder(),
        "onnx fp32": OnnxEmbedder(threads=1),
        "onnx int8": OnnxEmbedder(precision="int8", threads=1),
    }
    vecs = {name: emb.embed(texts) for name, emb in systems.items()}
    ref = vecs["torch fp32"]
    lengths = [len(systems["onnx fp32"].tokenizer.encode(t).ids) for t in texts]
    print(
        f"# {len(texts)} chunks from {args.store}; tokens per chunk: median "
        f"{int(np.median(lengths))}, max {max(lengths)}"
    )
    print(f"{'system':<12}{'min cos':>12}{'p01 cos':>12}{'mean cos':>12}")
    for name, v in vecs.items():
        cos = (v * ref).sum(axis=1)
        print(f"{name:<12}{cos.min():>12.7f}{np.quantile(cos, 0.01):>12.7f}{cos.mean():>12.7f}")


if __name__ == "__main__":
    main()
