"""The repeated-span stop of another revision against this one, on stored model texts.

``bench_answers.py`` and ``kv_citation_diagnose.py`` keep each answer's model text, so a change
to :func:`lcmem.llm.repetition.loop_start` can be checked offline: which stored answers would
now be cut, and where. Prints the number of texts, how many the old and the new stop cut, and
every text whose cut changed, with the kept end and the cut start, to be judged by eye (a loop,
or an answer that was not one).

Run: ``.venv/bin/python benchmarks/loop_cut_diff.py --before main results/answers-dev.jsonl ...``
(``--citations``: the cited texts, real documents, instead of the model texts).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

try:
    from benchmarks.bench_pipelines import load_rows
    from benchmarks.revisions import module_at
except ImportError:  # run as a script
    from bench_pipelines import load_rows  # type: ignore[no-redef]
    from revisions import module_at  # type: ignore[no-redef]

from lcmem.llm import repetition as current


def load_repetition(revision: str) -> Any:
    """lcmem/llm/repetition.py as of ``revision``, imported as its own module."""
    return module_at(revision, "lcmem/llm/repetition.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="row files with model_text")
    parser.add_argument("--before", default="main", help="git revision of the old stop")
    parser.add_argument(
        "--citations",
        action="store_true",
        help="check the cited texts (real documents) instead: none of them is a loop",
    )
    args = parser.parse_args()
    before = load_repetition(args.before)
    n = cut_before = cut_now = 0
    changed = []
    for path in args.results:
        for r in load_rows(Path(path)):
            if args.citations:
                texts = r.get("citations") or [p["text"] for p in r.get("pages", [])]
            else:
                texts = [r["model_text"]]
            for text in texts:
                n += 1
                a, b = before.loop_start(text), current.loop_start(text)
                cut_before += a is not None
                cut_now += b is not None
                if a != b:
                    changed.append((Path(path).stem, {**r, "model_text": text}, a, b))
    print(
        f"texts {n}; cut by the old stop {cut_before}, by the new {cut_now}; changed {len(changed)}"
    )
    for stem, r, a, b in changed:
        text = r["model_text"]
        where = len(text) if b is None else b
        print(f"\n{stem} {r['item']} {r.get('method', 'kv')} {r.get('setting', '-')}: {a} -> {b}")
        print(f"  kept ends: {text[:where][-120:]!r}")
        print(f"  cut from:  {text[where : where + 120]!r}")


if __name__ == "__main__":
    main()
