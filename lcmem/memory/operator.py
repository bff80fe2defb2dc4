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


# A line break inside a paragraph (hard-wrapped prose) is a space to the sentence splitter;
# a blank line still ends a block. The replacement keeps the length, so spans stay exact.
_LINE_BREAKS = re.compile(r"\n(?:[ \t]*\n)*")


def _join_wrapped_lines(text: str) -> str:
    return _LINE_BREAKS.sub(lambda m: " " if len(m.group()) == 1 else m.group(), text)


def sentences(text: str) -> Iterator[tuple[int, int]]:
    """Character spans of the sentences (and blank-line separated blocks) of ``text``.

    lcmem's own splitter (:func:`lcmem.chunkers.sentences.split_sentences`: abbreviations,
    initials, dotted acronyms, quotes), with single line breaks read as spaces, so
    hard-wrapped prose is not cut at each line end.

    Example:
        >>> t = "Dr. Li met J. Smith and the U.S.\\nteam. He left!\\n\\nChapter 2"
        >>> [t[s:e] for s, e in sentences(t)]
        ['Dr. Li met J. Smith and the U.S.\\nteam.', 'He left!', 'Chapter 2']
    """
    from lcmem.chunkers.sentences import split_sentences

    yield from split_sentences(_join_wrapped_lines(text))
