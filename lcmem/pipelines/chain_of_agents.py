"""Chain-of-Agents: workers read the input segment by segment and pass notes along.

The input is split into segments that fit a worker's budget in the LLM's tokens (on paragraph,
line, sentence, then word boundaries; each segment is an exact span of its document). Worker
``i`` reads segment ``i``, the question and the notes of worker ``i - 1`` (the communication
unit) and writes the next notes; a manager answers from the last notes. Any input length works
and nothing is retrieved when documents are given.

With a library and no documents, the pipeline reads the documents that hold the question's
best ``k`` hits (``read_all=True`` reads every document of the library instead).

Citations are the segments that share the most content words with the answer (after leaving
out the question's words); if the answer shares none, the segments whose worker added facts
from its segment to the notes.

Example:
    >>> from lcmem.llm import load_llm                                    # doctest: +SKIP
    >>> coa = ChainOfAgentsPipeline(load_llm(), budget=1024)              # doctest: +SKIP
    >>> coa.ask("Who signed the treaty?", documents=[doc]).text           # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lcmem.errors import ConfigError
from lcmem.pipelines.base import Answer, Pipeline, Trace
from lcmem.pipelines.budget import DEFAULT_BUDGET_CAP, LLMTokenizer, context_budget
from lcmem.pipelines.prompts import (
    call_llm,
    check_question,
    clean_answer,
    manager_messages,
    timed_step,
    worker_messages,
)
from lcmem.pipelines.sources import (
    library_documents,
    line_starts,
    require_filled,
    require_source,
)
from lcmem.types import Chunk, Document, Hit

if TYPE_CHECKING:
    from lcmem.library import Library
    from lcmem.llm.base import LLM

_NOTES_SLACK = 8
"""Tokens kept beyond ``unit_tokens`` for the incoming notes (re-tokenising may add a few)."""


def segment_documents(documents: Sequence[Document], llm: Any, budget: int) -> list[Chunk]:
    """Split documents into segments of at most ``budget`` LLM tokens, in order.

    Splits on blank lines, lines, sentences, words (tokens as a last resort); every segment is
    an exact span (``doc.text[c.start:c.end] == c.text``) with ``doc_path`` and lines set, and
    together they cover all the non-blank text.

    Example:
        >>> class Words:
        ...     name = "words"
        ...     def count_tokens(self, text): return len(text.split())
        >>> doc = Document("one two three.\\n\\nfour five six.", path="n.txt")
        >>> [c.text for c in segment_documents([doc], Words(), budget=3)]
        ['one two three.', 'four five six.']
    """
    from lcmem.chunkers.text import RecursiveChunker

    chunker = RecursiveChunker(budget, 0, tokenizer=LLMTokenizer(llm))
    out: list[Chunk] = []
    for doc in documents:
        starts = line_starts(doc.text)
        for c in chunker.chunk(doc):
            c.doc_path = doc.path
            c.line_start = bisect.bisect_right(starts, c.start)
            c.line_end = bisect.bisect_right(starts, max(c.start, c.end - 1))
            out.append(c)
    return out


class ChainOfAgentsPipeline(Pipeline):
    """Workers read segments in turn and pass notes on; a manager answers from the last notes.

    Args:
        llm: the model (every worker and the manager).
        budget: segment size in LLM tokens; default what fits the window after the prompt,
            the notes in and out, capped at ``budget_cap``.
        max_tokens: most answer tokens (manager).
        unit_tokens: most tokens of a worker's notes (the communication unit).
        k: hits used to choose documents when reading a library.
        read_all: with a library, read every document instead of those holding the best hits.
        max_segments: refuse inputs that need more segments (``None``: no limit).
        budget_cap: the default budget's cap (2048: fast on CPU).
        on_text: called with each piece of the answer as it streams.
    """

    name = "coa"

    def __init__(
        self,
        llm: LLM,
        *,
        budget: int | None = None,
        max_tokens: int = 96,
        unit_tokens: int = 128,
        k: int = 8,
        read_all: bool = False,
        max_segments: int | None = None,
        budget_cap: int = DEFAULT_BUDGET_CAP,
        on_text: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(llm)
        for label, value in (("max_tokens", max_tokens), ("unit_tokens", unit_tokens), ("k", k)):
            if value < 1:
                raise ConfigError(f"{label} must be at least 1, got {value}")
        self.budget, self.max_tokens, self.unit_tokens = budget, max_tokens, unit_tokens
        self.k, self.read_all, self.max_segments = k, read_all, max_segments
        self.budget_cap = budget_cap
        self.on_text = on_text

    def ask(
        self,
        question: str,
        *,
        library: Library | None = None,
        documents: Sequence[Document] | None = None,
    ) -> Answer:
        """Answer ``question`` by reading ``documents`` (or the library's) segment by segment.

        Raises:
            EmptyQueryError: the question is empty.
            EmptyLibraryError: the library or documents hold no text.
            ConfigError: no source, a budget that does not fit, or more than ``max_segments``.
        """
        question = check_question(question)
        require_source(library, documents)
        trace = Trace()
        budget = context_budget(
            self.llm,
            worker_messages("", question, ""),
            self.unit_tokens,
            self.budget,
            self.budget_cap,
            reserve=self.unit_tokens + _NOTES_SLACK,
        )
        started = time.perf_counter()
        docs = list(documents) if documents is not None else self._library_docs(question, library)
        segments = segment_documents(docs, self.llm, budget)
        timed_step(
            trace,
            "segment",
            started,
            budget=budget,
            documents=[d.path for d in docs],
            segments=len(segments),
        )
        if self.max_segments is not None and len(segments) > self.max_segments:
            raise ConfigError(
                f"the input needs {len(segments)} segments of {budget} tokens, more than "
                f"max_segments={self.max_segments}: raise the budget or max_segments, or use "
                "the rag pipeline"
            )
        notes = ""
        added: list[bool] = []
        for i, seg in enumerate(segments, start=1):
            step = call_llm(
                self.llm,
                trace,
                f"worker {i}/{len(segments)}",
                worker_messages(seg.text, question, notes),
                self.unit_tokens,
                detail={"segment": f"{seg.doc_path}:{seg.start}-{seg.end}"},
            )
            new = _unique_lines(step.output)
            added.append(_adds_evidence(new, notes, seg.text, question))
            step.detail["added_evidence"] = added[-1]
            notes = new or notes
        step = call_llm(
            self.llm,
            trace,
            "manager",
            manager_messages(notes, question),
            self.max_tokens,
            on_text=self.on_text,
        )
        text = clean_answer(step.output)
        return Answer(text, _citations(text, question, segments, added), trace)

    def _library_docs(self, question: str, library: Library | None) -> list[Document]:
        assert library is not None
        require_filled(library)
        if self.read_all:
            return library_documents(library)
        paths: list[str] = []
        for hit in library.search(question, k=self.k):
            if hit.path not in paths:
                paths.append(hit.path)
        return library_documents(library, paths)


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from lcmem.indexers.analyzer import Analyzer

    return Analyzer()


def _terms(text: str) -> set[str]:
    """Content words of ``text``: lowercased, stemmed, without stopwords."""
    return set(_analyzer()(text))


def _unique_lines(text: str) -> str:
    """``text`` without blank or repeated lines (small models loop on their notes).

    Example:
        >>> _unique_lines("a\\n\\nb\\na")
        'a\\nb'
    """
    seen: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line and line not in seen:
            seen.append(line)
    return "\n".join(seen)


def _adds_evidence(notes: str, previous: str, segment: str, question: str) -> bool:
    """Did the worker put words of its segment into the notes that were not there before?"""
    new = _terms(notes) - _terms(previous) - _terms(question)
    return bool(new & _terms(segment))


def _citations(
    answer: str, question: str, segments: Sequence[Chunk], added: Sequence[bool], most: int = 3
) -> list[Hit]:
    """Segments sharing the most answer words (not question words); else evidence segments."""
    words = _terms(answer) - _terms(question)
    overlap = [len(words & _terms(s.text)) for s in segments]
    best = max(overlap, default=0)
    if best > 0:
        chosen = [i for i, n in enumerate(overlap) if n == best]
    else:
        chosen = [i for i, a in enumerate(added) if a]
    chosen = chosen[:most]
    return [
        Hit(segments[i], float(overlap[i]), rank=r, scores={"answer_overlap": overlap[i]})
        for r, i in enumerate(chosen, start=1)
    ]
