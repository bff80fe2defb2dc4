"""The default packaged embedder, loaded for real (offline)."""

from __future__ import annotations

import numpy as np
import pytest

from lcmem.embedders.sentence import SentenceEmbedder
from lcmem.errors import ModelNotFoundError


@pytest.fixture(scope="module")
def emb() -> SentenceEmbedder:
    return SentenceEmbedder(batch_size=4)


@pytest.mark.slow
def test_shapes_norms_and_batching(emb):
    texts = [
        "The cat sat on the mat.",
        "A feline rested on a rug.",
        "Quarterly revenue grew by four percent.",
        "x",
        "word " * 300,
        "",
    ]
    vecs = emb.embed(texts)
    assert vecs.shape == (6, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # same vectors one at a time: batching and length sorting do not change results
    single = np.stack([emb.embed([t])[0] for t in texts])
    assert np.allclose(vecs, single, atol=1e-5)
    sims = vecs @ vecs.T
    assert sims[0, 1] > sims[0, 2] + 0.2  # paraphrase closer than an unrelated sentence
    assert emb.dim == 384 and emb.max_tokens == 256
    assert emb.embed([]).shape == (0, 384)


@pytest.mark.slow
def test_progress_callback_and_query(emb):
    seen: list[int] = []
    emb.embed(["a b c"] * 10, progress=seen.append)
    assert sum(seen) == 10 and max(seen) <= 4
    assert emb.embed_query("hello").shape == (384,)


def test_missing_model_names_what_to_install():
    with pytest.raises(ModelNotFoundError, match="not found"):
        _ = SentenceEmbedder("no-such-model").dim
    with pytest.raises(ModelNotFoundError):
        _ = SentenceEmbedder("/definitely/not/a/model/folder").dim
