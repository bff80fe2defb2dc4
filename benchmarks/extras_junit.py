"""Read a pytest JUnit XML report for bench_extras.sh: counts, skip reasons, tests per extra.

The report is written with ``-o junit_family=xunit1`` (each case names its file). A skip
"names its extra" when its reason holds ``lcmem[NAME]`` (tests/extras.py writes
``needs lcmem[NAME] ...``); every other skip is listed so the table shows it.

Usage:
    python benchmarks/extras_junit.py summary REPORT.xml       # one markdown table row's cells
    python benchmarks/extras_junit.py reasons REPORT.xml       # skip reasons, counted
    python benchmarks/extras_junit.py select REPORT.xml EXTRA  # node ids that skipped for EXTRA

Example:
    >>> _extras_named("Skipped: needs lcmem[llm] (torch is not installed)")
    ['llm']
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

_NAMED = re.compile(r"lcmem\[(\w+)\]")


def _extras_named(reason: str) -> list[str]:
    return _NAMED.findall(reason)


def _cases(report: Path) -> list[tuple[str, str, str]]:
    """(node id, outcome, reason) per test case; a module skipped at collection is one case.

    The report must be written with ``-o junit_family=xunit1`` (each case names its file).
    """
    out = []
    for case in ET.parse(report).iter("testcase"):
        file, cls, name = case.get("file", ""), case.get("classname", ""), case.get("name", "")
        module = file.removesuffix(".py").replace("/", ".")
        if not cls or file.startswith("lcmem/"):  # skipped at collection, or a doctest
            node = file
        else:  # tests.x.test_y[.Class] + name
            node = "::".join([file, *cls[len(module) + 1 :].split(".")[: cls != module], name])
        outcome, reason = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                reason = el.get("message", "")
                if reason == "collection skipped":  # text: ('path', line, 'Skipped: reason')
                    found = re.search(r"Skipped: (.*)'\)$", (el.text or "").strip())
                    reason = found.group(1) if found else (el.text or reason)
                elif tag != "skipped":
                    reason = (reason + " " + (el.text or "")).strip()
                break
        out.append((node, outcome, reason))
    return out


def summary(report: Path) -> str:
    """``passed | skipped (naming an extra / other) | failed | errors`` as table cells."""
    cases = _cases(report)
    count = Counter(outcome for _, outcome, _ in cases)
    skips = [reason for _, outcome, reason in cases if outcome == "skipped"]
    named = sum(1 for reason in skips if _extras_named(reason))
    return (
        f"{count['passed']} | {count['skipped']} ({named} naming an extra, "
        f"{len(skips) - named} other) | {count['failed']} | {count['error']}"
    )


def reasons(report: Path) -> str:
    """Each distinct skip reason (file positions dropped) with its count, most frequent first."""
    counted = Counter(
        re.sub(r"\s+", " ", reason) for _, outcome, reason in _cases(report) if outcome == "skipped"
    )
    return "\n".join(f"{n:5d}  {reason}" for reason, n in counted.most_common())


def select(report: Path, extra: str) -> list[str]:
    """Node ids (files for modules skipped whole) of the tests that skipped naming ``extra``."""
    nodes: list[str] = []
    for node, outcome, reason in _cases(report):
        if outcome == "skipped" and extra in _extras_named(reason):
            node = node.split("[")[0]  # parametrized: run every parameter of the test
            if node not in nodes:
                nodes.append(node)
    return nodes


def main(argv: list[str]) -> None:
    command, report = argv[0], Path(argv[1])
    if command == "summary":
        print(summary(report))
    elif command == "reasons":
        print(reasons(report))
    elif command == "select":
        print("\n".join(select(report, argv[2])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
