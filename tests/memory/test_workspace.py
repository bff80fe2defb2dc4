import warnings

import pytest

from lcmem.memory import EpisodicWorkspace, NoEventsWarning
from lcmem.memory.operator import Extraction, Operator

STORY = (
    "Chapter 1\n\nOn March 5, 2021, Alice Moreau met Bob Li at Riverside Park. It was cold.\n\n"
    "Chapter 2\n\nTwo days later, Alice travelled to Lisbon with Carla Diaz.\n\n"
    "Chapter 3\n\nOn 12 March 2021, Bob Li and Carla had dinner at the Old Mill.\n\n"
    "Chapter 4\n\nBack on 1 March 2021, Bob had painted a mural in Porto.\n\n"
    "Chapter 5\n\nThe next day, Ms. Moreau returned to Riverside Park.\n"
)


@pytest.fixture
def ws():
    w = EpisodicWorkspace()
    w.observe(STORY, source="story.txt")
    return w


def test_queries(ws):
    assert ws.where_was("Alice", "2021-03-06").answers == ["Riverside Park"]
    assert ws.where_was("Alice", "2021-03-09").answers == ["Lisbon"]
    assert ws.where_was("Alice", "2021-03-20").answers == ["Riverside Park"]  # 13 March on
    assert ws.where_was("Alice", "2021-03-01").answers == []  # before her first event
    assert ws.where_was("Bob", "2021-03-02").answers == ["Porto"]  # flashback
    assert ws.who_was_at("Riverside Park", "2021-03-05").answers == ["Alice Moreau", "Bob Li"]
    assert ws.who_was_at("Riverside Park", "2021-03-06").answers == []
    assert ws.latest_location("Carla Diaz").answers == ["the Old Mill"]
    assert ws.when_at("Alice", "Riverside Park").answers == ["2021-03-05", "2021-03-13"]
    assert ws.met_both("Bob", "Carla").answers == ["Alice Moreau"]  # ch. 1 and ch. 2
    assert ws.met_both("Alice", "Bob").answers == ["Carla Diaz"]  # ch. 2 and ch. 3
    assert ws.count("Alice", "Riverside Park").answers == ["2"]
    assert [e.day for e in ws.timeline("Bob").events] == ["2021-03-01", "2021-03-05", "2021-03-12"]


def test_met_both(ws):
    # Bob met Alice (ch. 1) and Carla (ch. 3): Bob met both Alice and Carla
    assert ws.met_both("Alice", "Carla").answers == ["Bob Li"]


def test_question_parsing_and_citations(ws):
    r = ws.ask("Where was Alice Moreau on March 8, 2021?")
    assert r.kind == "where_was" and r.answers == ["Lisbon"]
    ev = r.events[0]
    assert STORY[ev.source.start : ev.source.end] == ev.text
    assert "Lisbon" in ev.text
    assert ws.ask("Who was at the Old Mill on 12 March 2021?").answers == ["Bob Li", "Carla Diaz"]
    assert ws.ask("How many times was Alice at Riverside Park?").answers == ["2"]
    res = ws.ask("Why is the sky blue?")
    assert res.kind == "unparsed" and not res.resolved and "cannot parse" in res.text


def test_unknown_names_answer_none_with_a_note(ws):
    r = ws.where_was("Zed", "2021-03-05")
    assert r.answers == [] and r.text.startswith("none") and r.notes


def test_observing_twice_adds_nothing(ws):
    before = ws.export()
    report = ws.observe(STORY, source="story.txt")
    assert report.duplicate and not report.events
    assert ws.export() == before


def test_contradictions_are_reported_and_both_kept():
    w = EpisodicWorkspace()
    w.observe("On 5 May 2022, Ann Lee was in Paris.", source="a")
    report = w.observe("On 5 May 2022, Ann Lee was in Rome.", source="b")
    assert len(report.conflicts) == 1
    r = w.where_was("Ann", "2022-05-05")
    assert r.answers == ["Paris", "Rome"] and "conflicting" in r.notes[0]


def test_unresolved_dates_are_recorded_not_guessed():
    w = EpisodicWorkspace()
    report = w.observe("Some time later, Omar sold his bike in Lyon.")
    assert report.unresolved == ["Some time later"]
    assert report.events[0].time is None
    assert w.where_was("Omar", "2030-01-01").answers == []
    assert w.timeline("Omar").answers == ["?@Lyon"]


def test_text_without_events_is_fine_and_quiet():
    w = EpisodicWorkspace()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = w.observe("The weather was mild and the streets were quiet.")
    assert report.ok and not report.events and not report.warnings
    assert not w.observe("   ").events


class Blind(Operator):
    name = "blind"

    def extract(self, text, context):
        return Extraction(clock=context.clock)


class Broken(Operator):
    name = "broken"

    def extract(self, text, context):
        raise RuntimeError("boom")


def test_eventful_text_with_no_events_is_reported_loudly():
    w = EpisodicWorkspace(operator=Blind())
    with pytest.warns(NoEventsWarning, match="no events"):
        report = w.observe("On May 3, 2022, Carla flew to Oslo with Omar.")
    assert report.warnings


def test_a_failing_operator_keeps_earlier_state(ws):
    before = ws.export()
    ws.operator = Broken()
    report = ws.observe("On 1 April 2021, Alice went to Oslo.")
    assert not report.ok and "boom" in report.errors[0]
    assert ws.export() == before


def test_chat_memory_with_timestamps():
    w = EpisodicWorkspace()
    w.observe("I moved to Berlin yesterday.", at="2024-05-02T10:00", source="chat")
    w.observe("Tomorrow I fly to Lisbon with Marta.", at="2024-06-10T09:00", source="chat")
    w.observe("Thanks, that sounds good.", at="2024-06-10T09:01", source="chat")
    assert w.ask("Where was I on May 20, 2024?").answers == ["Berlin"]
    assert w.ask("When was I in Lisbon?").answers == ["2024-06-11"]
    assert w.ask("Where am I now?").answers == ["Lisbon"]
    assert w.latest_location("user").answers == ["Lisbon"]
    assert w.who_was_at("Lisbon", "2024-06-11").answers == ["Marta", "user"]


def test_context_is_compact_and_relevant(ws):
    context = ws.context_for("What did Carla do in March 2021?")
    assert "Carla Diaz" in context and "Lisbon" in context and "Old Mill" in context
    assert "Porto" not in context.split("was at:")[0]  # Bob's flashback does not involve Carla
    assert len(context) < len(STORY)
    assert ws.context_for("What is the meaning of life?") == ""
    evidence = ws.evidence_for("What did Carla do in March 2021?")
    assert {e.day for e in evidence} == {"2021-03-07", "2021-03-12"}


def test_saved_workspace_reloads_exactly(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    w = EpisodicWorkspace(url)
    w.observe(STORY, source="story.txt")
    w.observe("On 5 May 2022, Ann Lee was in Paris.", source="a")
    w.observe("On 5 May 2022, Ann Lee was in Rome.", source="b")
    saved = w.export()
    again = EpisodicWorkspace(url)
    assert again.export() == saved
    # the clock of a source survives: a relative date continues the story
    again.observe("The next day, Bob Li walked to Porto.", source="story.txt")
    assert again.where_was("Bob", "2021-03-14").answers == ["Porto"]
    assert again.observe(STORY, source="story.txt").duplicate


def test_memory_shares_the_library_database(tmp_path):
    from lcmem.stores.sql import SQLStore

    store = SQLStore(f"sqlite:///{tmp_path / 'lcmem.db'}")
    w = EpisodicWorkspace(store)
    w.observe("On 5 May 2022, Ann Lee was in Paris.")
    assert EpisodicWorkspace(store).where_was("Ann", "2022-05-05").answers == ["Paris"]
    assert store.document_count() == 0  # the library's own tables are untouched


@pytest.mark.postgres
def test_postgres_roundtrip(fresh_postgres_url):
    w = EpisodicWorkspace(fresh_postgres_url)
    w.observe(STORY, source="story.txt")
    assert EpisodicWorkspace(fresh_postgres_url).export() == w.export()


def test_who_was_at_by_state(ws):
    # nobody had an event at Lisbon on 10 March, but Alice and Carla were last seen there
    assert ws.who_was_at("Lisbon", "2021-03-10").answers == []
    assert ws.who_was_at("Lisbon", "2021-03-10", state=True).answers == [
        "Alice Moreau",
        "Carla Diaz",
    ]
