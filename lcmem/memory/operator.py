"""The Operator interface: text in, events out.

An operator reads one piece of text (a chapter, a chat turn) with the narrative's state so far
(:class:`OperatorContext`: the clock, the speaker, known people and places) and returns an
:class:`Extraction`. Two operators implement it: :class:`~lcmem.memory.operator_rules.RuleOperator`
(fast, regular expressions and a growing gazetteer) and
:class:`~lcmem.memory.operator_llm.LLMOperator` (any lcmem LLM, JSON validated against a schema).

Example:
    >>> from lcmem.memory.operator_rules import RuleOperator
    >>> ex = RuleOperator().extract("On 5 March 2021, Alice Moreau had lunch at the Old Mill.",
    ...                             OperatorContext(source="s.txt"))
    >>> e = ex.events[0]
    >>> e.actor_names(), e.action, e.location, e.time
    (['Alice Moreau'], 'had lunch', 'the Old Mill', '2021-03-05')
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field

from lcmem.memory.events import Event


@dataclass
class OperatorContext:
    """What an operator knows before reading a text.

    Attributes:
        source: name of the source (a path, ``"chat"``); copied into event spans.
        clock: the narrative's current time (ISO), used for relative dates; ``None`` if unknown.
        speaker: who "I"/"me"/"my" refers to (chat turns); ``None`` for narration.
        people: names known to be people (canonical names and aliases).
        places: names known to be places (the gazetteer).
        offset: character offset of ``text`` inside its source document.
    """

    source: str = "<string>"
    clock: str | None = None
    speaker: str | None = None
    people: set[str] = field(default_factory=set)
    places: set[str] = field(default_factory=set)
    offset: int = 0


@dataclass
class Extraction:
    """An operator's result: events, the clock after the text, and what went wrong."""

    events: list[Event] = field(default_factory=list)
    clock: str | None = None
    unresolved: list[str] = field(default_factory=list)
    new_places: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Operator(ABC):
    """Turns text into events."""

    name: str = ""

    @abstractmethod
    def extract(self, text: str, context: OperatorContext) -> Extraction:
        """Events of ``text``; never raises on bad input (problems go to the extraction)."""


_ABBREV = r"(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bSt)(?<!\bProf)(?<!\bJr)(?<!\bSr)"
_SENT_END = re.compile(_ABBREV + r"[.!?]+[\"')\]]*(?=\s)|\n\s*\n")


def sentences(text: str) -> Iterator[tuple[int, int]]:
    """Character spans of the sentences (and blank-line separated blocks) of ``text``.

    Example:
        >>> t = "Dr. Li came. He left!\\n\\nChapter 2"
        >>> [t[s:e] for s, e in sentences(t)]
        ['Dr. Li came.', 'He left!', 'Chapter 2']
    """
    start = 0
    for m in _SENT_END.finditer(text):
        end = m.end() if not m.group(0).startswith("\n") else m.start()
        span = _strip(text, start, end)
        if span:
            yield span
        start = m.end()
    span = _strip(text, start, len(text))
    if span:
        yield span


def _strip(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None
