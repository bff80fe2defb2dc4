from __future__ import annotations

import re

import pytest

from lcmem.errors import ConfigError
from lcmem.pipelines.chain_of_agents import ChainOfAgentsPipeline, segment_documents
from lcmem.types import Document
from tests.pipelines.scripted import FakeLibrary, ScriptedLLM, chunks_of


def long_document(n: int = 60) -> Document:
    paras = []
    for i in range(n):
        sentences = [
            f"Paragraph {i} sentence {j} talks about item{i}x{j} at length." for j in range(4)
        ]
        paras.append(" ".join(sentences))
    paras[37] += " The secret code is tangerine."
    return Document("\n\n".join(paras), path="/docs/long.txt")


def test_segments_cover_all_text_fit_the_budget_and_are_exact_spans():
    doc = long_document()
    other = Document("A short second file.\nWith two lines.", path="/docs/b.txt")
    llm = ScriptedLLM()
    segments = segment_documents([doc, other], llm, budget=50)
    assert len(segments) > 10
    for s in segments:
        source = doc if s.doc_path == doc.path else other
        assert source.text[s.start : s.end] == s.text
        assert llm.count_tokens(s.text) <= 50
        assert s.line_start and s.line_end and s.line_start <= s.line_end
    mine = [s for s in segments if s.doc_path == doc.path]
    covered = "".join(s.text for s in mine)
    assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", doc.text)  # all text, once, in order
    assert [s.doc_path for s in segments][-1] == other.path


def test_workers_pass_the_unit_along_and_the_manager_reads_the_last_one():
    def script(messages):
        prompt = messages[-1]["content"]
        if prompt.startswith("Notes so far:"):
            seen = re.findall(r"note(\d+)", prompt.split("\n\nText:", 1)[0])
            n = int(seen[-1]) + 1 if seen else 1
            fact = " code tangerine" if "tangerine" in prompt else ""
            return f"note{n}{fact}"
        return "The code is tangerine."

    llm = ScriptedLLM(script)
    coa = ChainOfAgentsPipeline(llm, budget=60, unit_tokens=20, max_tokens=10)
    answer = coa.ask("What is the secret code?", documents=[long_document()])

    workers = [s for s in answer.trace.steps if s.name.startswith("worker")]
    n = answer.trace.steps[0].detail["segments"]
    assert len(workers) == n > 5 and answer.trace.llm_calls == n + 1
    for i in range(1, n):
        assert f"note{i}" in llm.prompt(i)  # worker i+1 read worker i's unit
        assert llm.count_tokens(llm.prompt(i).split("Text:\n", 1)[1].split("\n\nQuestion")[0]) <= 60
    assert f"note{n}" in llm.prompt(n)  # the manager reads the last unit
    assert answer.text == "The code is tangerine."
    assert [c.text.count("tangerine") for c in answer.citations] == [1]
    assert answer.citations[0].path == "/docs/long.txt"
    assert sum(s.detail["added_evidence"] for s in workers) >= 1


def test_coa_reads_the_documents_holding_the_best_hits_of_a_library():
    docs = [
        Document("Owls hunt at night. They eat mice.", path="owls.txt"),
        Document("Cows eat grass all day.", path="cows.txt"),
    ]
    lib = FakeLibrary(docs, chunks_of(docs[0], ["Owls hunt at night."]))
    llm = ScriptedLLM(["owls hunt at night", "At night."])
    answer = ChainOfAgentsPipeline(llm).ask("When do owls hunt?", library=lib)
    assert answer.trace.steps[0].detail["documents"] == ["owls.txt"]
    assert "They eat mice." in llm.prompt(0) and "Cows" not in llm.prompt(0)
    everything = ChainOfAgentsPipeline(ScriptedLLM(), read_all=True)
    assert everything.ask("When?", library=lib).trace.steps[0].detail["documents"] == [
        "owls.txt",
        "cows.txt",
    ]


def test_coa_refuses_more_segments_than_allowed_before_calling_the_model():
    llm = ScriptedLLM()
    coa = ChainOfAgentsPipeline(llm, budget=50, max_segments=3)
    with pytest.raises(ConfigError, match="max_segments=3"):
        coa.ask("What is the code?", documents=[long_document()])
    assert llm.calls == []
