"""The memory pipeline: answer from an episodic workspace instead of raw passages.

Documents (given, or the library's) are observed into an
:class:`~lcmem.memory.EpisodicWorkspace` (each text once: observations are deduplicated). A
question of a known shape (where was X on T, who was at P on T, where is X now, when was X at P,
who met both A and B, how many times, timeline of X) is answered from the graph directly. Any
other question - or every question with ``mode="llm"`` - goes to the LLM with
:meth:`~lcmem.memory.EpisodicWorkspace.context_for`, a compact listing of the relevant events.
Citations are the source spans of the events used.

Example:
    >>> from lcmem.llm import load_llm                                   # doctest: +SKIP
    >>> from lcmem.types import Document                                 # doctest: +SKIP
    >>> p = MemoryPipeline(load_llm())                                   # doctest: +SKIP
    >>> doc = Document("On 2 May 2022, Ann Lee flew to Oslo.", path="diary.txt")  # doctest: +SKIP
    >>> p.ask("Where is Ann Lee now?", documents=[doc]).text            # doctest: +SKIP
    'Ann Lee was last at Oslo (since 2022-05-02).'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lcmem.errors import ConfigError
from lcmem.pipelines.base import Answer, Pipeline, Step, Trace
from lcmem.pipelines.prompts import check_question
from lcmem.types import Chunk, Hit

if TYPE_CHECKING:
    from lcmem.library import Library
    from lcmem.llm.base import LLM, Message
    from lcmem.memory import EpisodicWorkspace, Event
    from lcmem.types import Document

NOTHING = "The memory holds nothing about this question."
MODES = ("auto", "llm", "structured")

SYSTEM = (
    "You answer questions about people, places and dates from a memory of events. Use only "
    "the memory. Answer briefly with names, places or dates. If the memory does not contain "
    "the answer, answer: none."
)


def memory_messages(context: str, question: str, hint: str = "") -> list[Message]:
    """The chat prompt: the memory listing, an optional lookup result, then the question."""
    from lcmem.llm.base import system, user

    lookup = f"\nMemory lookup: {hint}\n" if hint else ""
    return [
        system(SYSTEM),
        user(f"Memory:\n{context}\n{lookup}\nQuestion: {question}\nAnswer:"),
    ]


class MemoryPipeline(Pipeline):
    """Answers from an episodic workspace (see the module doc).

    Args:
        llm: the model for questions the workspace cannot answer directly.
        workspace: the workspace to use; default one in the library's database (or in memory
            when only documents are given).
        mode: ``auto`` (structured answer when the question has a known shape, else the LLM
            over the memory context), ``llm`` (always the LLM over the context) or
            ``structured`` (never the LLM).
        hint: in ``llm`` mode, also show the LLM the structured lookup result.
        max_events: most events in the context.
        max_tokens: most answer tokens.
        operator: ``rules`` or ``llm``, for a workspace the pipeline creates.
        k: same as ``max_events`` (the name ``lcmem ask -k`` uses).
        budget: most context tokens (LLM's tokenizer); lines past it are left out.
        on_text: called with each piece of the answer as it is produced (the CLI sets it).
    """

    name = "memory"

    def __init__(
        self,
        llm: LLM,
        *,
        workspace: EpisodicWorkspace | None = None,
        mode: str = "auto",
        hint: bool = True,
        max_events: int = 12,
        max_tokens: int = 96,
        operator: str = "auto",
        k: int | None = None,
        budget: int | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(llm)
        if k is not None:
            max_events = k
        if max_events < 1 or max_tokens < 1 or (budget is not None and budget < 1):
            raise ConfigError("k/max_events, max_tokens and budget must be at least 1")
        self.budget = budget
        self.on_text = on_text
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.workspace = workspace
        self.mode, self.hint = mode, hint
        self.max_events, self.max_tokens = max_events, max_tokens
        self.operator = operator
        self._texts: dict[str, str] = {}

    def ask(
        self,
        question: str,
        *,
        library: Library | None = None,
        documents: Sequence[Document] | None = None,
    ) -> Answer:
        """Observe ``documents`` (and the library's documents), then answer ``question``.

        Raises:
            EmptyQueryError: the question is empty.
            ConfigError: no workspace, library or documents to answer from.
        """
        question = check_question(question)
        trace = Trace()
        ws = self._workspace(library, documents)
        started = time.perf_counter()
        observed = self._observe(ws, library, documents)
        trace.add(
            Step("observe", seconds=time.perf_counter() - started, detail={"events": observed})
        )
        started = time.perf_counter()
        result = ws.ask(question)
        trace.add(
            Step(
                "memory lookup",
                seconds=time.perf_counter() - started,
                detail={
                    "kind": result.kind if result else None,
                    "answers": result.answers if result else [],
                    "notes": result.notes if result else [],
                },
            )
        )
        if result is not None and (
            self.mode == "structured" or (self.mode == "auto" and result.resolved)
        ):
            if self.on_text is not None:
                self.on_text(result.text)
            return Answer(result.text, self._citations(result.events), trace)
        started = time.perf_counter()
        context = ws.context_for(question, self.max_events)
        events = ws.evidence_for(question, self.max_events)
        trace.add(
            Step(
                "context",
                seconds=time.perf_counter() - started,
                detail={"events": len(events), "chars": len(context)},
            )
        )
        if not context or self.mode == "structured":
            return Answer(NOTHING, [], trace)
        hint = result.text if (result is not None and result.resolved and self.hint) else ""
        context = self._fit(context)
        messages = memory_messages(context, question, hint)
        if self.on_text is not None:
            started = time.perf_counter()
            pieces = []
            for piece in self.llm.stream(messages, max_tokens=self.max_tokens):
                pieces.append(piece)
                self.on_text(piece)
            text = "".join(pieces)
            prompt_tokens = self.llm.count_messages(messages)
            completion_tokens = self.llm.count_tokens(text)
            seconds = time.perf_counter() - started
        else:
            done = self.llm.complete(messages, max_tokens=self.max_tokens)
            text, prompt_tokens = done.text, done.prompt_tokens
            completion_tokens, seconds = done.completion_tokens, done.seconds
        trace.add(
            Step(
                "answer",
                prompt=messages,
                output=text,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                seconds=seconds,
            )
        )
        cited = result.events if result is not None and result.events else events
        return Answer(text.strip(), self._citations(cited), trace)

    def _fit(self, context: str) -> str:
        """The context cut to ``budget`` tokens, whole lines only."""
        if self.budget is None:
            return context
        kept: list[str] = []
        used = 0
        for line in context.splitlines():
            n = self.llm.count_tokens(line) + 1
            if used + n > self.budget:
                break
            kept.append(line)
            used += n
        return "\n".join(kept)

    # -- helpers --------------------------------------------------------------------------
    def _workspace(
        self, library: Library | None, documents: Sequence[Document] | None
    ) -> EpisodicWorkspace:
        if self.workspace is None:
            from lcmem.memory import EpisodicWorkspace

            if library is None and not documents:
                raise ConfigError(
                    "the memory pipeline needs a library, documents or a workspace to answer from"
                )
            self.workspace = EpisodicWorkspace(library, operator=self.operator, llm=self.llm)
        return self.workspace

    def _observe(
        self,
        ws: EpisodicWorkspace,
        library: Library | None,
        documents: Sequence[Document] | None,
    ) -> int:
        added = 0
        for doc in documents or []:
            self._texts[doc.path] = doc.text
            added += len(ws.observe(doc.text, source=doc.path).events)
        if library is not None:
            for path in library.documents():
                if path in self._texts:
                    continue
                text = library.document_text(path)
                self._texts[path] = text
                added += len(ws.observe(text, source=path).events)
        return added

    def _citations(self, events: Sequence[Event], limit: int = 10) -> list[Hit]:
        hits: list[Hit] = []
        for ev in events[:limit]:
            if ev.source is None:
                continue
            src = ev.source
            text = self._texts.get(src.path)
            chunk_text = text[src.start : src.end] if text is not None else ev.text
            chunk = Chunk(
                text=chunk_text,
                start=src.start,
                end=src.end,
                context=f"{ev.day or 'undated'} {ev.action}",
                doc_path=src.path,
                line_start=_line(text, src.start) if text is not None else None,
                line_end=_line(text, max(src.start, src.end - 1)) if text is not None else None,
                metadata={"event": ev.id},
            )
            hits.append(Hit(chunk=chunk, score=1.0, rank=len(hits) + 1))
        return hits


def _line(text: str, offset: int) -> int:
    """1-based line of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1
