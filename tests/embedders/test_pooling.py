"""Split-encode-aggregate and late chunking."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from lcmem.embedders.base import Embedder
from lcmem.embedders.pooling import (
    SplitEncodeAggregate,
    aggregate,
    document_states,
    late_chunk,
    pool_spans,
)
from lcmem.errors import ConfigError
from lcmem.tokens import WhitespaceTokenizer, default_model_path


class BagOfLetters(Embedder):
    """Test double: a 26-d letter histogram, normalised; records what it was asked to embed."""

    name = "letters"
    dim = 26
    max_tokens = 6

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str], kind="document", progress=None) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
            out[i] /= max(np.linalg.norm(out[i]), 1e-9)
        return out


def test_aggregate_rules():
    v = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0]], dtype=np.float32)
    np.testing.assert_allclose(aggregate(v, "mean"), np.array([1, 2, 0]) / np.sqrt(5), atol=1e-6)
    np.testing.assert_allclose(aggregate(v, "max"), np.array([1, 1, 0]) / np.sqrt(2), atol=1e-6)
    att = aggregate(v, "attention", temperature=0.05)
    assert att[1] > 0.99  # the two agreeing blocks dominate
    with pytest.raises(ConfigError):
        aggregate(v, "median")


def test_sea_splits_encodes_once_and_aggregates():
    base = BagOfLetters()
    sea = SplitEncodeAggregate(base, aggregate="mean", tokenizer=WhitespaceTokenizer())
    assert sea.block_tokens == 4
    docs = ["aaa aaa. bbb bbb. ccc ccc ccc ccc ccc.", "zzz."]
    vecs = sea.embed(docs)
    assert vecs.shape == (2, 26)
    assert len(base.calls) == 1  # all blocks of all documents in one embed call
    blocks = sea.blocks(docs[0])
    assert all(docs[0][b.start : b.end] == b.text for b in blocks)
    assert all(len(b.text.split()) <= 4 for b in blocks) and len(blocks) >= 3
    want = aggregate(base.embed([b.text for b in blocks]), "mean")
    np.testing.assert_allclose(vecs[0], want, atol=1e-6)
    np.testing.assert_allclose(vecs[1], base.embed(["zzz."])[0], atol=1e-6)
    # queries are embedded whole
    q = sea.embed(["aaa bbb ccc ddd eee fff"], kind="query")
    np.testing.assert_allclose(q[0], base.embed(["aaa bbb ccc ddd eee fff"])[0], atol=1e-6)


def test_sea_code_split_uses_ast_units():
    base = BagOfLetters()
    sea = SplitEncodeAggregate(base, block_tokens=5, split="auto", tokenizer=WhitespaceTokenizer())
    src = "def alpha():\n    return 1\n\n\ndef beta():\n    return 2\n"
    texts = [b.text for b in sea.blocks(src)]
    assert texts == ["def alpha():\n    return 1", "def beta():\n    return 2"]


def test_pool_spans_and_missing_spans():
    states = np.array([[1, 0], [0, 1], [0, 1]], dtype=np.float32)
    offsets = np.array([[0, 3], [4, 7], [8, 11]])
    got = pool_spans(states, offsets, [(0, 3), (4, 11), (0, 11), (12, 12)])
    np.testing.assert_allclose(got[0], [1, 0])
    np.testing.assert_allclose(got[1], [0, 1])
    np.testing.assert_allclose(got[2], np.array([1, 2]) / np.sqrt(5), atol=1e-6)
    np.testing.assert_allclose(got[3], [0, 0])


# -- late chunking on a tiny random BERT (real LongContextEmbedder) -----------------------
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


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
