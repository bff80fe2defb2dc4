"""Chunked prefill, exactness against stock attention, asking, citations and persistence.

Runs on a tiny random-weight Llama (real transformers code) with the packaged tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.extras import needs

needs("torch", "transformers", extra="llm")

import torch  # noqa: E402

from lcmem.errors import ConfigError, EmptyQueryError, IndexCorruptError  # noqa: E402
from lcmem.kv import KVSettings, PagedDocument, read  # noqa: E402
from lcmem.types import Document  # noqa: E402

from .conftest import TinyLLM, tiny_model  # noqa: E402

SMALL = {"page_size": 16, "sinks": 32, "block": 64}


def _question(llm: Any) -> list[int]:
    return llm.tokenizer("Question: what is item 7?", add_special_tokens=False)["input_ids"]


def _stock_logits(llm: Any, doc: PagedDocument, q: list[int]) -> torch.Tensor:
    ids = torch.tensor([[*doc.parts.ids.tolist(), *q]])
    with torch.inference_mode():
        return llm.model(input_ids=ids).logits[0, -len(q) :]


@pytest.mark.parametrize(
    "settings",
    [
        KVSettings.full(**SMALL),
        KVSettings(window=48, top_k=None, question_top_k=None, **SMALL),  # all pages retrieved
        KVSettings(window=48, top_k=None, memory_budget=0, **SMALL),  # pages read from disk
    ],
    ids=["full", "all-pages", "on-disk"],
)
def test_covering_everything_equals_full_attention(
    tiny_llm: TinyLLM, text: str, settings: KVSettings
) -> None:
    doc = PagedDocument.read(tiny_llm, text, settings)
    assert doc.tokens > 6 * settings.block  # several prefill blocks, many pages
    q = _question(tiny_llm)
    diff = (doc.logits(q) - _stock_logits(tiny_llm, doc, q)).abs().max().item()
    assert diff < 1e-3


def test_bounded_context_differs_but_stays_bounded(tiny_llm: TinyLLM, text: str) -> None:
    settings = KVSettings(window=48, top_k=2, **SMALL)
    doc = PagedDocument.read(tiny_llm, text, settings)
    q = _question(tiny_llm)
    diff = (doc.logits(q) - _stock_logits(tiny_llm, doc, q)).abs().max().item()
    assert diff > 1e-3  # retrieval is an approximation, not a copy of full attention
    answer = doc.ask("What is item 7?", max_tokens=3)
    ctx = answer.trace.steps[0].detail["context_tokens"]
    assert ctx <= 32 + 2 * 16 + 48 + 16 < doc.tokens


def test_answer_cites_exact_spans(tiny_llm: TinyLLM, text: str) -> None:
    source = Document(text=text, path="items.txt")
    doc = PagedDocument.read(tiny_llm, source, KVSettings(window=48, top_k=2, **SMALL))
    answer = doc.ask("What is the value of item 7?", max_tokens=4, citations=3)
    assert isinstance(answer.text, str)
    assert 1 <= len(answer.citations) <= 3
    for hit in answer.citations:
        c = hit.chunk
        assert c.doc_path == "items.txt"
        assert text[c.start : c.end] == c.text and c.text
        assert c.line_start == text.count("\n", 0, c.start) + 1
    assert [h.rank for h in answer.citations] == list(range(1, len(answer.citations) + 1))
    with pytest.raises(EmptyQueryError):
        doc.ask("  ")


def test_two_documents_are_cited_by_their_own_paths(tiny_llm: TinyLLM, text: str) -> None:
    docs = [Document(text=text, path="a.txt"), Document(text=text.upper(), path="b.txt")]
    doc = PagedDocument.read(tiny_llm, docs, KVSettings.full(**SMALL))
    hits = doc.ask("What is item 7?", max_tokens=2).citations
    assert {h.path for h in hits} == {"a.txt", "b.txt"}
    assert hits[1].chunk.text == docs[1].text


def test_saved_document_answers_without_prefill(
    tiny_llm: TinyLLM, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = PagedDocument.read(tiny_llm, text, KVSettings(window=48, top_k=2, **SMALL))
    q = _question(tiny_llm)
    before = doc.logits(q)
    doc.save(tmp_path)
    import lcmem.kv.cache as cache

    def no_prefill(*a: Any, **k: Any) -> None:
        raise AssertionError("a loaded document must not be prefilled again")

    monkeypatch.setattr(cache.PrefillRun, "attend", no_prefill)
    for budget in (None, 0):  # pages in RAM, or memory-mapped from disk
        again = PagedDocument.load(tmp_path, tiny_llm, memory_budget=budget)
        assert torch.equal(again.logits(q), before)
        assert again.store.resident == (budget is None)
    assert again.ask("What is item 7?", max_tokens=2).citations


def test_load_refuses_other_model_and_version(
    tiny_llm: TinyLLM, smol_tokenizer: Any, text: str, tmp_path: Path
) -> None:
    PagedDocument.read(tiny_llm, text[:400], KVSettings.full(**SMALL)).save(tmp_path)
    other = TinyLLM(tiny_model(len(smol_tokenizer), seed=1), smol_tokenizer, name="other")
    with pytest.raises(ConfigError, match="read with model 'tiny-llama'"):
        PagedDocument.load(tmp_path, other)
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["format"] = 999
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(IndexCorruptError, match="format 999"):
        PagedDocument.load(tmp_path, tiny_llm)


def test_disk_budget_is_checked_before_prefill(tiny_llm: TinyLLM, text: str) -> None:
    settings = KVSettings(memory_budget=0, disk_budget=1000, **SMALL)
    with pytest.raises(ConfigError, match="disk budget"):
        PagedDocument.read(tiny_llm, text, settings)


def test_bad_inputs_are_clear_errors(tiny_llm: TinyLLM, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="in-process transformers model"):
        read("some text", llm=object())
    with pytest.raises(ConfigError, match="multiples of page_size"):
        PagedDocument.read(tiny_llm, "text", KVSettings(page_size=16, sinks=20))
    with pytest.raises(ConfigError, match="exceed the model's window"):
        PagedDocument.read(tiny_llm, "text", KVSettings(window=8000, top_k=32))
    with pytest.raises(ConfigError, match="empty"):
        PagedDocument.read(tiny_llm, "   ", KVSettings(**SMALL))


def test_read_accepts_a_path(tiny_llm: TinyLLM, text: str, tmp_path: Path) -> None:
    path = tmp_path / "items.txt"
    path.write_text(text)
    doc = read(str(path), llm=tiny_llm, settings=KVSettings.full(**SMALL))
    assert doc.documents[0].path == str(path) and doc.documents[0].text == text
