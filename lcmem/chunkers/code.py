"""Code chunker: chunks are syntactic units (functions, methods, class headers, module header).

Why lcmem keeps its own, measured (BENCHMARKS.md, "Chunking throughput", 1.81 MB of standard
library Python, warm CPU MB/s): 5.49 MB/s against 0.63 for langchain-text-splitters'
``from_language(PYTHON)`` (x8.7; ``ast.parse`` alone: 9.2), and chonkie 1.7's CodeChunker does
not run offline (its constructor downloads tree-sitter grammars).

Python is parsed with the standard :mod:`ast` module; JavaScript, TypeScript (and TSX), Go,
Rust, Java, C and C++ with tree-sitter grammars from PyPI (see
:mod:`lcmem.chunkers.code_treesitter`). Both are seen through one small interface
(:mod:`lcmem.chunkers.code_syntax`; the walk and packing are in
:mod:`lcmem.chunkers.code_units`): the
*members* of a block (the statements, definitions and fields it holds, in order), each with
the offset where its piece of text starts (its line, widened upwards over the decorators,
attributes and comments directly above it). A block's text is cut at those offsets only, so
the pieces cover it without gaps and every chunk is an exact span.

How a file becomes chunks:

- the module is cut into its members; a definition that fits the budget is one unit, the
  statements before the first definition (docstring, imports, constants) form the module
  header;
- a class (impl, namespace, ...) too large for the budget is cut into its header (the
  ``class`` line, docstring and fields up to the first method) and its members, each method
  one unit; a function too large is cut into its header and its statements, and a statement
  too large into its own nested blocks, recursively; a piece with no members left is split by
  lines, then words, then tokens;
- neighbouring units are merged up to the budget, but never across the edge of a split class
  or function (so a class's methods do not merge with the next class), and a container's
  header is not merged with its methods.

Each chunk's context is its path, e.g. ``"parser.py > class Parser > def feed"`` (the first
element is the file name when the document has a path; Python uses ``class X``, ``def f``,
``async def f``; other languages ``class Parser > method feed``, ``func main``,
``impl Foo > fn bar``...). A merged chunk gets the common prefix of its units' paths.
``chunk.metadata["symbols"]`` lists the qualified names the chunk defines (``"Parser.feed"``;
Rust and C++ use ``::``) and, since ``where=`` compares metadata values for equality,
``chunk.metadata["symbol"]`` holds the first one: ``lib.search(q, where={"symbol":
"Parser.feed"})``.

Code that does not parse (a Python ``SyntaxError``, a tree-sitter tree mostly made of errors)
is chunked by :meth:`RecursiveChunker.for_code` rules, its chunks marked with
``metadata["parse_error"]`` and a message appended to ``doc.warnings``. A language without an
installed grammar is chunked by :meth:`RecursiveChunker.for_code` after a one-line warning
(the grammars come with ``pip install 'lcmem[code]'``; Python needs no extra).

Example:
    >>> from lcmem.tokens import WhitespaceTokenizer
    >>> src = "import os\\n\\nclass A:\\n    x = 1\\n\\n    def f(self):\\n        return os\\n"
    >>> chunker = CodeChunker(6, 0, tokenizer=WhitespaceTokenizer(), language="python")
    >>> [(c.context, c.metadata["symbols"]) for c in chunker.chunk(src)]
    [('', []), ('class A', ['A']), ('class A > def f', ['A.f'])]
"""

from __future__ import annotations

import logging
from pathlib import PurePath

from lcmem.chunkers.base import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from lcmem.chunkers.code_syntax import PythonSyntax, no_cyclic_gc
from lcmem.chunkers.code_units import Builder, LinePacker, pack_units, recount
from lcmem.chunkers.text import CODE_SEPARATORS, RecursiveChunker, _TextChunker
from lcmem.tokens import Tokenizer
from lcmem.types import Chunk, Document

__all__ = ["CodeChunker", "code_languages"]

log = logging.getLogger(__name__)

_LANG_ALIASES = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "jsx": "javascript",
    "ts": "typescript",
    "golang": "go",
    "rs": "rust",
    "c++": "cpp",
    "cxx": "cpp",
    "h": "c",
}


_DATA_LANGUAGES = frozenset({"yaml", "toml", "json", "ini", "sql", "bash"})
"""Languages chunked by lines without a notice: no syntax tree is expected for them."""

_warned: set[str] = set()


def _warn_once(lang: str, message: str) -> None:
    if lang not in _warned:
        _warned.add(lang)
        log.warning(message)


def code_languages() -> list[str]:
    """Languages parsed into syntactic units here (Python plus installed grammars).

    Example:
        >>> "python" in code_languages()
        True
    """
    from lcmem.chunkers.code_treesitter import available_languages

    return ["python", *available_languages()]


def _normalise_lang(lang: str | None) -> str | None:
    if not lang:
        return None
    lang = str(lang).lower()
    return _LANG_ALIASES.get(lang, lang)


class CodeChunker(_TextChunker):
    """Chunks source code into syntactic units (see the module docs for the rules).

    Args:
        language: the language of every document; by default each document's
            ``metadata["lang"]`` (set by the loaders from the file extension), else its
            path's extension. Python uses :mod:`ast`; ``javascript``, ``typescript``,
            ``tsx``, ``go``, ``rust``, ``java``, ``c`` and ``cpp`` use tree-sitter grammars.

    Chunk metadata: ``symbols`` (list of qualified names defined in the chunk), ``symbol``
    (the first of them, for ``where={"symbol": ...}`` equality filters; absent if none) and,
    for code that did not parse, ``parse_error``.

    ``chunk_overlap`` applies where a unit is split by lines; whole units are never repeated
    in two chunks.

    Example:
        >>> from lcmem.tokens import WhitespaceTokenizer
        >>> chunker = CodeChunker(8, 0, tokenizer=WhitespaceTokenizer(), language="python")
        >>> src = "def a():\\n    return 1\\n\\n\\n@cache\\ndef b():\\n    return 2\\n"
        >>> [c.metadata["symbol"] for c in chunker.chunk(src)]
        ['a', 'b']
        >>> doc = Document(text=src, metadata={"lang": "python"})
        >>> [c.text for c in CodeChunker(4, 0, WhitespaceTokenizer()).chunk(doc)]
        ['def a():\\n    return 1', '@cache\\ndef b():', 'return 2']
    """

    name = "code"

    def __init__(
        self,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
        tokenizer: Tokenizer | None = None,
        language: str | None = None,
    ) -> None:
        super().__init__(chunk_size, chunk_overlap, tokenizer)
        self.language = _normalise_lang(language)
        self._fallback: RecursiveChunker | None = None

    def config(self) -> dict:
        return {**super().config(), "language": self.language, "rules": "lcmem-ast-2"}

    def _recursive(self) -> RecursiveChunker:
        if self._fallback is None:
            self._fallback = RecursiveChunker.for_code(
                self.chunk_size, self.chunk_overlap, self.tokenizer
            )
        return self._fallback

    def language_of(self, doc: Document) -> str | None:
        """The language ``doc`` is parsed as (``None`` if unknown)."""
        lang = self.language or _normalise_lang(doc.metadata.get("lang"))
        if lang is None and doc.path and doc.path != "<string>":
            from lcmem.loaders.kinds import CODE_LANGUAGES

            lang = CODE_LANGUAGES.get(PurePath(doc.path).suffix.lower())
        return lang

    def _chunk(self, doc: Document) -> list[Chunk]:
        if not doc.text or doc.text.isspace():  # ``not text.strip()`` without the copy
            return []
        lang = self.language_of(doc)
        if lang == "python":
            with no_cyclic_gc():
                return self._chunk_python(doc)
        return self._chunk_as(doc, lang)

    def _chunk_python(self, doc: Document) -> list[Chunk]:
        """Python through :mod:`ast`.

        The lines are counted before the file is parsed and the tree is dropped as soon as
        it has been walked: the walk then finds the fresh tree still in the CPU caches and
        so does its freeing (measured a few percent faster than counting between parse and
        walk). The cost: a file that does not parse has its lines counted for nothing.
        """
        text = doc.text
        estimate = LinePacker(text, self.tokenizer, self.chunk_size, self.chunk_overlap)
        try:
            root = PythonSyntax.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            return self._unparsed(doc, "python", _py_reason(exc))
        try:
            syntax = PythonSyntax(text, estimate.line_starts)
            units = Builder(estimate, syntax).build(root, len(text), _context(doc))
            del root
            return recount(self._packer(text), pack_units(text, estimate, units))
        except RecursionError:  # a pathological tree; never fail the run
            return self._unparsed(doc, "python", "nested too deeply")

    def _chunk_as(self, doc: Document, lang: str | None) -> list[Chunk]:
        """Languages other than Python, through tree-sitter when a grammar is installed."""
        text = doc.text
        from lcmem.chunkers.code_treesitter import GRAMMARS, parse

        parsed = parse(text, lang) if lang else None
        if parsed is None:
            if lang in _DATA_LANGUAGES:  # configuration/data files: lines are the right unit
                return self._recursive()._chunk(doc)
            if lang in GRAMMARS:
                notice = f"the {lang} grammar is not installed (pip install 'lcmem[code]')"
            elif lang:
                notice = f"no tree-sitter grammar for {lang!r}"
            else:
                notice = "language unknown (no metadata['lang'], no known file extension)"
            _warn_once(str(lang), f"code chunker: {notice}; chunking by lines and definitions")
            return self._recursive()._chunk(doc)
        syntax, root, reason = parsed
        if reason is not None:
            return self._unparsed(doc, lang, reason)
        try:
            estimate = LinePacker(text, self.tokenizer, self.chunk_size, self.chunk_overlap)
            units = Builder(estimate, syntax).build(root, len(text), _context(doc))
            return recount(self._packer(text), pack_units(text, estimate, units))
        except RecursionError:  # a pathological tree; never fail the run
            return self._unparsed(doc, lang, "nested too deeply")

    def _unparsed(self, doc: Document, lang: str | None, reason: str) -> list[Chunk]:
        """Code that did not parse: chunked by lines, with a warning on the document."""
        text = doc.text
        message = f"{lang} code did not parse ({reason}); chunked by lines"
        if message not in doc.warnings:
            doc.warnings.append(message)
        meta = {"parse_error": reason, "symbols": []}
        pieces = self._packer(text).split(0, len(text), CODE_SEPARATORS)
        return [Chunk(text[s:e], s, e, token_count=n, metadata=dict(meta)) for s, e, n in pieces]


def _context(doc: Document) -> tuple[str, ...]:
    """The start of every context path: the file name, when the document has a path."""
    return (PurePath(doc.path).name,) if doc.path and doc.path != "<string>" else ()


def _py_reason(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    return f"{type(exc).__name__}: {str(exc)[:80]}"
