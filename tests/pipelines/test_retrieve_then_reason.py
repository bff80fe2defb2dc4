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
    ]
