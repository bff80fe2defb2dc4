"""Questions the workspace answers from its graph: where, who, when, how many, with whom.

Each query returns a :class:`QueryResult`: the answer set (names or dates), the events it
rests on, and a one-line text. :func:`parse_question` maps an English question onto a query.

Semantics (day granularity for day times):

- ``where_was(X, T)``: the place(s) whose location fact for X holds at T, i.e. where X was last
  seen on or before T; none before X's first known place.
- ``who_was_at(P, T)``: people of the events at P on day T (``state=True``: everyone whose
  location fact at T is P).
- ``latest_location(X)``: where X's latest-starting location fact says X is.
- ``timeline(X)``: X's events in time order. ``when_at(X, P)``: days X was at P.
- ``met_both(A, B)``: people who shared an event with A and an event with B.
- ``count(X, P)``: events with X (and/or at P).

Example:
    >>> from lcmem.memory.events import Actor, Event
    >>> from lcmem.memory.reconciler import Reconciler
    >>> r = Reconciler()
    >>> _ = r.add_event(Event("met", [Actor("Ann Lee"), Actor("Bo Kim")], "Paris", "2021-03-01",
    ...                       id="e1"))
    >>> where_was(r, "Ann", "2021-03-02").answers
    ['Paris']
    >>> parse_question("Who was at Paris on March 1, 2021?")
    ('who_at', {'place': 'Paris', 'time': '2021-03-01'})
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lcmem.memory.dates import parse_date
from lcmem.memory.events import Event
from lcmem.memory.reconciler import Reconciler


@dataclass
class QueryResult:
    """An answer from the workspace.

    Attributes:
        kind: the query (``where_was``, ``who_at``, ``latest``, ``timeline``, ``when_at``,
            ``met_both``, ``count``).
        answers: the answer set (names, ISO days, or one count); empty means "none".
        events: the events the answer rests on (their ``source`` spans are the citations).
        text: the answer as one readable line.
        notes: caveats (unknown name, conflicting facts, ambiguous name).
        unit: what a count counts (``distinct places``, ``events``); ``""`` otherwise.
        resolved: the question was understood and every name in it was found in memory.
    """

    kind: str
    answers: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    text: str = ""
    notes: list[str] = field(default_factory=list)
    unit: str = ""

    @property
    def resolved(self) -> bool:
        return self.kind != "unparsed" and not any(
            n.startswith("no ") and " called " in n for n in self.notes
        )


def asserted(events: list[Event]) -> list[Event]:
    """The events that happened (not planned, cancelled, reported, supposed or negated)."""
    return [e for e in events if e.modality == "asserted"]


def _in_range(day: str | None, start: str | None, end: str | None) -> bool:
    if day is None:
        return start is None and end is None
    return (start is None or day >= start[:10]) and (end is None or day <= end[:10])


def _one(r: Reconciler, name: str, kind: str, notes: list[str]) -> str | None:
    found = r.lookup(name, kind)
    if not found:
        notes.append(f"no {kind} called {name!r} in memory")
        return None
    if len(found) > 1:
        chosen = max(found, key=lambda c: r.last_seen.get(c, -1))
        notes.append(
            f"{name!r} may be {', '.join(r.name_of(f) for f in found)}; "
            f"answered for {r.name_of(chosen)}"
        )
        return chosen
    return found[0]


def _event(r: Reconciler, eid: str) -> Event:
    return r.graph.nodes[eid]["event"]


def where_was(r: Reconciler, person: str, time: str) -> QueryResult:
    """Where ``person`` was at ``time`` (see the module doc)."""
    res = QueryResult("where_was")
    eid = _one(r, person, "person", res.notes)
    if eid is None:
        res.text = f"none: {person} is not in memory"
        return res
    facts = [f for f in r.facts.get(eid, []) if f.holds_at(time)]
    res.answers = sorted({r.name_of(f.value) for f in facts})
    res.events = [_event(r, f.event) for f in facts if f.event in r.graph]
    if any(f.status == "conflicting" for f in facts):
        res.notes.append("conflicting statements: " + " / ".join(res.answers))
    who = r.name_of(eid)
    res.text = (
        f"On {time} {who} was at {' or '.join(res.answers)}."
        if res.answers
        else f"none: no known location of {who} on {time}"
    )
    return res


def who_was_at(r: Reconciler, place: str, time: str, *, state: bool = False) -> QueryResult:
    """Who was at ``place`` on ``time`` (events that day; ``state`` for location facts)."""
    res = QueryResult("who_at")
    pid = _one(r, place, "place", res.notes)
    if pid is None:
        res.text = f"none: {place} is not in memory"
        return res
    people: dict[str, str] = {}
    if state:
        for eid, facts in r.facts.items():
            for f in facts:
                if f.value == pid and f.holds_at(time):
                    people[eid] = f.event
    else:
        for ev in asserted(r.events_of(pid)):
            if ev.time and ev.time[: len(time)] == time[: len(ev.time)]:
                for ent in ev.entity_ids.values():
                    people.setdefault(ent, ev.id)
    res.answers = sorted(r.name_of(e) for e in people)
    res.events = _unique_events(r, people.values())
    res.text = (
        f"At {r.name_of(pid)} on {time}: {', '.join(res.answers)}."
        if res.answers
        else f"none: nobody known at {r.name_of(pid)} on {time}"
    )
    return res


def latest_location(r: Reconciler, person: str, as_of: str | None = None) -> QueryResult:
    """Where ``person`` is now (or was last known to be on ``as_of``), as far as is known."""
    if as_of is not None:
        res = where_was(r, person, as_of)
        res.kind = "latest"
        name = r.name_of(r.lookup(person, "person")[0]) if r.lookup(person, "person") else person
        res.text = (
            f"As of {as_of}, {name} was last known at {' or '.join(res.answers)}."
            if res.answers
            else f"none: no known location of {name} on or before {as_of}"
        )
        return res
    res = QueryResult("latest")
    eid = _one(r, person, "person", res.notes)
    facts = r.facts.get(eid, []) if eid else []
    if not eid or not facts:
        res.text = f"none: no known location of {person}"
        return res
    last = max(f.valid_from for f in facts)
    current = [f for f in facts if f.valid_from == last]
    res.answers = sorted({r.name_of(f.value) for f in current})
    res.events = _unique_events(r, [f.event for f in current])
    if len(current) > 1:
        res.notes.append("conflicting statements: " + " / ".join(res.answers))
    res.text = f"{r.name_of(eid)} was last at {' or '.join(res.answers)} (since {last})."
    # An undated event told later in the same source than the latest dated one is newer.
    anchor = r.graph.nodes[current[0].event]["event"] if current[0].event in r.graph else None
    later = [
        e
        for e in r.events_of(eid)
        if e.time is None and e.place_id and anchor and anchor.source and e.source
        if e.source.path == anchor.source.path and e.source.start > anchor.source.start
    ]
    if later:
        last_ev = max(later, key=lambda e: e.source.start if e.source else 0)
        res.answers, res.events = [r.name_of(last_ev.place_id)], [last_ev]
        res.notes.append("the latest mention has no resolvable date")
        res.text = f"{r.name_of(eid)} was last at {res.answers[0]} (date unknown, after {last})."
    return res


def timeline(r: Reconciler, name: str) -> QueryResult:
    """Events of a person (or at a place), in time order; answers are ``day@place`` items."""
    res = QueryResult("timeline")
    eid = _one(r, name, "person", []) or _one(r, name, "place", res.notes)
    if eid is None:
        res.text = f"none: {name} is not in memory"
        return res
    res.events = r.events_of(eid)
    res.answers = [f"{e.day or '?'}@{r.name_of(e.place_id) or '?'}" for e in res.events]
    res.text = f"{len(res.events)} events of {r.name_of(eid)}."
    return res


def when_at(r: Reconciler, person: str, place: str) -> QueryResult:
    """Days on which ``person`` was at ``place`` (events there)."""
    res = QueryResult("when_at")
    eid = _one(r, person, "person", res.notes)
    pid = _one(r, place, "place", res.notes)
    if eid is None or pid is None:
        res.text = "none: " + "; ".join(res.notes)
        return res
    res.events = [e for e in asserted(r.events_of(eid)) if e.place_id == pid]
    res.answers = sorted({e.day for e in res.events if e.day})
    res.text = (
        f"{r.name_of(eid)} was at {r.name_of(pid)} on {', '.join(res.answers)}."
        if res.answers
        else f"none: {r.name_of(eid)} is not known to have been at {r.name_of(pid)}"
    )
    return res


def met_both(r: Reconciler, a: str, b: str) -> QueryResult:
    """People (other than A and B) who shared an event with A and an event with B."""
    res = QueryResult("met_both")
    ea, eb = _one(r, a, "person", res.notes), _one(r, b, "person", res.notes)
    if ea is None or eb is None:
        res.text = "none: " + "; ".join(res.notes)
        return res

    def partners(eid: str) -> dict[str, list[Event]]:
        out: dict[str, list[Event]] = {}
        for ev in asserted(r.events_of(eid)):
            for other in ev.entity_ids.values():
                if other != eid:
                    out.setdefault(other, []).append(ev)
        return out

    pa, pb = partners(ea), partners(eb)
    both = sorted(set(pa) & set(pb) - {ea, eb})
    res.answers = sorted(r.name_of(p) for p in both)
    res.events = _unique_events(r, [e.id for p in both for e in pa[p] + pb[p]])
    res.text = (
        f"Met both {r.name_of(ea)} and {r.name_of(eb)}: {', '.join(res.answers)}."
        if res.answers
        else f"none: nobody known to have met both {r.name_of(ea)} and {r.name_of(eb)}"
    )
    return res


def places_visited(
    r: Reconciler, person: str, start: str | None = None, end: str | None = None
) -> QueryResult:
    """Distinct places of ``person``'s asserted events with a day in ``[start, end]``."""
    res = QueryResult("places")
    eid = _one(r, person, "person", res.notes)
    if eid is None:
        res.text = f"none: {person} is not in memory"
        return res
    res.events = [
        e for e in asserted(r.events_of(eid)) if e.place_id and _in_range(e.day, start, end)
    ]
    res.answers = sorted({r.name_of(e.place_id) for e in res.events})
    span = _span_text(start, end)
    res.text = (
        f"{r.name_of(eid)} visited {', '.join(res.answers)}{span}."
        if res.answers
        else f"none: no known place visited by {r.name_of(eid)}{span}"
    )
    return res


def _span_text(start: str | None, end: str | None) -> str:
    if start and end:
        return f" between {start[:10]} and {end[:10]}"
    if start:
        return f" since {start[:10]}"
    return f" until {end[:10]}" if end else ""


def count(
    r: Reconciler,
    person: str | None = None,
    place: str | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    what: str | None = None,
) -> QueryResult:
    """A count that says what it counts (:attr:`QueryResult.unit`).

    ``what="places"`` (the default for a person alone): distinct places the person visited
    in ``[start, end]``. ``what="events"`` (the default otherwise): asserted events with the
    person (at the place, when given) in that range.
    """
    what = what or ("places" if person and not place else "events")
    if what == "places" and person:
        res = places_visited(r, person, start, end)
        n = len(res.answers)
        res.kind, res.unit, res.answers = "count", "distinct places", [str(n)]
        who = res.text.split(" visited ")[0] if n else person
        res.text = f"{n} distinct places visited by {who}{_span_text(start, end)}."
        return res
    res = QueryResult("count", unit="events")
    eid = _one(r, person, "person", res.notes) if person else None
    pid = _one(r, place, "place", res.notes) if place else None
    if (person and eid is None) or (place and pid is None):
        res.answers, res.text = ["0"], "0 events: " + "; ".join(res.notes)
        return res
    events = r.events_of(eid) if eid else r.events_of(pid) if pid else r.all_events()
    events = [e for e in asserted(events) if _in_range(e.day, start, end) or not (start or end)]
    if eid and pid:
        events = [e for e in events if e.place_id == pid]
    res.events = events
    res.answers = [str(len(events))]
    who = " with " + r.name_of(eid) if eid else ""
    where = " at " + r.name_of(pid) if pid else ""
    res.text = f"{len(events)} events{who}{where}{_span_text(start, end)}."
    return res


def _unique_events(r: Reconciler, ids: Any) -> list[Event]:
    from lcmem.memory.reconciler import sort_events

    return sort_events(_event(r, i) for i in dict.fromkeys(ids) if i in r.graph)


# -- questions ----------------------------------------------------------------------------
_Q = r"\s*\??\s*$"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "latest",
        re.compile(
            r"^(?:where\s+(?:is|was|am|are)\s+(?P<x>.+?)\s+(?:now|currently|last\s+seen|most\s+recently)"
            r"|where\s+did\s+(?P<x2>.+?)\s+(?:go|end\s+up)\s+last"
            r"|what\s+is\s+(?:the\s+)?(?:latest|last\s+known|current)\s+location\s+of\s+(?P<x3>.+?))"
            + _Q,
            re.I,
        ),
    ),
    (
        "where_was",
        re.compile(
            r"^where\s+(?:was|were|is|am|did)\s+(?P<x>.+?)\s+(?:be\s+)?(?:on|at|by|as\s+of|in)\s+"
            r"(?P<t>.+?)" + _Q,
            re.I,
        ),
    ),
    (
        "who_at",
        re.compile(
            r"^who\s+(?:was|were)\s+(?:at|in|near)\s+(?P<p>.+?)\s+on\s+(?P<t>.+?)" + _Q, re.I
        ),
    ),
    (
        "met_both",
        re.compile(
            r"^who\s+(?:has\s+)?(?:met|was\s+with|spent\s+time\s+with)\s+both\s+(?P<a>.+?)"
            r"\s+and\s+(?P<b>.+?)" + _Q,
            re.I,
        ),
    ),
    (
        "count",
        re.compile(
            r"^how\s+many\s+times\s+(?:was|were|did|has|have)\s+(?P<x>.+?)\s+(?:been\s+)?"
            r"(?:at|in|go\s+to|visit|went\s+to|to)\s+(?P<p>.+?)" + _Q,
            re.I,
        ),
    ),
    (
        "count_place",
        re.compile(
            r"^how\s+many\s+(?:events|things)\s+(?:happened|took\s+place)\s+(?:at|in)\s+(?P<p>.+?)"
            + _Q,
            re.I,
        ),
    ),
    (
        "when_at",
        re.compile(
            r"^when\s+(?:was|were|did|has|have)\s+(?P<x>.+?)\s+(?:been\s+)?"
            r"(?:at|in|go\s+to|visit|travel\s+to|went\s+to|come\s+to)\s+(?P<p>.+?)" + _Q,
            re.I,
        ),
    ),
    (
        "timeline",
        re.compile(
            r"^(?:(?:show\s+|give\s+)?(?:the\s+)?(?:timeline|history)\s+of\s+(?P<x>.+?)"
            r"|what\s+(?:did|has)\s+(?P<x2>.+?)\s+(?:do|done))" + _Q,
            re.I,
        ),
    ),
]


_LATEST = [
    re.compile(
        r"^what\s+(?:is|was)\s+(?P<x>.+?)['’]s?\s+(?:latest|last|current|most\s+recent)"
        r"(?:\s+known)?\s+(?:location|whereabouts|place)" + _Q,
        re.I,
    ),
    re.compile(
        r"^what\s+(?:is|was)\s+(?:the\s+)?(?:latest|last|current|most\s+recent)(?:\s+known)?"
        r"\s+(?:location|whereabouts|place)\s+of\s+(?P<x>.+?)" + _Q,
        re.I,
    ),
    re.compile(
        r"^where\s+(?:is|was|am|are|were)\s+(?P<x>.+?)\s+(?:now|currently|last\s+seen|"
        r"most\s+recently|last|at\s+last|in\s+the\s+end)" + _Q,
        re.I,
    ),
    re.compile(r"^where\s+did\s+(?P<x>.+?)\s+(?:go|end\s+up)\s+(?:last|in\s+the\s+end)" + _Q, re.I),
]
_WHERE_BARE = re.compile(r"^where\s+(?:is|was|am|are|were)\s+(?P<x>.+?)" + _Q, re.I)
_AS_OF_PREFIX = re.compile(r"^(?:as\s+of|by|on)\s+(?P<t>[^,]+?),\s*(?P<rest>.+)$", re.I)
_AS_OF_SUFFIX = re.compile(r"^(?P<rest>.+?)\s+as\s+of\s+(?P<t>.+?)" + _Q, re.I)
_RANGE = [
    re.compile(r"\s+between\s+(?P<a>.+?)\s+and\s+(?P<b>.+?)" + _Q, re.I),
    re.compile(r"\s+from\s+(?P<a>.+?)\s+(?:to|until|till|through)\s+(?P<b>.+?)" + _Q, re.I),
    re.compile(r"\s+(?:since|after)\s+(?P<a>.+?)" + _Q, re.I),
    re.compile(r"\s+(?:before|until|by)\s+(?P<b>.+?)" + _Q, re.I),
]
_PLACES = re.compile(
    r"^(?P<how>which|what|how\s+many)\s+(?:distinct\s+|different\s+|separate\s+)?"
    r"(?:places|locations)\s+(?:did|has|have|had)\s+(?P<x>.+?)\s+"
    r"(?:visit(?:ed)?|go(?:ne)?\s+to|been\s+to|been\s+at|travel(?:led)?\s+to)"
    r"(?P<range>(?:\s+.*?)?)\s*\??\s*$",
    re.I,
)
_MET_BOTH = re.compile(
    r"^(?:who|which\s+(?:characters|people|persons|of\s+them))\s+(?:has\s+|have\s+|had\s+)?"
    r"(?:met|was\s+with|were\s+with|spent\s+time\s+with|saw)\s+both\s+(?P<a>.+?)"
    r"\s+and\s+(?P<b>.+?)" + _Q,
    re.I,
)

SHAPES = (
    "Where was X on DATE? / What was X's latest known location? / As of DATE, what was X's "
    "latest known location? / Where is X now? / Which places did X visit (between D1 and D2)? "
    "/ How many distinct places did X visit (between D1 and D2)? / Which characters met both "
    "A and B? / Who was at P on DATE? / When was X at P? / How many times was X at P? / "
    "Timeline of X"
)


def _range(text: str, clock: str | None) -> tuple[str | None, str | None] | None:
    """``(start, end)`` of a date range phrase (``between D1 and D2``...); ``None`` if unread."""
    text = text.strip(" ?.!")
    if not text:
        return None, None
    for pattern in _RANGE:
        m = pattern.match(" " + text + "?")
        if m:
            g = m.groupdict()
            a = parse_date(g["a"], clock) if g.get("a") else None
            b = parse_date(g["b"], clock) if g.get("b") else None
            if (g.get("a") and a is None) or (g.get("b") and b is None):
                return None
            return a, b
    m = re.match(r"^(?:in|during)\s+(?P<m>[a-z]+)\s+(?P<y>\d{4})$", text, re.I)
    if m:
        first = parse_date(f"1 {m['m']} {m['y']}")
        if first:
            import datetime as dt

            d = dt.date.fromisoformat(first)
            nxt = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
            return first, (nxt - dt.timedelta(days=1)).isoformat()
    return None


def _latest(q: str) -> str | None:
    for pattern in _LATEST:
        m = pattern.match(q)
        if m:
            return _clean(m.group("x"))
    return None


def parse_question(question: str, clock: str | None = None) -> tuple[str, dict[str, str]] | None:
    """``(kind, arguments)`` of a question the workspace answers directly, else ``None``.

    Dates in the question are resolved against ``clock`` (for "yesterday", "March 5").

    Example:
        >>> parse_question("Where was Alice on 5 March 2021?")
        ('where_was', {'person': 'Alice', 'time': '2021-03-05'})
        >>> parse_question("As of 9 May 2030, what was Brannoc's latest known location?")
        ('latest', {'person': 'Brannoc', 'as_of': '2030-05-09'})
        >>> parse_question("How many distinct places did Ann visit between 1 May 2030 "
        ...                "and 3 June 2030?")
        ('count', {'person': 'Ann', 'what': 'places', 'start': '2030-05-01', 'end': '2030-06-03'})
        >>> parse_question("Why did Alice leave?") is None
        True
    """
    q = " ".join(question.strip().split())
    # "as of DATE": a latest-location question at a date
    candidates: list[tuple[re.Pattern[str], str, str]] = []
    pre = re.match(r"^(?:as\s+of|by|on)\s+", q, re.I)
    if pre:  # the date may hold commas: try each comma as the end of the date
        for cut in [i for i, ch in enumerate(q) if ch == ","]:
            candidates.append((_AS_OF_PREFIX, q[pre.end() : cut], q[cut + 1 :]))
    m = _AS_OF_SUFFIX.match(q)
    if m:
        candidates.append((_AS_OF_SUFFIX, m.group("t"), m.group("rest")))
    for pattern, t_text, rest in candidates:
        t = parse_date(t_text, clock)
        if t is None:
            continue
        rest = rest.strip()
        rest = rest.rstrip(" ?")
        rest = rest[0].upper() + rest[1:] if rest else rest
        x = _latest(rest + "?")
        if x is None and pattern is _AS_OF_SUFFIX:
            bare = _WHERE_BARE.match(rest + "?")
            x = _clean(bare.group("x")) if bare else None
        if t is not None and x:
            return "latest", {"person": x, "as_of": t}
    x = _latest(q)
    if x:
        return "latest", {"person": x}
    m = _PLACES.match(q)
    if m:
        rng = _range(m.group("range"), clock)
        if rng is not None:
            args = {"person": _clean(m.group("x"))}
            kind = "places"
            if m.group("how").lower().startswith("how"):
                kind, args["what"] = "count", "places"
            if rng[0]:
                args["start"] = rng[0]
            if rng[1]:
                args["end"] = rng[1]
            return kind, args
    m = _MET_BOTH.match(q)
    if m:
        return "met_both", {"a": _clean(m.group("a")), "b": _clean(m.group("b"))}
    for kind, pattern in _PATTERNS:
        m = pattern.match(q)
        if not m:
            continue
        g = {k: v for k, v in m.groupdict().items() if v}
        x = g.get("x") or g.get("x2") or g.get("x3")
        if kind in ("where_was", "who_at"):
            t = parse_date(g["t"], clock)
            if t is None:
                continue
            if kind == "where_was":
                return kind, {"person": _clean(x), "time": t}
            return kind, {"place": _clean(g["p"]), "time": t}
        if kind == "latest":
            return kind, {"person": _clean(x)}
        if kind == "met_both":
            return kind, {"a": _clean(g["a"]), "b": _clean(g["b"])}
        if kind == "count":
            return kind, {"person": _clean(x), "place": _clean(g["p"])}
        if kind == "count_place":
            return "count", {"place": _clean(g["p"])}
        if kind == "when_at":
            return kind, {"person": _clean(x), "place": _clean(g["p"])}
        if kind == "timeline":
            return kind, {"name": _clean(x)}
    return None


def _clean(text: str | None) -> str:
    """A name from a question: no surrounding punctuation, no possessive ``'s``."""
    return re.sub(r"['’]s?$", "", (text or "").strip(' ,.?!"')).strip()


def run(r: Reconciler, kind: str, args: dict[str, str]) -> QueryResult:
    """Run the query ``kind`` (as :func:`parse_question` names it) with ``args``."""
    if kind == "where_was":
        return where_was(r, args["person"], args["time"])
    if kind == "who_at":
        return who_was_at(r, args["place"], args["time"])
    if kind == "latest":
        return latest_location(r, args["person"], args.get("as_of"))
    if kind == "places":
        return places_visited(r, args["person"], args.get("start"), args.get("end"))
    if kind == "met_both":
        return met_both(r, args["a"], args["b"])
    if kind == "count":
        return count(
            r,
            args.get("person") or None,
            args.get("place") or None,
            start=args.get("start"),
            end=args.get("end"),
            what=args.get("what"),
        )
    if kind == "when_at":
        return when_at(r, args["person"], args["place"])
    if kind == "timeline":
        return timeline(r, args["name"])
    raise ValueError(f"unknown query kind {kind!r}")
