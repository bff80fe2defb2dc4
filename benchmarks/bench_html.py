"""HTML loading before and after: furniture dropped, headings kept, time per page.

Every HTML file under /usr/share/doc goes through ``extract_html`` of a base checkout (loaded
from its ``lcmem/loaders/html.py``) and of this one, interleaved page by page. Reported: pages,
total characters, characters of lines that are the text of a ``<nav>``/``<footer>``/``<aside>``
or ARIA navigation landmark and nowhere else on the page (found with BeautifulSoup), headings
rendered as ``#`` lines, and the time ratio.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/bench_html.py \\
        /work/main/lcmem/loaders/html.py
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import sys
import time

from bs4 import BeautifulSoup

from lcmem.loaders import html as new


def _lines(text: str) -> set[str]:
    return {" ".join(line.split()) for line in text.split("\n")} - {""}


def furniture_lines(data: bytes) -> set[str]:
    """Text lines (over 3 characters) found only in the page's navigation landmarks and
    footers, not elsewhere on the page (node's docs repeat their menu in dropdowns)."""
    soup = BeautifulSoup(data, "html.parser")
    found = soup.find_all(["nav", "footer", "aside"]) + soup.find_all(
        attrs={"role": ["navigation", "contentinfo", "banner"]}
    )
    lines: set[str] = set()
    for tag in found:
        lines |= {line for line in _lines(tag.get_text("\n")) if len(line) > 3}
    for tag in found:
        tag.decompose()
    return lines - _lines(soup.get_text("\n"))


def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else "/work/main/lcmem/loaders/html.py"
    spec = importlib.util.spec_from_file_location("old_html", base)
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    pages = sorted(
        p for p in glob.glob("/usr/share/doc/**/*.html", recursive=True) if os.path.isfile(p)
    )
    stats = {k: {"chars": 0, "furniture": 0, "headings": 0, "seconds": 0.0} for k in ("old", "new")}
    with_furniture = 0
    for path in pages:
        with open(path, "rb") as fh:
            data = fh.read()
        furniture = furniture_lines(data)
        with_furniture += bool(furniture)
        for label, module in (("old", old), ("new", new)):
            started = time.perf_counter()
            text, _, _ = module.extract_html(data, path)
            stats[label]["seconds"] += time.perf_counter() - started
            stats[label]["chars"] += len(text)
            stats[label]["headings"] += len(re.findall(r"(?m)^#{1,6} ", text))
            stats[label]["furniture"] += sum(len(line) for line in _lines(text) & furniture)
    print(f"{len(pages)} pages, {with_furniture} with navigation/footer landmarks")
    print("| extractor | chars | furniture chars | '#' headings | seconds |")
    print("|---|---:|---:|---:|---:|")
    for label in ("old", "new"):
        s = stats[label]
        print(
            f"| {label} | {s['chars']} | {s['furniture']} | {s['headings']} | {s['seconds']:.2f} |"
        )
    print(f"\nnew/old time x{stats['new']['seconds'] / stats['old']['seconds']:.2f}")


if __name__ == "__main__":
    main()
