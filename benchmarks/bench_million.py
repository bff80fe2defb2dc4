"""A 1,000,000-chunk library on one machine (issue 18, item 2): build it, then measure it.

Frozen spec (written before any tuning):

- **Corpus**: real text only. Base documents: the 2,601 rendered section-1 man pages
  (``benchmarks/data/man/1``), the Python 3.11 standard library sources (``*.py`` outside
  ``site-packages``), and the text files of ``/usr/share/doc`` (``.gz`` decompressed;
  README/NEWS/changelog/copyright/``*.txt``/``*.md``/``*.rst``; binary files skipped). Copy 0 is
  the text as it is; copy ``r >= 1`` is a variation: paragraphs (blank-line separated) shuffled
  with seed ``(r, name)`` and 5% of words replaced by a word of the same document. Every
  document is written as ``.txt`` under ``OUT/corpus/r<r>/``; copies are added until the library
  holds at least 1,000,000 chunks (the last copy is cut to the number of files needed).
- **Library**: ``lcmem.open(OUT/lib, embedder=HashTfidfEmbedder())``, default chunker (``auto``,
  200 tokens, overlap 20), default BM25, indexed copy by copy with ``Library.index``. Vectors come
  from the cheap deterministic embedder of ``benchmarks/hash_embedder.py`` (hashed TF-IDF ->
  sparse random projection to 384 dims), NOT the real model: quality numbers stay on the real
  model; this run measures size, memory and latency.
- **Queries**: 1,000 queries, seed 18: a window of 3 to 8 consecutive words from a random chunk
  text of copy 0; split by parity into dev (even, used to choose index parameters) and test
  (odd, reported). Recall@10 of each approximate index = |top10(approx) & top10(flat)| / 10.

Steps (outputs outside the repository, default ``/work/scratch-1m``)::

    python benchmarks/bench_million.py corpus          # write the copies (cheap)
    python benchmarks/bench_million.py build           # index them (long; run in background)
    python benchmarks/bench_million.py measure         # open, RSS, disk, latency, recall, churn

Example:
    >>> from benchmarks.bench_million import vary      # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT = Path("/work/scratch-1m")
MAN = Path("/work/main/benchmarks/data/man/1")
STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
DOCS = Path("/usr/share/doc")
TARGET_CHUNKS = 1_000_000
_DOC_NAMES = re.compile(r"(readme|news|changelog|copyright|changes|authors|todo)", re.I)
_DOC_EXT = (".txt", ".md", ".rst", ".debian")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


def base_documents() -> Iterator[tuple[str, str]]:
    """``(name, text)`` of every base document, in a fixed order."""
    for p in sorted(MAN.glob("*.txt")):
        yield f"man/{p.stem}", p.read_text(errors="replace")
    for p in sorted(STDLIB.rglob("*.py")):
        if "site-packages" in p.parts:
            continue
        rel = p.relative_to(STDLIB).as_posix().replace("/", "__")
        yield f"py/{rel}", p.read_text(errors="replace")
    for p in sorted(DOCS.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        name = p.name.lower()
        stem = name[:-3] if name.endswith(".gz") else name
        if not (_DOC_NAMES.search(stem) or stem.endswith(_DOC_EXT)):
            continue
        try:
            data = gzip.decompress(p.read_bytes()) if name.endswith(".gz") else p.read_bytes()
        except (OSError, EOFError):
            continue
        if b"\x00" in data[:4096] or len(data) > 8 * 2**20:
            continue
        rel = p.relative_to(DOCS).as_posix().replace("/", "__")
        yield f"doc/{rel}", data.decode("utf-8", errors="replace")


def vary(text: str, copy: int, name: str) -> str:
    """Copy ``copy`` of a document: paragraphs shuffled, 5% of words swapped (copy 0: as is).

    Example:
        >>> vary("a b\\n\\nc d", 0, "x")
        'a b\\n\\nc d'
    """
    if copy == 0:
        return text
    rng = random.Random(f"{copy}/{name}")
    paras = re.split(r"\n\s*\n", text)
    rng.shuffle(paras)
    words = _WORD.findall(text) or ["lcmem"]

    def swap(m: re.Match[str]) -> str:
        return rng.choice(words) if rng.random() < 0.05 else m.group(0)

    return "\n\n".join(_WORD.sub(swap, p) for p in paras)


def write_copy(copy: int, out: Path, limit_chars: int | None = None) -> tuple[int, int]:
    """Write copy ``copy`` (up to ``limit_chars`` characters); returns (files, characters)."""
    folder = out / "corpus" / f"r{copy:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    files = chars = 0
    for name, text in base_documents():
        if limit_chars is not None and chars >= limit_chars:
            break
        body = vary(text, copy, name)
        if not body.strip():
            continue
        path = folder / (name.replace("/", "_") + ".txt")
        path.write_text(body, encoding="utf-8")
        files += 1
        chars += len(body)
    return files, chars


def open_library(out: Path, **kwargs: object) -> object:
    import lcmem
    from benchmarks.hash_embedder import HashTfidfEmbedder

    return lcmem.open(out / "lib", embedder=HashTfidfEmbedder(), **kwargs)


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB, from /proc/self/status."""
    cur = peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cur, peak


def cmd_build(args: argparse.Namespace) -> None:
    """Index copy after copy until the library holds ``--target`` chunks."""
    import lcmem.indexers.bm25 as bm25_module
    import lcmem.indexing.local as local_module

    # Build speed only (the library is the same): BM25 folds its pending documents in one
    # O(postings) pass every 4,096 documents, and the local executor saves both indices every
    # 120 s; at a million chunks on 2 shared cores those passes dominated the build.
    bm25_module._PENDING_LIMIT = 65_536
    local_module.SAVE_EVERY_SECONDS = 3600.0
    out = Path(args.out)
    log = open(out / "build.log", "a")  # noqa: SIM115
    lib = open_library(out)
    copy = 0
    while True:
        have = lib.store.chunk_count()
        if have >= args.target:
            break
        folder = out / "corpus" / f"r{copy:02d}"
        if not folder.is_dir():
            limit = None
            if have:  # chars per chunk so far -> how much of the next copy is needed
                per_chunk = json.loads((out / "chars.json").read_text())["chars"] / have
                limit = int((args.target - have) * per_chunk * 1.03)
            files, chars = write_copy(copy, out, limit)
            done = (
                json.loads((out / "chars.json").read_text())
                if (out / "chars.json").exists()
                else {"chars": 0}
            )
            (out / "chars.json").write_text(json.dumps({"chars": done["chars"] + chars}))
            print(f"copy {copy}: wrote {files} files, {chars} chars", file=log, flush=True)
        t0 = time.perf_counter()
        report = lib.index([folder], progress=False)
        n = lib.store.chunk_count()
        print(
            f"copy {copy}: +{report.chunks_added} chunks in {time.perf_counter() - t0:.0f} s "
            f"(total {n}, rss/peak MiB {rss_mib()}, errors {len(report.errors)})",
            file=log,
            flush=True,
        )
        copy += 1
    print(f"done: {lib.store.chunk_count()} chunks", file=log, flush=True)


def main(argv: list[str] | None = None) -> None:
    from benchmarks import million_measure as mm

    steps = {"build": cmd_build, **mm.STEPS}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=sorted(steps))
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--target", type=int, default=TARGET_CHUNKS)
    parser.add_argument("--kind", default="flat", help="dense index for the rss step")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--flat", default=None, help="hnsw: start from this flat index file")
    parser.add_argument(
        "--nprobes", type=lambda v: [int(x) for x in v.split(",")], default=[32], help="latency"
    )
    args = parser.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    steps[args.step](args)


if __name__ == "__main__":
    main()
