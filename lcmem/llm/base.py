"""The interface of LLM backends: chat messages in, text out, token counts in the model's units.

Every backend returns a :class:`Completion` from :meth:`LLM.complete`, which records the tokens
read and written and the time taken, so pipelines can keep budgets and traces honest.
:meth:`LLM.generate` is the short form that returns only the text.

Example:
    >>> class Echo(LLM):
    ...     name, context_window = "echo", 64
    ...     def complete(self, messages, max_tokens=256, stop=None, temperature=0.0, seed=None):
    ...         text = messages[-1]["content"][:max_tokens]
    ...         return Completion(text, self.count_messages(messages), len(text.split()), 0.0)
    ...     def count_tokens(self, text):
    ...         return len(text.split())
    >>> Echo().generate([user("hello there")])
    'hello there'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict

from lcmem.llm.repetition import GenerationSettings


class Message(TypedDict):
    """One chat turn: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""

    role: str
    content: str


def system(content: str) -> Message:
    """A system message."""
    return {"role": "system", "content": content}


def user(content: str) -> Message:
    """A user message."""
    return {"role": "user", "content": content}


def assistant(content: str) -> Message:
    """An assistant message."""
    return {"role": "assistant", "content": content}


@dataclass(frozen=True)
class Completion:
    """What one call produced.

    Attributes:
        text: the generated text (stop strings removed).
        prompt_tokens: tokens the model read, in its own tokenizer.
        completion_tokens: tokens the model wrote.
        seconds: wall time of the call.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class LLM(ABC):
    """A chat model.

    Attributes:
        name: identifies the model (a path, a package name or ``model@url``).
        context_window: the most tokens (prompt + answer) the model handles.
        generation: decoding guards against loops (penalties, the repeated-sentence stop);
            backends set the model's defaults (:func:`lcmem.llm.repetition.settings_for`).
    """

    name: str
    context_window: int
    generation: GenerationSettings = GenerationSettings()

    @abstractmethod
    def complete(
        self,
        messages: Sequence[Message],
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Completion:
        """Answer ``messages``; greedy when ``temperature`` is 0, ``seed`` fixes sampling."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's own tokenizer."""

    def generate(
        self,
        messages: Sequence[Message],
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> str:
        """Like :meth:`complete`, returning only the text."""
        return self.complete(messages, max_tokens, stop, temperature, seed).text

    def stream(
        self,
        messages: Sequence[Message],
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield the answer in pieces as it is produced (backends that cannot stream yield once)."""
        yield self.generate(messages, max_tokens, stop, temperature, seed)

    def count_messages(self, messages: Sequence[Message]) -> int:
        """Tokens of a whole chat prompt, including the template's markup.

        The default adds a small per-message overhead; backends with a chat template override it.
        """
        return sum(self.count_tokens(m["content"]) + 4 for m in messages) + 2


def trim_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """Cut ``text`` at the first stop string.

    Example:
        >>> trim_at_stop("Paris.\\nQuestion: next", ["\\nQuestion:"])
        'Paris.'
    """
    if not stop:
        return text
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:cut]
