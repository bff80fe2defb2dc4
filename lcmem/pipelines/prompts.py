"""Prompt templates, passage and citation formatting, and one traced LLM call.

The default model is tiny (SmolLM2-135M), so prompts are short and direct: the context comes
first, the question after it, and the message ends with an answer prefix (``Answer:``).

Example:
    >>> from lcmem.types import Chunk, Hit
    >>> hit = Hit(Chunk("The sky is green.", 0, 17, doc_path="/d/sky.txt", line_start=1,
    ...                 line_end=1), 0.5, rank=1)
    >>> print(passage(1, hit))
    [1] sky.txt:1
    The sky is green.
    >>> rag_messages("[1] ...", "What colour is the sky?")[-1]["content"].splitlines()[-1]
    'Answer:'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lcmem.llm.base import Message, system, user
from lcmem.pipelines.base import Step, Trace

if TYPE_CHECKING:
    from lcmem.llm.base import LLM
    from lcmem.types import Hit

SYSTEM = "You answer questions using only the given text. Answer in one short sentence."

NO_ANSWER = "I could not find the answer in the given text."
"""What a pipeline says when it has no context or evidence at all."""


def where(hit: Hit) -> str:
    """``name:line`` (or ``name:start-end`` characters when lines are unknown) of a hit."""
    c = hit.chunk
    name = os.path.basename(c.doc_path or "<string>")
    if c.line_start:
        lines = (
            f"{c.line_start}"
            if c.line_end in (None, c.line_start)
            else (f"{c.line_start}-{c.line_end}")
        )
        return f"{name}:{lines}"
    return f"{name}:@{c.start}-{c.end}"


def passage(n: int, hit: Hit) -> str:
    """A numbered passage as shown to the model: ``[n] name:line`` then the text."""
    return f"[{n}] {where(hit)}\n{hit.chunk.text.strip()}"


def numbered_context(hits: Sequence[Hit]) -> str:
    """Passages ``[1]``, ``[2]``... separated by blank lines."""
    return "\n\n".join(passage(i, h) for i, h in enumerate(hits, start=1))


def rag_messages(context: str, question: str) -> list[Message]:
    """Answer from retrieved passages."""
    return [
        system(SYSTEM),
        user(f"Text:\n{context}\n\nQuestion: {question}\nAnswer:"),
    ]


NONE = "NONE"
"""What a Chain-of-Agents worker writes when its segment holds nothing useful."""


def worker_messages(segment: str, question: str, evidence: str) -> list[Message]:
    """A Chain-of-Agents worker: read the evidence so far and one segment, copy the segment's
    sentences that help (or name someone or something in the evidence), or write NONE."""
    previous = evidence.strip() or "(none yet)"
    return [
        system("You copy sentences exactly from a text."),
        user(
            f"Evidence so far:\n{previous}\n\nText:\n{segment}\n\nQuestion: {question}\n"
            "Copy the sentences from the text that help answer the question or that name "
            "someone or something in the evidence so far, word for word, one per line. "
            f"If there are none, write {NONE}.\nSentences:"
        ),
    ]


def manager_messages(evidence: str, question: str) -> list[Message]:
    """The Chain-of-Agents manager: answer from the evidence the last worker passed on."""
    return [
        system(SYSTEM),
        user(f"Evidence:\n{evidence.strip() or '(none)'}\n\nQuestion: {question}\nAnswer:"),
    ]


def quote_messages(context: str, question: str) -> list[Message]:
    """Retrieve-then-reason, step 1: copy the sentences that answer the question."""
    return [
        system("You copy sentences exactly from a text."),
        user(
            f"Text:\n{context}\n\nQuestion: {question}\n"
            "Copy the sentences from the text that help answer the question, word for word, "
            "one per line.\nSentences:"
        ),
    ]


def reason_messages(evidence: str, question: str) -> list[Message]:
    """Retrieve-then-reason, step 2: answer from verified evidence only."""
    return [
        system(SYSTEM),
        user(f"Evidence:\n{evidence}\n\nQuestion: {question}\nAnswer:"),
    ]


def call_llm(
    llm: LLM,
    trace: Trace,
    name: str,
    messages: list[Message],
    max_tokens: int,
    *,
    stop: Sequence[str] | None = None,
    on_text: Callable[[str], None] | None = None,
    detail: dict[str, Any] | None = None,
) -> Step:
    """Run one LLM call and record it in ``trace`` as a :class:`Step`.

    With ``on_text`` the answer is streamed: each piece is passed to it as it comes.
    """
    started = time.perf_counter()
    if on_text is None:
        done = llm.complete(messages, max_tokens=max_tokens, stop=stop)
        text, read, wrote = done.text, done.prompt_tokens, done.completion_tokens
    else:
        read = llm.count_messages(messages)
        pieces: list[str] = []
        for piece in llm.stream(messages, max_tokens=max_tokens, stop=stop):
            pieces.append(piece)
            on_text(piece)
        text = "".join(pieces).strip()
        wrote = llm.count_tokens(text)
    return trace.add(
        Step(
            name,
            prompt=list(messages),
            output=text,
            prompt_tokens=read,
            completion_tokens=wrote,
            seconds=time.perf_counter() - started,
            detail=detail or {},
        )
    )


def clean_answer(text: str) -> str:
    """The model's answer without an echoed prefix (``Answer:``) or surrounding blanks.

    Example:
        >>> clean_answer("Answer: Paris.")
        'Paris.'
    """
    text = text.strip()
    for prefix in ("Answer:", "answer:", "A:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    return text


def check_question(question: object) -> str:
    """The question, stripped, or :class:`~lcmem.errors.EmptyQueryError`."""
    from lcmem.errors import EmptyQueryError

    if not isinstance(question, str) or not question.strip():
        raise EmptyQueryError("the question is empty: ask something, e.g. lcmem ask 'what is X?'")
    return question.strip()


def require_positive(**values: int) -> None:
    """:class:`~lcmem.errors.ConfigError` for the first setting below 1.

    Example:
        >>> require_positive(k=8, max_tokens=0)
        Traceback (most recent call last):
        lcmem.errors.ConfigError: max_tokens must be at least 1, got 0
    """
    from lcmem.errors import ConfigError

    for label, value in values.items():
        if value < 1:
            raise ConfigError(f"{label} must be at least 1, got {value}")


def timed_step(trace: Trace, name: str, started: float, **detail: Any) -> Step:
    """Record a non-LLM step (retrieval, checks) that began at ``started``."""
    return trace.add(Step(name, seconds=time.perf_counter() - started, detail=detail))
