"""The torch-free ONNX export (lcmem.embedders.bert_graph) against the torch.onnx one.

Claims (issues 15 and 20): the ONNX file lcmem writes from ``model.safetensors`` without torch
gives the same vectors as sentence-transformers fp32 (minimum cosine >= 0.99999 over at least
1,000 real chunks), embeds no slower than the torch export, quantizes to int8 as well, and is
made faster than ``torch.onnx.export`` makes its file.

Data (frozen spec): man pages of section 1 (``benchmarks/manpages.py``, seeded order, the first
``--pages`` pages) and 30 stdlib modules, cut by lcmem's token chunker at sizes cycling through
12, 40, 90, 160, 230 and 300 tokens (300 is truncated at the model's 256); ``--n`` chunks sampled
with ``--seed``, the same number from each size, split in halves: dev and test. Nothing is tuned
here; both halves are reported.

Systems, all on the packaged all-MiniLM-L6-v2, one thread each:
- ``torch fp32``: sentence-transformers (the reference);
- ``graph fp32`` / ``graph int8``: lcmem's torch-free export, and its dynamic int8 quantization;
- ``torch.onnx fp32`` / ``torch.onnx int8``: ``torch.onnx.export`` (the previous recipe) and its
  int8 quantization.
Embedding time of the two fp32 ONNX files is measured interleaved (A B A B, ``--rounds``).

Export time: each exporter in a fresh process (what a first use pays: imports included),
interleaved, ``--rounds`` times; the whole process wall time and the export call alone.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_onnx_graph.py --n 1000``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.manpages import render_pages  # noqa: E402
from lcmem.embedders import bert_graph  # noqa: E402
from lcmem.embedders import onnx as onnx_backend  # noqa: E402
from lcmem.tokens import default_model_path  # noqa: E402

SIZES = (12, 40, 90, 160, 230, 300)
STDLIB = Path(os.__file__).parent


def corpus(n: int, pages: int, seed: int) -> list[str]:
    """``n`` chunks of man pages and stdlib modules, as many cut at each size (seeded).

    Sampling per size (v2): v1 sampled from the pooled chunks, where the 12-token cut, having
    the most chunks, made most of the sample (median 14 tokens).
    """
    from lcmem.chunkers import get_chunker
    from lcmem.types import Document

    docs = [p.read_text(encoding="utf-8") for p in render_pages(pages, "1", seed)]
    docs += [p.read_text(encoding="utf-8") for p in sorted(STDLIB.glob("*.py"))[:30]]
    by_size: dict[int, list[str]] = {size: [] for size in SIZES}
    for i, text in enumerate(d for d in docs if d.strip()):
        size = SIZES[i % len(SIZES)]
        chunker = get_chunker("token", chunk_size=size, chunk_overlap=0)
        by_size[size] += [c.text for c in chunker.chunk(Document(text=text, path=f"doc{i}"))]
    rng = random.Random(seed)
    per = -(-n // len(SIZES))
    out: list[str] = []
    for size in SIZES:
        pool = [c for c in by_size[size] if c.strip()]
        out += rng.sample(pool, min(per, len(pool)))
    rng.shuffle(out)  # dev and test halves both hold every size
    return out[:n]


_EXPORT = """
import sys, time
sys.path.insert(0, {root!r})
t = time.perf_counter()
from pathlib import Path
from lcmem.embedders import bert_graph, onnx
from lcmem.tokens import default_model_path
fn = bert_graph.build if {which!r} == "graph" else onnx.export_with_torch
fn(default_model_path(), Path({target!r}))
print(time.perf_counter() - t)
"""


def time_exports(rounds: int, folder: Path) -> dict[str, list[tuple[float, float]]]:
    """(whole process wall, export call incl. imports) per exporter, interleaved."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    out: dict[str, list[tuple[float, float]]] = {"graph": [], "torch": []}
    for r in range(rounds):
        for which in ("torch", "graph") if r % 2 else ("graph", "torch"):
            target = folder / f"{which}-{r}.onnx"
            code = _EXPORT.format(root=str(ROOT), which=which, target=str(target))
            t = time.perf_counter()
            res = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            wall = time.perf_counter() - t
            out[which].append((wall, float(res.stdout.strip().splitlines()[-1])))
            target.unlink()
    return out


def embedder(onnx_file: Path) -> onnx_backend.OnnxEmbedder:
    """The default embedder running the given ONNX file (one thread)."""
    emb = onnx_backend.OnnxEmbedder(threads=1)
    emb._session = onnx_backend._session(onnx_file, 1)
    return emb


def same_optimized(files: dict[str, Path], work: Path) -> str:
    """Whether ONNX Runtime optimizes both fp32 files to the same compute nodes (counts)."""
    from collections import Counter

    import onnx
    import onnxruntime as ort

    heavy = ("MatMul", "FusedMatMul", "BiasGelu", "Gelu", "LayerNormalization", "Softmax")
    ops = {}
    for name in ("graph fp32", "torch.onnx fp32"):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        opts.optimized_model_filepath = str(work / f"{name.split()[0]}.opt.onnx")
        ort.InferenceSession(str(files[name]), opts, providers=["CPUExecutionProvider"])
        ops[name] = Counter(n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node)
    a, b = ops.values()
    counts = ", ".join(f"{op} {a[op]}/{b[op]}" for op in heavy if a[op] or b[op])
    return (
        f"{all(a[op] == b[op] for op in heavy)} (graph/torch.onnx: {counts}; all nodes "
        f"{sum(a.values())}/{sum(b.values())})"
    )


def summary(cos: np.ndarray) -> str:
    return f"{cos.min():>12.7f}{np.quantile(cos, 0.01):>12.7f}{cos.mean():>12.7f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--pages", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-export", action="store_true", help="skip the export timing")
    args = ap.parse_args()
    import torch

    from lcmem.embedders.sentence import SentenceEmbedder

    torch.set_num_threads(1)
    texts = corpus(args.n, args.pages, args.seed)
    half = len(texts) // 2
    splits = {"dev": slice(0, half), "test": slice(half, None), "all": slice(None)}
    work = Path(tempfile.mkdtemp(prefix="bench-onnx-graph-"))
    model = default_model_path()
    files = {"graph fp32": work / "graph.onnx", "torch.onnx fp32": work / "torch.onnx"}
    bert_graph.build(model, files["graph fp32"])
    onnx_backend.export_with_torch(model, files["torch.onnx fp32"])
    for name in ("graph", "torch.onnx"):
        files[f"{name} int8"] = work / f"{name}.int8.onnx"
        onnx_backend.quantize(files[f"{name} fp32"], files[f"{name} int8"])

    ref = SentenceEmbedder().embed(texts)
    systems = {name: embedder(path) for name, path in files.items()}
    lengths = [len(e.ids) for e in systems["graph fp32"].tokenizer.encode_batch(texts)]
    vecs = {"torch fp32": ref}
    speed: dict[str, list[float]] = {"graph fp32": [], "torch.onnx fp32": []}
    cpu: dict[str, list[float]] = {"graph fp32": [], "torch.onnx fp32": []}
    for r in range(args.rounds):  # A B A B: the two fp32 files, timed
        order = list(speed) if r % 2 == 0 else list(reversed(speed))
        for name in order:
            t, c = time.perf_counter(), time.process_time()
            vecs[name] = systems[name].embed(texts)
            speed[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    for name in ("graph int8", "torch.onnx int8"):
        vecs[name] = systems[name].embed(texts)

    print(
        f"# {len(texts)} chunks ({half} dev / {len(texts) - half} test) from {args.pages} man "
        f"pages and 30 stdlib modules; tokens per chunk: min {min(lengths)}, median "
        f"{int(np.median(lengths))}, max {max(lengths)}; {sum(n == 256 for n in lengths)} "
        "truncated at 256"
    )
    print(f"\n{'system':<18}{'split':<6}{'min cos':>12}{'p01 cos':>12}{'mean cos':>12}")
    for name, v in vecs.items():
        if name == "torch fp32":
            continue
        for split, sl in splits.items():
            cos = (v[sl] * ref[sl]).sum(axis=1)
            print(f"{name:<18}{split:<6}{summary(cos)}")
    same = (vecs["graph fp32"] * vecs["torch.onnx fp32"]).sum(axis=1)
    diff = float(np.abs(vecs["graph fp32"] - vecs["torch.onnx fp32"]).max())
    print(f"\ngraph fp32 vs torch.onnx fp32: min cos {same.min():.7f}, max |diff| {diff:.2e}")

    print(f"\nembedding {len(texts)} chunks, 1 thread, {args.rounds} rounds interleaved (s)")
    for name, runs in speed.items():
        listed = ", ".join(f"{x:.2f}" for x in runs)
        print(f"{name:<18}{statistics.median(runs):>8.2f}  (runs {listed})")
    g, t = speed["graph fp32"], speed["torch.onnx fp32"]
    ratios = [b / a for a, b in zip(g, t, strict=True)]
    print(f"ratio torch.onnx / graph per round: {', '.join(f'{x:.3f}' for x in ratios)}")
    print("CPU time (s; one thread, so less disturbed by other processes than wall time)")
    for name, runs in cpu.items():
        listed = ", ".join(f"{x:.2f}" for x in runs)
        print(f"{name:<18}{statistics.median(runs):>8.2f}  (runs {listed})")
    ratios = [b / a for a, b in zip(cpu["graph fp32"], cpu["torch.onnx fp32"], strict=True)]
    print(f"CPU ratio torch.onnx / graph per round: {', '.join(f'{x:.3f}' for x in ratios)}")
    print(f"optimized graphs (ORT_ENABLE_ALL) the same: {same_optimized(files, work)}")
    if args.no_export:
        return

    exports = time_exports(args.rounds, work)
    print(f"\nexport in a fresh process, {args.rounds} rounds interleaved (s)")
    print(f"{'exporter':<18}{'process wall':>14}{'export call':>14}   runs (wall)")
    for which, label in (("torch", "torch.onnx"), ("graph", "graph (no torch)")):
        walls = [w for w, _ in exports[which]]
        calls = [c for _, c in exports[which]]
        print(
            f"{label:<18}{statistics.median(walls):>14.2f}{statistics.median(calls):>14.2f}"
            f"   {', '.join(f'{x:.2f}' for x in walls)}"
        )
    ratios = [a[0] / b[0] for a, b in zip(exports["torch"], exports["graph"], strict=True)]
    print(f"ratio torch / graph, process wall, per round: {', '.join(f'{x:.2f}' for x in ratios)}")
    sizes = {k: v.stat().st_size / 1e6 for k, v in files.items()}
    print("\nfile sizes (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in sizes.items()))
    print(json.dumps({"n": len(texts), "onnx_runtime_threads": 1}))


if __name__ == "__main__":
    main()
