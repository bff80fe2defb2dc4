"""The support check of another revision against this one, on stored bench_answers rows.

``bench_answers.py`` keeps each answer's model text and cited texts, so a change to
:mod:`lcmem.pipelines.support` can be judged on the same answers without asking the model
again. Prints, per row, the origin (``model`` / ``extractive`` / ``none``) and whether the
shown answer holds the gold string under both checks, then per method: fallback share and
shown accuracy, before and after.

Run: ``.venv/bin/python benchmarks/support_check_diff.py --split dev --before 97e0c55~3``
(``--before``: any git revision; default the merge of issue 21's first round).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

try:
    from benchmarks.bench_answers import RESULTS
    from benchmarks.bench_pipelines import load_rows
    from benchmarks.longqa import score
except ImportError:  # run as a script
    from bench_answers import RESULTS  # type: ignore[no-redef]
    from bench_pipelines import load_rows  # type: ignore[no-redef]
    from longqa import score  # type: ignore[no-redef]

from lcmem.pipelines import support as current
from lcmem.types import Chunk, Hit

ROOT = Path(__file__).resolve().parent.parent


def load_support(revision: str) -> Any:
    """lcmem/pipelines/support.py as of ``revision``, imported as its own module."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:lcmem/pipelines/support.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "support_before.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("support_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["support_before"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--before", default="197026c", help="git revision of the old check")
    parser.add_argument("--setting", default="stop")
    args = parser.parse_args()
    before = load_support(args.before)
    rows = [r for r in load_rows(Path(str(RESULTS).format(split=args.split))) if not r["error"]]
    latest = {(r["item"], r["method"]): r for r in rows if r["setting"] == args.setting}
    totals: dict[str, list[tuple[bool, bool, bool, bool, bool]]] = defaultdict(list)
    print("| item | method | model acc | origin before -> now | shown acc before -> now |")
    print("|---|---|---:|---|---|")
    for (item, method), r in sorted(latest.items()):
        hits = [
            Hit(Chunk(t, 0, len(t), doc_path="c"), 1.0, rank=i + 1)
            for i, t in enumerate(r["citations"])
        ]
        a = before.check_answer(r["question"], r["model_text"], hits)
        b = current.check_answer(r["question"], r["model_text"], hits)
        sa, sb = score(a.text, r["gold"]), score(b.text, r["gold"])
        mark = "" if a.origin == b.origin and sa == sb else " **"
        print(
            f"| {item} | {method} | {int(score(r['model_text'], r['gold']))} "
            f"| {a.origin} -> {b.origin}{mark} | {int(sa)} -> {int(sb)} |"
        )
        totals[method].append(
            (a.origin != "model", b.origin != "model", sa, sb, score(r["model_text"], r["gold"]))
        )
    print(
        "\n| method | n | model acc | fallback before | fallback now | shown before | shown now |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for method, ts in totals.items():
        n = len(ts)

        def c(i: int, ts: list[tuple[bool, ...]] = ts) -> int:
            return sum(t[i] for t in ts)

        print(
            f"| {method} | {n} | {c(4)}/{n} | {c(0)}/{n} | {c(1)}/{n} | {c(2)}/{n} | {c(3)}/{n} |"
        )


if __name__ == "__main__":
    main()
