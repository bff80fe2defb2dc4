"""Split-encode-aggregate and late chunking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from lcmem.embedders.base import Embedder
from lcmem.embedders.pooling import (
    SplitEncodeAggregate,
    aggregate,
    pool_spans,
)
from lcmem.errors import ConfigError
from lcmem.tokens import WhitespaceTokenizer


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
