"""Index throughput and vector agreement: the torch embedder vs ONNX Runtime fp32 and int8.

Claim (issue 15): ``lcmem index`` on man pages runs >= 1.2x the chunks/s of the torch
(sentence-transformers) path with ONNX fp32, and the ONNX fp32 vectors match torch's (minimum
cosine >= 0.99999 over every chunk embedded, >= 1,000).

Method: ``--pages`` rendered man pages of section 1 (seeded order, ``manpages.py``) are cut into
``--rounds`` slices. Each round indexes its slice into one library per system, the systems in a
rotated order (A B C, B C A, ...), each as a whole ``python -m lcmem.cli index`` process:
``torch`` (``LCMEM_EMBED_BACKEND=torch``), ``onnx`` (fp32) and ``int8`` (``--embed-precision
int8``). Libraries grow round by round, as an incremental index does. Throughput is chunks
added / seconds, wall and CPU (user + system of the child; steadier on a shared machine).
The ONNX files are exported before the first timed run (a one-off cost, reported apart).
Then the vectors the libraries cached for the same chunk texts are compared by cosine.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_onnx_index.py --pages 2000 --threads 1``
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import children_cpu, man_pages, snapshot_code, write_corpus
from machine import cpu_model, load_average

REPO = Path(__file__).resolve().parent.parent
SYSTEMS = ("torch", "onnx", "int8")


def env_for(system: str, threads: int, code: Path) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(code))
    env["LCMEM_EMBED_BACKEND"] = "torch" if system == "torch" else "onnx"
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def index_once(system: str, corpus: Path, store: Path, threads: int, code: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "lcmem.cli", "index", str(corpus), "--store", str(store)]
    cmd += ["--json", "--quiet", "--threads", str(threads)]
    if system == "int8":
        cmd += ["--embed-precision", "int8"]
    cpu0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(
        cmd, env=env_for(system, threads, code), cwd=store.parent, capture_output=True, text=True
    )
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if proc.returncode != 0:
        sys.exit(f"{system}: lcmem index failed:\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout)
    return {"wall": wall, "cpu": cpu, "chunks": report["chunks_added"], "report": report}


def vectors(db: Path) -> dict[str, np.ndarray]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT hash, vector FROM lcmem_embeddings").fetchall()
    finally:
        con.close()
    return {h: np.frombuffer(v, dtype=np.float32) for h, v in rows}


def cosines(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> np.ndarray:
    common = sorted(set(a) & set(b))
    x = np.stack([a[h] for h in common])
    y = np.stack([b[h] for h in common])
    return (x * y).sum(axis=1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".work" / "onnx_index")
    args = ap.parse_args()
    systems = args.systems.split(",")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    code, version = snapshot_code(work / "code")
    pages = man_pages(args.pages)
    slices = [pages[i :: args.rounds] for i in range(args.rounds)]
    corpora = []
    for i, sl in enumerate(slices):
        corpora.append(work / "corpus" / f"r{i}")
        write_corpus(sl, corpora[-1])
    for s in systems:
        store = work / f"lib-{s}"
        if store.exists():
            import shutil

            shutil.rmtree(store)
    # one-off export (and quantization), outside the timed runs
    t0 = time.perf_counter()
    warm = (
        "from lcmem.embedders.onnx import OnnxEmbedder as E\n"
        "E().onnx_path; E(precision='int8').onnx_path"
    )
    subprocess.run([sys.executable, "-c", warm], env=env_for("onnx", 1, code), check=True)
    export_s = time.perf_counter() - t0

    print(
        f"# lcmem {version}; {cpu_model()}; load {load_average()}; {len(pages)} man pages, "
        f"{args.rounds} rounds, threads {args.threads}",
        flush=True,
    )
    totals = {s: {"wall": 0.0, "cpu": 0.0, "chunks": 0, "embed": 0.0} for s in systems}
    for r, corpus in enumerate(corpora):
        order = systems[r % len(systems) :] + systems[: r % len(systems)]
        for s in order:
            res = index_once(s, corpus, work / f"lib-{s}", args.threads, code)
            t = totals[s]
            t["wall"] += res["wall"]
            t["cpu"] += res["cpu"]
            t["chunks"] += res["chunks"]
            t["embed"] += res["report"].get("embed_seconds", 0.0)
            print(
                f"round {r} {s:<6} {res['chunks']:>6} chunks {res['wall']:8.1f} s wall "
                f"{res['cpu']:8.1f} s cpu  load {load_average()}",
                flush=True,
            )
    base = totals.get("torch")
    print()
    print(f"export + int8 quantization, once: {export_s:.1f} s")
    print(
        f"{'system':<8}{'chunks':>8}{'wall s':>9}{'cpu s':>9}{'chunks/s wall':>15}"
        f"{'chunks/s cpu':>14}{'x torch wall':>14}{'x torch cpu':>13}"
    )
    for s in systems:
        t = totals[s]
        w, c = t["chunks"] / t["wall"], t["chunks"] / t["cpu"]
        rw = w / (base["chunks"] / base["wall"]) if base else float("nan")
        rc = c / (base["chunks"] / base["cpu"]) if base else float("nan")
        print(
            f"{s:<8}{t['chunks']:>8}{t['wall']:>9.1f}{t['cpu']:>9.1f}{w:>15.1f}{c:>14.1f}"
            f"{rw:>14.2f}{rc:>13.2f}"
        )
    if "torch" in systems:
        ref = vectors(work / "lib-torch" / "lcmem.db")
        for s in systems:
            if s == "torch":
                continue
            cos = cosines(ref, vectors(work / f"lib-{s}" / "lcmem.db"))
            print(
                f"cosine {s} vs torch over {len(cos)} chunk texts: min {cos.min():.7f} "
                f"p01 {np.quantile(cos, 0.01):.7f} mean {cos.mean():.7f}"
            )


if __name__ == "__main__":
    main()
