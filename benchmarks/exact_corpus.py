"""The real-text corpus of the exact-search benchmark: >= 200 MB of files on disk.

Copies, in a fixed order, UTF-8 text files from three real sources into one folder so that
lcmem, ripgrep and ``grep -rF`` read exactly the same files:

1. the Python stdlib sources (``*.py`` under the pyenv 3.11.7 ``lib/python3.11``),
2. Debian documentation (``/usr/share/doc``, plain files, gzip files decompressed),
3. man page sources (``/usr/share/man``, decompressed).

A file is kept if it decodes as UTF-8, holds no NUL byte and is at most 4 MiB; collection stops
once ``--mb`` megabytes are copied. Patterns (see ``bench_exact.py``) are drawn from these
files with a fixed seed; the ``dev`` split uses even-numbered seeds, ``test`` odd ones.

Run: ``python benchmarks/exact_corpus.py --out /work/bench-data/exact/corpus --mb 220``
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
SOURCES = (
    (STDLIB, "*.py"),
    (Path("/usr/share/doc"), "*"),
    (Path("/usr/share/man"), "*"),
)
MAX_FILE = 4 * 2**20


def candidates() -> Iterator[tuple[Path, bytes]]:
    """(source path, decoded bytes) of every eligible file, in a fixed order."""
    for root, pattern in SOURCES:
        for path in sorted(root.rglob(pattern)):
            if not path.is_file() or path.is_symlink():
                continue
            try:
                data = path.read_bytes()
                if path.suffix == ".gz":
                    data = gzip.decompress(data)
            except (OSError, EOFError, gzip.BadGzipFile):
                continue
            if len(data) > MAX_FILE or b"\0" in data:
                continue
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            yield path, data


def build(out: Path, megabytes: float) -> tuple[int, int]:
    """Fill ``out`` with files until ``megabytes`` MB are copied; returns (files, bytes)."""
    out.mkdir(parents=True, exist_ok=True)
    total = files = 0
    for path, data in candidates():
        name = hashlib.blake2b(str(path).encode(), digest_size=6).hexdigest()
        stem = path.name[:-3] if path.suffix == ".gz" else path.name
        dest = out / name[:2] / f"{name}-{stem}"
        dest.parent.mkdir(exist_ok=True)
        dest.write_bytes(data)
        total += len(data)
        files += 1
        if total >= megabytes * 1e6:
            break
    return files, total


def corpus_files(folder: Path) -> list[Path]:
    """The corpus files, sorted (the order every benchmark reads them in)."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


def make_patterns(texts: list[str], n: int, seed: int) -> list[str]:
    """``n`` phrases of 1-10 consecutive space-separated words (count drawn uniformly) cut from
    one line of a random document, so each occurs at least once. Phrases stay within a line:
    ``rg -F`` and ``grep -F`` read a newline in a pattern as "one more pattern", so a multi-line
    phrase would not be the same query for them.

    Splits: ``dev`` uses seed 0, ``test`` seed 1.
    """
    import random
    import re

    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        k = rng.randint(1, 10)
        text = rng.choice(texts)
        for _ in range(20):  # a few lines of this document, looking for one with k words
            at = rng.randrange(len(text)) if text else 0
            line = text[
                text.rfind("\n", 0, at) + 1 : (text.find("\n", at) + 1 or len(text) + 1) - 1
            ]
            words = list(re.finditer(r"\S+", line))
            if len(words) >= k:
                i = rng.randrange(len(words) - k + 1)
                out.append(line[words[i].start() : words[i + k - 1].end()])
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/work/bench-data/exact/corpus"))
    ap.add_argument("--mb", type=float, default=220.0)
    args = ap.parse_args()
    files, total = build(args.out, args.mb)
    print(f"{files} files, {total / 1e6:.1f} MB in {args.out}")


if __name__ == "__main__":
    main()
