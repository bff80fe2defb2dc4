"""Each pipeline with the real packaged LLM (SmolLM2-135M) and embedder on a tiny corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

import lcmem
from lcmem.loaders import read_document
from lcmem.pipelines import get_pipeline
from lcmem.types import Document

pytestmark = pytest.mark.slow

FILES = {
    "elmsford.txt": (
        "The town of Elmsford sits on the river Wend. It has a small market and two schools.\n\n"
        "The Elmsford bridge was built in 1887 by the engineer Clara Voss. "
        "It is made of red sandstone.\n"
    ),
    "fair.txt": "Every spring the town holds a cheese fair. Visitors come from nearby villages.\n",
    "library.txt": "The library of Elmsford opened in 1921 and holds ten thousand books.\n",
}
QUESTION = "Who built the Elmsford bridge?"
FACT = "Clara Voss"


@pytest.fixture(scope="module")
def llm():
    from lcmem.llm.transformers import TransformersLLM

    return TransformersLLM()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for name, text in FILES.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def library(corpus, tmp_path_factory):
    lib = lcmem.open(tmp_path_factory.mktemp("lib"))
    lib.index([corpus], progress=False)
    yield lib
    lib.close()


def cites_the_fact(answer, source: dict[str, str]) -> bool:
    """Some citation is an exact span of its file that holds the fact."""
    for hit in answer.citations:
        text = source[Path(hit.path).name]
        if text[hit.chunk.start : hit.chunk.end] == hit.chunk.text and FACT in hit.chunk.text:
            return True
    return False


def test_rag_over_a_library_with_library_ask(llm, library):
    answer = library.ask(QUESTION, llm=llm, k=3, max_tokens=24)
    assert "Voss" in answer.text
    assert cites_the_fact(answer, FILES)
    assert FACT in answer.citations[0].chunk.text  # the best hit comes first
    assert answer.trace.llm_calls == 1 and answer.trace.prompt_tokens > 0


def test_rtr_over_documents_keeps_only_source_text(llm, corpus):
    docs = [read_document(corpus / name) for name in FILES]
    rtr = get_pipeline("rtr", llm, k=3, max_tokens=24, quote_tokens=32)
    answer = rtr.ask(QUESTION, documents=docs)
    assert "Voss" in answer.text
    assert cites_the_fact(answer, FILES)
    verify = next(s for s in answer.trace.steps if s.name == "verify quotes")
    reasoning = next(s for s in answer.trace.steps if s.name == "reason").prompt[-1]["content"]
    evidence = reasoning.split("Evidence:\n", 1)[1].split("\n\nQuestion:", 1)[0]
    for line in evidence.splitlines():
        assert any(line.removeprefix("- ") in text for text in FILES.values())
    assert set(verify.detail) >= {"verified", "dropped", "replaced", "evidence"}


def test_coa_reads_segments_and_cites_the_one_with_the_fact(llm):
    doc = Document(FILES["elmsford.txt"] + "\n" + FILES["fair.txt"], path="elmsford.txt")
    coa = get_pipeline("coa", llm, budget=40, unit_tokens=32, max_tokens=24)
    answer = coa.ask(QUESTION, documents=[doc])
    assert answer.trace.steps[0].detail["segments"] >= 2
    assert "Voss" in answer.text
    assert FACT in answer.citations[0].chunk.text
    assert doc.text[answer.citations[0].chunk.start : answer.citations[0].chunk.end] == (
        answer.citations[0].chunk.text
    )


def test_kv_streams_the_answer_token_by_token(llm):
    pieces: list[str] = []
    pipe = get_pipeline("kv", llm, max_tokens=32, on_text=pieces.append)
    docs = [Document(text=text, path=name) for name, text in FILES.items()]
    answer = pipe.ask(QUESTION, documents=docs)
    assert len(pieces) > 3 and "".join(pieces) == answer.model_text
