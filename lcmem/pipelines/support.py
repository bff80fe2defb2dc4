"""Supported or marked: check an answer against its citations, else show the best evidence.

A small model may answer beside its sources. After generation, each sentence of the answer is
checked against the cited text:

1. the quote verifier (:func:`~lcmem.pipelines.quotes.find_quote`: exact, normalised, or fuzzy
   at score 90) finds it in a cited passage holding every number it has; or
2. token overlap: at least :data:`SUPPORT_OVERLAP` of its content words (stemmed, stopwords
   and question words out: :func:`content`) occur in one cited passage, or in two together
   (a two-hop answer joins two facts), and every number in it occurs there too (a guessed
   code or year fails).

Sentences without a content word ("Yes.") are not checked. The answer is *supported* when it
has a checked sentence and every checked sentence is supported. Otherwise the answer shown is
the cited sentence sharing the most content words with the question, marked
``"From the sources: ..."`` (``origin="extractive"``); the model's text stays in
``Answer.model_text`` and the trace. Without any cited sentence sharing a word with the
question, the answer is :data:`~lcmem.pipelines.prompts.NO_ANSWER` (``origin="none"``).

Example:
    >>> from lcmem.types import Chunk, Hit
    >>> src = [Hit(Chunk("Logs rotate daily. The archive code of Konel is 55771.", 0, 54), 1.0)]
    >>> question = "What is the archive code of Konel?"
    >>> check_answer(question, "Konel's archive code is 55771.", src).origin
    'model'
    >>> check = check_answer(question, "It is 12345.", src)
    >>> check.origin, check.text
    ('extractive', 'From the sources: The archive code of Konel is 55771.')
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations, pairwise
from typing import TYPE_CHECKING, Any

from lcmem.pipelines.evidence import sentence_spans, terms
from lcmem.pipelines.prompts import NO_ANSWER
from lcmem.pipelines.quotes import find_quote

if TYPE_CHECKING:
    from lcmem.pipelines.base import Answer, Trace
    from lcmem.types import Hit

SUPPORT_OVERLAP = 0.75
"""Least share of an answer sentence's content words found in the cited text."""
EXTRACTIVE_PREFIX = "From the sources: "
"""How an extractive answer is marked."""
MIN_EVIDENCE_WORDS = 4
"""Shorter cited sentences (headings, labels) are not offered as the extractive answer."""

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
# Lines that stand alone (headings, list items, quotes, table rows, code fences, blanks).
_BLOCK = re.compile(r"\s*(?:$|[#>*|`+-]|\d+[.)]\s)")
_HEADER_ECHO = re.compile(r"^\s*\[\d+\][^\n]*:\d+(?:-\d+)?\s*$", re.MULTILINE)
_FUNCTION_WORDS = """how does do did what which who whom whose when where why can could would
should may might i you he she his her its we our my your has have had been being also"""


@dataclass
class SupportCheck:
    """The outcome of :func:`check_answer`.

    Attributes:
        text: what to show: the model's answer, or the marked evidence sentence.
        origin: ``"model"`` (supported), ``"extractive"`` or ``"none"`` (no evidence).
        sentences: per answer sentence: ``text``, ``supported`` and ``how`` (``quote``,
            ``overlap``, ``unchecked``) with the ``share`` of its words found.
        evidence: ``path:start-end`` of the sentence shown, when extractive.
    """

    text: str
    origin: str
    sentences: list[dict[str, Any]] = field(default_factory=list)
    evidence: str | None = None

    def detail(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "threshold": SUPPORT_OVERLAP,
            "sentences": self.sentences,
            "evidence": self.evidence,
        }


def content(text: str) -> set[str]:
    """Content words of ``text`` as BM25 sees them (stemmed, stopwords out), without
    question and function words ("how", "who", "has"...).

    Example:
        >>> sorted(content("Who runs the Naram observatory?"))
        ['naram', 'observatori', 'run']
    """
    return terms(text) - _function_words()


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    return frozenset(terms(_FUNCTION_WORDS))


def check_sentence(sentence: str, cited: Sequence[str]) -> dict[str, Any]:
    """Is ``sentence`` supported by the ``cited`` texts? (see the module's rules)

    Example:
        >>> check_sentence("Konel's code is 55771.", ["The code of Konel is 55771."])["how"]
        'overlap'
        >>> check_sentence("Konel's code is 55772.", ["The code of Konel is 55771."])["supported"]
        False
    """
    own = content(sentence)
    numbers = set(_NUMBER.findall(sentence))
    if not own and not numbers:
        return {"text": sentence, "supported": True, "how": "unchecked", "share": None}
    for text in cited:
        if numbers <= set(_NUMBER.findall(text)) and find_quote(sentence, text) is not None:
            return {"text": sentence, "supported": True, "how": "quote", "share": 1.0}
    bags = [(content(t), set(_NUMBER.findall(t))) for t in cited]
    groups = [[b] for b in bags] + [list(pair) for pair in combinations(bags, 2)]
    best = 0.0
    for group in groups:
        words = set().union(*(g[0] for g in group))
        found = set().union(*(g[1] for g in group))
        share = len(own & words) / len(own) if own else 1.0
        if numbers <= found:
            best = max(best, share)
    supported = best >= SUPPORT_OVERLAP
    return {"text": sentence, "supported": supported, "how": "overlap", "share": round(best, 2)}


def best_sentence(question: str, citations: Sequence[Hit]) -> tuple[str, str] | None:
    """The cited sentence sharing the most content words with the question (earlier
    citations first on ties), and its ``path:start-end``; ``None`` if none shares one.

    Example:
        >>> from lcmem.types import Chunk, Hit
        >>> text = "# Cache\\nFiles are hashed. Embeddings are cached by hash."
        >>> c = Chunk(text, 0, len(text), doc_path="a")
        >>> best_sentence("Are embeddings cached?", [Hit(c, 1.0)])
        ('Embeddings are cached by hash.', 'a:26-56')
    """
    asked = content(question)
    best: tuple[int, str, str] | None = None
    for hit in citations:
        text = hit.chunk.text
        for start, end in sentences_of(text):
            sentence = " ".join(text[start:end].split())
            if len(sentence.split()) < MIN_EVIDENCE_WORDS or sentence.startswith(("#", "`", "<")):
                continue
            shared = len(asked & content(sentence))
            if shared and (best is None or shared > best[0]):
                span = f"{hit.path}:{hit.chunk.start + start}-{hit.chunk.start + end}"
                best = (shared, sentence, span)
    return None if best is None else (best[1], best[2])


def sentences_of(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``; hard-wrapped lines join their paragraph.

    Example:
        >>> t = "# Cache\\nChunks seen\\nbefore reuse it. Fast.\\n- a list item"
        >>> [t[s:e] for s, e in sentences_of(t)]
        ['# Cache', 'Chunks seen\\nbefore reuse it.', 'Fast.', '- a list item']
    """
    lines = text.split("\n")
    joined = lines[0]
    for before, line in pairwise(lines):
        wrapped = not _BLOCK.match(before) and not _BLOCK.match(line)
        joined += (" " if wrapped else "\n") + line
    return sentence_spans(joined)  # same length as ``text``: the offsets hold there


def check_answer(question: str, answer: str, citations: Sequence[Hit]) -> SupportCheck:
    """Check ``answer`` against ``citations``; the text to show and where it comes from.

    Echoed passage headers (``[2] guide/incremental.md:5-10``) are references, not claims:
    they are not checked.
    """
    cited = [h.chunk.text for h in citations]
    claims = _HEADER_ECHO.sub("", answer)
    sentences = [
        check_sentence(" ".join(claims[s:e].split()), cited) for s, e in sentences_of(claims)
    ]
    checked = [s for s in sentences if s["how"] != "unchecked"]
    if checked and all(s["supported"] for s in checked):
        return SupportCheck(answer, "model", sentences)
    found = best_sentence(question, citations)
    if found is None:
        return SupportCheck(NO_ANSWER, "none", sentences)
    return SupportCheck(EXTRACTIVE_PREFIX + found[0], "extractive", sentences, found[1])


def supported_or_marked(answer: Answer, question: str, trace: Trace | None = None) -> Answer:
    """``answer`` checked against its citations: kept, or replaced by marked evidence.

    Sets ``answer.origin`` and ``answer.model_text`` and records a ``check support`` step.
    """
    from lcmem.pipelines.base import Step

    started = time.perf_counter()
    check = check_answer(question, answer.text, answer.citations)
    answer.model_text = answer.text
    answer.text, answer.origin = check.text, check.origin
    step = Step("check support", seconds=time.perf_counter() - started, detail=check.detail())
    (trace or answer.trace).add(step)
    return answer
