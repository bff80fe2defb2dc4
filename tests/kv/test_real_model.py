"""The packaged SmolLM2-135M-Instruct: exact full attention, and a needle page retrieved."""

from __future__ import annotations

import pytest

from tests.extras import needs

needs("torch", "transformers", extra="llm")

import torch  # noqa: E402

from lcmem.kv import KVSettings, PagedDocument, kv_bytes_per_token  # noqa: E402
from lcmem.types import Document  # noqa: E402

pytestmark = pytest.mark.slow

FILLER = (
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
)


@pytest.fixture(scope="module")
def llm():
    from lcmem.llm.transformers import TransformersLLM

    return TransformersLLM()


def test_full_layout_reproduces_stock_logits(llm) -> None:
    text = FILLER * 8 + "The pass key is 31415. " + FILLER * 4
    doc = PagedDocument.read(llm, text, KVSettings.full(page_size=16, sinks=32, block=64))
    assert doc.tokens > 3 * 64
    q = llm.tokenizer("What is the pass key?", add_special_tokens=False)["input_ids"]
    ids = torch.tensor([[*doc.parts.ids.tolist(), *q]])
    with torch.inference_mode():
        stock = llm.model(input_ids=ids).logits[0, -len(q) :]
    assert (doc.logits(q) - stock).abs().max().item() < 1e-3
    assert kv_bytes_per_token(llm) == 30 * 3 * 64 * 2 * 4


def test_needle_outside_the_window_is_retrieved_and_cited(llm) -> None:
    needle = "The pass key is 31415. Remember it. 31415 is the pass key. "
    text = FILLER * 8 + needle + FILLER * 24
    settings = KVSettings(page_size=32, sinks=64, window=256, top_k=4, block=256)
    doc = PagedDocument.read(llm, Document(text=text, path="hay.txt"), settings)
    start = text.index(needle)
    answer = doc.ask("What is the pass key?", instruction="", answer_prefix="The pass key is")
    # The 135M model does not always copy the key right even with full attention, so the test
    # checks what retrieval guarantees: the needle's pages are among the most retrieved.
    assert answer.text
    spans = [(h.chunk.start, h.chunk.end) for h in answer.citations]
    assert any(s <= start + 20 and start < e for s, e in spans), spans
    blind = doc.configure(question_top_k=0).ask(
        "What is the pass key?", instruction="", answer_prefix="The pass key is"
    )
    assert blind.citations == [] or blind.citations[0].chunk.metadata["page"] == "all"
