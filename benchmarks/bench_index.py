"""End-to-end ``lcmem index`` on man pages vs the bare embedder, plus incremental re-index times.

Steps, each in a fresh process so nothing is warm that a user's run would not have warm:

1. write ``--pages`` rendered man pages (``manpages.py``) as one ``.txt`` file each into
   ``WORK/index/corpus/`` and index them into a fresh store with the real CLI,
   ``python -m lcmem.cli index corpus --store S --json --quiet`` (wall time, model load included);
2. read back the texts lcmem embedded (``lcmem_chunks`` rows, context + "\\n" + text, one per
   distinct embedding hash as lcmem embeds them) and time ``SentenceTransformer.encode(texts,
   batch_size=32, normalize_embeddings=True)`` of the same packaged model in a fresh process
   (start-up + model load timed apart, one warm-up batch), with the same torch thread count;
3. append a line to 1% of the files and re-index; then re-index with nothing changed.

Run: ``.venv/bin/python benchmarks/bench_index.py`` (``--pages 30`` for a quick check).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

try:
    from benchmarks.machine import cpu_model, load_average
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from machine import cpu_model, load_average  # type: ignore[no-redef]

try:
    from benchmarks.manpages import render_pages
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from manpages import render_pages  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK = REPO / "benchmarks" / ".work"
OVERHEAD_GOAL = 0.10  # lcmem time / embedder time - 1
REINDEX_GOAL = 0.05  # re-index after touching 1% of files / full index time


# -- machine and corpus ------------------------------------------------------------------------


def man_pages(n: int, section: str = "1", seed: int = 0) -> list[Path]:
    """Cached texts of the first ``n`` non-empty pages of ``section`` in the seeded order."""
    ask = n
    while True:
        paths = render_pages(ask, section, seed)
        good = [p for p in paths if p.stat().st_size > 0]
        if len(good) >= n or len(paths) < ask:
            return good[:n]
        ask += n - len(good) + 16


def write_corpus(pages: list[Path], folder: Path) -> int:
    """Copy ``pages`` into a fresh ``folder`` (one ``.txt`` each); total bytes."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    total = 0
    for src in pages:
        data = src.read_bytes()
        (folder / src.name).write_bytes(data)
        total += len(data)
    return total


def snapshot_code(dest: Path) -> tuple[Path, str]:
    """Copy ``lcmem/`` to ``dest/lcmem`` so a long run measures one version of the code even if
    the work tree changes meanwhile; returns ``dest`` and a description of the version."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(REPO / "lcmem", dest / "lcmem", ignore=shutil.ignore_patterns("__pycache__"))

    def git(*cmd: str) -> str:
        proc = subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    dirty = git("status", "--porcelain", "--", "lcmem").splitlines()
    version = git("rev-parse", "--short", "HEAD") or "unknown"
    return dest, f"{version}" + (f" + {len(dirty)} uncommitted files in lcmem/" if dirty else "")


def child_env(threads: int | None, code: Path | None = None) -> dict[str, str]:
    """Environment of the timed subprocesses: lcmem imported from ``code`` (a snapshot) when
    given, thread count pinned when ``threads`` is set. Run them outside the repo so that
    ``python -m`` does not put the work tree first on ``sys.path``."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "LCMEM_BENCH_TORCH_THREADS"):
            env[var] = str(threads)
    return env


# -- timed runs ----------------------------------------------------------------------------------
def children_cpu() -> float:
    """CPU seconds (user + system) used so far by finished child processes."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def cli_index(
    corpus: Path, store: Path, env: dict[str, str], extra: list[str] | None = None
) -> tuple[float, float, dict[str, Any]]:
    """Wall and CPU seconds of ``python -m lcmem.cli index`` (plus options ``extra``, e.g.
    ``["--embed-precision", "int8"]``) and its JSON report."""
    cmd = [
        sys.executable,
        "-m",
        "lcmem.cli",
        "index",
        str(corpus),
        "--store",
        str(store),
        "--json",
        "--quiet",
        *(extra or []),
    ]
    cpu0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(
        cmd, env=env, cwd=store.parent, capture_output=True, text=True, check=False
    )
    seconds, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if proc.returncode != 0:
        sys.exit(f"lcmem index failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return seconds, cpu, json.loads(proc.stdout)


def embedded_texts(db: Path) -> tuple[list[str], int]:
    """Texts lcmem embedded for the store ``db`` (one per distinct embedding hash, in chunk
    order, as ``Chunk.embedding_text()``) and the number of chunks."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT embed_hash, context, text FROM lcmem_chunks ORDER BY id")
        seen: set[str] = set()
        texts: list[str] = []
        n_chunks = 0
        for embed_hash, context, text in rows:
            n_chunks += 1
            if embed_hash not in seen:
                seen.add(embed_hash)
                texts.append(f"{context}\n{text}" if context else text)
    finally:
        con.close()
    return texts, n_chunks


def embed_worker(db: Path, out: Path, launched: float) -> None:
    """Child process: load the packaged model, encode the store's texts, write timings."""
    t_start = time.time()
    import torch
    from sentence_transformers import SentenceTransformer

    from lcmem.tokens import default_model_path

    if os.environ.get("LCMEM_BENCH_TORCH_THREADS"):
        torch.set_num_threads(int(os.environ["LCMEM_BENCH_TORCH_THREADS"]))
    t_import = time.time()
    model = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    t_loaded, cpu_loaded = time.time(), time.process_time()
    texts, n_chunks = embedded_texts(db)
    t0 = time.perf_counter()
    model.encode(texts[:32], batch_size=32, normalize_embeddings=True)
    warmup = time.perf_counter() - t0
    t0, cpu0 = time.perf_counter(), time.process_time()
    vecs = model.encode(texts, batch_size=32, normalize_embeddings=True)
    encode, encode_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    import sentence_transformers

    import lcmem

    result = {
        "lcmem": lcmem.__file__,
        "texts": len(texts),
        "chunks": n_chunks,
        "dim": int(vecs.shape[1]),
        "startup": t_start - launched,
        "import": t_import - t_start,
        "model_load": t_loaded - t_import,
        "ready": t_loaded - launched,  # python start-up + imports + model load
        "ready_cpu": cpu_loaded,  # CPU seconds of this process until the model was loaded
        "warmup": warmup,
        "encode": encode,
        "encode_cpu": encode_cpu,
        "load_during_encode": load_average(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
    }
    out.write_text(json.dumps(result))


def embedder_baseline(db: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run :func:`embed_worker` in a fresh process; its timings plus the process wall time."""
    out = work / "embedder.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--embed-worker",
        str(db),
        "--embed-out",
        str(out),
        "--embed-launched",
        repr(time.time()),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"embedder baseline failed:\n{proc.stderr[-4000:]}")
    result = json.loads(out.read_text())
    result["wall"] = wall
    return result


def touch_files(corpus: Path, fraction: float, seed: int) -> list[Path]:
    """Append a line of text to ``fraction`` of the files (at least one), picked with ``seed``."""
    files = sorted(corpus.glob("*.txt"))
    n = max(1, round(len(files) * fraction))
    picked = random.Random(seed).sample(files, n)
    for i, path in enumerate(picked):
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"\nBenchmark edit {i}: this line was appended to test re-indexing.\n")
    return picked


# -- report --------------------------------------------------------------------------------------
def _check(value: float, goal: float) -> str:
    return f"{'yes' if value < goal else 'NO'} (goal < {goal:.0%})"


def table(rows: list[tuple[str, str, str]]) -> str:
    """A markdown table of (metric, value, goal check) rows."""
    width = [max(len(r[i]) for r in [("metric", "value", "goal"), *rows]) for i in range(3)]
    line = "| " + " | ".join(f"{{:{w}}}" for w in width) + " |"
    out = [
        line.format("metric", "value", "goal"),
        "|" + "|".join("-" * (w + 2) for w in width) + "|",
    ]
    out += [line.format(*r) for r in rows]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="man pages to index")
    parser.add_argument("--section", default="1", help="man section")
    parser.add_argument("--seed", type=int, default=0, help="page order and touched files")
    parser.add_argument("--touch", type=float, default=0.01, help="fraction of files edited")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch/OMP threads for both runs (default: torch's default)",
    )
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch folder")
    parser.add_argument("--embed-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--embed-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--embed-launched", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.embed_worker:
        embed_worker(args.embed_worker, args.embed_out, args.embed_launched)
        return

    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    work = args.work.resolve() / "index"
    corpus, store = work / "corpus", work / "store"
    code, version = snapshot_code(work / "code")
    env = child_env(args.threads, code)
    load_start = load_average()
    partial: dict[str, Any] = {"command": command, "lcmem": version}

    def keep(**items: Any) -> None:  # results so far, in case a later step fails
        partial.update(items)
        (work / "results.json").write_text(json.dumps(partial, indent=1))

    pages = man_pages(args.pages, args.section, args.seed)
    n_bytes = write_corpus(pages, corpus)
    n_gcloud = sum(p.name.startswith("gcloud") for p in pages)
    print(
        f"corpus: {len(pages)} pages ({n_gcloud} gcloud), {n_bytes / 1e6:.1f} MB in {corpus}",
        flush=True,
    )
    if store.exists():
        shutil.rmtree(store)

    full_s, full_cpu, full = cli_index(corpus, store, env)
    load_full = load_average()
    keep(full_s=full_s, full_cpu=full_cpu, full=full, load_full=load_full)
    chunks = full["chunks_added"]
    print(f"full index: {full_s:.1f}s, {chunks} chunks, {full['embedded']} embedded", flush=True)

    base = embedder_baseline(store / "lcmem.db", work, env)
    keep(base=base)
    print(
        f"embedder: {base['encode']:.1f}s for {base['texts']} texts "
        f"(ready after {base['ready']:.1f}s)",
        flush=True,
    )

    touched = touch_files(corpus, args.touch, args.seed)
    touch_s, _, touch = cli_index(corpus, store, env)
    keep(touch_s=touch_s, touch=touch)
    print(f"re-index after touching {len(touched)} files: {touch_s:.1f}s", flush=True)
    same_s, _, same = cli_index(corpus, store, env)
    keep(same_s=same_s, same=same)
    print(f"re-index, no change: {same_s:.1f}s", flush=True)

    texts, ready, encode = base["texts"], base["ready"], base["encode"]
    over_excl = (full_s - ready) / encode - 1
    over_incl = full_s / (ready + encode) - 1
    over_cpu = (full_cpu - base["ready_cpu"]) / base["encode_cpu"] - 1
    touch_ratio = touch_s / full_s
    rows = [
        ("pages (files)", f"{len(pages)} ({n_gcloud} gcloud_*), {n_bytes / 1e6:.1f} MB", ""),
        ("chunks / distinct texts embedded", f"{chunks} / {full['embedded']}", ""),
        ("lcmem index, full, CLI wall", f"{full_s:.1f} s = {chunks / full_s:.1f} chunks/s", ""),
        ("  of which inside Library.index", f"{full['seconds']:.1f} s", ""),
        ("  of which in Embedder.embed", f"{full['embed_seconds']:.1f} s", ""),
        (
            "embedder alone: encode()",
            f"{encode:.1f} s = {texts / encode:.1f} texts/s = {chunks / encode:.1f} chunks/s",
            "",
        ),
        (
            "embedder alone: start-up + model load",
            f"{ready:.1f} s (import {base['import']:.1f} s, load {base['model_load']:.1f} s)",
            "",
        ),
        (
            "lcmem overhead, excl. start-up + load",
            f"{over_excl:+.1%}",
            _check(over_excl, OVERHEAD_GOAL),
        ),
        (
            "lcmem overhead, incl. start-up + load",
            f"{over_incl:+.1%}",
            _check(over_incl, OVERHEAD_GOAL),
        ),
        (
            "lcmem overhead in CPU time, excl. load",
            f"{over_cpu:+.1%} ({full_cpu:.0f} vs {base['ready_cpu']:.0f} + "
            f"{base['encode_cpu']:.0f} CPU s)",
            _check(over_cpu, OVERHEAD_GOAL),
        ),
        (
            f"re-index, {len(touched)} files touched",
            f"{touch_s:.1f} s = {touch_ratio:.2%} of full "
            f"({len(touch['updated'])} updated, {touch['embedded']} embedded)",
            _check(touch_ratio, REINDEX_GOAL),
        ),
        (
            "re-index, no change",
            f"{same_s:.1f} s = {same_s / full_s:.2%} of full ({len(same['unchanged'])} unchanged)",
            "",
        ),
    ]
    print()
    print(table(rows))
    print()
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {base['torch']} with "
        f"{base['torch_threads']} threads, sentence-transformers "
        f"{base['sentence_transformers']}, Python {platform.python_version()}"
    )
    print(
        f"load average (1/5/15 min): start {load_start}; after full index {load_full}; end "
        f"of embedder encode {base['load_during_encode']}; end {load_average()}"
    )
    print(f"lcmem: {version} (copied to {code} for the run)")
    print(f"command: {command}")


if __name__ == "__main__":
    main()
