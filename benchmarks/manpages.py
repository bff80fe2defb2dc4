"""A real-text corpus for benchmarks: the man pages installed on this machine, rendered as text.

Pages are rendered with ``man -l FILE`` (MANWIDTH=80, no hyphenation, no justification, pager
``cat``), overstrike sequences removed, and cached under ``benchmarks/data/man/<section>/``
(git-ignored), so only the first run pays for groff.

Example:
    >>> from benchmarks.manpages import paragraphs
    >>> paras = paragraphs(1000)          # renders as many pages as needed, cached
    >>> len(paras) >= 1000
    True

Run as a script to fill the cache: ``python benchmarks/manpages.py --paragraphs 50000``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MAN_ROOT = Path("/usr/share/man")
CACHE_ROOT = Path(__file__).resolve().parent / "data" / "man"
_SUFFIX = re.compile(r"\.(gz|bz2|xz|lzma|zst|Z)$")
_OVERSTRIKE = re.compile(r".\x08")  # "x\bx" (bold) and "_\bx" (underline) keep the last char
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Name prefixes of big generated page families (16k near-identical ``gcloud`` command pages on
#: this machine): taken after every other page, so a corpus is not mostly one family.
LOW_PRIORITY = ("gcloud",)


def page_files(section: str = "1") -> list[Path]:
    """Source files of the man pages of one section, sorted (symlinks and duplicates skipped)."""
    folder = MAN_ROOT / f"man{section}"
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    return sorted(files)


def ordered_pages(section: str = "1", seed: int = 0) -> list[Path]:
    """Pages of ``section`` shuffled with ``seed``, :data:`LOW_PRIORITY` families last."""
    files = page_files(section)
    random.Random(seed).shuffle(files)
    return sorted(files, key=lambda p: p.name.startswith(LOW_PRIORITY))  # stable sort


def page_name(path: Path) -> str:
    """``ls.1.gz`` -> ``ls.1``: the file name without its compression suffix."""
    return _SUFFIX.sub("", path.name)


def render(path: Path, width: int = 80, timeout: float = 30.0) -> str:
    """Plain text of one man page file ("" if man fails on it)."""
    env = dict(os.environ, MANWIDTH=str(width), COLUMNS=str(width), LC_ALL="C.UTF-8")
    env.pop("MAN_KEEP_FORMATTING", None)
    try:
        proc = subprocess.run(
            ["man", "--nh", "--nj", "-P", "cat", "-l", str(path)],
            env=env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return ""
    if proc.returncode != 0:
        return ""
    text = proc.stdout.decode("utf-8", "replace")
    return _ANSI.sub("", _OVERSTRIKE.sub("", text))


def _cached(path: Path, section: str) -> Path:
    out = CACHE_ROOT / section / f"{page_name(path)}.txt"
    if not out.exists():
        text = render(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    return out


def render_pages(
    n: int, section: str = "1", seed: int = 0, workers: int | None = None, start: int = 0
) -> list[Path]:
    """Render ``n`` pages of ``section`` picked at random with ``seed``; paths of the cached texts.

    The pick for a given ``seed`` is a prefix of the same shuffled order, so asking for more pages
    later reuses the ones already rendered. Pages man cannot render are cached as empty files.
    ``start`` skips that many pages of the order first (``start=150, n=150``: the 150 pages
    after ``render_pages(150)``'s).
    """
    files = ordered_pages(section, seed)[start : start + n]
    # ``man`` is a subprocess, so threads are enough to keep every core busy.
    with ThreadPoolExecutor(max_workers=workers or (os.cpu_count() or 1) + 1) as pool:
        return list(pool.map(lambda p: _cached(p, section), files))


def split_paragraphs(text: str, min_words: int = 4) -> list[str]:
    """Blank-line separated blocks with their whitespace collapsed, keeping those of
    ``min_words`` words or more (drops headings and the page header/footer lines)."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        para = " ".join(block.split())
        if len(para.split(" ")) >= min_words:
            out.append(para)
    return out


def paragraphs(n_min: int, section: str = "1", seed: int = 0, min_words: int = 4) -> list[str]:
    """At least ``n_min`` paragraphs (when the section has that many), page after page in the
    seeded order; all paragraphs of every page used, so the count may exceed ``n_min``."""
    total = len(page_files(section))
    n_pages = min(total, max(8, n_min // 20))
    while True:
        out: list[str] = []
        for path in render_pages(n_pages, section, seed):
            out.extend(split_paragraphs(path.read_text(encoding="utf-8"), min_words))
            if len(out) >= n_min:
                return out
        if n_pages >= total:
            return out
        n_pages = min(total, n_pages * 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=50_000)
    parser.add_argument("--section", default="1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paras = paragraphs(args.paragraphs, args.section, args.seed)
    words = sum(len(p.split()) for p in paras)
    print(f"{len(paras)} paragraphs, {words} words, cache {CACHE_ROOT / args.section}")


if __name__ == "__main__":
    main()
