"""Turn text into BM25 terms: lowercase, Unicode word tokens, stopwords out, Snowball stems.

The same :class:`Analyzer` must process documents and queries, so its settings are recorded in
the library manifest (:meth:`Analyzer.config`) and restored with :meth:`Analyzer.from_config`.

Example:
    >>> analyzer = Analyzer()
    >>> analyzer("The parsers are Running in 2 threads")
    ['parser', 'run', '2', 'thread']
    >>> analyzer.many(["Hello, world!", "ÉTÉ à Paris"])
    [['hello', 'world'], ['été', 'à', 'pari']]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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

#: Runs of letters and digits. Underscores split words, so ``parse_config`` matches "parse".
DEFAULT_PATTERN = r"[^\W_]+"

_STOPWORD_SETS: dict[str, frozenset[str]] = {"english": ENGLISH_STOPWORDS}
_MAX_CACHE = 1_000_000  # distinct words whose stems are remembered before the cache is reset


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

    Example:
        >>> Analyzer(stem=False, stopwords=None)("To be, or not")
        ['to', 'be', 'or', 'not']
    """

    def __init__(
        self,
        *,
        lowercase: bool = True,
        pattern: str = DEFAULT_PATTERN,
        stopwords: str | Iterable[str] | None = "english",
        stem: bool = True,
        language: str = "english",
        min_length: int = 1,
    ) -> None:
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
        self._stemmer: Any = None
        if stem:
            self._load_stemmer()
        # word -> term; "" marks a dropped word (stopword or too short), filtered out as falsy.
        self._cache: dict[str, str] = {}

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
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Analyzer:
        """Rebuild the analyzer described by :meth:`config`."""
        try:
            return cls(**config)
        except TypeError as e:
            raise ConfigError(f"bad analyzer settings {config!r}: {e}") from e

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"Analyzer({args})"
