"""The parsed-code interface of the code chunker, and its Python implementation.

A :class:`Syntax` shows a parsed file as nested blocks: the *members* of a node are the
statements, definitions and fields it holds, in order, each with the offset where its piece
of text starts (its line, widened upwards over the decorators, attributes and comments
directly above it). Python is read with the standard :mod:`ast` module
(:class:`PythonSyntax`); other languages with tree-sitter
(:mod:`lcmem.chunkers.code_treesitter`).

Example:
    >>> src = "import os\\n\\n# note\\n@cache\\ndef f():\\n    return 1\\n"
    >>> syntax = PythonSyntax(src)
    >>> [(m.cut, m.defn) for m in syntax.members(PythonSyntax.parse(src))]
    [(0, None), (11, Definition(word='def', name='f', container=False, is_class=True))]
"""

from __future__ import annotations

import ast
import gc
import re
import warnings
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, NamedTuple

__all__ = ["Definition", "Lines", "Member", "PythonSyntax", "Syntax", "no_cyclic_gc"]


@dataclass(frozen=True)
class Definition:
    """What a member defines: ``word`` (``"def"``, ``"class"``, ``"fn"``...), its ``name``,
    and whether it is a ``container`` whose members are methods or fields (a class, impl,
    namespace) rather than a function body."""

    word: str
    name: str
    container: bool = False
    is_class: bool = True  # a container whose "function" members are methods


class Member(NamedTuple):
    """A member of a block: its piece starts at ``cut``; ``node`` is the parser's node (a named
    tuple: one is made per statement, so it must be cheap)."""

    cut: int
    node: Any
    defn: Definition | None = None


class Syntax(ABC):
    """A parsed document seen as nested blocks (implemented per parser)."""

    sep = "."
    """Joins the parts of a qualified symbol name."""

    @abstractmethod
    def members(self, node: Any) -> list[Member]:
        """The members of ``node`` in document order."""


# -- line helpers shared by the parsers -------------------------------------------------------


class Lines:
    """Line starts of a text (by a newline pattern) and upward widening over comment lines.

    Example:
        >>> lines = Lines("# note\\n@dec\\ndef f(): pass\\n", re.compile(r"\\n"), ("#", "@"))
        >>> lines.widen(2)     # line index 2 ('def ...') widened over '@dec' and '# note'
        0
    """

    def __init__(self, text: str, newline: re.Pattern[str], prefixes: tuple[str, ...]) -> None:
        self.text = text
        self._by_newline = newline.pattern == r"\n" or "\r" not in text
        if self._by_newline:
            lengths = (len(line) + 1 for line in text.split("\n")[:-1])
            self.starts = list(accumulate(lengths, initial=0))
        else:
            self.starts = [0, *(m.end() for m in newline.finditer(text))]
        self.prefixes = prefixes
        self._marked: set[int] | None = None

    def start_of(self, row: int) -> int:
        """Offset of line ``row`` (0-based), clamped to the text."""
        if row < 0:
            return 0
        if row >= len(self.starts):
            return len(self.text)
        return self.starts[row]

    def row_of(self, offset: int) -> int:
        return bisect_right(self.starts, offset) - 1

    def widen(self, row: int, floor: int = 0) -> int:
        """Offset of line ``row``, moved up over the comment/decorator lines directly above
        it (not over a blank line, not above line ``floor``)."""
        marked = self._marked
        if marked is None:
            marked = self._marked = self._mark()
        while row > floor and row - 1 in marked:
            row -= 1
        return self.start_of(row)

    def _mark(self) -> set[int]:
        """Rows of the lines that start (after whitespace) with one of the prefixes, found in
        one regex pass when lines end at ``\\n`` (``^`` knows no other line end)."""
        text, starts = self.text, self.starts
        if self._by_newline:
            heads = "|".join(map(re.escape, self.prefixes))
            pattern = re.compile(rf"^[^\S\n]*(?:{heads})", re.MULTILINE)
            return {bisect_right(starts, m.start()) - 1 for m in pattern.finditer(text)}
        ends = [*starts[1:], len(text)]
        return {
            row
            for row, (a, b) in enumerate(zip(starts, ends, strict=True))
            if text[a:b].lstrip().startswith(self.prefixes)
        }


# -- Python -----------------------------------------------------------------------------------

_PY_NEWLINE = re.compile(r"\r\n|\r|\n")  # Python counts all three as line ends
_PY_BLOCK_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (if it runs) for the duration of the block.

    An ``ast`` tree has no reference cycles and is freed by reference counting, yet while it
    is built and walked the collector would scan its hundreds of thousands of nodes again and
    again: about a third of the Python chunker's time. Nothing made inside the block needs it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class PythonSyntax(Syntax):
    """:class:`Syntax` over the standard :mod:`ast` module (line numbers only, so UTF-8
    column offsets never need converting)."""

    def __init__(self, text: str) -> None:
        self.lines = Lines(text, _PY_NEWLINE, ("#", "@"))

    @staticmethod
    def parse(text: str) -> ast.Module:
        """The module's tree; raises ``SyntaxError`` (``ValueError`` for NUL bytes)."""
        with warnings.catch_warnings():  # "invalid escape sequence" and such: not ours
            warnings.simplefilter("ignore")
            return ast.parse(text)

    def members(self, node: Any) -> list[Member]:
        kind = type(node)
        fields = _PY_FIELDS.get(kind)
        if fields is None:
            fields = _PY_FIELDS[kind] = tuple(f for f in _PY_BLOCK_FIELDS if f in kind._fields)
        children: list[ast.AST] = []
        for name in fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                children += value
        out = []
        widen = self.lines.widen
        for c in children:
            word = _PY_DEFINITIONS.get(type(c))
            if word is None:
                row = _py_line(c) - 1
                out.append(Member(widen(row), c))
                continue
            row = c.lineno - 1
            decorators = c.decorator_list  # type: ignore[attr-defined]
            if decorators:
                row = min(row, *(d.lineno - 1 for d in decorators))
            defn = Definition(word, c.name, container=word == "class")  # type: ignore[attr-defined]
            out.append(Member(widen(row), c, defn))
        return out


def _py_line(node: ast.AST) -> int:
    line = getattr(node, "lineno", None)
    if line is None:  # match_case: the line of its pattern
        line = node.pattern.lineno  # type: ignore[attr-defined]
    return line


_PY_DEFINITIONS: dict[type, str] = {
    ast.FunctionDef: "def",
    ast.AsyncFunctionDef: "async def",
    ast.ClassDef: "class",
}
_PY_FIELDS: dict[type, tuple[str, ...]] = {}
"""Per node type, which of ``_PY_BLOCK_FIELDS`` it has."""
