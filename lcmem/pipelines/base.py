"""What every pipeline returns and how pipelines are found by name.

A pipeline answers a question from a library (retrieval), from documents given directly, or
both, and returns an :class:`Answer`: the text, the chunk spans it cites, and a :class:`Trace`
of every LLM call (prompt, output, tokens, seconds) and of other steps (retrieval, checks).

Example:
    >>> trace = Trace()
    >>> _ = trace.add(Step("retrieve", detail={"hits": 3}, seconds=0.01))
    >>> _ = trace.add(Step("answer", prompt=[{"role": "user", "content": "q"}], output="a",
    ...                    prompt_tokens=120, completion_tokens=8, seconds=0.5))
    >>> trace.prompt_tokens, trace.completion_tokens, trace.llm_calls
    (120, 8, 1)
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lcmem.errors import ConfigError

if TYPE_CHECKING:
    from lcmem.library import Library
    from lcmem.llm.base import LLM, Message
    from lcmem.types import Document, Hit


@dataclass
class Step:
    """One step of a pipeline run.

    Attributes:
        name: what the step did (``"retrieve"``, ``"worker 3"``, ``"verify quotes"``...).
        prompt: the chat messages sent, for an LLM call; ``None`` otherwise.
        output: what the LLM wrote, for an LLM call.
        prompt_tokens, completion_tokens: tokens read and written (model's tokenizer).
        seconds: wall time of the step.
        detail: anything else worth showing (hits found, quotes verified and dropped...).
    """

    name: str
    prompt: list[Message] | None = None
    output: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trace:
    """Every step of a run, with totals."""

    steps: list[Step] = field(default_factory=list)

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    @property
    def prompt_tokens(self) -> int:
        return sum(s.prompt_tokens for s in self.steps)

    @property
    def completion_tokens(self) -> int:
        return sum(s.completion_tokens for s in self.steps)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def llm_calls(self) -> int:
        return sum(1 for s in self.steps if s.prompt is not None)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": [asdict(s) for s in self.steps],
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "llm_calls": self.llm_calls,
            "seconds": self.seconds,
        }


@dataclass
class Answer:
    """A pipeline's answer.

    Attributes:
        text: the answer to show.
        citations: the chunk spans the answer rests on (``hit.span`` gives path and offsets).
        trace: every step taken, with prompts and token counts.
        origin: ``"model"``: the model's answer (supported by the citations when checked);
            ``"extractive"``: the model's answer was not supported, ``text`` is the best cited
            sentence marked ``"From the sources: ..."``; ``"none"``: nothing to show but
            "not found" (see :mod:`lcmem.pipelines.support`).
        model_text: what the model wrote, when the support check ran.
    """

    text: str
    citations: list[Hit] = field(default_factory=list)
    trace: Trace = field(default_factory=Trace)
    origin: str = "model"
    model_text: str = ""


class Pipeline(ABC):
    """Answers questions with an LLM, over a library, given documents, or both.

    Subclasses set ``name`` and implement :meth:`ask`. Budgets are counted in the LLM's tokens.
    """

    name: str = ""

    def __init__(self, llm: LLM) -> None:
        self.llm = llm

    @abstractmethod
    def ask(
        self,
        question: str,
        *,
        library: Library | None = None,
        documents: Sequence[Document] | None = None,
    ) -> Answer:
        """Answer ``question`` from ``library`` (searched) and/or ``documents`` (read directly).

        Raises:
            EmptyQueryError: the question is empty.
            ConfigError: the pipeline needs a source it was not given.
        """


PIPELINES: dict[str, str] = {
    "rag": "lcmem.pipelines.rag:RAGPipeline",
    "coa": "lcmem.pipelines.chain_of_agents:ChainOfAgentsPipeline",
    "rtr": "lcmem.pipelines.retrieve_then_reason:RetrieveThenReasonPipeline",
    "kv": "lcmem.pipelines.kv_rag:KVPipeline",
    "memory": "lcmem.pipelines.memory:MemoryPipeline",
}
"""Pipeline name -> ``module:class``, imported only when asked for."""


def get_pipeline(name: str, llm: LLM, **options: Any) -> Pipeline:
    """The pipeline called ``name``, built around ``llm``.

    Raises:
        ConfigError: no pipeline has that name.
    """
    target = PIPELINES.get(name)
    if target is None:
        raise ConfigError(
            f"unknown pipeline {name!r}: choose one of {', '.join(sorted(PIPELINES))}"
        )
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(llm, **options)
