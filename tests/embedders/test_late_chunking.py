"""Late chunking on a tiny random BERT (a real LongContextEmbedder): needs lcmem[longctx]."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lcmem.embedders.pooling import document_states, late_chunk
from lcmem.tokens import default_model_path
from tests.extras import needs

needs("torch", "transformers", extra="longctx")
import torch  # noqa: E402
import transformers  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from lcmem.embedders.longctx import LongContextEmbedder

    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        initializer_range=0.2,
    )
    folder: Path = tmp_path_factory.mktemp("bert")
    transformers.BertModel(cfg).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(default_model_path() / name, folder / name)
    return LongContextEmbedder(folder, strategy="pi", max_tokens=64)


def test_late_chunk_pools_token_states_of_each_span(tiny):
    text = "alpha beta gamma. delta epsilon zeta. eta theta iota."
    spans = [(0, 17), (18, 37), (38, len(text))]
    got = late_chunk(tiny, text, spans)
    ids, offsets = tiny.encode_ids([text], offsets=True)[0]
    states = tiny.token_states(ids).numpy()[1:-1]  # without [CLS]/[SEP]
    offs = np.asarray(offsets[1:-1])
    for row, (a, b) in zip(got, spans, strict=True):
        sel = (offs[:, 0] >= a) & (offs[:, 1] <= b)
        want = states[sel].mean(0)
        np.testing.assert_allclose(row, want / np.linalg.norm(want), atol=1e-5)


def test_late_chunk_sees_the_surroundings(tiny):
    chunk = "delta epsilon zeta."
    a = late_chunk(tiny, "alpha beta gamma. " + chunk, [(18, 18 + len(chunk))])[0]
    b = late_chunk(tiny, "omega psi chi. " + chunk, [(15, 15 + len(chunk))])[0]
    assert not np.allclose(a, b, atol=1e-3)  # same chunk text, different context


def test_late_chunk_reads_long_documents_in_windows(tiny):
    text = " ".join(f"w{i}" for i in range(150))  # > 64 tokens
    states, offsets = document_states(tiny, text)
    assert len(states) == len(offsets) > 64
    spans = [(0, 10), (len(text) - 10, len(text))]
    out = late_chunk(tiny, text, spans)
    assert out.shape == (2, 32) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
