"""A cheap deterministic embedder for scale tests: hashed TF-IDF through a sparse random projection.

Not a quality model: it exists so that a 1,000,000-chunk library can be built in minutes on two
cores (the real model embeds ~26 chunks/s here, about 11 hours for a million). Unlike random
vectors, its vectors have the structure of text: chunks that share (rare) words are close, so
approximate-index recall measured on them is closer to what real embeddings give.

A text's words (``[A-Za-z_][A-Za-z0-9_]+``, lowercased; unigrams and bigrams) are hashed into
2**20 features (scikit-learn's ``HashingVectorizer``), weighted ``(1 + log tf) * idf`` with the
idf of the 2,601 rendered section-1 man pages (``benchmarks/data/man/1``), projected to 384
dimensions by a fixed sparse random matrix (4 signed non-zeros per feature, seed 0) and
L2-normalised. A text without a word gets a fixed unit vector from its hash.

Example:
    >>> from benchmarks.hash_embedder import HashTfidfEmbedder      # doctest: +SKIP
    >>> e = HashTfidfEmbedder()                                      # doctest: +SKIP
    >>> e.embed(["copy a file", "copy files"]).shape                 # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from lcmem.embedders.base import Embedder, Kind

N_FEATURES = 2**20
DIM = 384
NNZ_PER_FEATURE = 4
IDF_CORPUS = Path(__file__).resolve().parent / "data" / "man" / "1"
IDF_CORPUS_MAIN = Path("/work/main/benchmarks/data/man/1")


class HashTfidfEmbedder(Embedder):
    """Hashed TF-IDF -> sparse random projection -> unit vector (see module docstring)."""

    name = "bench-hash-tfidf-rp384"
    dim = DIM
    max_tokens = 1_000_000
    batch_size = 4096

    def __init__(self) -> None:
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import HashingVectorizer

        self._hv = HashingVectorizer(
            n_features=N_FEATURES,
            token_pattern=r"(?u)\b[A-Za-z_][A-Za-z0-9_]+\b",
            ngram_range=(1, 2),
            alternate_sign=False,
            norm=None,
            lowercase=True,
            dtype=np.float32,
        )
        rng = np.random.default_rng(0)
        rows = np.repeat(np.arange(N_FEATURES, dtype=np.int64), NNZ_PER_FEATURE)
        cols = rng.integers(0, DIM, size=N_FEATURES * NNZ_PER_FEATURE)
        vals = rng.choice(np.array([-1.0, 1.0], np.float32), size=N_FEATURES * NNZ_PER_FEATURE)
        self._proj = sp.csr_matrix((vals, (rows, cols)), shape=(N_FEATURES, DIM), dtype=np.float32)
        self._idf = self._fit_idf()

    def _fit_idf(self) -> np.ndarray:
        folder = IDF_CORPUS if IDF_CORPUS.is_dir() else IDF_CORPUS_MAIN
        texts = [p.read_text(errors="replace") for p in sorted(folder.glob("*.txt"))]
        if not texts:
            raise FileNotFoundError(f"no rendered man pages in {folder}: run manpages.py")
        x = self._hv.transform(texts)
        df = np.bincount(x.indices, minlength=N_FEATURES).astype(np.float32)
        return (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)

    def embed(
        self,
        texts: Sequence[str],
        kind: Kind = "document",
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        out = np.empty((len(texts), DIM), np.float32)
        for lo in range(0, len(texts), self.batch_size):
            part = list(texts[lo : lo + self.batch_size])
            x = self._hv.transform(part)
            x.data = (1.0 + np.log(x.data)) * self._idf[x.indices]
            v = np.asarray((x @ self._proj).todense(), dtype=np.float32)
            norms = np.linalg.norm(v, axis=1)
            for i in np.flatnonzero(norms == 0):
                v[i] = _fallback(part[i])
                norms[i] = 1.0
            out[lo : lo + len(part)] = v / norms[:, None]
            if progress is not None:
                progress(len(part))
        return out


def _fallback(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)
