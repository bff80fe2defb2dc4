"""The Reconciler: merges events into the workspace graph, resolving who is who.

Entity resolution goes through cheap tiers first:

1. the normalised name or a known alias (``"Dr. Alice Moreau"`` -> ``alice moreau``);
2. partial person names: a lone first or last name (``Alice``, ``Ms. Moreau``) matches the one
   person it fits, and a full name completes an earlier first-name-only person;
3. string similarity (rapidfuzz's normalised Indel ratio), or embedding similarity when an
   embedder is given, for spelling variants;
4. the LLM, only for the pairs left ambiguous (two people called Moreau, a near miss).
   Without an LLM an ambiguous partial name goes to the person seen most recently and a near
   miss becomes a new entity; both are reported.

Location facts carry validity intervals: a fact opened by an event at time T closes the
interval of the fact that held before T; nothing is deleted. Two facts with the same start and
different places are both kept and marked ``conflicting``.

Example:
    >>> from lcmem.memory.events import Actor, Event
    >>> r = Reconciler()
    >>> _ = r.add_event(Event("met", [Actor("Alice Moreau")], "Paris", "2021-03-01", id="e1"))
    >>> _ = r.add_event(Event("left", [Actor("Alice")], "Rome", "2021-03-04", id="e2"))
    >>> [(f.value, f.valid_from, f.valid_to) for f in r.facts["person:alice-moreau"]]
    [('place:paris', '2021-03-01', '2021-03-04'), ('place:rome', '2021-03-04', None)]
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from lcmem.memory.events import Actor, Conflict, Event, Fact
from lcmem.memory.operator_rules import normalize_name
from lcmem.types import content_hash

if TYPE_CHECKING:
    from lcmem.embedders.base import Embedder
    from lcmem.llm.base import LLM

SAME = 0.88  # string similarity at or above which two names are the same entity
MAYBE = 0.75  # between MAYBE and SAME: ambiguous, asked to the LLM if there is one
EMBED_SAME = 0.92


class Reconciler:
    """The workspace graph (networkx ``MultiDiGraph``) and its indices.

    Nodes: ``person:*`` and ``place:*`` entities (``kind``, ``name``, ``aliases``) and
    ``event:*`` nodes (``kind="event"``, ``event``). Edges: person -> event (``actor``, with
    ``role``), event -> place (``at``), person -> place (``fact``, with the :class:`Fact`).

    Args:
        llm: asked about ambiguous name pairs only; ``None`` uses the fallbacks above.
        embedder: adds an embedding-similarity tier for names.
    """

    def __init__(self, llm: LLM | None = None, embedder: Embedder | None = None) -> None:
        import networkx as nx

        self.graph: Any = nx.MultiDiGraph()
        self.llm = llm
        self.embedder = embedder
        self.aliases: dict[str, dict[str, set[str]]] = {"person": {}, "place": {}}
        self.facts: dict[str, list[Fact]] = defaultdict(list)
        self.last_seen: dict[str, int] = {}
        self.notes: list[str] = []
        self.dirty_nodes: set[str] = set()
        self.dirty_edges: set[str] = set()
        self._tick = 0
        # Typing of parsed names (events with mentions): evidence [person, place] per name key,
        # the type each key had when its events were merged, and every event in merge order,
        # so that the graph can be rebuilt when a name's type changes.
        self.evidence: dict[str, list[float]] = {}
        self.typed: dict[str, str] = {}
        self.order: list[Event] = []
        self._by_first: dict[str, list[str]] = {}
        self.rebuilt = False

    # -- entities -------------------------------------------------------------------------
    def entity(self, eid: str) -> dict[str, Any]:
        return self.graph.nodes[eid]

    def entities(self, kind: str | None = None) -> list[str]:
        """Ids of entities (``person`` / ``place`` or both)."""
        kinds = (kind,) if kind else ("person", "place")
        return [n for n, d in self.graph.nodes(data=True) if d.get("kind") in kinds]

    def name_of(self, eid: str | None) -> str:
        return self.graph.nodes[eid]["name"] if eid and eid in self.graph else ""

    def lookup(self, name: str, kind: str) -> list[str]:
        """Entities ``name`` may denote, without creating any (tiers 1-3, no LLM)."""
        key = normalize_name(name)
        if not key:
            return []
        exact = self.aliases[kind].get(key)
        if exact:
            return sorted(exact)
        partial = self._partial(key, kind)
        if partial:
            return partial
        best = self._similar(key, kind)
        return [eid for eid, score in best if score >= SAME]

    def resolve(self, name: str, kind: str, context: str = "") -> str | None:
        """The entity id of ``name`` (created if new); notes ambiguities in :attr:`notes`."""
        key = normalize_name(name)
        if not key:
            return None
        exact = self.aliases[kind].get(key)
        if exact and len(exact) == 1:
            return next(iter(exact))
        candidates = sorted(exact) if exact else self._partial(key, kind)
        if len(candidates) == 1:
            self._add_alias(candidates[0], name)
            return candidates[0]
        if len(candidates) > 1:
            chosen = self._ask(name, candidates, context)
            if chosen is None:
                chosen = max(candidates, key=lambda c: self.last_seen.get(c, -1))
                self.notes.append(
                    f"ambiguous {kind} {name!r}: "
                    f"{', '.join(self.name_of(c) for c in candidates)}; chose "
                    f"{self.name_of(chosen)} (seen most recently)"
                )
            self._add_alias(chosen, name)
            return chosen
        similar = self._similar(key, kind)
        if similar and similar[0][1] >= SAME:
            self._add_alias(similar[0][0], name)
            return similar[0][0]
        maybe = [eid for eid, score in similar if score >= MAYBE]
        if maybe:
            chosen = self._ask(name, maybe, context)
            if chosen is not None:
                self._add_alias(chosen, name)
                return chosen
            self.notes.append(
                f"{kind} {name!r} looks like {', '.join(self.name_of(c) for c in maybe)}; "
                "kept apart (no LLM to decide)"
                if self.llm is None
                else f"{kind} {name!r} kept apart from {', '.join(self.name_of(c) for c in maybe)}"
            )
        return self._new_entity(name, kind)

    def _partial(self, key: str, kind: str) -> list[str]:
        """Persons a partial name fits (first/last name alone, or a completed first name)."""
        if kind != "person":
            return []
        tokens = key.split()
        found: set[str] = set()
        for alias, ids in self.aliases["person"].items():
            words = alias.split()
            if len(tokens) == 1 and len(words) > 1 and tokens[0] in (words[0], words[-1]):
                found |= ids
            elif len(tokens) > 1 and len(words) == 1 and words[0] == tokens[0]:
                found |= {i for i in ids if len(normalize_name(self.name_of(i)).split()) == 1}
        return sorted(found)

    def _similar(self, key: str, kind: str) -> list[tuple[str, float]]:
        """Entities by name similarity (best first): Indel ratio, or cosine with an embedder.

        The ratio is ``1 - edits / (len(a) + len(b))`` with insertions and deletions as edits,
        difflib's ``SequenceMatcher.ratio`` made exact (longest common subsequence).
        """
        from rapidfuzz import fuzz, process

        scores: dict[str, float] = {}
        aliases = self.aliases[kind]
        for alias, score, _ in process.extract(
            key, list(aliases), scorer=fuzz.ratio, score_cutoff=100 * MAYBE, limit=None
        ):
            for i in aliases[alias]:
                scores[i] = max(scores.get(i, 0.0), score / 100)
        if (
            self.embedder is not None
            and self.aliases[kind]
            and not any(s >= SAME for s in scores.values())
        ):
            names = list(self.aliases[kind])
            vecs = self.embedder.embed([key, *names], kind="query")
            sims = vecs[1:] @ vecs[0]
            for alias, sim in zip(names, sims, strict=True):
                if sim >= EMBED_SAME:
                    for i in self.aliases[kind][alias]:
                        scores[i] = max(scores.get(i, 0.0), SAME)
        return sorted(scores.items(), key=lambda kv: -kv[1])

    def _ask(self, name: str, candidates: list[str], context: str) -> str | None:
        """Ask the LLM which candidate ``name`` denotes; ``None`` if no LLM or no clear answer."""
        if self.llm is None:
            return None
        from lcmem.llm.base import user

        options = "\n".join(f"{i}. {self.name_of(c)}" for i, c in enumerate(candidates, 1))
        prompt = (
            f"Sentence: {context}\n\nIn this sentence, who or what is {name!r}?\n{options}\n"
            "0. none of these\nAnswer with the number only."
        )
        try:
            reply = self.llm.generate([user(prompt)], max_tokens=4)
        except Exception as exc:  # a failing LLM must not break reconciliation
            self.notes.append(f"LLM failed on {name!r}: {exc}")
            return None
        m = re.search(r"\d+", reply)
        if m and 1 <= int(m.group(0)) <= len(candidates):
            return candidates[int(m.group(0)) - 1]
        return None

    def _new_entity(self, name: str, kind: str) -> str:
        base = f"{kind}:{_slug(normalize_name(name))}"
        eid, n = base, 2
        while eid in self.graph:
            eid, n = f"{base}-{n}", n + 1
        self.graph.add_node(eid, kind=kind, name=_display(name), aliases=[])
        self._add_alias(eid, name)
        return eid

    def _add_alias(self, eid: str, name: str) -> None:
        key = normalize_name(name)
        node = self.graph.nodes[eid]
        if key not in node["aliases"]:
            node["aliases"] = sorted({*node["aliases"], key})
            self.dirty_nodes.add(eid)
        self.aliases[node["kind"]].setdefault(key, set()).add(eid)
        if len(key.split()) > len(normalize_name(node["name"]).split()):
            node["name"] = _display(name)  # a fuller name completes a partial one
            self.dirty_nodes.add(eid)

    def add_entity_node(self, eid: str, kind: str, name: str, aliases: list[str]) -> None:
        """Restore an entity (used when loading a saved workspace)."""
        self.graph.add_node(eid, kind=kind, name=name, aliases=list(aliases))
        for key in aliases:
            self.aliases[kind].setdefault(key, set()).add(eid)

    # -- events and facts -----------------------------------------------------------------
    def kind_of(self, name: str) -> str:
        """``person``, ``place`` or ``unknown``: what the evidence so far says ``name`` is.

        Example:
            >>> r = Reconciler()
            >>> _ = r.add_event(Event("came", time="2030-01-01", id="e1", mentions=[
            ...     {"name": "Ashgrove", "role": "subject", "person": 2.0, "place": 0.0}]))
            >>> r.kind_of("Ashgrove")
            'person'
            >>> _ = r.add_event(Event("went", time="2030-01-02", id="e2", mentions=[
            ...     {"name": "Ann", "role": "subject", "person": 2.0, "place": 0.0},
            ...     {"name": "Ashgrove", "role": "loc", "place": 5.0, "person": 0.0}]))
            >>> r.kind_of("Ashgrove"), r.latest_place("Ann")
            ('place', 'Ashgrove')
        """
        key = normalize_name(name)
        person, place = self.evidence.get(key, (0.0, 0.0))
        if " " not in key:  # a first name shares the evidence of the full names it starts
            for full in self._by_first.get(key, ()):
                person += self.evidence[full][0]
                place += self.evidence[full][1]
        elif key.split()[0] in self.evidence:  # and a full name that of its first name
            first = self.evidence[key.split()[0]]
            person, place = person + first[0], place + first[1]
        if person == place == 0.0:
            return "unknown"
        return "place" if place > person else "person"

    def latest_place(self, person: str) -> str | None:
        """Name of the place of ``person``'s latest location fact (a shortcut for tests)."""
        ids = self.lookup(person, "person")
        facts = self.facts.get(ids[0], []) if ids else []
        return self.name_of(max(facts, key=lambda f: f.valid_from).value) if facts else None

    def add_event(self, event: Event) -> list[Conflict]:
        """Merge ``event`` (its ``id`` set) into the graph; returns the conflicts it raised.

        An event with parsed ``mentions`` first adds their evidence; if that changes the type
        of a name seen before, the whole graph is rebuilt from the events in merge order with
        the new types (so the graph never depends on when a type was decided).
        """
        if event.id in self.graph:
            return []
        self.order.append(event)
        if event.mentions:
            changed = False
            for m in event.mentions:
                key = normalize_name(m["name"])
                if not key:
                    continue
                if " " in key and key not in self.evidence:
                    self._by_first.setdefault(key.split()[0], []).append(key)
                ev = self.evidence.setdefault(key, [0.0, 0.0])
                ev[0] += float(m.get("person", 0.0))
                ev[1] += float(m.get("place", 0.0))
            keys = {normalize_name(m["name"]) for m in event.mentions}
            keys |= {k.split()[0] for k in keys if " " in k and k.split()[0] in self.typed}
            keys |= {f for k in list(keys) for f in self._by_first.get(k, ()) if f in self.typed}
            for key in keys:
                kind = self.kind_of(key)
                if key in self.typed and self.typed[key] != kind:
                    changed = True
                self.typed[key] = kind
            if changed:
                self._rebuild()
                return []
        return self._merge(event)

    def _rebuild(self) -> None:
        """Re-merge every event with the current name types (after a type changed)."""
        import networkx as nx

        order = self.order
        self.graph = nx.MultiDiGraph()
        self.aliases = {"person": {}, "place": {}}
        self.facts = defaultdict(list)
        self.last_seen = {}
        self._tick = 0
        self.typed = {k: self.kind_of(k) for k in self.evidence}
        for ev in order:
            if ev.id not in self.graph:
                self._merge(ev)
        self.rebuilt = True

    def _materialize(self, event: Event) -> None:
        """Fill ``actors`` and ``location`` of a parsed event from its typed mentions."""
        actors: list[Actor] = []
        location, best = None, 0
        for m in event.mentions:
            kind = self.kind_of(m["name"])
            if kind == "unknown":
                continue  # nothing says what it is (a capitalised first word)
            if kind == "person":
                if m["role"] in ("topic", "addressee", "poss", "there"):
                    continue  # talked about, written to: not there
                role = m["role"] if m["role"] in ("subject", "with") else "object"
                if m["name"] not in [a.name for a in actors]:
                    actors.append(Actor(m["name"], role))
            else:
                rank = {"loc": 3, "there": 3, "subject": 2, "object": 2, "other": 1}.get(
                    m["role"], 0
                )
                if rank > best:
                    location, best = m["name"], rank
        event.actors, event.location = actors, location

    def _merge(self, event: Event) -> list[Conflict]:
        if event.mentions:
            self._materialize(event)
        self._tick += 1
        event.entity_ids = {}
        for actor in event.actors:
            eid = self.resolve(actor.name, "person", event.text)
            if eid:
                event.entity_ids[actor.name] = eid
                self.last_seen[eid] = self._tick
        event.place_id = (
            self.resolve(event.location, "place", event.text) if event.location else None
        )
        self._link_event(event)
        conflicts: list[Conflict] = []
        if event.place_id and event.time and event.modality == "asserted":
            for eid in dict.fromkeys(event.entity_ids.values()):
                conflict = self._add_fact(eid, event.place_id, event.time, event.id)
                if conflict:
                    conflicts.append(conflict)
        return conflicts

    def _link_event(self, event: Event) -> None:
        self.graph.add_node(event.id, kind="event", event=event)
        self.dirty_nodes.add(event.id)
        for actor in event.actors:
            eid = event.entity_ids.get(actor.name)
            if eid:
                self.graph.add_edge(eid, event.id, key="actor", role=actor.role)
                self.dirty_edges.add(edge_id(eid, "actor", event.id))
        if event.place_id:
            self.graph.add_edge(event.id, event.place_id, key="at")
            self.dirty_edges.add(edge_id(event.id, "at", event.place_id))

    def _add_fact(self, eid: str, place: str, time: str, event_id: str) -> Conflict | None:
        facts = self.facts[eid]
        same = [f for f in facts if f.valid_from == time]
        if any(f.value == place for f in same):
            return None
        fact = Fact(
            id="fact:" + content_hash(f"{eid}|{place}|{time}")[:16],
            entity=eid,
            attribute="location",
            value=place,
            valid_from=time,
            event=event_id,
        )
        conflict = None
        if same:
            fact.valid_to = same[0].valid_to
            fact.status = "conflicting"
            for f in same:
                f.status = "conflicting"
                self._touch_fact(f)
            conflict = Conflict(
                entity=eid,
                attribute="location",
                time=time,
                values=[f.value for f in same] + [place],
                events=[f.event for f in same] + [event_id],
            )
        else:
            before = [f for f in facts if f.valid_from < time]
            after = [f for f in facts if f.valid_from > time]
            fact.valid_to = min(f.valid_from for f in after) if after else None
            if before:
                latest = max(f.valid_from for f in before)
                for f in before:
                    if f.valid_from == latest and (f.valid_to is None or f.valid_to > time):
                        f.valid_to = time
                        if f.status == "current":
                            f.status = "closed"
                        self._touch_fact(f)
            fact.status = "current" if fact.valid_to is None else "closed"
        facts.append(fact)
        facts.sort(key=lambda f: (f.valid_from, f.id))
        self._touch_fact(fact)
        return conflict

    def _touch_fact(self, fact: Fact) -> None:
        self.graph.add_edge(fact.entity, fact.value, key=fact.id, fact=fact)
        self.dirty_edges.add(fact.id)

    def restore_fact(self, fact: Fact) -> None:
        """Put back a saved fact (used when loading)."""
        self.facts[fact.entity].append(fact)
        self.facts[fact.entity].sort(key=lambda f: (f.valid_from, f.id))
        self.graph.add_edge(fact.entity, fact.value, key=fact.id, fact=fact)

    # -- reading --------------------------------------------------------------------------
    def events_of(self, eid: str) -> list[Event]:
        """Events an entity took part in (a person) or that happened there (a place), by time."""
        if eid not in self.graph:
            return []
        if self.graph.nodes[eid]["kind"] == "place":
            nodes = [u for u, _, k in self.graph.in_edges(eid, keys=True) if k == "at"]
        else:
            nodes = [v for _, v, k in self.graph.out_edges(eid, keys=True) if k == "actor"]
        return sort_events(self.graph.nodes[n]["event"] for n in dict.fromkeys(nodes))

    def all_events(self) -> list[Event]:
        return sort_events(
            d["event"] for _, d in self.graph.nodes(data=True) if d.get("kind") == "event"
        )


def sort_events(events: Any) -> list[Event]:
    """Events by time (unknown times last), then by source position."""
    return sorted(
        events,
        key=lambda e: (
            e.time is None,
            e.time or "",
            e.source.path if e.source else "",
            e.source.start if e.source else 0,
        ),
    )


def edge_id(src: str, kind: str, dst: str) -> str:
    """Stable id of a non-fact edge."""
    return f"{kind}|{src}|{dst}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _display(name: str) -> str:
    """A name as shown: as written, with runs of spaces collapsed."""
    return " ".join(name.split())
