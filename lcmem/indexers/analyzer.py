"""Turn text into BM25 terms: identifiers split, lowercase, stopwords out, Snowball stems.

Code and prose share one analyzer. A compound identifier gives its words *and* itself, as
Lucene's word-delimiter filter with ``preserveOriginal`` does: ``getHeader``, ``get_header``
and ``GET_HEADER`` all give ``get``, ``header`` plus the whole name, so a query in plain words
("get the header") finds the code and a query naming the identifier still matches it exactly.
Words split at underscores, lower-to-upper case changes (``parseURL`` -> ``parse``, ``URL``;
``HTTPServer`` -> ``HTTP``, ``Server``) and letter/digit changes (``b64encode`` -> ``b``,
``64``, ``encode``).

The same :class:`Analyzer` must process documents and queries, so its settings are recorded in
the library manifest (:meth:`Analyzer.config`) and restored with :meth:`Analyzer.from_config`;
settings recorded before identifier splitting existed restore the old behaviour.

Example:
    >>> analyzer = Analyzer()
    >>> analyzer("The parsers are Running in 2 threads")
    ['parser', 'run', '2', 'thread']
    >>> analyzer.many(["Hello, world!", "ÉTÉ à Paris"])
    [['hello', 'world'], ['été', 'à', 'pari']]
    >>> analyzer("def parseHeader(raw_bytes)")
    ['def', 'pars', 'header', 'parsehead', 'raw', 'byte', 'raw_byt']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

from lcmem.errors import ConfigError

#: Lucene's (and Elasticsearch's ``_english_``) default English stop list: short on purpose, so
#: words that carry meaning in technical text ("all", "more", "only"...) stay searchable.
ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
        "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then",
        "there", "these", "they", "this", "to", "was", "will", "with",
    }
)  # fmt: skip

#: One word when identifiers are split: a run of letters, digits and underscores (a whole
#: identifier such as ``parse_config``; :func:`split_identifier` then gives its parts).
DEFAULT_PATTERN = r"\w+"
#: One word when identifiers are not split: runs of letters and digits, so underscores split
#: words (``parse_config`` matches "parse"); the pattern of analyzers made before splitting.
PLAIN_PATTERN = r"[^\W_]+"

_STOPWORD_SETS: dict[str, frozenset[str]] = {"english": ENGLISH_STOPWORDS}
_MAX_CACHE = 1_000_000  # distinct words whose stems are remembered before the cache is reset


MAX_IDENTIFIER = 128
"""Longer words are not split into identifier parts (see ``Analyzer._learn_split``)."""


def _kind(ch: str) -> int:
    """0 digit, 1 uppercase, 2 lowercase, 3 any other word character (uncased letters...)."""
    return 0 if ch.isdigit() else 1 if ch.isupper() else 2 if ch.islower() else 3


def split_identifier(word: str) -> list[str]:
    """The parts of an identifier: cut at underscores, at lower-to-upper case changes, before
    the last capital of a run of capitals followed by lowercase (``HTTPServer`` -> ``HTTP``,
    ``Server``) and between letters and digits. Case is kept; a plain word is one part.

    Example:
        >>> split_identifier("parseHTTPHeader_v2")
        ['parse', 'HTTP', 'Header', 'v', '2']
        >>> split_identifier("__init__"), split_identifier("Zürich")
        (['init'], ['Zürich'])
    """
    if "_" not in word and (
        word.isdigit()
        or (
            word.isalpha()
            and (word.islower() or word.isupper() or word[1:].islower() or len(word) == 1)
        )
    ):
        return [word]  # fast path: a plain word, number or Capitalised word has no cut
    parts: list[str] = []
    for piece in word.split("_"):
        if not piece:
            continue
        start = 0
        kinds = [_kind(c) for c in piece]
        for i in range(1, len(piece)):
            a, b = kinds[i - 1], kinds[i]
            if (
                (a == 0) != (b == 0)  # letter <-> digit
                or (a == 2 and b == 1)  # aB
                or (a == 1 and b == 1 and i + 1 < len(piece) and kinds[i + 1] == 2)  # ABc
            ):
                parts.append(piece[start:i])
                start = i
        parts.append(piece[start:])
    return parts


class Analyzer:
    """Callable text -> list of terms, with a word -> term cache (it runs on every chunk).

    Args:
        lowercase: lowercase the text first.
        pattern: regular expression of one token (``re.findall``).
        stopwords: ``"english"`` (:data:`ENGLISH_STOPWORDS`), ``None`` for none, or any
            iterable of words (compared after lowercasing, before stemming).
        stem: apply the Snowball stemmer of ``language`` (PyStemmer).
        language: Snowball language name (``Stemmer.algorithms()`` lists them).
        min_length: drop tokens shorter than this many characters.
        split_identifiers: give the parts of a compound identifier (:func:`split_identifier`)
            and then the whole identifier (its edge underscores stripped), each going through
            lowercase, stopwords, ``min_length`` and stemming like any word.
        pattern: ``None`` means :data:`DEFAULT_PATTERN` when splitting identifiers (the regex
            must then see whole identifiers, underscores included), else :data:`PLAIN_PATTERN`.

    Example:
        >>> Analyzer(stem=False, stopwords=None)("To be, or not")
        ['to', 'be', 'or', 'not']
        >>> Analyzer(stem=False)("HTTPServer.get_request")
        ['http', 'server', 'httpserver', 'get', 'request', 'get_request']
        >>> Analyzer(stem=False, split_identifiers=False)("HTTPServer.get_request")
        ['httpserver', 'get', 'request']
    """

    def __init__(
        self,
        *,
        lowercase: bool = True,
        pattern: str | None = None,
        stopwords: str | Iterable[str] | None = "english",
        stem: bool = True,
        language: str = "english",
        min_length: int = 1,
        split_identifiers: bool = True,
    ) -> None:
        if pattern is None:
            pattern = DEFAULT_PATTERN if split_identifiers else PLAIN_PATTERN
        try:
            self._regex = re.compile(pattern)
        except re.error as e:
            raise ConfigError(f"analyzer pattern {pattern!r} is not a valid regex: {e}") from e
        if isinstance(stopwords, str):
            if stopwords not in _STOPWORD_SETS:
                raise ConfigError(
                    f"unknown stopword list {stopwords!r}: use one of {sorted(_STOPWORD_SETS)}, "
                    "None, or a list of words"
                )
            self._stopword_name: str | None = stopwords
            stop = _STOPWORD_SETS[stopwords]
        else:
            self._stopword_name = None
            stop = frozenset(w.lower() if lowercase else w for w in (stopwords or ()))
        self.lowercase = lowercase
        self.pattern = pattern
        self.stopwords: frozenset[str] = stop
        self.stem = stem
        self.language = language
        self.min_length = int(min_length)
        self.split_identifiers = bool(split_identifiers)
        self._stemmer: Any = None
        if stem:
            self._load_stemmer()
        # word -> term; "" marks a dropped word (stopword or too short), filtered out as falsy.
        self._cache: dict[str, str] = {}
        # identifier (case kept) -> its terms, when splitting identifiers.
        self._split_cache: dict[str, tuple[str, ...]] = {}

    def _load_stemmer(self) -> Any:
        if self._stemmer is None:
            try:
                import Stemmer
            except ImportError as e:  # pragma: no cover - PyStemmer is a dependency
                raise ConfigError(
                    "stemming needs PyStemmer: pip install PyStemmer, or use stem=False"
                ) from e
            try:
                self._stemmer = Stemmer.Stemmer(self.language)
            except KeyError as e:
                raise ConfigError(
                    f"no Snowball stemmer for language {self.language!r}: "
                    f"use one of {Stemmer.algorithms()}"
                ) from e
        return self._stemmer

    def __call__(self, text: str) -> list[str]:
        """Terms of one text, in order (repeats kept: BM25 counts them)."""
        return self.many([text])[0]

    def many(self, texts: Sequence[str]) -> list[list[str]]:
        """Terms of many texts; faster than calling the analyzer on each one.

        Example:
            >>> Analyzer().many(["cats and dogs", ""])
            [['cat', 'dog'], []]
        """
        if self.split_identifiers:
            return self._many_split(texts)
        regex = self._regex
        if self.lowercase:
            words = [regex.findall(t.lower()) for t in texts]
        else:
            words = [regex.findall(t) for t in texts]
        cache = self._cache
        new = {w for ws in words for w in ws if w not in cache}
        if new:
            if len(cache) + len(new) > _MAX_CACHE:
                cache.clear()
                new = {w for ws in words for w in ws}
            self._learn(new)
        get = cache.__getitem__
        return [list(filter(None, map(get, ws))) for ws in words]

    def _many_split(self, texts: Sequence[str]) -> list[list[str]]:
        """:meth:`many` with identifier splitting: words are found before lowercasing (the
        case changes mark the parts) and each distinct word's terms are cached."""
        words = [self._regex.findall(t) for t in texts]
        cache = self._split_cache
        new = {w for ws in words for w in ws if w not in cache}
        if new:
            if len(cache) + len(new) > _MAX_CACHE:
                cache.clear()
                self._cache.clear()
                new = {w for ws in words for w in ws}
            self._learn_split(new)
        get = cache.__getitem__
        return [list(chain.from_iterable(map(get, ws))) for ws in words]

    def _learn_split(self, words: set[str]) -> None:
        """Put the terms of each identifier in the split cache: its parts, then itself."""
        lower = self.lowercase
        pieces: dict[str, list[str]] = {}
        for w in words:
            # a word this long is a blob (hex, base64, minified code), not an identifier: its
            # parts would be thousands of one-character terms
            parts = split_identifier(w) if len(w) <= MAX_IDENTIFIER else [w]
            if len(parts) > 1:
                parts.append(w.strip("_"))
            pieces[w] = [p.lower() for p in parts] if lower else parts
        todo = {p for ps in pieces.values() for p in ps if p not in self._cache}
        if todo:
            self._learn(todo)
        terms = self._cache
        for w, ps in pieces.items():
            self._split_cache[w] = tuple(t for t in map(terms.__getitem__, ps) if t)

    def _learn(self, words: set[str]) -> None:
        """Put the term of each word (or "" if the word is dropped) in the cache."""
        stop, min_len = self.stopwords, self.min_length
        kept = [w for w in words if w not in stop and len(w) >= min_len]
        cache = self._cache
        for w in words:
            cache[w] = ""
        if self.stem:
            cache.update(zip(kept, self._load_stemmer().stemWords(kept), strict=True))
        else:
            cache.update(zip(kept, kept, strict=True))

    def config(self) -> dict[str, Any]:
        """Settings as plain JSON data, for the library manifest.

        Example:
            >>> Analyzer.from_config(Analyzer(stem=False).config()).stem
            False
        """
        stopwords: str | list[str] | None
        if self._stopword_name is not None:
            stopwords = self._stopword_name
        else:
            stopwords = sorted(self.stopwords) or None
        return {
            "lowercase": self.lowercase,
            "pattern": self.pattern,
            "stopwords": stopwords,
            "stem": self.stem,
            "language": self.language,
            "min_length": self.min_length,
            "split_identifiers": self.split_identifiers,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Analyzer:
        """Rebuild the analyzer described by :meth:`config`. Settings without
        ``split_identifiers`` were recorded before it existed: it is off for them, so a library
        indexed then keeps analysing queries as its BM25 index was built.

        Example:
            >>> Analyzer.from_config({"stem": False, "pattern": PLAIN_PATTERN})("get_x")
            ['get', 'x']
        """
        config = {"split_identifiers": False, **config}
        try:
            return cls(**config)
        except TypeError as e:
            raise ConfigError(f"bad analyzer settings {config!r}: {e}") from e

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"Analyzer({args})"
