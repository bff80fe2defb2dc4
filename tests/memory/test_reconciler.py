from lcmem.llm.base import LLM, Completion
from lcmem.memory.events import Actor, Event
from lcmem.memory.reconciler import Reconciler


def ev(eid, names, place, time, text=""):
    return Event("did", [Actor(n) for n in names], place, time, id=eid, text=text)


class Judge(LLM):
    """Test double: answers every disambiguation with a fixed reply and counts calls."""

    name, context_window = "judge", 512

    def __init__(self, reply):
        self.reply, self.calls = reply, 0

    def complete(self, messages, max_tokens=256, stop=None, temperature=0.0, seed=None):
        self.calls += 1
        return Completion(self.reply, 1, 1, 0.0)

    def count_tokens(self, text):
        return len(text.split())


def test_first_names_titles_and_full_names_resolve_to_one_person():
    r = Reconciler()
    r.add_event(ev("e1", ["Alice Moreau"], "Paris", "2021-03-01"))
    r.add_event(ev("e2", ["Alice"], "Rome", "2021-03-02"))
    r.add_event(ev("e3", ["Ms. Moreau"], "the Old Mill", "2021-03-03"))
    r.add_event(ev("e4", ["Dr. Alice Moreau"], "Old Mill", "2021-03-04"))
    assert r.entities("person") == ["person:alice-moreau"]
    assert r.entities("place") == ["place:paris", "place:rome", "place:old-mill"]


def test_first_name_seen_before_the_full_name_is_completed():
    r = Reconciler()
    r.add_event(ev("e1", ["Bruno"], "Paris", "2021-03-01"))
    r.add_event(ev("e2", ["Bruno Marchetti"], "Rome", "2021-03-02"))
    assert r.entities("person") == ["person:bruno"]
    assert r.name_of("person:bruno") == "Bruno Marchetti"


def test_spelling_variants_merge_by_similarity():
    r = Reconciler()
    r.add_event(ev("e1", ["Alexandra Petrakis"], "Paris", "2021-03-01"))
    r.add_event(ev("e2", ["Alexandra Petrakes"], "Paris", "2021-03-02"))
    assert len(r.entities("person")) == 1


def test_ambiguous_surname_without_llm_picks_most_recent_and_says_so():
    r = Reconciler()
    r.add_event(ev("e1", ["Jean Moreau"], "Paris", "2021-03-01"))
    r.add_event(ev("e2", ["Alice Moreau"], "Rome", "2021-03-02"))
    r.add_event(ev("e3", ["Moreau"], "Lyon", "2021-03-03"))
    assert "person:alice-moreau" in r.events_of("place:lyon")[0].entity_ids.values()
    assert any("ambiguous" in n and "Moreau" in n for n in r.notes)


def test_ambiguous_pairs_only_go_to_the_llm():
    judge = Judge("1")
    r = Reconciler(llm=judge)
    r.add_event(ev("e1", ["Jean Moreau"], "Paris", "2021-03-01"))
    r.add_event(ev("e2", ["Alice Moreau"], "Rome", "2021-03-02"))
    r.add_event(ev("e3", ["Alice"], "Rome", "2021-03-03"))  # unique: no LLM call
    assert judge.calls == 0
    r.add_event(ev("e4", ["Moreau"], "Lyon", "2021-03-04", text="Old Moreau, the father..."))
    assert judge.calls == 1
    # candidates are sorted ids: alice-moreau (1), jean-moreau (2)
    assert r.events_of("place:lyon")[0].entity_ids == {"Moreau": "person:alice-moreau"}


def test_garbage_from_the_judge_falls_back():
    r = Reconciler(llm=Judge("I think maybe"))
    r.add_event(ev("e1", ["Jean Moreau"], "Paris", "2021-03-01"))
    r.add_event(ev("e2", ["Alice Moreau"], "Rome", "2021-03-02"))
    r.add_event(ev("e3", ["Moreau"], "Lyon", "2021-03-03"))
    assert len(r.entities("person")) == 2


def test_intervals_close_and_nothing_is_deleted():
    r = Reconciler()
    r.add_event(ev("e1", ["Ann"], "Paris", "2021-03-01"))
    r.add_event(ev("e2", ["Ann"], "Rome", "2021-03-05"))
    r.add_event(ev("e3", ["Ann"], "Oslo", "2021-03-09"))
    facts = r.facts["person:ann"]
    assert [(f.value, f.valid_from, f.valid_to, f.status) for f in facts] == [
        ("place:paris", "2021-03-01", "2021-03-05", "closed"),
        ("place:rome", "2021-03-05", "2021-03-09", "closed"),
        ("place:oslo", "2021-03-09", None, "current"),
    ]


def test_an_earlier_event_told_later_fits_between():
    r = Reconciler()
    r.add_event(ev("e1", ["Ann"], "Paris", "2021-03-01"))
    r.add_event(ev("e2", ["Ann"], "Oslo", "2021-03-09"))
    r.add_event(ev("e3", ["Ann"], "Rome", "2021-03-05"))  # flashback
    assert [(f.value, f.valid_from, f.valid_to) for f in r.facts["person:ann"]] == [
        ("place:paris", "2021-03-01", "2021-03-05"),
        ("place:rome", "2021-03-05", "2021-03-09"),
        ("place:oslo", "2021-03-09", None),
    ]


def test_contradictions_are_kept_and_marked():
    r = Reconciler()
    assert r.add_event(ev("e1", ["Ann"], "Paris", "2021-03-01")) == []
    conflicts = r.add_event(ev("e2", ["Ann"], "Rome", "2021-03-01"))
    assert len(conflicts) == 1
    assert conflicts[0].values == ["place:paris", "place:rome"]
    assert {f.status for f in r.facts["person:ann"]} == {"conflicting"}
    assert len(r.facts["person:ann"]) == 2


def test_same_event_twice_is_ignored():
    r = Reconciler()
    r.add_event(ev("e1", ["Ann"], "Paris", "2021-03-01"))
    r.add_event(ev("e1", ["Ann"], "Paris", "2021-03-01"))
    assert len(r.all_events()) == 1 and len(r.facts["person:ann"]) == 1


def test_events_without_time_or_place_make_no_fact():
    r = Reconciler()
    r.add_event(ev("e1", ["Ann"], "Paris", None))
    r.add_event(ev("e2", ["Ann"], None, "2021-03-01"))
    assert not r.facts.get("person:ann")
    assert len(r.events_of("person:ann")) == 2


class LetterEmbedder:
    """Test double: names with the same letters get the same vector (cosine 1)."""

    def embed(self, texts, kind="document"):
        import numpy as np

        out = []
        for t in texts:
            v = np.zeros(26, dtype="float32")
            for ch in t.lower():
                if ch.isalpha() and ch.isascii():
                    v[ord(ch) - 97] = 1
            out.append(v / max(np.linalg.norm(v), 1e-9))
        return np.stack(out)


def test_embedding_tier_merges_what_strings_miss():
    r = Reconciler(embedder=LetterEmbedder())
    r.add_event(ev("e1", ["Rosa Abara"], "Paris", "2021-03-01"))
    r.add_event(ev("e2", ["Abara Rosa"], "Paris", "2021-03-02"))  # reversed order
    assert len(r.entities("person")) == 1
    plain = Reconciler()
    plain.add_event(ev("e1", ["Rosa Abara"], "Paris", "2021-03-01"))
    plain.add_event(ev("e2", ["Abara Rosa"], "Paris", "2021-03-02"))
    assert len(plain.entities("person")) == 2
