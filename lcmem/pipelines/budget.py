"""Token budgets in the LLM's own tokens: how much context fits, and packing hits into it.

Every pipeline sends ``template + context + question`` and asks for up to ``max_tokens`` more;
:func:`context_budget` says how many tokens the context may take, :func:`pack_hits` fills that
budget with the best hits and returns them in document order, and :class:`LLMTokenizer` lets
the chunkers split text by the LLM's tokens (Chain-of-Agents segments).

Example:
    >>> from lcmem.llm.base import LLM, Completion
    >>> from lcmem.types import Chunk, Hit
    >>> class Words(LLM):
    ...     name, context_window = "words", 100
    ...     def complete(self, messages, max_tokens=256, stop=None, temperature=0.0, seed=None):
    ...         return Completion("", 0, 0, 0.0)
    ...     def count_tokens(self, text):
    ...         return len(text.split())
    >>> hits = [Hit(Chunk("b b b", 10, 15, doc_path="x"), 0.9, rank=1),
    ...         Hit(Chunk("a a", 0, 3, doc_path="x"), 0.5, rank=2),
    ...         Hit(Chunk("c " * 50, 20, 120, doc_path="x"), 0.1, rank=3)]
    >>> packed, used = pack_hits(hits, Words(), budget=10, render=lambda h: h.text)
    >>> [h.chunk.start for h in packed], used      # best that fit, in document order
    ([0, 10], 5)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lcmem.errors import ConfigError

if TYPE_CHECKING:
    from lcmem.llm.base import LLM, Message
    from lcmem.types import Hit

DEFAULT_BUDGET_CAP = 2048
"""Default most context tokens per LLM call: a small CPU model reads 2k tokens in seconds."""

_WORD = re.compile(r"\S+")


def context_budget(
    llm: LLM,
    skeleton: Sequence[Message],
    max_tokens: int,
    budget: int | None = None,
    cap: int = DEFAULT_BUDGET_CAP,
    reserve: int = 0,
) -> int:
    """Tokens the context may take in a prompt whose other parts are ``skeleton``.

    Args:
        llm: the model; its ``context_window`` and tokenizer set the limits.
        skeleton: the prompt with an empty context (template, question...).
        max_tokens: room kept for the answer.
        budget: what the caller asked for; ``None`` for "as much as fits, up to ``cap``".
        cap: the default's upper bound (speed on CPU).
        reserve: more room kept (e.g. for the evidence a previous worker passes on).

    Raises:
        ConfigError: the budget asked for, or the question alone, does not fit the window.
    """
    overhead = llm.count_messages(skeleton)
    room = llm.context_window - overhead - max_tokens - reserve
    if budget is not None:
        if budget < 1:
            raise ConfigError(f"budget must be at least 1 token, got {budget}")
        if budget > room:
            raise ConfigError(
                f"a budget of {budget} tokens does not fit {llm.name}'s window of "
                f"{llm.context_window}: the prompt takes {overhead} tokens and "
                f"{max_tokens + reserve} are kept for the output; use --budget {max(room, 0)} "
                "or less"
            )
        return budget
    if room < 16:
        raise ConfigError(
            f"the question and prompt take {overhead} tokens of {llm.name}'s window of "
            f"{llm.context_window}, leaving no room for context: ask a shorter question"
        )
    return min(room, cap)


def pack_hits(
    hits: Sequence[Hit],
    llm: LLM,
    budget: int,
    render: Callable[[Hit], str],
    separator: str = "\n\n",
) -> tuple[list[Hit], int]:
    """The best hits whose rendered passages fit ``budget`` tokens together, in document order.

    Hits are taken best first (by ``rank``, then score); one that does not fit is skipped and
    smaller ones after it may still fit. Duplicate chunks and spans inside an already chosen
    span of the same document are left out. Returns ``(hits by path then start, tokens used)``.
    """
    sep = llm.count_tokens(separator)
    chosen: list[Hit] = []
    used = 0
    for hit in sorted(hits, key=lambda h: (h.rank or 1 << 30, -h.score)):
        if any(_inside(hit, c) for c in chosen):
            continue
        cost = llm.count_tokens(render(hit)) + (sep if chosen else 0)
        if used + cost <= budget:
            chosen.append(hit)
            used += cost
    chosen.sort(key=lambda h: (h.path, h.chunk.start, h.chunk.end))
    return chosen, used


def shrink_to_fit(
    hits: Sequence[Hit], llm: LLM, budget: int, render_all: Callable[[Sequence[Hit]], str]
) -> list[Hit]:
    """``hits`` without their worst-ranked ones until ``render_all(hits)`` fits ``budget``.

    :func:`pack_hits` adds up the passages' counts; a tokenizer may count the joined text a
    token or two differently, so the final text is counted once more here.
    """
    kept = list(hits)
    while kept and llm.count_tokens(render_all(kept)) > budget:
        worst = max(kept, key=lambda h: (h.rank or 1 << 30, -h.score))
        kept.remove(worst)
    return kept


def _inside(hit: Hit, other: Hit) -> bool:
    a, b = hit.chunk, other.chunk
    return a.doc_path == b.doc_path and b.start <= a.start and a.end <= b.end


class LLMTokenizer:
    """The LLM's tokenizer seen as a :class:`~lcmem.tokens.Tokenizer`, for the chunkers.

    Counts come from ``llm.count_tokens``. Token offsets come from the backend's Hugging Face
    fast tokenizer when it has one (``llm.tokenizer``); otherwise words stand in for tokens
    (the packer counts every packed span for real, so budgets still hold).

    Example:
        >>> from lcmem.pipelines.budget import LLMTokenizer
        >>> class Words:
        ...     name = "w"
        ...     def count_tokens(self, text): return len(text.split())
        >>> LLMTokenizer(Words()).offsets("two words")
        [(0, 3), (4, 9)]
    """

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.name = f"llm:{getattr(llm, 'name', 'llm')}"
        self._hf: Any = None
        self._checked = False

    def _fast(self) -> Any:
        if not self._checked:
            self._checked = True
            tok = getattr(self.llm, "tokenizer", None) if _has_hf_tokenizer(self.llm) else None
            self._hf = tok if getattr(tok, "is_fast", False) else None
        return self._hf

    def count(self, text: str) -> int:
        return int(self.llm.count_tokens(text))

    def offsets(self, text: str) -> list[tuple[int, int]]:
        tok = self._fast()
        if tok is None:
            return [m.span() for m in _WORD.finditer(text)]
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        return [(int(s), int(e)) for s, e in enc["offset_mapping"] if e > s]


def _has_hf_tokenizer(llm: Any) -> bool:
    """True for backends that run a Hugging Face model in-process (they expose ``tokenizer``)."""
    from lcmem.llm.transformers import TransformersLLM

    return isinstance(llm, TransformersLLM)
