"""Issue 20's replaced pieces without a benchmark of their own: old code against new, A B A B.

Each piece runs in a fresh process per tree (``PYTHONPATH=TREE``), the trees taking turns
round by round; the table gives the median of each tree's rounds and new/old. Pieces:

- ``openai``: the OpenAI-compatible client (issue 20 item 4: the hand-written httpx client
  replaced by the official ``openai`` client). Import time of ``lcmem.llm.openai_compat`` in a
  fresh process, and the median time of a short ``complete()`` (8 tokens, temperature 0, the
  same prompt: llama.cpp reuses its prompt cache, so the client's own work shows) against a real
  ``llama_cpp.server`` with the packaged SmolLM2 GGUF, started once for all rounds.
- ``lock``: the library's writer lock (item 7: ``fcntl.flock`` replaced by ``filelock``),
  acquire + release of ``Library._lock()``, 2,000 times.
- ``decode``: decoding files (item 8: UTF-8 with U+FFFD replaced by charset detection) with
  ``lcmem.loaders.text.decode_text``: every ``.py`` file of the standard library as it is
  (UTF-8), and the non-ASCII ones encoded to cp1252 (the old code decoded those wrongly).
- ``atomic``: ``atomic_dir`` writing a folder of 4 x 64 KB files (item 10: fsync of the
  new folder and its files before the rename), 100 times.
- ``ignore``: ``IgnoreFile.check`` (item 10: pathspec's private regex group no longer read)
  on every path under the standard library with a 20-pattern ignore file.

Usage (the old trees are ``git archive`` of the commits before each change):
    OMP_NUM_THREADS=1 python benchmarks/bench_replaced.py \\
        --old-eco /tmp/old-eco --old-cli /tmp/old-cli --new . --rounds 3

``--old-eco``: the tree before the eco-libs merge (c74b623: openai, lock, decode);
``--old-cli``: before 1a5e702 (atomic, ignore).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
IGNORE_LINES = [
    "__pycache__/", "*.py[cod]", "*.so", "build/", "dist/", "*.egg-info/", ".venv/", "*.log",
    "test_*.py", "!test_support.py", "**/data/*.txt", "/idlelib/", "docs/_build/", "*.orig",
    "tmp*/", "*.bak", "encodings/cp*.py", "!encodings/cp1252.py", "lib2to3/tests/", "*.pem",
]  # fmt: skip


def _worker_openai(url: str, key: str) -> dict[str, float]:
    t0 = time.perf_counter()
    from lcmem.llm.openai_compat import OpenAICompatibleLLM

    imported = time.perf_counter() - t0
    llm = OpenAICompatibleLLM(url, api_key=key, context_window=2048, max_retries=0)
    messages = [{"role": "user", "content": "Name a colour."}]
    llm.complete(messages, max_tokens=8)  # warm: connection, model name, prompt cache
    times = []
    for _ in range(15):
        t = time.perf_counter()
        llm.complete(messages, max_tokens=8)
        times.append(time.perf_counter() - t)
    llm.close()
    return {"import s": imported, "complete ms": 1000 * statistics.median(times)}


def _worker_lock() -> dict[str, float]:
    import lcmem

    lib = lcmem.open(tempfile.mkdtemp(prefix="lcmem-lockbench-"))
    with lib._lock():  # the writer lock itself is what is measured
        pass
    t = time.perf_counter()
    for _ in range(2000):
        with lib._lock():
            pass
    return {"lock us": 1e6 * (time.perf_counter() - t) / 2000}


def _worker_decode() -> dict[str, float]:
    from lcmem.loaders.text import decode_text

    files = sorted(STDLIB.rglob("*.py"))
    utf8 = [p.read_bytes() for p in files]
    legacy = []
    for data in utf8:
        text = data.decode("utf-8", errors="ignore")
        if not text.isascii():
            legacy.append(text.encode("cp1252", errors="ignore"))
    out = {}
    for label, blobs in (("utf8", utf8), ("cp1252", legacy)):
        t = time.process_time()
        for i, data in enumerate(blobs):
            decode_text(data, f"f{i}")
        seconds = time.process_time() - t
        out[f"{label} MB/s"] = sum(map(len, blobs)) / 1e6 / seconds
    out["cp1252 files"] = len(legacy)
    return out


def _worker_atomic() -> dict[str, float]:
    from lcmem._atomic import atomic_dir

    root = Path(tempfile.mkdtemp(prefix="lcmem-atomicbench-", dir="/tmp"))
    payload = os.urandom(64 * 1024)
    times = []
    for _ in range(100):
        t = time.perf_counter()
        with atomic_dir(root / "index") as tmp:
            for i in range(4):
                (tmp / f"part{i}.bin").write_bytes(payload)
        times.append(time.perf_counter() - t)
    return {"atomic_dir ms": 1000 * statistics.median(times)}


def _worker_ignore() -> dict[str, float]:
    from lcmem.loaders.ignore import IgnoreFile

    rules = IgnoreFile.from_lines(IGNORE_LINES, STDLIB, ".gitignore")
    assert rules is not None
    paths = [(p, p.is_dir()) for p in STDLIB.rglob("*")]
    t = time.process_time()
    ignored = sum(1 for p, is_dir in paths if rules.check(p, is_dir))
    seconds = time.process_time() - t
    return {"check us/path": 1e6 * seconds / len(paths), "ignored": ignored, "paths": len(paths)}


WORKERS = {
    "openai": _worker_openai,
    "lock": _worker_lock,
    "decode": _worker_decode,
    "atomic": _worker_atomic,
    "ignore": _worker_ignore,
}


def _run(tree: Path, piece: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, __file__, "--worker", piece, *args]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _start_server() -> tuple[subprocess.Popen[bytes], str, str]:
    import socket
    import urllib.request

    from lcmem.llm.transformers import default_gguf_path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = "bench-key"
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path()),
        "--host", "127.0.0.1", "--port", str(port), "--api_key", key, "--n_ctx", "2048",
        "--n_threads", "1",
    ]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 300
    while True:
        try:
            req = urllib.request.Request(
                url + "/models", headers={"Authorization": f"Bearer {key}"}
            )
            urllib.request.urlopen(req, timeout=5).read()
            return server, url, key
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--old-eco", type=Path)
    ap.add_argument("--old-cli", type=Path)
    ap.add_argument("--new", type=Path, default=Path("."))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pieces", default=",".join(WORKERS))
    ap.add_argument("rest", nargs="*")
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(WORKERS[a.worker](*a.rest)))
        return
    pieces = a.pieces.split(",")
    old_of = {"openai": a.old_eco, "lock": a.old_eco, "decode": a.old_eco}
    old_of |= {"atomic": a.old_cli, "ignore": a.old_cli}
    server = None
    print("| piece | metric | old (median) | new (median) | new/old | rounds |")
    print("|---|---|---:|---:|---:|---:|")
    try:
        for piece in pieces:
            args: list[str] = []
            if piece == "openai":
                server, url, key = _start_server()
                args = [url, key]
            runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
            for _ in range(a.rounds):
                for side, tree in (("old", old_of[piece]), ("new", a.new)):
                    runs[side].append(_run(tree.resolve(), piece, *args))
            for metric in runs["new"][0]:
                old = statistics.median(r[metric] for r in runs["old"])
                new = statistics.median(r[metric] for r in runs["new"])
                ratio = f"x{new / old:.2f}" if old else "-"
                print(f"| {piece} | {metric} | {old:.4g} | {new:.4g} | {ratio} | {a.rounds} |")
            sys.stdout.flush()
            if server is not None:
                server.kill()
                server.wait()
                server = None
    finally:
        if server is not None:
            server.kill()


if __name__ == "__main__":
    main()
