from __future__ import annotations

from lcmem.pipelines.retrieve_then_reason import RetrieveThenReasonPipeline
from lcmem.types import Document
from tests.pipelines.scripted import FakeLibrary, ScriptedLLM, chunks_of

DOC = Document(
    "The museum opens at nine. Entry costs four euros. The cafe closes at five.\n"
    "Guided tours leave from the north hall every hour.",
    path="/docs/museum.txt",
)
PIECES = [
    "The museum opens at nine. Entry costs four euros.",
    "The cafe closes at five.",
    "Guided tours leave from the north hall every hour.",
]
FAKE = "Entry is free for everyone on Sundays."


def evidence_lines(prompt: str) -> list[str]:
    block = prompt.split("Evidence:\n", 1)[1].split("\n\nQuestion:", 1)[0]
    return [line.removeprefix("- ") for line in block.splitlines()]


def test_a_hallucinated_quote_never_reaches_the_reasoning_step():
    llm = ScriptedLLM(
        [
            f'1. "entry costs four  Euros."\n2. {FAKE}',  # one real (normalised), one invented
            "Four euros.",
        ]
    )
    lib = FakeLibrary([DOC], chunks_of(DOC, PIECES))
    rtr = RetrieveThenReasonPipeline(llm, replace_dropped=False)
    answer = rtr.ask("How much does entry cost?", library=lib)

    verify = next(s for s in answer.trace.steps if s.name == "verify quotes")
    assert verify.detail["dropped"] == [FAKE]
    assert [v["source"] for v in verify.detail["verified"]] == ["Entry costs four euros."]
    reasoning = llm.prompt(1)
    assert FAKE not in reasoning and "free" not in reasoning
    for line in evidence_lines(reasoning):
        assert line in DOC.text  # only source text is evidence
    assert answer.text == "Four euros."
    [cite] = answer.citations
    assert DOC.text[cite.chunk.start : cite.chunk.end] == "Entry costs four euros."
    assert cite.path == DOC.path and cite.chunk.metadata["method"] == "normalised"


def test_a_dropped_quote_is_replaced_by_the_best_hit_for_its_words():
    llm = ScriptedLLM(["The guided tours leave from the south gate.", "From the north hall."])
    lib = FakeLibrary([DOC], chunks_of(DOC, PIECES))
    answer = RetrieveThenReasonPipeline(llm).ask("Where do tours start?", library=lib)
    verify = next(s for s in answer.trace.steps if s.name == "verify quotes")
    assert verify.detail["verified"] == []
    assert verify.detail["dropped"] == ["The guided tours leave from the south gate."]
    assert verify.detail["replaced"][0]["by"].startswith("/docs/museum.txt:")
    lines = evidence_lines(llm.prompt(1))
    assert lines == ["Guided tours leave from the north hall every hour."]
    assert "south gate" not in llm.prompt(1)
    assert answer.citations[0].chunk.metadata["method"] == "replaced"


def test_no_quotes_at_all_falls_back_to_the_best_hit():
    llm = ScriptedLLM(["", "At five."])
    lib = FakeLibrary([DOC], chunks_of(DOC, PIECES))
    answer = RetrieveThenReasonPipeline(llm).ask("When does the cafe close?", library=lib)
    verify = next(s for s in answer.trace.steps if s.name == "verify quotes")
    assert verify.detail["fallback"] is not None
    assert evidence_lines(llm.prompt(1)) == ["The cafe closes at five."]
    assert [s.name for s in answer.trace.steps] == [
        "retrieve",
        "pack",
        "quote",
        "verify quotes",
        "reason",
        "check support",
    ]


OBS = Document(
    "The Naram observatory is run by Lena Voss. It opened in spring.\n"
    "The Kelda observatory is run by Ivo Stam.\n"
    "Telescopes need dark skies and dry air to work well at night.\n"
    "The badge number of Ivo Stam is 55555.\n"
    "Budgets are set every year. The badge number of Lena Voss is 18383.",
    path="/docs/obs.txt",
)
OBS_PIECES = [
    "The Naram observatory is run by Lena Voss. It opened in spring.",
    "The Kelda observatory is run by Ivo Stam.",
    "Telescopes need dark skies and dry air to work well at night.",
    "The badge number of Ivo Stam is 55555.",
    "Budgets are set every year. The badge number of Lena Voss is 18383.",
]
OBS_QUESTION = "What is the badge number of the person who runs the Naram observatory?"


def test_the_second_hop_finds_the_bridge_names_fact_and_focus_sets_look_alikes_aside():
    llm = ScriptedLLM(
        [
            "The Naram observatory is run by Lena Voss.\nThe badge number of Ivo Stam is 55555.",
            "18383",
        ]
    )
    lib = FakeLibrary([OBS], chunks_of(OBS, OBS_PIECES))
    answer = RetrieveThenReasonPipeline(llm, k=3).ask(OBS_QUESTION, library=lib)
    verify = next(s for s in answer.trace.steps if s.name == "verify quotes")
    # the quote step missed the answer fact; searching for "Lena Voss" finds it
    assert ("Lena Voss", 3) in lib.searches
    assert len(verify.detail["hop"]) == 1
    assert evidence_lines(llm.prompt(1)) == [
        "The Naram observatory is run by Lena Voss.",
        "The badge number of Lena Voss is 18383.",
    ]
    assert len(verify.detail["set_aside"]) == 1  # Ivo Stam's badge: not on the chain
    assert [c.chunk.metadata["method"] for c in answer.citations] == ["exact", "hop"]
    for c in answer.citations:
        assert OBS.text[c.chunk.start : c.chunk.end] == c.chunk.text


def test_one_hop_without_focus_reads_all_verified_evidence_chained_first():
    llm = ScriptedLLM(
        [
            "The badge number of Ivo Stam is 55555.\nThe Naram observatory is run by Lena Voss.",
            "18383",
        ]
    )
    lib = FakeLibrary([OBS], chunks_of(OBS, OBS_PIECES))
    rtr = RetrieveThenReasonPipeline(llm, k=3, hops=1, focus_chain=False)
    answer = rtr.ask(OBS_QUESTION, library=lib)
    verify = next(s for s in answer.trace.steps if s.name == "verify quotes")
    assert verify.detail["hop"] == [] and verify.detail["set_aside"] == []
    assert len(lib.searches) == 1  # no second round
    assert evidence_lines(llm.prompt(1)) == [
        "The Naram observatory is run by Lena Voss.",
        "The badge number of Ivo Stam is 55555.",
    ]


def test_the_anchor_adds_the_shown_sentences_naming_the_question_entity():
    # the quote step copies a look-alike fact about another observatory
    llm = ScriptedLLM(["The Kelda observatory is run by Ivo Stam.", "18383"])
    lib = FakeLibrary([OBS], chunks_of(OBS, OBS_PIECES))
    answer = RetrieveThenReasonPipeline(llm, k=5).ask(OBS_QUESTION, library=lib)
    verify = next(s for s in answer.trace.steps if s.name == "verify quotes")
    assert [v["source"] for v in verify.detail["verified"]] == [
        "The Kelda observatory is run by Ivo Stam."
    ]
    assert len(verify.detail["anchored"]) == 1  # the Naram sentence, from a shown passage
    assert evidence_lines(llm.prompt(1)) == [
        "The Naram observatory is run by Lena Voss.",
        "The badge number of Lena Voss is 18383.",
    ]
    assert [c.chunk.metadata["method"] for c in answer.citations] == ["anchor", "hop"]
    no_anchor = RetrieveThenReasonPipeline(
        ScriptedLLM(["The Kelda observatory is run by Ivo Stam.", "?"]), k=5, anchor=False
    )
    plain = no_anchor.ask(OBS_QUESTION, library=FakeLibrary([OBS], chunks_of(OBS, OBS_PIECES)))
    assert [c.chunk.text for c in plain.citations] == ["The Kelda observatory is run by Ivo Stam."]
