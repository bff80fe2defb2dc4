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
from functools import lru_cache, partial
from itertools import accumulate
from typing import Any, NamedTuple

__all__ = [
    "Definition",
    "Lines",
    "Member",
    "PythonSyntax",
    "Syntax",
    "line_starts",
    "no_cyclic_gc",
]


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

    def definitions(self, node: Any) -> list[tuple[Any, Definition | None]]:
        """``(node, defn)`` of each member of ``node``, for walks that need no offsets
        (a parser may answer it faster than :meth:`members`)."""
        return [(m.node, m.defn) for m in self.members(node)]


# -- line helpers shared by the parsers -------------------------------------------------------


class Lines:
    """Line starts of a text (by a newline pattern) and upward widening over comment lines.

    Example:
        >>> lines = Lines("# note\\n@dec\\ndef f(): pass\\n", re.compile(r"\\n"), ("#", "@"))
        >>> lines.widen(2)     # line index 2 ('def ...') widened over '@dec' and '# note'
        0
    """

    def __init__(
        self,
        text: str,
        newline: re.Pattern[str],
        prefixes: tuple[str, ...],
        starts: list[int] | None = None,
    ) -> None:
        """``starts``: the offsets of the lines of ``text.split("\\n")`` when the caller has
        them already (used if lines end at ``\\n`` only)."""
        self.text = text
        self._by_newline = newline.pattern == r"\n" or "\r" not in text
        if self._by_newline:
            self.starts = starts if starts is not None else line_starts(text)
            self._head: re.Pattern[str] | None = _head_pattern(prefixes)
        else:
            self.starts = [0, *(m.end() for m in newline.finditer(text))]
            self._head = None
        self.prefixes = prefixes

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
        floor = max(floor, 0)
        while row > floor and self.marked(row - 1):
            row -= 1
        return self.start_of(row)

    def widen_all(self, rows: list[int]) -> list[int]:
        """:meth:`widen` of each of ``rows`` (floor 0).

        Lines are tested when asked (one anchored regex match each; most statements have
        code or a blank line above them), in one loop: this runs for every statement of
        every block the code chunker splits, so it avoids a method call per row.
        """
        if self._head is None:
            return [self.widen(row) for row in rows]
        match, text, starts = self._head.match, self.text, self.starts
        n = len(starts)
        out = []
        for row in rows:
            while 0 < row <= n and match(text, starts[row - 1]):
                row -= 1
            out.append(0 if row < 0 else starts[row] if row < n else len(text))
        return out

    def marked(self, row: int) -> bool:
        """Whether line ``row`` starts (after whitespace) with one of the prefixes."""
        starts = self.starts
        if not 0 <= row < len(starts):
            return False
        if self._head is not None:
            return self._head.match(self.text, starts[row]) is not None
        end = starts[row + 1] if row + 1 < len(starts) else len(self.text)
        return self.text[starts[row] : end].lstrip().startswith(self.prefixes)


def line_starts(text: str) -> list[int]:
    """Offset of every line of ``text.split("\\n")``.

    Example:
        >>> line_starts("ab\\n\\ncd")
        [0, 3, 4]
    """
    return list(accumulate((len(line) + 1 for line in text.split("\n")[:-1]), initial=0))


@lru_cache(maxsize=16)
def _head_pattern(prefixes: tuple[str, ...]) -> re.Pattern[str]:
    """Matches at a line start followed by optional blanks (not a newline) and a prefix."""
    heads = "|".join(map(re.escape, prefixes))
    return re.compile(rf"[^\S\n]*(?:{heads})")


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
    column offsets never need converting).

    ``starts``: the offsets of the lines of ``text.split("\\n")`` if already known (the code
    chunker's line counter has them).
    """

    def __init__(self, text: str, starts: list[int] | None = None) -> None:
        self.lines = Lines(text, _PY_NEWLINE, ("#", "@"), starts)
        self._defs: dict[tuple[str, str], Definition] = {}

    @staticmethod
    def parse(text: str) -> ast.Module:
        """The module's tree; raises ``SyntaxError`` (``ValueError`` for NUL bytes)."""
        with warnings.catch_warnings():  # "invalid escape sequence" and such: not ours
            warnings.simplefilter("ignore")
            return ast.parse(text)

    def members(self, node: Any) -> list[Member]:
        children = _py_children(node)
        rows: list[int] = []
        defs: list[Definition | None] = []
        for c in children:
            word = _PY_DEFINITIONS.get(type(c))
            if word is None:
                defs.append(None)
                try:
                    rows.append(c.lineno - 1)
                except AttributeError:  # match_case: the line of its pattern
                    rows.append(c.pattern.lineno - 1)
                continue
            row = c.lineno - 1
            decorators = c.decorator_list
            if decorators:
                row = min(row, *(d.lineno - 1 for d in decorators))
            rows.append(row)
            defs.append(self._definition(word, c.name))
        cuts = self.lines.widen_all(rows)
        return list(map(_MEMBER, zip(cuts, children, defs, strict=True)))

    def definitions(self, node: Any) -> list[tuple[Any, Definition | None]]:
        defs = []
        for c in _py_children(node):
            word = _PY_DEFINITIONS.get(type(c))
            defs.append((c, None if word is None else self._definition(word, c.name)))
        return defs

    def _definition(self, word: str, name: str) -> Definition:
        """One :class:`Definition` per word and name in a file (a frozen dataclass costs
        several times a dictionary look-up to make)."""
        defn = self._defs.get((word, name))
        if defn is None:
            defn = self._defs[word, name] = Definition(word, name, container=word == "class")
        return defn


def _py_children(node: ast.AST) -> list[Any]:
    """The statements (handlers, match cases) directly inside ``node``, in order."""
    kind = type(node)
    fields = _PY_FIELDS.get(kind)
    if fields is None:
        fields = _PY_FIELDS[kind] = tuple(f for f in _PY_BLOCK_FIELDS if f in kind._fields)
    if len(fields) == 1:  # a module, class or function: its body
        value = getattr(node, fields[0], None)
        return value if isinstance(value, list) else []
    children: list[Any] = []
    for name in fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            children += value
    return children


_MEMBER = partial(tuple.__new__, Member)
"""Makes a :class:`Member` from a ``(cut, node, defn)`` tuple without the Python-level
``__new__`` of named tuples (one is made per statement)."""

_PY_DEFINITIONS: dict[type, str] = {
    ast.FunctionDef: "def",
    ast.AsyncFunctionDef: "async def",
    ast.ClassDef: "class",
}
_PY_FIELDS: dict[type, tuple[str, ...]] = {}
"""Per node type, which of ``_PY_BLOCK_FIELDS`` it has."""
