"""Where lcmem keeps its own code instead of a library: the sentence splitter and the date finder.

Each task runs lcmem and its peers on the same input, taking turns round by round (A B C, A B C,
...) so a burst of load on this shared machine falls on all of them; the table quotes each
system's best round in CPU time (``time.process_time``) and its ratio to lcmem.

- sentences: man section 1 paragraphs (line breaks inside a paragraph joined with spaces, as
  prose), split by ``lcmem.chunkers.sentences.split_sentences``, pysbd (``Segmenter(clean=
  False)``) and nltk's punkt (the English ``punkt_tab`` model that llama-index-core ships).
- dates: a generated EpBench-style chronicle (``benchmarks/epbench.py``, seed 0), every date
  phrase found by ``lcmem.memory.dates.find_dates`` and by ``dateparser.search_dates``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_own_versions.py [--sentences-kb 200]
[--dates-tokens 5000] [--rounds 3]``. There is no dev/test split: nothing here is tuned.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model, load_average


def _best_cpu(fns: dict[str, Callable[[], Any]], rounds: int) -> tuple[dict[str, float], dict]:
    best = {name: float("inf") for name in fns}
    out: dict[str, Any] = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.process_time()
            out[name] = fn()
            best[name] = min(best[name], time.process_time() - t0)
    return best, out


def sentences(kb: int, rounds: int) -> None:
    import llama_index.core
    import nltk
    from manpages import paragraphs

    try:
        import pysbd
    except ImportError:
        # Not in the dev extra on purpose: pysbd installs a top-level package named
        # `benchmarks`, which shadows this folder in the test suite.
        sys.exit("bench_own_versions needs pysbd in a separate venv: pip install 'pysbd==0.3.4'")

    from lcmem.chunkers.sentences import split_sentences

    # A copy: uv hard-links installed files, and nltk refuses to open a hard-linked model file.
    shipped = Path(llama_index.core.__file__).parent / "_static" / "nltk_cache"
    nltk_cache = Path(tempfile.mkdtemp(prefix="lcmem-punkt-"))
    shutil.copytree(
        shipped / "tokenizers" / "punkt_tab" / "english",
        nltk_cache / "tokenizers" / "punkt_tab" / "english",
    )
    nltk.data.path.insert(0, str(nltk_cache))
    from nltk.tokenize import PunktTokenizer

    punkt = PunktTokenizer("english")
    seg = pysbd.Segmenter(language="en", clean=False)
    paras, size = [], 0
    for p in paragraphs(4000):
        p = re.sub(r"\s*\n\s*", " ", p.strip())
        paras.append(p)
        size += len(p.encode())
        if size >= kb * 1024:
            break
    text = "\n\n".join(paras)
    mb = len(text.encode()) / 2**20
    fns = {
        "lcmem split_sentences": lambda: split_sentences(text),
        "nltk punkt (english)": lambda: list(punkt.span_tokenize(text)),
        "pysbd 0.3.4": lambda: seg.segment(text),
    }
    best, out = _best_cpu(fns, rounds)
    base = best["lcmem split_sentences"]
    print(f"\n### sentences: {mb:.3f} MB of man-page prose, {len(paras)} paragraphs\n")
    print("| system | sentences | CPU s (best) | MB/s | time / lcmem |")
    print("|---|---:|---:|---:|---:|")
    for name, secs in best.items():
        print(f"| {name} | {len(out[name])} | {secs:.3f} | {mb / secs:.2f} | x{secs / base:.1f} |")


def dates(tokens: int, rounds: int) -> None:
    import dateparser
    from dateparser.search import search_dates
    from epbench import generate

    from lcmem.memory.dates import find_dates

    book = generate(tokens=tokens, seed=0)
    text = book.text
    kb = len(text.encode()) / 1024
    clock = "2000-01-01"
    base_dt = dt.datetime(2000, 1, 1)
    fns = {
        "lcmem find_dates": lambda: [(m.text, m.value) for m in find_dates(text, clock=clock)],
        f"dateparser {dateparser.__version__} search_dates": lambda: (
            search_dates(text, languages=["en"], settings={"RELATIVE_BASE": base_dt}) or []
        ),
    }
    best, out = _best_cpu(fns, rounds)
    base = best["lcmem find_dates"]
    print(f"\n### dates: EpBench-style chronicle, {kb:.0f} KB ({tokens} tokens target)\n")
    print("| system | phrases found | exact spans | CPU s (best) | time / lcmem |")
    print("|---|---:|---|---:|---:|")
    for name, secs in best.items():
        spans = "yes" if name.startswith("lcmem") else "no (text, datetime)"
        print(f"| {name} | {len(out[name])} | {spans} | {secs:.3f} | x{secs / base:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences-kb", type=int, default=200)
    parser.add_argument("--dates-tokens", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["sentences", "dates"], default=None)
    args = parser.parse_args()
    print(f"machine: {cpu_model()}; load {load_average()}; python {sys.version.split()[0]}")
    if args.only in (None, "sentences"):
        sentences(args.sentences_kb, args.rounds)
    if args.only in (None, "dates"):
        dates(args.dates_tokens, args.rounds)


if __name__ == "__main__":
    main()
