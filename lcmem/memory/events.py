"""Plain data types of the episodic memory: actors, events, facts and observation reports.

An :class:`Event` is who did what, where and when, with the exact source span it was read
from. Times are ISO strings (``"2021-03-05"`` for a day, ``"2021-03-05T14:30:00"`` for a
moment), so they sort and compare as text.

Example:
    >>> ev = Event(action="met", actors=[Actor("Alice Moreau"), Actor("Bob Li", "object")],
    ...            location="Riverside Park", time="2021-03-05",
    ...            source=SourceSpan("story.txt", 10, 52))
    >>> ev.actor_names()
    ['Alice Moreau', 'Bob Li']
    >>> Event.from_dict(ev.to_dict()) == ev
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TimeStatus = Literal["resolved", "relative", "inherited", "unresolved"]
Modality = Literal["asserted", "planned", "cancelled", "reported", "hypothetical", "negated"]
MODALITIES = ("asserted", "planned", "cancelled", "reported", "hypothetical", "negated")
FactStatus = Literal["current", "closed", "conflicting"]


@dataclass(frozen=True)
class SourceSpan:
    """Where an event was read: ``text[start:end]`` of the source called ``path``."""

    path: str
    start: int
    end: int


@dataclass(frozen=True)
class Actor:
    """A participant of an event and its role (``subject``, ``object``, ``with``, ``speaker``)."""

    name: str
    role: str = "subject"


@dataclass
class Event:
    """One event.

    Attributes:
        action: what happened, in the text's words (``"had dinner"``, ``"moved"``).
        actors: who took part, with roles; names as written (resolved later to entities).
        location: where, as written; ``None`` if the text does not say.
        time: ISO date or date-time; ``None`` when it could not be resolved.
        time_text: the date phrase as written (``"two days later"``); ``""`` if none.
        time_status: ``resolved`` (absolute date), ``relative`` (resolved against the
            narrative's clock), ``inherited`` (no date phrase: the clock's current time) or
            ``unresolved`` (a date phrase that could not be resolved; ``time`` is ``None``).
        source: the exact span of the source text the event was read from.
        text: the source sentence.
        id: stable id given by the workspace (hash of source and content).
        entity_ids: actor name -> resolved entity id, set by the reconciler.
        place_id: resolved place entity id, set by the reconciler.
        flashback: the sentence tells of an earlier time (it does not move the clock).
        modality: ``asserted`` (it happened), ``planned``, ``cancelled``, ``reported``
            (rumour, hearsay, a letter), ``hypothetical`` (if, dreams, wishes) or ``negated``.
            Only asserted events make location facts.
        mentions: names as the parser operator read them, untyped: dicts with ``name``,
            ``role`` (subject, object, with, loc, addressee, topic, poss, other) and this
            sentence's ``person`` / ``place`` evidence. The reconciler types each name from
            all evidence so far and fills :attr:`actors` and :attr:`location` from them.
    """

    action: str
    actors: list[Actor] = field(default_factory=list)
    location: str | None = None
    time: str | None = None
    time_text: str = ""
    time_status: TimeStatus = "inherited"
    source: SourceSpan | None = None
    text: str = ""
    id: str = ""
    entity_ids: dict[str, str] = field(default_factory=dict)
    place_id: str | None = None
    flashback: bool = False
    modality: Modality = "asserted"
    mentions: list[dict[str, Any]] = field(default_factory=list)

    def actor_names(self) -> list[str]:
        """Names of the actors, in order."""
        return [a.name for a in self.actors]

    @property
    def day(self) -> str | None:
        """The ``YYYY-MM-DD`` part of :attr:`time`."""
        return self.time[:10] if self.time else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        data = dict(data)
        data["actors"] = [Actor(**a) for a in data.get("actors", [])]
        src = data.get("source")
        data["source"] = SourceSpan(**src) if src else None
        return cls(**data)


@dataclass
class Fact:
    """A state that holds over an interval: ``entity`` was at ``value`` from ``valid_from``
    until ``valid_to`` (exclusive; ``None`` = still holds as far as is known).

    Nothing is deleted: a newer contradicting fact closes the older one's interval.
    """

    id: str
    entity: str
    attribute: str
    value: str
    valid_from: str
    valid_to: str | None = None
    event: str = ""
    status: FactStatus = "current"

    def holds_at(self, time: str) -> bool:
        """True if the fact holds at ``time`` (day granularity when ``time`` is a day).

        Example:
            >>> f = Fact("f", "e:alice", "location", "e:paris", "2021-03-01", "2021-03-05")
            >>> f.holds_at("2021-03-04"), f.holds_at("2021-03-05"), f.holds_at("2021-02-28")
            (True, False, False)
        """
        if len(time) <= 10:  # a day: compare days
            start, end = self.valid_from[:10], self.valid_to[:10] if self.valid_to else None
        else:
            start, end = self.valid_from, self.valid_to
        return start <= time and (end is None or time < end)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Conflict:
    """Two facts that cannot both hold (same entity, same time, different values)."""

    entity: str
    attribute: str
    time: str
    values: list[str]
    events: list[str]


@dataclass
class ObserveReport:
    """What one :meth:`EpisodicWorkspace.observe` call did.

    Attributes:
        events: events added (empty for a duplicate observation).
        duplicate: the same text from the same source was observed before; nothing added.
        unresolved: date phrases that could not be resolved (their events have no time).
        conflicts: contradictions found with what the workspace knew.
        warnings: anything else worth telling (no events in eventful text, LLM retries...).
        errors: failures that stopped extraction (e.g. an LLM that kept returning garbage);
            the workspace is unchanged when this is non-empty.
    """

    events: list[Event] = field(default_factory=list)
    duplicate: bool = False
    unresolved: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def merge(self, other: ObserveReport) -> None:
        """Add ``other``'s findings to this report."""
        self.events += other.events
        self.unresolved += other.unresolved
        self.conflicts += other.conflicts
        self.warnings += other.warnings
        self.errors += other.errors
