"""Supported or marked: check an answer against its citations, else show the best evidence.

A small model may answer beside its sources. After generation, each sentence of the answer is
checked against the cited text:

1. the quote verifier (:func:`~lcmem.pipelines.quotes.find_quote`: exact, normalised, or fuzzy
   at score 90) finds it in a cited passage holding every number it claims, and the text
   found holds every word it claims; or
2. token overlap: at least :data:`SUPPORT_OVERLAP` of its claimed words occur in one cited
   passage, or in two together (a two-hop answer joins two facts), and every number it
   claims occurs there too (a guessed code or year fails).

A sentence *claims* its content words (stemmed, stopwords and question words out:
:func:`content`) and numbers that the question does not already say: "The office of the
person who leads project Mihevox is in Madurai." claims only ``madurai`` when asked "In which
city is the office of the person who leads project Mihevox?". The question's words are given,
not evidence: counted, they failed right two-hop answers that restate the question in their
own words ("leads" for the fact's "led"), and passed wrong ones that only restate it ("The
captain of the ship Nokor born in the city of Nokor."). Sentences that claim nothing ("Yes.",
the question again) are not checked. A claim that repeats the question's names must be about
them: a cited sentence holding a claimed word names them too, alone or with the sentence it
bridges to (:func:`linked`).

The answer is *supported* when it has a checked sentence and every checked sentence is
supported. Otherwise the answer shown is the cited sentence sharing the most content words
with the question (followed by the sentence it leads to, for a two-hop question:
:func:`next_hop`), marked ``"From the sources: ..."`` (``origin="extractive"``); the model's
text stays in ``Answer.model_text`` and the trace. Without any cited sentence sharing a word
with the question, the answer is :data:`~lcmem.pipelines.prompts.NO_ANSWER`
(``origin="none"``).

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

from lcmem.pipelines.evidence import mentions, names, sentence_spans, terms
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
# An echoed passage header: "[2] guide/a.md:5-10", or the bare path "doc-3.txt:145".
_HEADER_ECHO = re.compile(r"^\s*(?:\[\d+\][^\n]*|\S*[./]\S*):\d+(?:-\d+)?\s*$", re.MULTILINE)
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
    question and function words ("how", "who", "has"...) and one-letter tokens.

    Example:
        >>> sorted(content("Who runs the Naram observatory?"))
        ['naram', 'observatori', 'run']
    """
    # One-letter tokens ("s" of "Konel's", list letters) say nothing; numbers are checked apart.
    return {t for t in terms(text) if len(t) > 1} - _function_words()


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    return frozenset(terms(_FUNCTION_WORDS))


def check_sentence(sentence: str, cited: Sequence[str], question: str = "") -> dict[str, Any]:
    """Is ``sentence`` supported by the ``cited`` texts? (see the module's rules)

    Words and numbers of ``question`` are not claims: a sentence made only of them is
    ``unchecked``.

    Example:
        >>> check_sentence("Konel's code is 55771.", ["The code of Konel is 55771."])["how"]
        'overlap'
        >>> check_sentence("Konel's code is 55772.", ["The code of Konel is 55771."])["supported"]
        False
        >>> check_sentence("Konel's code is Konel's.", ["Logs rotate."], "Konel's code?")["how"]
        'unchecked'
    """
    own = content(sentence) - content(question)
    numbers = set(_NUMBER.findall(sentence)) - set(_NUMBER.findall(question))
    if not own and not numbers:
        return {"text": sentence, "supported": True, "how": "unchecked", "share": None}
    asked = [n for n in names(question) if mentions(sentence, n)]
    about: list[bool] = []  # is the claim about the question's names? (linked, computed once)

    def is_about() -> bool:
        if not about:
            about.append(not asked or linked(own | numbers, asked, cited))
        return about[0]

    for text in cited:
        if not numbers <= set(_NUMBER.findall(text)):
            continue
        found = find_quote(sentence, text)
        # a fuzzy match may differ in the one word that matters ("named Banadrart" for
        # "named Trodrodal"): what the sentence claims must be in the matched text; and, as
        # for overlap, the claim must be about the question's names: a fuzzy quote may differ
        # in the name alone ("project Tedon is 72908." for a decoy's "project Gusor is 72908.")
        if found is not None and own <= content(text[found.start : found.end]):
            if not is_about():
                break  # no other text can pass: the rule does not depend on it
            return {"text": sentence, "supported": True, "how": "quote", "share": 1.0}
    bags = [(content(t), set(_NUMBER.findall(t))) for t in cited]
    groups = [[b] for b in bags] + [list(pair) for pair in combinations(bags, 2)]
    best = 0.0
    for group in groups:
        words = set().union(*(g[0] for g in group))
        held = set().union(*(g[1] for g in group))
        share = len(own & words) / len(own) if own else 1.0
        if numbers <= held:
            best = max(best, share)
    supported = best >= SUPPORT_OVERLAP
    row = {"text": sentence, "supported": supported, "how": "overlap", "share": round(best, 2)}
    if supported and not is_about():
        row.update(supported=False, how="unlinked")
    return row


def linked(claimed: set[str], asked: Sequence[str], cited: Sequence[str]) -> bool:
    """Is a claim about the question's names? Some cited sentence holding a claimed word or
    number mentions every one of ``asked``, by itself or with one sentence it shares a name
    with (the bridge of a two-hop answer).

    A right answer's word next to another subject is not support for this one: "expedition
    Vetravox's vessel is named Banadrart" is not backed by "The research vessel of expedition
    Kemafund is named Banadrart." cited beside Vetravox's own fact.

    Example:
        >>> facts = ["Mihevox was led by Ana Lo.", "The office of Ana Lo is in Madurai.",
        ...          "The office of Ivo Pe is in Tunis."]
        >>> linked({"madurai"}, ["Mihevox"], facts), linked({"tuni"}, ["Mihevox"], facts)
        (True, False)
    """
    units = [" ".join(t[a:b].split()) for t in cited for a, b in sentences_of(t)]
    for unit in units:
        if not claimed & (content(unit) | set(_NUMBER.findall(unit))):
            continue
        if all(mentions(unit, n) for n in asked):
            return True
        for other in units:
            bridge = any(mentions(other, n) for n in names(unit))
            if bridge and all(mentions(unit, n) or mentions(other, n) for n in asked):
                return True
    return False


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
    for sentence, span in evidence_sentences(citations):
        shared = len(asked & content(sentence))
        if shared and (best is None or shared > best[0]):
            best = (shared, sentence, span)
    return None if best is None else (best[1], best[2])


def next_hop(question: str, first: str, citations: Sequence[Hit]) -> tuple[str, str] | None:
    """The cited sentence that continues ``first`` towards the question: it names a name that
    ``first`` introduces (not at its start, not in the question) and shares the most question
    words that ``first`` lacks. For a two-hop question the bridge fact is the best sentence and
    this is the answer fact. ``None`` when no sentence does.

    Example:
        >>> from lcmem.types import Chunk, Hit
        >>> t = "Mihevox was led by Ana Lo. The office of Ana Lo is in Madurai. Ana Lo is tall."
        >>> cited = [Hit(Chunk(t, 0, len(t), doc_path="a"), 1.0)]
        >>> q = "In which city is the office of the person who led Mihevox?"
        >>> next_hop(q, "Mihevox was led by Ana Lo.", cited)
        ('The office of Ana Lo is in Madurai.', 'a:27-62')
    """
    new = [n for n in names(first) if not first.startswith(n) and not mentions(question, n)]
    if not new:
        return None
    wanted = content(question) - content(first)
    best: tuple[int, str, str] | None = None
    for sentence, span in evidence_sentences(citations):
        if sentence == first or not any(mentions(sentence, n) for n in new):
            continue
        shared = len(wanted & content(sentence))
        if shared and (best is None or shared > best[0]):
            best = (shared, sentence, span)
    return None if best is None else (best[1], best[2])


def evidence_sentences(citations: Sequence[Hit]) -> list[tuple[str, str]]:
    """The cited sentences that may be shown as an answer, with their ``path:start-end``
    (headings, code and sentences under :data:`MIN_EVIDENCE_WORDS` words left out)."""
    out: list[tuple[str, str]] = []
    for hit in citations:
        text = hit.chunk.text
        for start, end in sentences_of(text):
            sentence = " ".join(text[start:end].split())
            if len(sentence.split()) < MIN_EVIDENCE_WORDS or sentence.startswith(("#", "`", "<")):
                continue
            out.append((sentence, f"{hit.path}:{hit.chunk.start + start}-{hit.chunk.start + end}"))
    return out


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

    Echoed passage headers (``[2] guide/incremental.md:5-10``, or a bare
    ``notes.txt:145`` line) are references, not claims: they are not checked.
    """
    cited = [h.chunk.text for h in citations]
    claims = _HEADER_ECHO.sub("", answer)
    sentences = [
        check_sentence(" ".join(claims[s:e].split()), cited, question)
        for s, e in sentences_of(claims)
    ]
    checked = [s for s in sentences if s["how"] != "unchecked"]
    if checked and all(s["supported"] for s in checked):
        return SupportCheck(answer, "model", sentences)
    found = best_sentence(question, citations)
    if found is None:
        return SupportCheck(NO_ANSWER, "none", sentences)
    text, span = found
    hop = next_hop(question, text, citations)
    if hop is not None:  # a two-hop question: its bridge fact, then the fact it leads to
        text, span = f"{text} {hop[0]}", f"{span}, {hop[1]}"
    return SupportCheck(EXTRACTIVE_PREFIX + text, "extractive", sentences, span)


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


def supporting(sentence: str, cited: Sequence[str], question: str = "") -> list[int] | None:
    """Which of the ``cited`` texts support ``sentence`` (:func:`check_sentence`'s rules): the
    index of one text, or of two together; ``[]`` when the sentence claims nothing, ``None``
    when no text or pair supports it.

    Example:
        >>> cited = ["Logs rotate.", "Mihevox was led by Ana Lo.", "Ana Lo's office is in Madurai."]
        >>> q = "Where is the office of Mihevox's leader?"
        >>> supporting("Mihevox's leader has an office in Madurai.", cited, q)
        [1, 2]
        >>> supporting("It is in Madurai.", cited, q), supporting("It is in Tunis.", cited, q)
        ([2], None)
    """
    own = content(sentence) - content(question)
    numbers = set(_NUMBER.findall(sentence)) - set(_NUMBER.findall(question))
    if not own and not numbers:
        return []
    bags = [(content(t), set(_NUMBER.findall(t))) for t in cited]
    singles = [(i,) for i, (words, _) in enumerate(bags) if own & words or not own]
    # a pair: a text holding a claimed word and any other (the bridge of a two-hop answer)
    pairs = [(i, j) if i < j else (j, i) for (i,) in singles for j in range(len(cited)) if j != i]
    pairs = list(dict.fromkeys(pairs))
    scored = []
    for group in [*singles, *pairs]:
        words = set().union(*(bags[i][0] for i in group))
        held = set().union(*(bags[i][1] for i in group))
        share = len(own & words) / len(own) if own else 1.0
        if numbers <= held and share >= SUPPORT_OVERLAP:
            scored.append((-share, len(group), group))
    quoted = [
        (i,) for (i,) in singles if check_sentence(sentence, [cited[i]], question)["how"] == "quote"
    ]
    for group in quoted + [g for *_, g in sorted(scored)]:
        if check_sentence(sentence, [cited[i] for i in group], question)["supported"]:
            return list(group)
    return None


def cite_supporting(
    question: str, answer: str, candidates: Sequence[Hit], limit: int
) -> tuple[list[Hit], dict[str, Any]]:
    """The citations of ``answer`` among ``candidates`` (the passages the model read, best
    first): the ones its sentences rest on (:func:`supporting`); when it is not supported, the
    ones holding the evidence that :func:`check_answer` would show; then the best candidates,
    up to ``limit`` (more when the answer rests on more). Returns them, re-ranked, and how they
    were chosen (``supported``, ``evidence`` or ``first``).

    A reader that attends to many passages (the ``kv`` pipeline) cites what its answer rests
    on, not what it attended to most, so a right answer is shown as supported and a wrong one
    falls back to the best evidence among everything it read.

    Example:
        >>> from lcmem.types import Chunk, Hit
        >>> texts = ["Logs rotate daily.", "Mihevox was led by Ana Lo.", "Ana Lo is in Madurai."]
        >>> hits = [Hit(Chunk(t, 0, len(t), doc_path=f"p{i}"), 1.0) for i, t in enumerate(texts)]
        >>> q = "In which city is the person who led Mihevox?"
        >>> cited, how = cite_supporting(q, "The person who led Mihevox is in Madurai.", hits, 1)
        >>> [h.path for h in cited], how["chosen"]
        (['p1', 'p2'], 'supported')
        >>> cited, how = cite_supporting(q, "It is in Tunis.", hits, 2)
        >>> [h.path for h in cited], how["chosen"]
        (['p1', 'p0'], 'evidence')
    """
    from dataclasses import replace

    texts = [h.chunk.text for h in candidates]
    claims = _HEADER_ECHO.sub("", answer)
    chosen: list[int] = []
    how = "supported"
    checked = 0
    for s, e in sentences_of(claims):
        found = supporting(" ".join(claims[s:e].split()), texts, question)
        if found is None:
            how = "evidence"
            break
        checked += bool(found)
        chosen += [i for i in found if i not in chosen]
    if how == "supported" and not checked:
        how = "evidence"  # nothing checked: the answer is not supported, as check_answer says
    if how == "supported":  # also cite the question's own fact (a two-hop answer's bridge)
        first = best_sentence(question, candidates)
        at = None if first is None else _holding(first[0], candidates)
        if at is not None and at not in chosen:
            chosen.append(at)
    if how == "evidence":
        chosen = []
        first = best_sentence(question, candidates)
        if first is not None:
            hop = next_hop(question, first[0], candidates)
            for sentence in [first[0]] + ([hop[0]] if hop else []):
                at = _holding(sentence, candidates)
                if at is not None and at not in chosen:
                    chosen.append(at)
        if not chosen:
            how = "first"
    for i in range(len(candidates)):
        if len(chosen) >= limit:
            break
        if i not in chosen:
            chosen.append(i)
    cited = [replace(candidates[i], rank=rank + 1) for rank, i in enumerate(chosen)]
    spans = [f"{h.path}:{h.chunk.start}-{h.chunk.end}" for h in cited]
    return cited, {"chosen": how, "from": len(candidates), "cited": spans}


def _holding(sentence: str, candidates: Sequence[Hit]) -> int | None:
    """Index of the first candidate among whose evidence sentences ``sentence`` is."""
    for i, hit in enumerate(candidates):
        if any(s == sentence for s, _ in evidence_sentences([hit])):
            return i
    return None
