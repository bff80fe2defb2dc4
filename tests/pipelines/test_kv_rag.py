"""The kv pipeline over given documents and over a library's retrieved documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lcmem.errors import ConfigError, EmptyQueryError
from lcmem.pipelines import get_pipeline
from lcmem.pipelines.kv_rag import KVPipeline
from lcmem.types import Chunk, Document, Hit
from tests.extras import needs
from tests.kv.conftest import TinyLLM, tiny_model

SMALL = {"page_size": 16, "sinks": 32, "block": 64, "window": 64, "top_k": 2}
TEXT = "".join(f"Item {i} costs {i * 3} euros.\n" for i in range(80))


@pytest.fixture(scope="module")
def llm() -> TinyLLM:
    needs("torch", "transformers", extra="llm")
    from transformers import AutoTokenizer

    from lcmem.llm.transformers import DEFAULT_LLM, resolve_llm_folder

    tok = AutoTokenizer.from_pretrained(str(resolve_llm_folder(DEFAULT_LLM)))
    return TinyLLM(tiny_model(len(tok)), tok)


class FakeLibrary:
    """What the pipeline uses of a Library: search, document_text and folder."""

    def __init__(self, folder: Path, docs: dict[str, str]) -> None:
        self.folder, self.docs, self.searches = folder, docs, 0

    def search(self, query: str, k: int = 10) -> list[Hit]:
        self.searches += 1
        path = "prices.txt" if "cost" in query else "other.txt"
        return [Hit(Chunk(text="x", start=0, end=1, doc_path=path), score=1.0, rank=1)]

    def document_text(self, path: str) -> str:
        return self.docs[path]


def _read_step(answer: Any) -> dict:
    return next(s for s in answer.trace.steps if s.name == "kv read").detail


def test_documents_are_read_once_and_cited(llm: TinyLLM) -> None:
    pipe = get_pipeline("kv", llm, max_tokens=4, **SMALL)
    assert isinstance(pipe, KVPipeline)
    docs = [Document(text=TEXT, path="prices.txt")]
    first = pipe.ask("What does item 5 cost?", documents=docs)
    assert not _read_step(first)["from_cache"]
    assert first.citations and all(h.path == "prices.txt" for h in first.citations)
    for h in first.citations:
        assert TEXT[h.chunk.start : h.chunk.end] == h.chunk.text
    second = pipe.ask("What does item 9 cost?", documents=docs)
    assert _read_step(second)["from_cache"]


def test_library_documents_are_cached_under_kv(
    llm: TinyLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = FakeLibrary(tmp_path, {"prices.txt": TEXT, "other.txt": "Nothing here.\n" * 50})
    answer = KVPipeline(llm, max_tokens=4, **SMALL).ask("What does item 5 cost?", library=lib)
    assert [s.name for s in answer.trace.steps][:2] == ["retrieve", "kv read"]
    assert answer.citations[0].path == "prices.txt"
    saved = list((tmp_path / "kv").glob("*/meta.json"))
    assert len(saved) == 1

    import lcmem.kv.cache as cache

    def no_prefill(*a: Any, **k: Any) -> None:
        raise AssertionError("cached pages must not be prefilled again")

    monkeypatch.setattr(cache.PrefillRun, "attend", no_prefill)
    fresh = KVPipeline(llm, max_tokens=4, **SMALL)  # a new process would start like this
    again = fresh.ask("What does item 6 cost?", library=lib)
    assert _read_step(again)["from_cache"]
    assert again.citations[0].path == "prices.txt"


def test_bad_calls(llm: TinyLLM) -> None:
    pipe = KVPipeline(llm, **SMALL)
    with pytest.raises(ConfigError, match="--doc PATH"):
        pipe.ask("What?")
    with pytest.raises(EmptyQueryError):
        pipe.ask(" ", documents=[Document(text=TEXT)])
    with pytest.raises(ConfigError, match="unknown kv option"):
        KVPipeline(llm, topk=3)
    with pytest.raises(ConfigError, match="below the kv pipeline's fixed context"):
        KVPipeline(llm, budget=100, **SMALL)


def test_cli_options_map_to_settings(llm: TinyLLM) -> None:
    pipe = get_pipeline("kv", llm, k=7, budget=32 + 64 + 16 + 64 + 5 * 16, max_tokens=9, **SMALL)
    assert pipe.search_k == 7 and pipe.max_tokens == 9
    assert pipe.settings.top_k == 5


@pytest.mark.parametrize("setting", ["off", "stop"])
def test_the_answer_streams_and_the_pieces_join_to_the_models_text(
    llm: TinyLLM, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    from lcmem.llm.repetition import OFF, GenerationSettings

    generation = OFF if setting == "off" else GenerationSettings(stop_repeated_sentence=True)
    monkeypatch.setattr(llm, "generation", generation, raising=False)
    pieces: list[str] = []
    pipe = KVPipeline(llm, max_tokens=24, on_text=pieces.append, **SMALL)
    answer = pipe.ask("What does item 5 cost?", documents=[Document(text=TEXT, path="p.txt")])
    assert answer.model_text and "".join(pieces) == answer.model_text
    if setting == "off":  # one piece per whole character run: the random model writes many
        assert len(pieces) > 1


def test_citations_are_chosen_among_every_attended_page(llm: TinyLLM) -> None:
    docs = [Document(text=TEXT, path="prices.txt")]
    chosen = get_pipeline("kv", llm, max_tokens=4, **SMALL).ask(
        "What does item 5 cost?", documents=docs
    )
    step = next(s for s in chosen.trace.steps if s.name == "cite")
    # sinks (2 pages) + the window (4-5 pages) + retrieved pages: more than the 3 cited
    assert step.detail["from"] > 3 + 2
    assert step.detail["chosen"] in ("supported", "evidence", "first")
    assert len(chosen.citations) >= 3
    for h in chosen.citations:  # pages widened to whole sentences, still exact document text
        assert TEXT[h.chunk.start : h.chunk.end] == h.chunk.text
        assert h.chunk.text.endswith(".")
    if chosen.origin == "extractive":  # the shown evidence is on the first cited page
        assert chosen.text.removeprefix("From the sources: ") in chosen.citations[0].chunk.text
    voted = get_pipeline("kv", llm, max_tokens=4, cite="votes", **SMALL)
    answer = voted.ask("What does item 5 cost?", documents=docs)
    assert "cite" not in [s.name for s in answer.trace.steps] and len(answer.citations) <= 3
    with pytest.raises(ConfigError):
        get_pipeline("kv", llm, cite="best")
