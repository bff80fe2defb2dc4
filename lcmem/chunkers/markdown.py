"""Markdown chunker: structure from markdown-it-py, heading trails as each chunk's context.

The document is parsed with markdown-it-py (CommonMark plus GFM tables) into top-level blocks
(headings, paragraphs, lists, code fences, tables, block quotes, HTML blocks), using each
block token's ``.map`` line range to find its exact character span. Text the parser does not
turn into a block becomes a plain block, so nothing is lost; link reference definitions are
kept as plain paragraphs.

Example:
    >>> from lcmem.tokens import WhitespaceTokenizer
    >>> text = "# Install\\n\\n## From source\\n\\nRun make.\\n\\n## From pip\\n\\npip install x\\n"
    >>> chunks = MarkdownChunker(chunk_size=8, chunk_overlap=0,
    ...                          tokenizer=WhitespaceTokenizer()).chunk(text)
    >>> [(c.context, c.text) for c in chunks]
    [('Install > From source', '# Install\\n\\n## From source\\n\\nRun make.'), \
('Install > From pip', '## From pip\\n\\npip install x')]
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from lcmem.chunkers.base import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from lcmem.chunkers.text import (
    DEFAULT_SEPARATORS,
    LINES,
    PARAGRAPHS,
    SENTENCES,
    WORDS,
    Piece,
    Separator,
    SpanPacker,
    _TextChunker,
)
from lcmem.errors import ConfigError
from lcmem.types import Chunk, Document

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

    from lcmem.tokens import Tokenizer

__all__ = ["MarkdownChunker"]

_KINDS = {
    "heading_open": "heading",
    "paragraph_open": "paragraph",
    "fence": "code",
    "code_block": "code",
    "table_open": "table",
    "bullet_list_open": "list",
    "ordered_list_open": "list",
    "blockquote_open": "quote",
    "html_block": "html",
    "hr": "hr",
}
# YAML (---) or TOML (+++) front matter at the very start of the file.
_FRONT_MATTER = re.compile(
    r"\A(---|\+\+\+)[^\S\n]*\n(?:.*?\n)??(?:\1|\.\.\.)[^\S\n]*(?:\n|\Z)", re.DOTALL
)
_NEWLINE = re.compile(r"\n")
_NON_SPACE = re.compile(r"\S")

Trail = tuple[tuple[int, str], ...]
"""Heading trail: ``((level, title), ...)`` from the outermost heading in."""


@dataclass
class _Block:
    start: int
    end: int
    kind: str
    level: int = 0
    title: str = ""
    items: tuple[int, ...] = ()
    trail: Trail = ()


@dataclass
class _Unit:
    """A whole block (or heading) waiting to be packed into a chunk."""

    start: int
    end: int
    tokens: int
    trail: Trail
    heading: bool
    level: int = 0  # heading level, 0 for other blocks


@dataclass
class _Plan:
    units: list[_Unit] = field(default_factory=list)
    tokens: int = 0
    carried: int = 0  # leading units already in the previous chunk (overlap)

    def add(self, unit: _Unit) -> None:
        self.units.append(unit)
        self.tokens += unit.tokens

    def only_headings(self) -> bool:
        return bool(self.units) and all(u.heading for u in self.units)


@dataclass
class _Output:
    """Chunks-to-be, in order: split ``pieces`` ready as they are, or a packed plan of
    ``units`` whose real token count is checked (in one batch) at the end."""

    trail: Trail
    pieces: list[Piece] | None = None
    units: list[_Unit] = field(default_factory=list)
    carried: int = 0  # leading units that overlap the previous chunk
    front_matter: bool = False


class MarkdownChunker(_TextChunker):
    """Chunks Markdown by its structure; each chunk's context is its heading trail.

    - ATX (``## Title``) and setext (underlined) headings give every chunk its context
      (``"Install > From source"``) and metadata ``headings`` (the trail's titles) and
      ``heading_level`` (level of the innermost heading, 0 if none).
    - Headings at ``section_level`` or above always start a new chunk (by default: the
      shallowest level used more than once, and every level above it), so a chunk never runs
      into a new top-level section; a deeper section joins the chunk before it only if it fits
      whole and that chunk began at a section start (so small sibling sections are packed
      together, but never onto the tail of a longer one). A heading stays with the text
      that follows it.
    - Code fences and tables are never cut when they fit the budget. One larger than the whole
      budget is split between lines as a last resort (blank lines first for code); a single
      line larger than the budget is cut at words, then tokens.
    - Lists larger than the budget are split between items first; other large blocks are
      split like :class:`~lcmem.chunkers.text.RecursiveChunker` (blank lines, lines,
      sentences, words, tokens).
    - YAML/TOML front matter becomes chunks of its own (``metadata["front_matter"] = True``);
      HTML blocks are kept as text and chunked like prose.

    Example:
        >>> from lcmem.tokens import WhitespaceTokenizer
        >>> chunker = MarkdownChunker(chunk_size=50, tokenizer=WhitespaceTokenizer())
        >>> [c.context for c in chunker.chunk("# A\\n\\ntext\\n\\n# B\\n\\nmore\\n")]
        ['A', 'B']
    """

    name = "markdown"

    def __init__(
        self,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
        tokenizer: Tokenizer | None = None,
        section_level: int | None = None,
    ) -> None:
        super().__init__(chunk_size, chunk_overlap, tokenizer)
        if section_level is not None and not 1 <= section_level <= 6:
            raise ConfigError(
                f"section_level must be a heading level from 1 to 6 or None, got {section_level}"
            )
        self.section_level = section_level

    def config(self) -> dict:
        return {
            **super().config(),
            "section_level": self.section_level or "auto",
            "parser": "markdown-it-py/commonmark+table",
        }

    def _chunk(self, doc: Document) -> list[Chunk]:
        text = doc.text
        blocks = _parse_blocks(text)
        packer = self._packer(text)
        counts = packer.counts([(b.start, b.end) for b in blocks])
        sizes = _section_sizes(blocks, counts, self.chunk_size + 1)
        hard = self.section_level or _auto_section_level(blocks)
        return _Assembler(self, packer, hard).run(blocks, counts, sizes)


class _Assembler:
    """Packs blocks into chunks for one document (see :class:`MarkdownChunker`)."""

    def __init__(self, chunker: MarkdownChunker, packer: SpanPacker, hard_level: int) -> None:
        self.text = packer.text
        self.packer = packer
        self.budget = chunker.chunk_size
        self.overlap = chunker.chunk_overlap
        self.hard_level = hard_level
        self.out: list[_Output] = []
        self.plan = _Plan()

    def run(
        self, blocks: list[_Block], counts: list[int | None], sizes: dict[int, int]
    ) -> list[Chunk]:
        budget = self.budget
        for i, (block, n) in enumerate(zip(blocks, counts, strict=True)):
            if n == 0 and not _NON_SPACE.search(self.text, block.start, block.end):
                continue  # only whitespace (by Python's rules, wider than Markdown's)
            if block.kind == "front_matter":
                self.flush()
                pieces = self.packer.split(block.start, block.end, (LINES, WORDS))
                self.emit(pieces, (), front_matter=True)
            elif n is None or n > budget:  # no count: larger than the budget
                self.add_large(block)
            elif block.kind == "heading":
                plan = self.plan
                # A deeper section may join the pending chunk if it fits whole and that chunk
                # began at the start of a section around or beside it (not mid-section).
                first = plan.units[0] if plan.units else None
                joins = (
                    first is not None
                    and first.heading
                    and first.level <= block.level
                    and block.level > self.hard_level
                    and plan.tokens + sizes[i] <= budget
                )
                if (not joins and not plan.only_headings()) or plan.tokens + n > budget:
                    self.flush()
                self.plan.add(_Unit(block.start, block.end, n, block.trail, True, block.level))
            else:
                unit = _Unit(block.start, block.end, n, block.trail, False)
                if self.plan.tokens + n > budget:
                    if self.plan.only_headings():  # keep the headings with this block
                        self.add_large(block)
                        continue
                    self.flush(carry_to=unit)
                self.plan.add(unit)
        self.flush()
        return self.finish()

    def add_large(self, block: _Block) -> None:
        """A block over budget (or too big to join the pending headings): split it alone,
        keeping pending headings with its start when they are small."""
        plan = self.plan
        start, protect = block.start, -1
        if plan.only_headings() and plan.tokens * 2 <= self.budget:
            start, protect = plan.units[0].start, plan.units[-1].end
            self.plan = _Plan()
        else:
            self.flush()
        pieces = self.packer.split(start, block.end, _levels(block), protect=protect)
        self.emit(pieces, block.trail)

    def flush(self, carry_to: _Unit | None = None) -> None:
        """Close the pending plan; carry overlap units into the next plan."""
        plan = self.plan
        self.plan = _Plan()
        if not plan.units:
            return
        units = plan.units
        content = [u.trail for u in units if not u.heading] or [u.trail for u in units]
        self.out.append(_Output(_common_prefix(content), units=units, carried=plan.carried))
        if carry_to is None or self.overlap <= 0:
            return
        carried: list[_Unit] = []
        total = 0
        for u in reversed(units[1:]):
            if u.trail != carry_to.trail or total + u.tokens > self.overlap:
                break
            if total + u.tokens + carry_to.tokens > self.budget:
                break
            carried.append(u)
            total += u.tokens
        for u in reversed(carried):
            self.plan.add(u)
        self.plan.carried = len(carried)

    def emit(self, pieces: list[Piece], trail: Trail, front_matter: bool = False) -> None:
        self.out.append(_Output(trail, pieces=pieces, front_matter=front_matter))

    def finish(self) -> list[Chunk]:
        """Count packed plans for real (one batch), re-pack any over budget, build chunks."""
        packer = self.packer
        plans = [o for o in self.out if o.pieces is None]
        spans = [packer.trim(o.units[0].start, o.units[-1].end) for o in plans]
        check = [k for k, o in enumerate(plans) if len(o.units) > 1]
        found = packer.counts([spans[k] for k in check], limit=False)
        counted = dict(zip(check, found, strict=True))
        for k, (o, (s, e)) in enumerate(zip(plans, spans, strict=True)):
            n = counted.get(k, o.units[0].tokens)
            assert n is not None
            if n <= self.budget or len(o.units) == 1:
                o.pieces = [(s, e, n)] if s < e else []
            else:  # counts did not add up across a cut: re-pack, checking each chunk
                units = [(u.start, u.end, u.tokens) for u in o.units]
                o.pieces = packer.pack(units, overlap=0, fresh=o.carried)
        chunks: list[Chunk] = []
        for o in self.out:
            titles = [t for _, t in o.trail if t]
            context = " > ".join(titles)
            level = o.trail[-1][0] if o.trail else 0
            for s, e, n in o.pieces or []:
                meta: dict = {"headings": list(titles), "heading_level": level}
                if o.front_matter:
                    meta["front_matter"] = True
                chunks.append(
                    Chunk(
                        text=self.text[s:e],
                        start=s,
                        end=e,
                        context=context,
                        token_count=n,
                        metadata=meta,
                    )
                )
        return chunks


def _common_prefix(trails: list[Trail]) -> Trail:
    first = trails[0]
    k = len(first)
    for t in trails[1:]:
        k = min(k, len(t))
        for j in range(k):
            if t[j] != first[j]:
                k = j
                break
    return first[:k]


def _levels(block: _Block) -> tuple[Separator, ...]:
    """How to split a block larger than the budget."""
    if block.kind == "code":
        return (PARAGRAPHS, LINES, WORDS)
    if block.kind == "table":
        return (LINES, WORDS)
    if block.kind == "list" and block.items:
        items = block.items

        def item_cuts(text: str, start: int, end: int) -> list[int]:
            return [p for p in items if start < p < end]

        return (Separator("list-items", item_cuts), PARAGRAPHS, LINES, SENTENCES, WORDS)
    return DEFAULT_SEPARATORS


def _auto_section_level(blocks: list[_Block]) -> int:
    """The shallowest heading level used more than once (else the shallowest used; 0 if none)."""
    levels = Counter(b.level for b in blocks if b.kind == "heading")
    if not levels:
        return 0
    repeated = [lvl for lvl in sorted(levels) if levels[lvl] >= 2]
    return repeated[0] if repeated else min(levels)


def _section_sizes(blocks: list[_Block], counts: list[int | None], unknown: int) -> dict[int, int]:
    """Tokens of each heading's section (the heading up to the next one at its level or above),
    keyed by block index; a block too long to count weighs ``unknown``."""
    prefix = [0]
    for n in counts:
        prefix.append(prefix[-1] + (unknown if n is None else n))
    next_at_or_above = [len(blocks)] * 7
    sizes: dict[int, int] = {}
    for i in range(len(blocks) - 1, -1, -1):
        b = blocks[i]
        if b.kind == "heading":
            sizes[i] = prefix[next_at_or_above[b.level]] - prefix[i]
            for lvl in range(b.level, 7):
                next_at_or_above[lvl] = i
    return sizes


@lru_cache(maxsize=1)
def _block_parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # Block structure only: inline parsing is slow and headings are parsed apart. Link
    # reference definitions are left as paragraphs: their rule is slow and they stay text.
    md = MarkdownIt("commonmark").enable("table")
    return md.disable(["inline", "text_join", "reference"])


@lru_cache(maxsize=1)
def _inline_parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _heading_title(source: str) -> str:
    """Plain text of inline markdown: ``Install `x` [here](u)`` -> ``Install x here``."""
    parts: list[str] = []
    for tok in _inline_parser().parseInline(source):
        for child in tok.children or []:
            if child.type in ("text", "code_inline", "image"):
                parts.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append(" ")
    title = " ".join("".join(parts).split())
    return title or " ".join(source.split())


def _parse_blocks(text: str) -> list[_Block]:
    """Top-level blocks covering ``text`` from start to end, in order, with heading trails."""
    fm = _FRONT_MATTER.match(text)
    fm_end = fm.end() if fm else 0
    # Same line structure as ``text``: front matter blanked out; a lone "\r" would be a line
    # break to markdown-it, so it becomes a space (loaders normalise newlines anyway).
    src = ("\n" * text.count("\n", 0, fm_end) + text[fm_end:]).replace("\r", " ")
    line_starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]

    def pos(line: int) -> int:
        return line_starts[line] if line < len(line_starts) else len(text)

    tokens = _block_parser().parse(src)
    found: list[_Block] = []
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.map is None or tok.nesting == -1:
            continue
        block = _Block(pos(tok.map[0]), pos(tok.map[1]), _KINDS.get(tok.type, "other"))
        if block.kind == "heading":
            block.level = int(tok.tag[1:])
            block.title = _heading_title(tokens[i + 1].content)
        elif block.kind == "list":
            items = []
            for t in tokens[i + 1 :]:
                if t.level == 0:
                    break
                if t.level == 1 and t.type == "list_item_open" and t.map is not None:
                    items.append(pos(t.map[0]))
            block.items = tuple(items)
        found.append(block)

    blocks: list[_Block] = []
    if fm_end:
        blocks.append(_Block(0, fm_end, "front_matter"))
    cursor = fm_end
    for block in [*found, _Block(len(text), len(text), "end")]:
        block.start = max(block.start, cursor)
        if block.start > cursor:  # text between blocks: blank lines, or skipped markup
            if _NON_SPACE.search(text, cursor, block.start):
                blocks.append(_Block(cursor, block.start, "other"))
            elif blocks:
                blocks[-1].end = block.start
            else:
                block.start = cursor
        if block.kind != "end" and block.end > block.start:
            blocks.append(block)
            cursor = block.end

    stack: list[tuple[int, str]] = []
    for block in blocks:
        if block.kind == "heading":
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.title))
        block.trail = tuple(stack)
    return blocks
