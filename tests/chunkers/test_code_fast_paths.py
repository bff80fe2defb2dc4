"""The code chunker's fast paths agree with the plain forms they replace: lazy comment marking,
batch widening, line-start counting, the whitespace check, definitions without offsets."""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from lcmem.chunkers.code_syntax import Lines, PythonSyntax, line_starts
from lcmem.chunkers.code_units import LinePacker
from lcmem.tokens import HFTokenizer, WhitespaceTokenizer

HF = HFTokenizer.default()
PREFIXES = ("#", "@")

line_kinds = st.sampled_from(
    [
        "",
        "x = 1",
        "    y = f(x)",
        "# note",
        "  # indented note",
        "@dec",
        "\t@dec(1)",
        "   ",
        "é # ü",
    ]
)
line_ends = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def texts(draw) -> str:
    lines = draw(st.lists(line_kinds, max_size=30))
    ends = draw(st.lists(line_ends, min_size=len(lines), max_size=len(lines)))
    return "".join(a + b for a, b in zip(lines, ends, strict=True)) + draw(line_kinds)


def marked_rows(text: str, starts: list[int]) -> set[int]:
    """Rows of the comment/decorator lines, found as before the lazy test: one regex pass."""
    pattern = re.compile(r"^[^\S\n]*(?:#|@)", re.MULTILINE)
    return {bisect_right(starts, m.start()) - 1 for m in pattern.finditer(text)}


def widened(starts: list[int], marked: set[int], size: int, row: int) -> int:
    while row > 0 and row - 1 in marked:
        row -= 1
    return 0 if row < 0 else starts[row] if row < len(starts) else size


@settings(max_examples=150, deadline=None)
@given(text=texts(), extra=st.lists(st.integers(min_value=-2, max_value=40), max_size=8))
def test_widen_all_matches_marking_every_line_first(text: str, extra: list[int]) -> None:
    lines = Lines(text, re.compile(r"\n"), PREFIXES)
    rows = [*range(len(lines.starts)), *extra]
    marked = marked_rows(text, lines.starts)
    expected = [widened(lines.starts, marked, len(text), r) for r in rows]
    assert lines.widen_all(rows) == expected
    assert [lines.widen(r) for r in rows] == expected


@settings(max_examples=100, deadline=None)
@given(text=texts())
def test_line_starts_and_shared_starts(text: str) -> None:
    starts = line_starts(text)
    assert starts == [0, *(m.end() for m in re.finditer("\n", text))]
    if "\r" not in text:  # the starts a caller passes are used as they are
        assert PythonSyntax(text, starts).lines.starts is starts
    else:  # Python's own line ends: \r\n, \r and \n
        ends = [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
        assert PythonSyntax(text, starts).lines.starts == [0, *ends]


@settings(max_examples=100, deadline=None)
@given(
    text=texts(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), min_size=2, max_size=12, unique=True),
    at_lines=st.booleans(),
)
def test_counts_between_matches_counts(text: str, cuts: list[int], at_lines: bool) -> None:
    for tok in (HF, WhitespaceTokenizer()):
        p = LinePacker(text, tok, budget=50, overlap=0)
        bounds = sorted({min(c, len(text)) for c in cuts})
        if at_lines:  # the usual case: every bound a line start
            bounds = sorted({p.line_starts[c % len(p.line_starts)] for c in cuts})
        if len(bounds) < 2:
            continue
        assert p.counts_between(bounds) == p.counts(list(pairwise(bounds)))
        assert p.spaced(bounds) == all(map(p._spaced, bounds))


def test_definitions_are_the_members_without_offsets() -> None:
    src = (
        "import os\n\n@dec\nclass A:\n    x = 1\n\n    async def f(self):\n        pass\n\n"
        "    def g(self):\n        def inner():\n            pass\n\n"
        "if os:\n    def h():\n        pass\nelse:\n    class B:\n        pass\n"
        "match os:\n    case 1:\n        pass\n"
    )
    syntax = PythonSyntax(src)
    for node in ast.walk(PythonSyntax.parse(src)):
        members = syntax.members(node)
        assert syntax.definitions(node) == [(m.node, m.defn) for m in members]
    top = syntax.members(PythonSyntax.parse(src))
    assert [(m.defn.word, m.defn.name) for m in top if m.defn] == [("class", "A")]
    assert top[1].cut == src.index("@dec")  # widened over the decorator
