"""Code chunk sizes of one lcmem version (issue 22, item 2): the standard library's top-level
modules through ``CodeChunker(200, 20)``, split dev/test by ``split_of`` of the file name.

Unlike the other benchmarks this one does not put its own repository first on ``sys.path``:
the lcmem measured is the one ``PYTHONPATH`` gives, so two versions (e.g. ``main`` before a
change and a branch after it) run the same script. Columns: chunks, p1, p10, median tokens,
chunks of 40 tokens or fewer, those that fit with a neighbour of their section within the
budget, chunks flagged ``short``, and neighbouring pairs of one section that fit together.
A section is ``Chunk.section`` when the version has it, else the context trail.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/code_chunk_sizes.py``.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
from itertools import pairwise
from pathlib import Path

import lcmem
from lcmem.chunkers import CodeChunker
from lcmem.tokens import HFTokenizer
from lcmem.types import Document

STDLIB = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
BUDGET, SMALL = 200, 40


def split_of(item: str) -> str:
    """The frozen rule of ``bench_short_chunks.split_of``."""
    return "dev" if hashlib.sha1(item.encode()).digest()[0] % 2 == 0 else "test"


def section(c) -> tuple:
    part = getattr(c, "section", None)
    if part is not None:
        return ("part", part)
    return (c.context, c.metadata.get("front_matter"), c.metadata.get("topic"))


def pct(values: list[int], q: float) -> int:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    tok = HFTokenizer.default()
    chunker = CodeChunker(BUDGET, 20, tok, language="python")
    print(f"lcmem from {Path(lcmem.__file__).parent.parent}")
    head = "| split | chunks | p1 | p10 | median | ≤40 | ≤40 that fit a neighbour | short |"
    print(head + " pairs that fit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    files = sorted(STDLIB.glob("*.py"))
    for split in ("dev", "test"):
        sizes: list[int] = []
        small = fit = short = pairs = 0
        for p in files:
            if split_of(p.name) != split:
                continue
            text = p.read_text(errors="replace")
            chunks = chunker.chunk(Document(text=text, path=p.name))
            sizes += [c.token_count for c in chunks]
            short += sum(bool(c.metadata.get("short")) for c in chunks)
            fits = {}
            for k, (a, b) in enumerate(pairwise(chunks)):
                if section(a) == section(b):
                    fits[k] = tok.count(text[a.start : b.end]) <= BUDGET
            pairs += sum(fits.values())
            for k, c in enumerate(chunks):
                if c.token_count <= SMALL:
                    small += 1
                    fit += fits.get(k - 1, False) or fits.get(k, False)
        print(
            f"| {split} | {len(sizes)} | {pct(sizes, 0.01)} | {pct(sizes, 0.10)} | "
            f"{statistics.median(sizes):.0f} | {small} | {fit} | {short} | {pairs} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
