"""Chain-of-Agents: workers read the input segment by segment and pass evidence along.

The input is split into segments that fit a worker's budget in the LLM's tokens (on paragraph,
line, sentence, then word boundaries; each segment is an exact span of its document). Worker
``i`` reads segment ``i``, the question and the communication unit of worker ``i - 1`` and
writes the next unit; a manager answers from the last unit. Any input length works and nothing
is retrieved when documents are given.

The unit is *verified evidence*, so that a small model cannot lose a fact on the way: each
worker copies the sentences of its segment that help answer the question (or that name
someone or something already in the evidence: the bridge of a two-hop question), or writes
``NONE``. Every copied line is checked against the segment (:mod:`lcmem.pipelines.quotes`);
a paraphrase is replaced by the segment sentence it points at
(:func:`~lcmem.pipelines.evidence.closest_sentence`); lines that only restate the question
or repeat the evidence so far are skipped; anything else is dropped. The next unit
is the previous evidence plus the new, trimmed to ``unit_tokens`` by
:func:`~lcmem.pipelines.evidence.keep_within` (lines chained to the question's names first,
then the lines sharing most words with the question), in chain order. So the unit only ever
holds exact text of the input, and a worker that copies nothing or junk cannot erase what
earlier workers found. Each worker's trace step shows what it wrote, what was verified,
matched, dropped, kept and left out.

The manager reads the last unit; with ``focus_chain`` (default) only its lines chained to the
question's names when there are some (:func:`~lcmem.pipelines.evidence.focus`: a small model
answers a two-hop question far better from the two linked facts alone than among look-alike
facts). Citations are the evidence the manager answered from.

With a library and no documents, the pipeline reads the documents that hold the question's
best ``k`` hits (``read_all=True`` reads every document of the library instead).

Example:
    >>> from lcmem.llm import load_llm                                    # doctest: +SKIP
    >>> coa = ChainOfAgentsPipeline(load_llm(), budget=1024)              # doctest: +SKIP
    >>> coa.ask("Who signed the treaty?", documents=[doc]).text           # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lcmem.errors import ConfigError
from lcmem.pipelines.base import Answer, Pipeline, Trace
from lcmem.pipelines.budget import DEFAULT_BUDGET_CAP, LLMTokenizer, context_budget
from lcmem.pipelines.evidence import closest_sentence, echoes, focus, keep_within, overlaps
from lcmem.pipelines.prompts import (
    NO_ANSWER,
    NONE,
    call_llm,
    check_question,
    clean_answer,
    manager_messages,
    require_positive,
    timed_step,
    worker_messages,
)
from lcmem.pipelines.quotes import split_quotes, verify_quotes
from lcmem.pipelines.sources import (
    library_documents,
    line_starts,
    require_filled,
    require_source,
)
from lcmem.pipelines.support import supported_or_marked
from lcmem.types import Chunk, Document, Hit

if TYPE_CHECKING:
    from lcmem.library import Library
    from lcmem.llm.base import LLM

WORKER_STOP = ("\nQuestion:", "\n\n\n")
"""Where a worker's output ends: small models go on to invent the next question, or loop."""
_UNIT_SLACK = 8
"""Tokens kept beyond ``unit_tokens`` for the incoming unit (re-tokenising may add a few)."""


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
    """Workers read segments in turn and pass verified evidence on; a manager answers from it.

    Args:
        llm: the model (every worker and the manager).
        budget: segment size in LLM tokens; default what fits the window after the prompt,
            the unit in and the worker's output, capped at ``budget_cap``.
        max_tokens: most answer tokens (manager).
        unit_tokens: most tokens of the evidence passed from worker to worker (the
            communication unit) and read by the manager.
        worker_tokens: most tokens a worker writes.
        focus_chain: the manager reads only the unit's lines chained to the question's names,
            when there are some.
        k: hits used to choose documents when reading a library.
        read_all: with a library, read every document instead of those holding the best hits.
        max_segments: refuse inputs that need more segments (``None``: no limit).
        budget_cap: the default budget's cap (2048: fast on CPU).
        on_text: called with each piece of the answer as it streams.
        check_support: check the answer against the evidence and show the best evidence
            sentence, marked, when it is not supported (:mod:`lcmem.pipelines.support`).
    """

    name = "coa"

    def __init__(
        self,
        llm: LLM,
        *,
        budget: int | None = None,
        max_tokens: int = 96,
        unit_tokens: int = 160,
        worker_tokens: int = 64,
        focus_chain: bool = True,
        k: int = 8,
        read_all: bool = False,
        max_segments: int | None = None,
        budget_cap: int = DEFAULT_BUDGET_CAP,
        on_text: Callable[[str], None] | None = None,
        check_support: bool = True,
    ) -> None:
        super().__init__(llm)
        require_positive(
            max_tokens=max_tokens, unit_tokens=unit_tokens, worker_tokens=worker_tokens, k=k
        )
        self.budget, self.max_tokens, self.unit_tokens = budget, max_tokens, unit_tokens
        self.worker_tokens, self.focus_chain = worker_tokens, focus_chain
        self.k, self.read_all, self.max_segments = k, read_all, max_segments
        self.budget_cap = budget_cap
        self.on_text, self.check_support = on_text, check_support

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
            self.worker_tokens,
            self.budget,
            self.budget_cap,
            reserve=self.unit_tokens + _UNIT_SLACK,
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
        unit: list[Hit] = []
        for i, seg in enumerate(segments, start=1):
            step = call_llm(
                self.llm,
                trace,
                f"worker {i}/{len(segments)}",
                worker_messages(seg.text, question, unit_text(unit)),
                self.worker_tokens,
                stop=WORKER_STOP,
                detail={"segment": _span(seg)},
            )
            unit = self._next_unit(question, unit, seg, step.output, step.detail)
        if not unit:
            timed_step(trace, "manager skipped", time.perf_counter(), reason="no evidence")
            return Answer(NO_ANSWER, [], trace)
        evidence, aside = focus(question, unit) if self.focus_chain else (unit, [])
        step = call_llm(
            self.llm,
            trace,
            "manager",
            manager_messages(unit_text(evidence), question),
            self.max_tokens,
            on_text=self.on_text,
            detail={"set_aside": [_span(h.chunk) for h in aside]},
        )
        for rank, hit in enumerate(evidence, start=1):
            hit.rank = rank
        answer = Answer(clean_answer(step.output), evidence, trace)
        return supported_or_marked(answer, question) if self.check_support else answer

    def _next_unit(
        self, question: str, unit: list[Hit], segment: Chunk, output: str, detail: dict[str, Any]
    ) -> list[Hit]:
        """The unit after a worker: ``unit`` plus the verified lines of ``output``, trimmed.

        Records in ``detail`` what was verified, matched, dropped, kept and left out."""
        lines = [q for q in split_quotes(output) if q.strip(" .").upper() != NONE]
        quotes = [q for q in lines if not echoes(q, question)]
        check = verify_quotes(quotes, [segment])
        new = list(check.verified)
        matched, dropped = [], []
        repeated = []
        for quote in check.dropped:
            if verify_quotes([quote], [h.chunk for h in unit]).verified:
                repeated.append(quote)  # the evidence so far, copied again: already kept
                continue
            sentence = closest_sentence(quote, segment)
            if sentence is None:
                dropped.append(quote)
                continue
            sentence.metadata = {"quote": quote, "method": "sentence", "score": 0.0}
            new.append(Hit(sentence, 0.0))
            matched.append({"quote": quote, "source": sentence.text, "span": _span(sentence)})
        fresh = [h for h in new if not any(overlaps(h.chunk, e.chunk) for e in unit)]
        fresh = [
            h for j, h in enumerate(fresh) if not any(overlaps(h.chunk, g.chunk) for g in fresh[:j])
        ]
        kept, left_out = keep_within(
            question, [*unit, *fresh], self.unit_tokens, self.llm.count_tokens, _evidence_line
        )
        detail.update(
            echoes=[q for q in lines if echoes(q, question)],
            verified=[
                {
                    "quote": h.chunk.metadata.get("quote"),
                    "source": h.chunk.text,
                    "span": _span(h.chunk),
                }
                for h in check.verified
            ],
            matched=matched,
            repeated=repeated,
            dropped=dropped,
            added=[_span(h.chunk) for h in fresh if h in kept],
            left_out=[_span(h.chunk) for h in left_out],
            unit=[_span(h.chunk) for h in kept],
        )
        return kept

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


def _evidence_line(hit: Hit) -> str:
    return f"- {hit.chunk.text.strip()}"


def unit_text(unit: Sequence[Hit]) -> str:
    """The unit as a worker and the manager read it: one ``- text`` line per evidence span.

    Example:
        >>> unit_text([Hit(Chunk("The code is 5.", 0, 14), 1.0)])
        '- The code is 5.'
    """
    return "\n".join(_evidence_line(h) for h in unit)


def _span(chunk: Chunk) -> str:
    return f"{chunk.doc_path}:{chunk.start}-{chunk.end}"
