"""The support check of another revision against this one, on stored bench_answers rows.

``bench_answers.py`` keeps each answer's model text and cited texts, so a change to
:mod:`lcmem.pipelines.support` can be judged on the same answers without asking the model
again. Prints, per row, the origin (``model`` / ``extractive`` / ``none``) and whether the
shown answer holds the gold string under both checks, then per method: fallback share and
shown accuracy, before and after.

Run: ``.venv/bin/python benchmarks/support_check_diff.py --split dev --before 97e0c55~3``
(``--before``: any git revision; default the merge of issue 21's first round).

``--results`` takes other row files and ``--setting`` several settings (comma-separated);
rows of ``kv_citation_diagnose.py`` (every page kv attended to, with ``pages``) are judged as
kv judges them: the citations are chosen by each revision's ``cite_supporting`` first. The
summary also counts *wrong answers shown as supported*: the model's own, wrong, text passed.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

try:
    from benchmarks.bench_answers import RESULTS
    from benchmarks.bench_pipelines import load_rows
    from benchmarks.longqa import score
    from benchmarks.revisions import module_at
except ImportError:  # run as a script
    from bench_answers import RESULTS  # type: ignore[no-redef]
    from bench_pipelines import load_rows  # type: ignore[no-redef]
    from longqa import score  # type: ignore[no-redef]
    from revisions import module_at  # type: ignore[no-redef]

from lcmem.pipelines import support as current
from lcmem.types import Chunk, Hit


def load_support(revision: str) -> Any:
    """lcmem/pipelines/support.py as of ``revision``, imported as its own module."""
    return module_at(revision, "lcmem/pipelines/support.py")


def judge(module: Any, r: dict[str, Any], limit: int = 3) -> Any:
    """``module``'s support check of row ``r``: on its stored citations, or, for a kv
    diagnosis row (``pages``), on the pages ``module.cite_supporting`` chooses among them."""
    if "pages" in r:
        pages = [
            Hit(
                Chunk(p["text"], p["start"], p["start"] + len(p["text"]), doc_path="d"),
                float(p["votes"]),
                rank=i + 1,
            )
            for i, p in enumerate(r["pages"])
        ]
        hits, _ = module.cite_supporting(r["question"], r["model_text"], pages, limit)
    else:
        hits = [
            Hit(Chunk(t, 0, len(t), doc_path="c"), 1.0, rank=i + 1)
            for i, t in enumerate(r["citations"])
        ]
    return module.check_answer(r["question"], r["model_text"], hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--before", default="197026c", help="git revision of the old check")
    parser.add_argument("--setting", default="stop", help="setting(s) to judge, comma-separated")
    parser.add_argument("--results", nargs="*", help="row files (default: --split's)")
    parser.add_argument("--changed", action="store_true", help="only list rows that change")
    args = parser.parse_args()
    before = load_support(args.before)
    paths = args.results or [str(RESULTS).format(split=args.split)]
    settings = args.setting.split(",")
    latest: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for path in paths:
        for r in load_rows(Path(path)):
            if "pages" in r:  # a kv_citation_diagnose.py row
                r = {**r, "method": "kv", "setting": "diagnose", "error": None}
            if r["error"] or r["setting"] not in [*settings, "diagnose"]:
                continue
            latest[(Path(path).stem, r["item"], r["method"], r["setting"])] = r
    totals: dict[tuple[str, str], list[tuple[bool, ...]]] = defaultdict(list)
    print(
        "| rows | item | method | setting | model acc | origin before -> now "
        "| shown acc before -> now |"
    )
    print("|---|---|---|---|---:|---|---|")
    for (stem, item, method, setting), r in sorted(latest.items()):
        a, b = judge(before, r), judge(current, r)
        sa, sb = score(a.text, r["gold"]), score(b.text, r["gold"])
        right = score(r["model_text"], r["gold"])
        changed = a.origin != b.origin or sa != sb
        if changed or not args.changed:
            print(
                f"| {stem} | {item} | {method} | {setting} | {int(right)} "
                f"| {a.origin} -> {b.origin}{' **' if changed else ''} | {int(sa)} -> {int(sb)} |"
            )
        wrong_a = a.origin == "model" and not right
        wrong_b = b.origin == "model" and not right
        totals[(method, setting)].append(
            (a.origin != "model", b.origin != "model", sa, sb, right, wrong_a, wrong_b)
        )
    print(
        "\n| method | setting | n | model acc | fallback before | fallback now | shown before "
        "| shown now | wrong shown as supported before | now |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (method, setting), ts in sorted(totals.items()):
        n = len(ts)

        def c(i: int, ts: list[tuple[bool, ...]] = ts) -> int:
            return sum(t[i] for t in ts)

        print(
            f"| {method} | {setting} | {n} | {c(4)}/{n} | {c(0)}/{n} | {c(1)}/{n} "
            f"| {c(2)}/{n} | {c(3)}/{n} | {c(5)}/{n} | {c(6)}/{n} |"
        )


if __name__ == "__main__":
    main()
