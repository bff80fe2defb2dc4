"""LongContextEmbedder on the real packaged models: all-MiniLM-L6-v2 (absolute positions) and
SmolLM2-135M-Instruct used as a mean-pooled RoPE embedder."""

from __future__ import annotations

import numpy as np
import pytest

from lcmem.embedders.longctx import LongContextEmbedder
from lcmem.embedders.sentence import SentenceEmbedder
from tests.extras import needs

SHORT = [
    "The cat sat on the mat.",
    "Quarterly revenue grew by four percent.",
    "ls lists directory contents; -l uses a long listing format.",
    "word " * 200,
]
LONG = " ".join(
    f"Paragraph {i}: the tar command stores files in an archive and extracts them again."
    for i in range(120)
)


@pytest.mark.slow
def test_minilm_within_window_equals_sentence_transformers():
    want = SentenceEmbedder().embed(SHORT)
    for strategy in ("pi", "gp", "rp", "pcw"):
        emb = LongContextEmbedder(strategy=strategy, max_tokens=4096, logit_scaling=True)
        np.testing.assert_allclose(emb.embed(SHORT), want, atol=1e-5)


@pytest.mark.slow
def test_minilm_reads_past_the_window():
    trunc = LongContextEmbedder(strategy="truncate")
    ids = trunc.encode_ids([LONG])[0]
    assert (
        len(ids) == 256
    )  # the window MiniLM was tuned for (sentence-transformers' max_seq_length)
    vecs = {"truncate": trunc.embed([LONG])[0]}
    np.testing.assert_allclose(vecs["truncate"], SentenceEmbedder().embed([LONG])[0], atol=1e-5)
    wide = LongContextEmbedder(strategy="truncate", native_tokens=512)  # the whole position table
    assert len(wide.encode_ids([LONG])[0]) == 512
    for strategy in ("pi", "gp", "rp", "pcw"):
        emb = LongContextEmbedder(strategy=strategy, max_tokens=4096)
        assert len(emb.encode_ids([LONG])[0]) > 1500
        vecs[strategy] = emb.embed([LONG])[0]
    for name, v in vecs.items():
        assert np.isfinite(v).all() and abs(np.linalg.norm(v) - 1) < 1e-5, name
        if name != "truncate":
            assert not np.allclose(v, vecs["truncate"], atol=1e-4), name


@pytest.mark.slow
def test_smollm2_as_rope_embedder():
    needs("torch", extra="longctx")
    import torch

    # native_tokens=64 stands in for the model's 8192-token window so the extension runs on a
    # short text; the mechanism is the same at any length.
    emb = LongContextEmbedder(
        "SmolLM2-135M-Instruct", strategy="selfextend", native_tokens=64, max_tokens=256
    )
    short = "Rotary position embeddings rotate queries and keys."
    ids = emb.encode_ids([short])[0]
    with torch.inference_mode():
        h = emb.model(input_ids=torch.tensor([ids])).last_hidden_state[0]
    want = h.mean(0).numpy()
    np.testing.assert_allclose(emb.embed([short])[0], want / np.linalg.norm(want), atol=1e-4)
    long_ids = emb.encode_ids([LONG])[0]
    assert len(long_ids) == 256
    se = emb.embed([LONG])[0]
    ntk = LongContextEmbedder(
        "SmolLM2-135M-Instruct", strategy="ntk", native_tokens=64, max_tokens=256
    )
    ntk._loaded = emb.loaded  # same weights, another strategy (saves a second load)
    nv = ntk.embed([LONG])[0]
    for v in (se, nv):
        assert np.isfinite(v).all() and abs(np.linalg.norm(v) - 1) < 1e-5
    assert not np.allclose(se, nv, atol=1e-4)
    # the short input is unchanged after long ones (settings restored)
    np.testing.assert_allclose(ntk.embed([short])[0], want / np.linalg.norm(want), atol=1e-4)
