from lcmem.memory.operator import OperatorContext
from lcmem.memory.operator_rules import RuleOperator, normalize_name


def extract(text, **ctx):
    return RuleOperator().extract(text, OperatorContext(source="s.txt", **ctx))


def test_event_parts_and_exact_source_span():
    text = (
        "Chapter 1\n\nIt was 7 June 2022 when Carla Diaz and Dr. Omar Haddad had dinner at the "
        "Blue Lantern. It rained."
    )
    ex = extract(text)
    assert len(ex.events) == 1
    e = ex.events[0]
    assert e.actor_names() == ["Carla Diaz", "Dr. Omar Haddad"]
    assert [a.role for a in e.actors] == ["subject", "subject"]
    assert (e.action, e.location, e.time, e.time_status) == (
        "had dinner",
        "the Blue Lantern",
        "2022-06-07",
        "resolved",
    )
    assert text[e.source.start : e.source.end] == e.text
    assert e.text.startswith("It was 7 June") and e.text.endswith("Lantern.")
    assert ex.clock == "2022-06-07"
    assert "the Blue Lantern" in ex.new_places


def test_offset_shifts_spans():
    ex = RuleOperator().extract(
        "On 1 May 2020, Ann Lee sang in Oslo.", OperatorContext(source="x", offset=100)
    )
    assert ex.events[0].source.start == 100


def test_roles_with_and_object():
    e = extract("On 2 May 2022, Carla met Omar at the Harbor with Ines.").events[0]
    assert [(a.name, a.role) for a in e.actors] == [
        ("Carla", "subject"),
        ("Omar", "object"),
        ("Ines", "with"),
    ]


def test_flashback_keeps_its_date_but_not_the_clock():
    text = (
        "On 10 June 2022, Carla sang in Porto. Back on 2 May 2022, Carla had hiked near "
        "Mount Tam. The next day, Carla flew to Lisbon."
    )
    ex = extract(text)
    assert [(e.time, e.flashback) for e in ex.events] == [
        ("2022-06-10", False),
        ("2022-05-02", True),
        ("2022-06-11", False),
    ]


def test_sentences_without_people_give_no_event_and_pronouns_inherit():
    text = (
        "The weather was mild and the streets were quiet. On 3 March 2021, Ann Lee and Bo Kim "
        "walked to Riverside Park. They went to the Old Mill the next day."
    )
    ex = extract(text)
    assert [(e.actor_names(), e.location, e.time) for e in ex.events] == [
        (["Ann Lee", "Bo Kim"], "Riverside Park", "2021-03-03"),
        (["Ann Lee", "Bo Kim"], "the Old Mill", "2021-03-04"),
    ]


def test_gazetteer_finds_known_places_without_a_preposition():
    ex = extract(
        "Riverside Park was where Ann celebrated, on 2021-04-01.", places={"Riverside Park"}
    )
    assert ex.events[0].location == "Riverside Park"


def test_known_people_are_not_places_and_speech_to_is_not_a_place():
    ex = extract("On 1 May 2021, Omar talked to Carla about the harvest.")
    assert ex.events[0].location is None
    assert ex.events[0].actor_names() == ["Omar", "Carla"]
    ex = extract("On 1 May 2021, Omar went to Carla.", people={"Carla"})
    assert ex.events[0].location is None


def test_speaker_is_the_first_person():
    ex = extract("I moved to Berlin yesterday.", clock="2024-05-02T10:00:00", speaker="user")
    e = ex.events[0]
    assert (e.actor_names(), e.location, e.time, e.time_status) == (
        ["user"],
        "Berlin",
        "2024-05-01",
        "relative",
    )


def test_unresolved_dates_are_reported_and_leave_the_time_empty():
    ex = extract("Some time later, Omar sold his bike in Lyon.", clock="2022-01-01")
    assert ex.events[0].time is None and ex.events[0].time_status == "unresolved"
    assert ex.unresolved == ["Some time later"]
    assert ex.clock == "2022-01-01"  # the clock does not move


def test_no_date_inherits_the_clock():
    e = extract("Omar sold his bike in Lyon.", clock="2022-01-01").events[0]
    assert (e.time, e.time_status) == ("2022-01-01", "inherited")


def test_normalize_name():
    assert normalize_name("Dr. Alice Moreau's") == "alice moreau"
    assert normalize_name("The Old Mill") == "old mill"
    assert normalize_name("Ms. Moreau") == "moreau"
