"""EpisodicWorkspace: observe text, keep who did what where and when, answer questions.

An operator turns each observed text into events; the reconciler merges them into a graph of
people, places and events with location facts over validity intervals; the workspace persists
the graph in the library's database (or keeps it in memory) and answers queries.

Example:
    >>> ws = EpisodicWorkspace()
    >>> _ = ws.observe("On 5 March 2021, Alice Moreau met Bob Li at Riverside Park. "
    ...                "Two days later, Alice travelled to Lisbon.", source="story.txt")
    >>> ws.where_was("Alice", "2021-03-06").answers, ws.latest_location("Alice").answers
    (['Riverside Park'], ['Lisbon'])
    >>> turn = ws.observe("I moved to Berlin yesterday.", at="2024-05-02T10:00", source="chat")
    >>> turn.events[0].time
    '2024-05-01'
    >>> ws.ask("Where was I on May 1, 2024?").answers
    ['Berlin']
"""

from __future__ import annotations

import re
import time as _time
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lcmem.errors import ConfigError
from lcmem.memory.dates import find_dates, parse_date
from lcmem.memory.events import Event, Fact, ObserveReport
from lcmem.memory.operator import Operator, OperatorContext
from lcmem.memory.operator_rules import RuleOperator, normalize_name
from lcmem.memory.queries import SHAPES, QueryResult, parse_question, run, who_was_at
from lcmem.memory.reconciler import Reconciler, edge_id, sort_events
from lcmem.memory.store import MemoryStore
from lcmem.types import content_hash

if TYPE_CHECKING:
    from lcmem.embedders.base import Embedder
    from lcmem.llm.base import LLM
    from lcmem.types import Document

SPEAKER = "user"
_FIRST_PERSON_Q = re.compile(r"\b(?:I|me|my|myself)\b")


class NoEventsWarning(UserWarning):
    """Text that plainly tells of events gave none: the operator missed them."""


class EpisodicWorkspace:
    """A persistent episodic memory.

    Args:
        store_or_url: ``None`` (in memory), a database URL, a :class:`~lcmem.library.Library`
            or an :class:`~lcmem.stores.sql.SQLStore`; the memory tables live in that database
            and a saved workspace is loaded from it.
        operator: ``"auto"`` (default: ``"parser"`` when spaCy and its English pipeline are
            installed, the ``memory`` extra, else ``"rules"``), ``"parser"``, ``"rules"``,
            ``"llm"`` (needs ``llm``) or an :class:`Operator`.
        llm: used by the LLM operator and to settle ambiguous names.
        embedder: adds embedding similarity to entity resolution.
        speaker: who "I" is in observed chat turns (default ``"user"``).
    """

    def __init__(
        self,
        store_or_url: Any = None,
        *,
        operator: Operator | str = "auto",
        llm: LLM | None = None,
        embedder: Embedder | None = None,
        speaker: str = SPEAKER,
    ) -> None:
        self.operator = _make_operator(operator, llm)
        self.speaker = speaker
        self.reconciler = Reconciler(llm=llm, embedder=embedder)
        self.clocks: dict[str, str] = {}
        self.observations: dict[str, tuple[int, str, dict[str, Any]]] = {}
        self.store = MemoryStore(store_or_url) if store_or_url is not None else None
        self._dirty_obs: set[str] = set()
        self._dirty_clocks: set[str] = set()
        if self.store is not None:
            self._load()

    # -- observing ------------------------------------------------------------------------
    def observe(
        self,
        text: str,
        at: str | Any | None = None,
        source: str | None = None,
        *,
        speaker: str | None = None,
        offset: int = 0,
    ) -> ObserveReport:
        """Read ``text`` into the workspace.

        Args:
            text: narrative, a chapter, or one chat turn.
            at: when it was said or written (ISO string or ``datetime``); relative dates
                ("yesterday") resolve against it. Default: the source's clock so far.
            source: where it comes from (a path, ``"chat"``); events cite spans of it.
            speaker: who "I" is; defaults to the workspace's speaker for chat-like sources
                (when ``at`` is given), else none.
            offset: character offset of ``text`` in the source document.

        Never raises on bad input: problems are in the report, earlier state is kept.
        """
        report = ObserveReport()
        source = source or "<string>"
        at_iso = _iso(at)
        if not isinstance(text, str) or not text.strip():
            report.warnings.append("empty text: nothing to observe")
            return report
        digest = content_hash(f"{source}\x00{at_iso or ''}\x00{offset}\x00{text}")
        if digest in self.observations:
            report.duplicate = True
            return report
        context = OperatorContext(
            source=source,
            clock=at_iso or self.clocks.get(source),
            speaker=speaker or (self.speaker if at_iso else None),
            people=self._alias_names("person"),
            places=self._alias_names("place"),
            offset=offset,
        )
        try:
            extraction = self.operator.extract(text, context)
        except Exception as exc:  # an operator bug must not lose the workspace
            report.errors.append(f"{self.operator.name} operator failed: {exc!r}")
            return report
        report.warnings += extraction.warnings
        report.unresolved += extraction.unresolved
        if extraction.errors:
            report.errors += extraction.errors
            warnings.warn(
                f"nothing observed from {source}: {extraction.errors[-1]}",
                NoEventsWarning,
                stacklevel=2,
            )
            return report
        for event in extraction.events:
            event.id = (
                "event:"
                + content_hash(
                    f"{event.source.path if event.source else source}|{event.text}|{event.time}"
                    f"|{event.location}|{','.join(event.actor_names())}|{event.action}"
                )[:20]
            )
            if event.id in self.reconciler.graph:
                continue
            notes_before = len(self.reconciler.notes)
            report.conflicts += self.reconciler.add_event(event)
            report.warnings += self.reconciler.notes[notes_before:]
            report.events.append(event)
        if extraction.clock and extraction.clock != self.clocks.get(source):
            self.clocks[source] = extraction.clock
            self._dirty_clocks.add(source)
        if not extraction.events and looks_eventful(text):
            msg = (
                f"the {self.operator.name} operator found no events in text from {source} "
                f"that looks eventful: {text[:80]!r}"
            )
            report.warnings.append(msg)
            warnings.warn(msg, NoEventsWarning, stacklevel=2)
        self.observations[digest] = (
            len(self.observations),
            source,
            {
                "at": at_iso,
                "events": [e.id for e in report.events],
                "unresolved": report.unresolved,
                "warnings": report.warnings,
                "observed_at": _time.time(),
            },
        )
        self._dirty_obs.add(digest)
        self.save()
        return report

    def observe_document(self, doc: Document, at: str | None = None) -> ObserveReport:
        """Observe a whole document (events cite spans of ``doc.path``)."""
        return self.observe(doc.text, at=at, source=doc.path)

    def observe_many(self, texts: Iterable[str], source: str | None = None) -> ObserveReport:
        """Observe texts in order (e.g. the chapters of one story); one merged report."""
        total = ObserveReport()
        for text in texts:
            total.merge(self.observe(text, source=source))
        return total

    # -- persistence ----------------------------------------------------------------------
    def save(self) -> None:
        """Write what changed since the last save (done after every observation)."""
        r = self.reconciler
        if self.store is None:
            r.rebuilt = False
            self._clear_dirty()
            return
        if r.rebuilt:  # a name changed type: the graph was rebuilt, write all of it again
            self.store.clear()
            r.dirty_nodes = set(r.graph.nodes)
            r.dirty_edges = {
                k if k not in ("actor", "at") else edge_id(u, k, v)
                for u, v, k in r.graph.edges(keys=True)
            }
            self._dirty_obs = set(self.observations)
            self._dirty_clocks = set(self.clocks)
            r.rebuilt = False
        nodes: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for nid in r.dirty_nodes:
            d = r.graph.nodes[nid]
            if d["kind"] == "event":
                nodes[nid] = ("event", d["event"].action, d["event"].to_dict())
            else:
                nodes[nid] = (d["kind"], d["name"], {"aliases": d["aliases"]})
        for src in self._dirty_clocks:
            nodes[f"clock:{src}"] = ("clock", src, {"time": self.clocks[src]})
        facts = {f.id: f for fs in r.facts.values() for f in fs} if r.dirty_edges else {}
        edges: dict[str, tuple[str, str, str, dict[str, Any]]] = {}
        for eid in r.dirty_edges:
            if eid in facts:
                f = facts[eid]
                edges[eid] = (f.entity, f.value, "fact", f.to_dict())
            else:
                kind, src, dst = eid.split("|", 2)
                data = r.graph.get_edge_data(src, dst, key=kind) or {}
                edges[eid] = (src, dst, kind, dict(data))
        obs = {h: self.observations[h] for h in self._dirty_obs}
        self.store.write(nodes, edges, obs)
        self._clear_dirty()

    def _clear_dirty(self) -> None:
        self.reconciler.dirty_nodes.clear()
        self.reconciler.dirty_edges.clear()
        self._dirty_obs.clear()
        self._dirty_clocks.clear()

    def _load(self) -> None:
        assert self.store is not None
        nodes, edges, obs = self.store.read()
        r = self.reconciler
        for nid, kind, name, data in nodes:
            if kind in ("person", "place"):
                r.add_entity_node(nid, kind, name, data.get("aliases", []))
            elif kind == "event":
                r.graph.add_node(nid, kind="event", event=Event.from_dict(data))
            elif kind == "clock":
                self.clocks[name] = data["time"]
        for _eid, src, dst, kind, data in edges:
            if kind == "fact":
                r.restore_fact(Fact(**data))
            else:
                r.graph.add_edge(src, dst, key=kind, **data)
        for digest, seq, source, data in obs:
            self.observations[digest] = (seq, source, data)
        for i, ev in enumerate(r.all_events()):
            for ent in ev.entity_ids.values():
                r.last_seen[ent] = i
            r.order.append(ev)
            for m in ev.mentions:
                key = normalize_name(m["name"])
                if " " in key and key not in r.evidence:
                    r._by_first.setdefault(key.split()[0], []).append(key)
                e = r.evidence.setdefault(key, [0.0, 0.0])
                e[0] += float(m.get("person", 0.0))
                e[1] += float(m.get("place", 0.0))
        r.typed = {k: r.kind_of(k) for k in r.evidence}
        r._tick = len(r.last_seen)

    def export(self) -> dict[str, Any]:
        """Everything the workspace holds, as plain sorted data (to compare or dump as JSON)."""
        r = self.reconciler
        nodes = {}
        for nid, d in r.graph.nodes(data=True):
            if d["kind"] == "event":
                nodes[nid] = {"kind": "event", **d["event"].to_dict()}
            else:
                nodes[nid] = {"kind": d["kind"], "name": d["name"], "aliases": d["aliases"]}
        edges = sorted(
            (u, v, k, {kk: (vv.to_dict() if isinstance(vv, Fact) else vv) for kk, vv in d.items()})
            for u, v, k, d in r.graph.edges(keys=True, data=True)
        )
        return {
            "nodes": dict(sorted(nodes.items())),
            "edges": [list(e) for e in edges],
            "clocks": dict(sorted(self.clocks.items())),
            "observations": sorted(self.observations),
        }

    # -- queries --------------------------------------------------------------------------
    @property
    def clock(self) -> str | None:
        """The latest time any source has reached."""
        return max(self.clocks.values(), default=None)

    def events(self) -> list[Event]:
        """Every event, in time order."""
        return self.reconciler.all_events()

    def people(self) -> list[str]:
        return sorted(self.reconciler.name_of(e) for e in self.reconciler.entities("person"))

    def places(self) -> list[str]:
        return sorted(self.reconciler.name_of(e) for e in self.reconciler.entities("place"))

    def where_was(self, person: str, time: str) -> QueryResult:
        """Where ``person`` was at ``time`` (ISO or a date phrase)."""
        return run(self.reconciler, "where_was", {"person": person, "time": self._t(time)})

    def who_was_at(self, place: str, time: str, *, state: bool = False) -> QueryResult:
        """Who took part in events at ``place`` on day ``time`` (``state``: whose location
        fact at ``time`` is ``place``, i.e. who was last seen there)."""
        if state:
            return who_was_at(self.reconciler, place, self._t(time), state=True)
        return run(self.reconciler, "who_at", {"place": place, "time": self._t(time)})

    def latest_location(self, person: str, as_of: str | None = None) -> QueryResult:
        """Where ``person`` was last known to be (on or before ``as_of``, ISO or a phrase)."""
        args = {"person": person}
        if as_of is not None:
            args["as_of"] = self._t(as_of)
        return run(self.reconciler, "latest", args)

    def places_visited(
        self, person: str, start: str | None = None, end: str | None = None
    ) -> QueryResult:
        """Distinct places ``person`` was at (asserted events with a day in [start, end])."""
        args = {"person": person}
        if start is not None:
            args["start"] = self._t(start)
        if end is not None:
            args["end"] = self._t(end)
        return run(self.reconciler, "places", args)

    def timeline(self, name: str) -> QueryResult:
        """Events of a person or at a place, in time order."""
        return run(self.reconciler, "timeline", {"name": name})

    def when_at(self, person: str, place: str) -> QueryResult:
        return run(self.reconciler, "when_at", {"person": person, "place": place})

    def met_both(self, a: str, b: str) -> QueryResult:
        return run(self.reconciler, "met_both", {"a": a, "b": b})

    def count(
        self,
        person: str | None = None,
        place: str | None = None,
        *,
        start: str | None = None,
        end: str | None = None,
        what: str | None = None,
    ) -> QueryResult:
        """A count; :attr:`QueryResult.unit` says what it counts.

        A person alone counts the distinct places they visited (``what="places"``); with a
        place, or ``what="events"``, it counts asserted events. ``start`` / ``end`` bound the
        days (inclusive).
        """
        from lcmem.memory.queries import count as _count

        return _count(
            self.reconciler,
            person,
            place,
            start=self._t(start) if start else None,
            end=self._t(end) if end else None,
            what=what,
        )

    def _t(self, time: str) -> str:
        if re.match(r"^\d{4}-\d{2}-\d{2}", time):
            return time
        parsed = parse_date(time, self.clock)
        if parsed is None:
            raise ConfigError(f"cannot read {time!r} as a date: use YYYY-MM-DD")
        return parsed

    def ask(self, question: str) -> QueryResult:
        """Answer a question of a known shape (see :func:`parse_question`).

        A question of no known shape gives a result of kind ``"unparsed"`` (not
        :attr:`~QueryResult.resolved`) whose text says so and lists the shapes understood.
        """
        question = _FIRST_PERSON_Q.sub(self.speaker, question)
        parsed = parse_question(question, self.clock)
        if parsed is None:
            return QueryResult(
                "unparsed",
                text=f"cannot parse the question {question!r}; questions understood: {SHAPES}",
                notes=["unparsed question"],
            )
        kind, args = parsed
        return run(self.reconciler, kind, args)

    def context_for(self, question: str, max_events: int = 12) -> str:
        """A compact text view of the part of the workspace a question is about.

        Uses the people, places and dates the question names: a person at a named place gives
        one line of dates (and what happened); two people give whom each met and the events
        they shared; a date gives the few events nearest it and where each named person was
        then; otherwise the latest events of the named people or places. At most
        ``max_events`` events, one line each (date place: who action). Empty if the question
        names nothing the workspace knows.

        Example:
            >>> ws = EpisodicWorkspace()
            >>> _ = ws.observe("On 2 May 2022, Ann Lee sang at the Old Mill.")
            >>> print(ws.context_for("When was Ann at the Old Mill?"))
            Ann Lee at the Old Mill (1 events): 2022-05-02 sang
        """
        question = _FIRST_PERSON_Q.sub(self.speaker, question)
        return "\n".join(self._context(question, max_events)[0])

    def _context(self, question: str, max_events: int) -> tuple[list[str], list[Event]]:
        r = self.reconciler
        ids = self._mentioned(question)
        days = [d.value[:10] for d in find_dates(question, self.clock) if d.value]
        if not ids and not days:
            return [], []
        persons = [i for i in ids if r.graph.nodes[i]["kind"] == "person"]
        places = [i for i in ids if r.graph.nodes[i]["kind"] == "place"]
        few = max(2, max_events // 3)
        lines: list[str] = []
        if persons and places and not days:
            chosen: list[Event] = []
            for p in persons:
                for pl in places:
                    evs = [e for e in r.events_of(p) if e.place_id == pl]
                    items = "; ".join(f"{e.day or '?'} {e.action}" for e in evs[-max_events:])
                    more = "... " if len(evs) > max_events else ""
                    lines.append(
                        f"{r.name_of(p)} at {r.name_of(pl)} ({len(evs)} events): {more}{items}"
                    )
                    chosen += evs[-max_events:]
            return lines, sort_events({e.id: e for e in chosen}.values())
        if len(persons) >= 2 and not days:
            # Only what the people have in common: whom all of them met (one line), then the
            # events they shared and one meeting of each with each common acquaintance.
            met = [
                {o for e in r.events_of(p) for o in e.entity_ids.values() if o != p}
                for p in persons
            ]
            common = set.intersection(*met) - set(persons)
            for i, p in enumerate(persons):
                for q in persons[i + 1 :]:
                    if q in met[i]:
                        lines.append(f"{r.name_of(p)} met {r.name_of(q)}")
            if common:
                names = ", ".join(sorted(map(r.name_of, common)))
                lines.append(f"{' and '.join(map(r.name_of, persons))} all met: {names}")
            shared = [
                e
                for p in persons
                for e in r.events_of(p)
                if len(set(e.entity_ids.values()) & set(persons)) >= 2
            ]
            for p in persons:
                for c in sorted(common):
                    first = next((e for e in r.events_of(p) if c in e.entity_ids.values()), None)
                    if first is not None:
                        shared.append(first)
            chosen = sort_events({e.id: e for e in shared}.values())[-few:]
        elif days:
            pool = [e for i in ids for e in r.events_of(i)] if ids else r.all_events()
            unique = list({e.id: e for e in pool}.values())
            unique.sort(key=lambda e: min(_day_distance(e.day, d) for d in days))
            chosen = sort_events(unique[:few])
            for p in persons:
                stays = [
                    f"{r.name_of(f.value)} from {f.valid_from[:10]} to {(f.valid_to or 'now')[:10]}"
                    + (" (conflicting)" if f.status == "conflicting" else "")
                    for f in r.facts.get(p, [])
                    if any(f.holds_at(d) for d in days)
                ]
                lines.append(f"{r.name_of(p)} was at: " + ("; ".join(stays) or "unknown"))
        else:
            pool = [e for i in ids for e in r.events_of(i)]
            chosen = sort_events({e.id: e for e in pool}.values())[-max(few, max_events // 2) :]
        for ev in chosen:
            who = ", ".join(dict.fromkeys(r.name_of(e) for e in ev.entity_ids.values()))
            place = r.name_of(ev.place_id) or "?"
            lines.append(f"{ev.day or '?'} {place}: {who} {ev.action}")
        return lines, chosen

    def evidence_for(self, question: str, max_events: int = 12) -> list[Event]:
        """The events :meth:`context_for` shows (their spans are the citations)."""
        question = _FIRST_PERSON_Q.sub(self.speaker, question)
        return self._context(question, max_events)[1]

    def _mentioned(self, question: str) -> list[str]:
        """Entities whose name or alias appears in ``question`` (longest names first)."""
        plain = re.sub(r"[^\w\s'’-]", " ", question)
        plain = re.sub(r"(?<=\w)['’]s?\b", "", plain)  # possessives: Brannoc's, Jonas'
        text = " " + normalize_name(plain) + " "
        found: list[str] = []
        for kind in ("person", "place"):
            for alias, ids in sorted(
                self.reconciler.aliases[kind].items(), key=lambda a: -len(a[0])
            ):
                if f" {alias} " in text:
                    for i in sorted(ids):
                        if i not in found:
                            found.append(i)
                    text = text.replace(f" {alias} ", " ")
        # a lone first or last name of exactly one person ("Ann" for Ann Lee)
        owners: dict[str, set[str]] = {}
        for alias, ids in self.reconciler.aliases["person"].items():
            words = alias.split()
            if len(words) > 1:
                for w in (words[0], words[-1]):
                    owners.setdefault(w, set()).update(ids)
        for word in text.split():
            ids = owners.get(word, set())
            if len(ids) == 1 and len(word) > 1 and next(iter(ids)) not in found:
                found.append(next(iter(ids)))
        return found

    def _alias_names(self, kind: str) -> set[str]:
        return set(self.reconciler.aliases[kind])

    def close(self) -> None:
        """Save and release the database (the engine of a Library is left open)."""
        self.save()

    def __repr__(self) -> str:
        r = self.reconciler
        return (
            f"EpisodicWorkspace({len(r.entities('person'))} people, "
            f"{len(r.entities('place'))} places, {len(r.all_events())} events)"
        )


def looks_eventful(text: str) -> bool:
    """True if some sentence has a date phrase or a capitalised name and a past-tense verb.

    Example:
        >>> looks_eventful("On May 3 Carla flew to Oslo."), looks_eventful("Nice weather.")
        (True, False)
    """
    from lcmem.memory.operator import sentences
    from lcmem.memory.operator_rules import _is_verb

    for s, e in sentences(text):
        sent = text[s:e]
        words = sent.split()
        names = [w for w in words[1:] if w[:1].isupper() and w.strip(".,").isalpha()]
        if (names or find_dates(sent)) and any(_is_verb(w) for w in words):
            return True
    return False


def _day_distance(a: str | None, b: str) -> int:
    import datetime as dt

    if not a:
        return 10**6
    try:
        return abs((dt.date.fromisoformat(a) - dt.date.fromisoformat(b)).days)
    except ValueError:
        return 10**6


def _iso(at: Any) -> str | None:
    if at is None:
        return None
    if hasattr(at, "isoformat"):
        return str(at.isoformat())
    text = str(at).strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?", text):
        return text.replace(" ", "T") if len(text) > 10 else text
    parsed = parse_date(text)
    if parsed is None:
        raise ConfigError(f"cannot read at={at!r} as a time: use ISO, e.g. 2024-05-02T10:00")
    return parsed


def _make_operator(operator: Operator | str, llm: LLM | None) -> Operator:
    if isinstance(operator, Operator):
        return operator
    if operator == "auto":
        operator = "parser" if parser_available() else "rules"
    if operator == "rules":
        return RuleOperator()
    if operator == "parser":
        from lcmem.memory.operator_parser import ParserOperator, load_pipeline

        load_pipeline()  # a missing spaCy or model is a ConfigError now, not at observe time
        return ParserOperator()
    if operator == "llm":
        if llm is None:
            raise ConfigError("the llm operator needs an LLM: pass llm=load_llm(...)")
        from lcmem.memory.operator_llm import LLMOperator

        return LLMOperator(llm)
    raise ConfigError(
        f"operator must be 'auto', 'parser', 'rules', 'llm' or an Operator, got {operator!r}"
    )


def parser_available() -> bool:
    """True if spaCy and an English pipeline for the parser operator are installed."""
    import importlib.util

    from lcmem.memory.operator_parser import MODEL_PACKAGES

    return importlib.util.find_spec("spacy") is not None and any(
        importlib.util.find_spec(m) is not None for m in MODEL_PACKAGES
    )


__all__ = ["EpisodicWorkspace", "NoEventsWarning", "looks_eventful"]
