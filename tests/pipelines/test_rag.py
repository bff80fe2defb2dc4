from __future__ import annotations

import pytest

from lcmem.errors import ConfigError, EmptyLibraryError, EmptyQueryError
from lcmem.pipelines import get_pipeline
from lcmem.pipelines.rag import RAGPipeline
from lcmem.types import Document, Hit
from tests.pipelines.scripted import FakeLibrary, ScriptedLLM, chunks_of

DOC = Document(
    "Bees make honey in summer. The hive has one queen. Wasps do not make honey. "
    "Honey keeps for years in a sealed jar.",
    path="/docs/bees.txt",
)
PIECES = [
    "Bees make honey in summer.",
    "The hive has one queen.",
    "Wasps do not make honey.",
    "Honey keeps for years in a sealed jar.",
]


def make_library() -> FakeLibrary:
    return FakeLibrary([DOC], chunks_of(DOC, PIECES))


def test_rag_packs_hits_in_document_order_within_budget_and_cites_them():
    llm = ScriptedLLM(["Answer: In summer."])
    lib = make_library()
    rag = get_pipeline("rag", llm, k=3, budget=20, max_tokens=16)
    answer = rag.ask("When do bees make honey?", library=lib)

    assert answer.text == "In summer."
    prompt = llm.prompt(0)
    context = prompt.split("Text:\n", 1)[1].split("\n\nQuestion:", 1)[0]
    assert llm.count_tokens(context) <= 20
    shown = [p for p in PIECES if p in prompt]
    assert shown == sorted(shown, key=DOC.text.index)  # document order
    assert prompt.rstrip().endswith("Answer:")  # question after the context, answer prefix
    assert prompt.index("Question: When do bees") > prompt.index(shown[-1])
    assert {h.chunk.text for h in answer.citations} == set(shown)
    assert [h.rank for h in answer.citations] == sorted(h.rank for h in answer.citations)
    for h in answer.citations:
        assert DOC.text[h.chunk.start : h.chunk.end] == h.chunk.text

    names = [s.name for s in answer.trace.steps]
    assert names == ["retrieve", "pack", "answer", "check support"]
    assert answer.origin == "model" and answer.model_text == "In summer."
    step = answer.trace.steps[2]
    assert step.prompt is not None and step.prompt_tokens == llm.count_messages(step.prompt)
    assert answer.trace.steps[1].detail["tokens"] <= 20
    assert lib.searches == [("When do bees make honey?", 3)]


def test_rag_streams_the_answer_when_asked():
    pieces: list[str] = []
    rag = RAGPipeline(ScriptedLLM(["In summer."]), on_text=pieces.append)
    answer = rag.ask("When do bees make honey?", library=make_library())
    assert "".join(pieces).strip() == answer.text == "In summer."


def test_rag_without_hits_answers_without_calling_the_model():
    llm = ScriptedLLM(["should not be used"])
    answer = RAGPipeline(llm).ask("zebra?", library=make_library())
    assert llm.calls == [] and answer.citations == []
    assert "could not find" in answer.text


def test_rag_errors():
    llm = ScriptedLLM(context_window=200)
    with pytest.raises(EmptyQueryError):
        RAGPipeline(llm).ask("  ", library=make_library())
    with pytest.raises(ConfigError, match="library="):
        RAGPipeline(llm).ask("why?")
    with pytest.raises(EmptyLibraryError, match="lcmem index"):
        RAGPipeline(llm).ask("why?", library=FakeLibrary([], []))
    with pytest.raises(EmptyLibraryError):
        RAGPipeline(llm).ask("why?", documents=[Document("  \n")])
    with pytest.raises(ConfigError, match="window"):
        RAGPipeline(llm, budget=500).ask("why?", library=make_library())
    with pytest.raises(ConfigError, match="k must be"):
        RAGPipeline(llm, k=0)


HOP_DOC = Document(
    "Project Mihevox was led by Ana Lo. The office is in the city. "
    "Ana Lo works from Madurai. Wasps sting.",
    path="/docs/hop.txt",
)
HOP_PIECES = [
    "Project Mihevox was led by Ana Lo.",
    "The office is in the city.",
    "Ana Lo works from Madurai.",  # shares no word with the question: the first hop misses it
    "Wasps sting.",
]
HOP_Q = "In which city is the office of the person who led project Mihevox?"


@pytest.mark.parametrize("hops", [1, 2])
def test_a_second_hop_searches_the_bridge_name_once(hops: int) -> None:
    lib = FakeLibrary([HOP_DOC], chunks_of(HOP_DOC, HOP_PIECES))
    llm = ScriptedLLM(["It is in Madurai."])
    answer = RAGPipeline(llm, k=2, budget=200, hops=hops).ask(HOP_Q, library=lib)
    prompt = llm.prompt(0)
    if hops == 1:  # one search: the answer fact is not found
        assert lib.searches == [(HOP_Q, 2)]
        assert "Madurai" not in prompt and answer.origin != "model"
        return
    assert lib.searches == [(HOP_Q, 2), ("Ana Lo", 2)]  # one more search, k more at most
    assert "Ana Lo works from Madurai." in prompt
    step = next(s for s in answer.trace.steps if s.name == "second hop")
    assert step.detail["query"] == "Ana Lo" and step.detail["added"] == 1
    assert answer.origin == "model"
    texts = [h.chunk.text for h in answer.citations]
    assert texts[:2] == [
        "Project Mihevox was led by Ana Lo.",
        "Ana Lo works from Madurai.",
    ]


def test_a_single_fact_question_has_no_second_hop() -> None:
    from lcmem.pipelines.rag import second_hop_query

    hits = [Hit(c, 1.0, rank=1) for c in chunks_of(HOP_DOC, HOP_PIECES)]
    assert second_hop_query("Who led project Mihevox?", hits[1:2]) is None  # no sentence on it
    assert second_hop_query("Where is the office?", hits) is None  # no name in the question
    assert second_hop_query(HOP_Q, hits) == "Ana Lo"
    # the question's own names (also partly) are not bridges
    assert "Ana" not in (second_hop_query("Who is Ana?", hits) or "")


def test_hops_must_be_one_or_two() -> None:
    with pytest.raises(ConfigError):
        RAGPipeline(ScriptedLLM([]), hops=3)
