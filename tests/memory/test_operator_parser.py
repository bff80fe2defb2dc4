"""The parser operator on the failure kinds of issue 17 (our own example sentences).

These load the packaged spaCy pipeline (the ``memory`` extra), so they are marked slow.
"""

import pytest

from tests.extras import needs

needs("spacy", extra="memory")

from lcmem.memory import EpisodicWorkspace  # noqa: E402
from lcmem.memory.operator import OperatorContext  # noqa: E402
from lcmem.memory.operator_parser import ParserOperator  # noqa: E402

pytestmark = pytest.mark.slow


def events(text, clock="2031-05-01"):
    return ParserOperator().extract(text, OperatorContext(source="s", clock=clock)).events


def ws_of(text):
    ws = EpisodicWorkspace(operator="parser")
    ws.observe(text, source="story")
    return ws


def test_place_opening_a_clause_is_a_place():
    ws = ws_of("On 1 May 2031, Teodor Blum rode to Harlow Junction.\n\n"
               "Three days later, Harlow Junction welcomed Ada Finch.")  # fmt: skip
    ev = ws.events()[-1]
    assert ev.actor_names() == ["Ada Finch"]
    assert ev.location == "Harlow Junction"
    assert ws.latest_location("Ada Finch").answers == ["Harlow Junction"]
    assert "Harlow Junction" not in ws.people()


def test_type_is_revised_by_later_evidence_and_earlier_events_follow():
    text = (
        "On 1 May 2031, Kelso greeted Ada Finch.\n\n"
        "On 2 May 2031, Ada Finch walked to Kelso.\n\n"
        "On 3 May 2031, Ben Ode slept at Kelso.\n\n"
        "On 4 May 2031, Cleo Mast waited near Kelso."
    )
    ws = ws_of(text)
    assert "Kelso" in ws.places() and "Kelso" not in ws.people()
    assert ws.latest_location("Ben Ode").answers == ["Kelso"]


def test_chapters_and_one_call_give_the_same_graph():
    chapters = [
        "On 1 May 2031, Kelso greeted Ada Finch. Ben Ode fed the hens at Gull Island.",
        "Two days later, Ada Finch walked to Kelso.",
        "On 5 May 2031, Ben Ode slept at Kelso. Much earlier, on 2 March 2029, Ada Finch "
        "fished at Gull Island.",
    ]
    one = EpisodicWorkspace(operator="parser")
    one.observe("\n\n".join(chapters), source="story")
    many = EpisodicWorkspace(operator="parser")
    offset = 0
    for ch in chapters:
        many.observe(ch, source="story", offset=offset)
        offset += len(ch) + 2
    a, b = one.export(), many.export()
    assert a["nodes"] == b["nodes"] and a["edges"] == b["edges"] and a["clocks"] == b["clocks"]


def test_the_evening_of_date_takes_the_date():
    ev = events("The evening of 4 June 2031 found Ada Finch at the Ferry House.")[0]
    assert ev.time == "2031-06-04"
    assert [m["name"] for m in ev.mentions] == ["Ada Finch", "the Ferry House"]


def test_list_opening_a_sentence_keeps_every_name():
    ws = ws_of("Ada Finch, Ben Ode and Cleo Mast rowed to Gull Island on 2 May 2031.")
    assert ws.events()[0].actor_names() == ["Ada Finch", "Ben Ode", "Cleo Mast"]
    assert ws.events()[0].location == "Gull Island"


def test_verbs_outside_any_list_still_make_events():
    ws = ws_of("On 3 May 2031, Ben Ode whitewashed the fence at Gull Island.")
    ev = ws.events()[0]
    assert ev.actor_names() == ["Ben Ode"] and ev.location == "Gull Island"
    assert ev.action.startswith("whitewashed")


@pytest.mark.parametrize(
    "opening",
    ["Long before any of this, on", "Much earlier, on", "Decades back, on", "Once, on"],
)
def test_flashbacks_in_other_words_do_not_move_the_clock(opening):
    ws = ws_of(
        "On 10 May 2031, Ada Finch sat at Gull Island.\n\n"
        f"{opening} 2 March 2029, Cleo Mast fished at Port Veller.\n\n"
        "The next day, Ada Finch walked to Harlow Junction."
    )
    evs = {e.text.split(",")[0]: e for e in ws.events()}
    assert any(e.flashback and e.time == "2029-03-02" for e in evs.values())
    assert ws.where_was("Ada Finch", "2031-05-11").answers == ["Harlow Junction"]


def test_non_facts_make_no_location_facts():
    text = (
        "On 1 May 2031, Ada Finch sat at Gull Island.\n\n"
        "Ada Finch wrote a letter to Ben Ode.\n\n"
        "It was whispered that Cleo Mast had hidden at Port Veller.\n\n"
        "Ben Ode had hoped to sail to Port Veller on 9 May 2031, but the crossing was "
        "cancelled.\n\n"
        "That night Ada Finch dreamt of Port Veller.\n\n"
        "Cleo Mast never went to Port Veller.\n\n"
        "If Ben Ode had gone to Port Veller, he would have met Cleo Mast."
    )
    ws = ws_of(text)
    assert "Ben Ode" not in ws.places()
    modalities = [e.modality for e in ws.events() if "Port Veller" in e.text or "letter" in e.text]
    assert "asserted" not in modalities
    assert set(modalities) >= {"reported", "cancelled", "hypothetical", "negated"}
    assert ws.latest_location("Ada Finch").answers == ["Gull Island"]
    assert ws.latest_location("Cleo Mast").answers == []
    assert ws.met_both("Ada Finch", "Ben Ode").answers == []


def test_queries_from_the_issue():
    text = (
        "On 1 May 2031, Ada Finch and Ben Ode rowed to Gull Island.\n\n"
        "On 3 May 2031, Ada Finch walked to Harlow Junction with Cleo Mast.\n\n"
        "On 6 May 2031, Ben Ode met Cleo Mast at Port Veller.\n\n"
        "On 9 May 2031, Ada Finch returned to Gull Island."
    )
    ws = ws_of(text)
    assert ws.ask("What was Ada Finch's latest known location?").answers == ["Gull Island"]
    asof = ws.ask("As of 4 May 2031, what was Ada's latest known location?")
    assert asof.answers == ["Harlow Junction"]
    assert ws.latest_location("Ada Finch", as_of="2031-05-02").answers == ["Gull Island"]
    n = ws.ask("How many distinct places did Ada Finch visit?")
    assert n.answers == ["2"] and n.unit == "distinct places"
    between = ws.ask("How many distinct places did Ada visit between 2 May 2031 and 5 May 2031?")
    assert between.answers == ["1"]
    assert ws.places_visited("Ada Finch", "2031-05-01", "2031-05-03").answers == [
        "Gull Island",
        "Harlow Junction",
    ]
    assert ws.ask("Which characters met both Ada Finch and Ben Ode?").answers == ["Cleo Mast"]
    unparsed = ws.ask("Why did Ada leave?")
    assert unparsed.kind == "unparsed" and "cannot parse" in unparsed.text
    assert "Gull Island" in ws.context_for("What was Ada's latest known location?")
