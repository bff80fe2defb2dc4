"""Evidence spans for a small model: match paraphrases to source sentences, link facts into a
chain by the names they share, and keep the best evidence within a token budget.

Used by Chain-of-Agents (the evidence carried from worker to worker) and retrieve-then-reason
(the evidence of the reasoning step). Everything here works on exact source spans (chunks), so
what a model reads as evidence always occurs in the source.

- :func:`closest_sentence`: the sentence of a passage a paraphrased quote points at (most
  shared content words), or ``None`` when no sentence shares enough;
- :func:`echoes`: a line that only restates the question (not evidence);
- :func:`chain_order`: evidence about the question's names first, then evidence about the
  names those lines introduce (the bridge of a two-hop question), then the rest;
- :func:`keep_within`: the evidence to carry on: chained lines first, then the lines sharing
  the most words with the question, as many as fit a token budget, in chain order;
- :func:`focus`: only the chained evidence when there is some (what the answer step reads);
- :func:`bridge_names`, :func:`sentences_naming`: the names a chain introduces, and the
  sentences of a passage that name them (a second retrieval hop).

Example:
    >>> lines = ["The badge number of Lena Voss is 18383.",
    ...          "The Naram observatory is run by Lena Voss.",
    ...          "The badge number of Ivo Stam is 55555."]
    >>> question = "What is the badge number of the person who runs the Naram observatory?"
    >>> order, chained = chain_order(question, lines)
    >>> [lines[i] for i in order][:2]
    ['The Naram observatory is run by Lena Voss.', 'The badge number of Lena Voss is 18383.']
    >>> chained
    2
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from lcmem.pipelines.quotes import sub_chunk
from lcmem.types import Chunk, Hit

MIN_SHARED_TERMS = 2
"""A paraphrase must share at least this many content words with a sentence to point at it."""
MIN_SHARED_SHARE = 0.6
"""... and at least this share of its own content words or of the sentence's."""

_SENTENCE = re.compile(r"[^\n.!?]*(?:[.!?]+(?=\s|$)|\n|$)")
_WORD = r"[A-Z][\w'-]*[a-z][\w'-]*"
_CAPITALISED = re.compile(rf"\b{_WORD}(?:[ \t]+{_WORD})*")
_NOT_NAMES = frozenset(
    """a an and are as at be but by for from he her his how i if in into is it its my no not
    of on or our she so such that the their then there these they this those to was we were
    what when where which who whom whose why will with you your""".split()  # noqa: SIM905
)


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from lcmem.indexers.analyzer import Analyzer

    return Analyzer()


def terms(text: str) -> set[str]:
    """Content words of ``text``: lowercased, stemmed, without stopwords.

    Example:
        >>> sorted(terms("The parsers are running"))
        ['parser', 'run']
    """
    return set(_analyzer()(text))


def names(text: str) -> list[str]:
    """Names in ``text``: runs of capitalised words without leading or trailing function words
    (``The``, ``What``...) or a possessive ``'s``, in order, as written.

    Example:
        >>> names("The Naram observatory is run by Lena Voss's team. What now?")
        ['Naram', 'Lena Voss']
    """
    out: list[str] = []
    for run in _CAPITALISED.findall(text):
        words = run.split()
        while words and words[0].lower() in _NOT_NAMES:
            words.pop(0)
        while words and words[-1].lower() in _NOT_NAMES:
            words.pop()
        if words:
            words[-1] = words[-1].removesuffix("'s").removesuffix("'")
        name = " ".join(words)
        if name and name not in out:
            out.append(name)
    return out


def mentions(text: str, name: str) -> bool:
    """Does ``text`` contain ``name`` as whole words (case-insensitive)?

    Example:
        >>> mentions("project Veltran is late", "Project Veltran"), mentions("Vossberg", "Voss")
        (True, False)
    """
    pattern = r"(?<![\w'-])" + r"\s+".join(map(re.escape, name.split())) + r"(?![\w-])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence or line of ``text``, whitespace trimmed.

    Example:
        >>> t = "One two. Three four!\\nFive"
        >>> [t[s:e] for s, e in sentence_spans(t)]
        ['One two.', 'Three four!', 'Five']
    """
    spans = []
    for m in _SENTENCE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def closest_sentence(quote: str, passage: Chunk) -> Chunk | None:
    """The sentence of ``passage`` sharing the most content words with ``quote``, as an exact
    span of the passage's document; ``None`` if it shares fewer than :data:`MIN_SHARED_TERMS`,
    or under :data:`MIN_SHARED_SHARE` of both the quote's words and the sentence's.

    Example:
        >>> p = Chunk("Logs rotate daily. The archive code of Konel is 55771. Bye.", 40, 99)
        >>> c = closest_sentence("Konel's archive code: 55771", p)
        >>> c.text, c.start
        ('The archive code of Konel is 55771.', 59)
    """
    wanted = terms(quote)
    if not wanted:
        return None
    best: tuple[int, int, int, int] | None = None
    for start, end in sentence_spans(passage.text):
        own = terms(passage.text[start:end])
        shared = len(wanted & own)
        if best is None or shared > best[0]:
            best = (shared, len(own), start, end)
    if best is None:
        return None
    shared, n_own, start, end = best
    if shared < MIN_SHARED_TERMS or shared < MIN_SHARED_SHARE * min(len(wanted), n_own):
        return None
    return sub_chunk(passage, start, end)


def echoes(line: str, question: str) -> bool:
    """Is ``line`` only the question's words again (a small model restating the question)?

    Example:
        >>> q = "What is the archive code of project Konel?"
        >>> echoes("The archive code of project Konel is:", q), echoes("Konel: 55771", q)
        (True, False)
    """
    return terms(line) <= terms(question) | {"question"}


def chain_order(question: str, lines: Sequence[str], hops: int = 3) -> tuple[list[int], int]:
    """Indices of ``lines`` in chain order, and how many of them are chained.

    Chained lines first: those mentioning a name of the question, then (up to ``hops``
    rounds) those mentioning a name that an already chained line introduced (one the question
    does not mention); then the others in their given order. Without any name in the question
    nothing is chained and the order is unchanged.
    """
    wanted = names(question)
    order: list[int] = []
    for _ in range(hops):
        found = [
            i
            for i, line in enumerate(lines)
            if i not in order and any(mentions(line, n) for n in wanted)
        ]
        if not found:
            break
        order.extend(found)
        wanted = _new_names(question, [lines[i] for i in found])
    chained = len(order)
    order += [i for i in range(len(lines)) if i not in order]
    return order, chained


def _new_names(question: str, lines: Sequence[str]) -> list[str]:
    """Names of ``lines`` that the question does not mention, in order."""
    out: list[str] = []
    for line in lines:
        for name in names(line):
            if not mentions(question, name) and name not in out:
                out.append(name)
    return out


def keep_within(
    question: str,
    evidence: Sequence[Hit],
    budget: int,
    count: Callable[[str], int],
    render: Callable[[Hit], str],
) -> tuple[list[Hit], list[Hit]]:
    """Evidence to keep within ``budget`` tokens (``count(render(hit))`` each), and the rest.

    Priority: chained lines (:func:`chain_order`) before the others; within each group, most
    content words shared with the question first, then chain order. The kept hits are
    returned in chain order.

    Example:
        >>> hits = [Hit(Chunk(t, i * 100, i * 100 + len(t), doc_path="d"), 1.0) for i, t in
        ...         enumerate(["Unrelated words here.", "The code of Konel is 5.", "Konel."])]
        >>> kept, left = keep_within("What is the code of Konel?", hits, 8,
        ...                          lambda s: len(s.split()), lambda h: h.chunk.text)
        >>> [h.chunk.text for h in kept], [h.chunk.text for h in left]
        (['The code of Konel is 5.', 'Konel.'], ['Unrelated words here.'])
    """
    texts = [h.chunk.text for h in evidence]
    order, chained = chain_order(question, texts)
    rank = {i: r for r, i in enumerate(order)}
    asked = terms(question)

    def priority(i: int) -> tuple[int, int, int]:
        return (0 if rank[i] < chained else 1, -len(asked & terms(texts[i])), rank[i])

    kept: list[int] = []
    used = 0
    for i in sorted(range(len(evidence)), key=priority):
        cost = count(render(evidence[i]))
        if used + cost <= budget:
            kept.append(i)
            used += cost
    kept.sort(key=lambda i: rank[i])
    return [evidence[i] for i in kept], [h for i, h in enumerate(evidence) if i not in kept]


def overlaps(a: Chunk, b: Chunk) -> bool:
    """Do two spans of the same document overlap?"""
    return a.doc_path == b.doc_path and a.start < b.end and b.start < a.end


def focus(question: str, evidence: Sequence[Hit]) -> tuple[list[Hit], list[Hit]]:
    """The evidence to reason over, in chain order, and what is set aside.

    When some lines are chained to the question's names (:func:`chain_order`), only those:
    a small model answers a two-hop question from the two linked facts far better than from
    the same facts among look-alike ones (``benchmarks/bench_two_hop_probe.py``). Otherwise
    all of it, unchanged.

    Example:
        >>> hits = [Hit(Chunk(t, i * 50, i * 50 + len(t), doc_path="d"), 1.0) for i, t in
        ...         enumerate(["Ivo Stam was born in Brno.", "Lena Voss was born in Suva.",
        ...                    "The ship Kora is captained by Lena Voss."])]
        >>> chosen, aside = focus("Where was the captain of the ship Kora born?", hits)
        >>> [h.chunk.text for h in chosen], [h.chunk.text for h in aside]
        (['The ship Kora is captained by Lena Voss.', 'Lena Voss was born in Suva.'], \
['Ivo Stam was born in Brno.'])
    """
    order, chained = chain_order(question, [h.chunk.text for h in evidence])
    if not chained:
        return list(evidence), []
    return [evidence[i] for i in order[:chained]], [evidence[i] for i in order[chained:]]


def bridge_names(question: str, evidence: Sequence[Hit]) -> list[str]:
    """Names that the evidence chained to the question introduces (as written), in order.

    A second retrieval round searches for them: the bridge entity of a two-hop question.

    Example:
        >>> hits = [Hit(Chunk("The Naram observatory is run by Lena Voss.", 0, 42), 1.0)]
        >>> bridge_names("Who runs the Naram observatory?", hits)
        ['Lena Voss']
    """
    texts = [h.chunk.text for h in evidence]
    order, chained = chain_order(question, texts)
    return _new_names(question, [texts[i] for i in order[:chained]])


def sentences_naming(chunk: Chunk, wanted: Sequence[str]) -> list[Chunk]:
    """The sentences of ``chunk`` that contain one of the ``wanted`` names (whole words), as
    exact spans of its document.

    Example:
        >>> c = Chunk("Filler here. Lena Voss was born in Suva. More.", 10, 56)
        >>> [(s.text, s.start) for s in sentences_naming(c, ["Lena Voss"])]
        [('Lena Voss was born in Suva.', 23)]
    """
    out = []
    for start, end in sentence_spans(chunk.text):
        if any(mentions(chunk.text[start:end], name) for name in wanted):
            out.append(sub_chunk(chunk, start, end))
    return out
