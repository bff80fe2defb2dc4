"""The ONNX Runtime embedder: pooling, model-folder checks, export cache, precision in the
manifest, the same vectors as sentence-transformers, and a search that never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lcmem
from lcmem.embedders.auto import load_embedder, precision_of
from lcmem.embedders.base import Embedder
from lcmem.embedders.onnx import OnnxEmbedder, exportable, model_hash, pool, unsupported_reason
from lcmem.embedders.sentence import SentenceEmbedder
from lcmem.errors import ConfigError, EmbedderMismatchError
from lcmem.tokens import default_model_path

REPO = Path(__file__).resolve().parents[2]
STDLIB = Path(os.__file__).parent


# -- unit ------------------------------------------------------------------------------------


def test_mean_pool_ignores_padding_and_normalises():
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    out = pool(hidden, mask, "mean")
    want = hidden[0, :2].mean(axis=0)
    assert np.allclose(out[0], want / np.linalg.norm(want), atol=1e-6)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    cls = pool(hidden, mask, "cls", normalize=False)
    assert np.allclose(cls, hidden[:, 0])


def test_default_model_exports_and_a_dense_head_does_not(tmp_path):
    assert exportable("all-MiniLM-L6-v2")
    emb = OnnxEmbedder()  # reads JSON only: no model, no session
    assert (emb.dim, emb.max_tokens, emb.spec.pooling, emb.spec.normalize) == (
        384,
        256,
        "mean",
        True,
    )
    assert emb.name == SentenceEmbedder().name  # same model, same manifest name
    folder = tmp_path / "m"
    folder.mkdir()
    src = default_model_path()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (folder / name).symlink_to(src / name)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text((src / "1_Pooling/config.json").read_text())
    modules = json.loads((src / "modules.json").read_text())
    (folder / "modules.json").write_text(json.dumps(modules))
    assert unsupported_reason(folder) is None
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "x.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    assert "modules" in (unsupported_reason(folder) or "")
    assert isinstance(load_embedder(folder), SentenceEmbedder)  # falls back to torch
    with pytest.raises(ConfigError, match="ONNX backend"):
        load_embedder(folder, precision="int8")
    with pytest.raises(ConfigError, match="cannot run"):
        OnnxEmbedder(folder)


def test_backend_choice_and_bad_settings(monkeypatch):
    assert isinstance(load_embedder(), OnnxEmbedder)
    assert isinstance(load_embedder(backend="torch"), SentenceEmbedder)
    monkeypatch.setenv("LCMEM_EMBED_BACKEND", "torch")
    assert isinstance(load_embedder(), SentenceEmbedder)
    monkeypatch.setenv("LCMEM_EMBED_BACKEND", "tensorflow")
    with pytest.raises(ConfigError, match="onnx or torch"):
        load_embedder()
    with pytest.raises(ConfigError, match="precision"):
        OnnxEmbedder(precision="fp16")
    with pytest.raises(ConfigError, match="threads"):
        OnnxEmbedder(threads=0)
    assert precision_of(OnnxEmbedder(precision="int8")) == "int8"
    assert precision_of(SentenceEmbedder()) == "fp32"


def test_model_hash_follows_content_and_is_remembered(tmp_path):
    model, cache = tmp_path / "model", tmp_path / "cache"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights-1")
    first = model_hash(model, cache)
    assert (cache / "hashes.json").is_file()
    assert model_hash(model, cache) == first
    (model / "model.safetensors").write_bytes(b"weights-2")
    os.utime(model / "model.safetensors", ns=(1, 1))
    assert model_hash(model, cache) != first


class _Fixed(Embedder):
    """A test double: fixed vectors of dimension 384 at a chosen precision."""

    name = "sentence-transformers/all-MiniLM-L6-v2"
    model_name = "all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256

    def __init__(self, precision: str) -> None:
        self.precision = precision

    def embed(self, texts, kind="document", progress=None):
        rng = np.random.default_rng(len(texts))
        v = rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_precision_is_recorded_and_a_mismatch_is_an_error(tmp_path):
    doc = tmp_path / "docs" / "a.txt"
    doc.parent.mkdir()
    doc.write_text("Rotate the log files every night.\n")
    store = tmp_path / "lib"
    with lcmem.open(store, embedder=_Fixed("int8")) as lib:
        lib.index([doc.parent])
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["embedder"]["precision"] == "int8"
    with pytest.raises(EmbedderMismatchError, match="int8"):
        lcmem.open(store, embed_precision="fp32")
    with pytest.raises(EmbedderMismatchError, match="int8"):
        lcmem.open(store, embedder=_Fixed("fp32"))
    with lcmem.open(store) as lib:  # the recorded precision is used by default
        assert isinstance(lib.embedder, OnnxEmbedder) and lib.embedder.precision == "int8"
    with pytest.raises(ConfigError, match="asked for"):
        lcmem.open(tmp_path / "new", embedder=_Fixed("fp32"), embed_precision="int8")


def test_library_made_before_precision_was_recorded_opens_as_fp32(tmp_path):
    doc = tmp_path / "docs" / "a.txt"
    doc.parent.mkdir()
    doc.write_text("Rotate the log files every night.\n")
    store = tmp_path / "lib"
    with lcmem.open(store, embedder=_Fixed("fp32")) as lib:
        lib.index([doc.parent])
        manifest = dict(lib.manifest)
        manifest["embedder"] = {k: v for k, v in manifest["embedder"].items() if k != "precision"}
        lib.store.set_meta("manifest", manifest)
    with lcmem.open(store) as lib:
        assert isinstance(lib.embedder, OnnxEmbedder) and lib.embedder.precision == "fp32"
    with pytest.raises(EmbedderMismatchError):
        lcmem.open(store, embed_precision="int8")


# -- real model ------------------------------------------------------------------------------


def _real_chunks(n: int) -> list[str]:
    from lcmem.chunkers import get_chunker
    from lcmem.types import Document

    chunker = get_chunker("code")
    out: list[str] = []
    for path in sorted(STDLIB.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        out += [c.embedding_text() for c in chunker.chunk(Document(text=text, path=str(path)))]
        if len(out) >= n:
            break
    return out[:n]


@pytest.mark.slow
def test_same_vectors_as_sentence_transformers():
    texts = [*_real_chunks(60), "", "x", "word " * 400]  # empty, tiny, truncated
    onnx = OnnxEmbedder(batch_size=8).embed(texts)
    torch = SentenceEmbedder().embed(texts)
    assert onnx.shape == torch.shape == (len(texts), 384) and onnx.dtype == np.float32
    assert float((onnx * torch).sum(axis=1).min()) >= 0.99999
    one = OnnxEmbedder().embed_query(texts[3])
    assert float(one @ onnx[3]) >= 0.99999  # batching and padding do not change a vector


@pytest.mark.slow
def test_int8_is_close_and_recorded():
    texts = _real_chunks(20)
    fp32 = OnnxEmbedder().embed(texts)
    int8 = OnnxEmbedder(precision="int8")
    assert int8.onnx_path.name == "model.int8.onnx"
    got = int8.embed(texts)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert float((got * fp32).sum(axis=1).mean()) > 0.95


#: What a core install (``pip install lcmem``) does not have: index and search must not need it.
OPTIONAL_MODULES = (
    "torch",
    "transformers",
    "sentence_transformers",
    "tree_sitter",
    "accelerate",
    "gguf",
    "spacy",
    "ray",
)


@pytest.mark.slow
def test_index_and_search_import_no_optional_module(tmp_path):
    """The core import graph: index (Python code, Markdown, text) and search in one process
    import none of the extras' packages; the CLI does both with them made unimportable, from an
    empty ONNX cache (the default embedder is exported without torch)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("gzip.py",):
        (docs / name).write_text((STDLIB / name).read_text(encoding="utf-8"))
    (docs / "notes.md").write_text("# Archives\n\n## Compression\n\nUse gzip to compress files.\n")
    (docs / "todo.txt").write_text("Rotate the logs every week and keep four of them.\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    store = str(tmp_path / "lib")
    probe = (
        "import sys, lcmem\n"
        f"lib = lcmem.open({store!r})\n"
        f"lib.index([{str(docs)!r}])\n"
        "hits = lib.search('compress files', k=5, mode='hybrid')\n"
        "assert hits, 'no hits'\n"
        "chunks = lib.store.get_chunks(lib.store.chunk_ids().tolist()).values()\n"
        "code = [c for c in chunks if c.metadata.get('symbols')]\n"
        "print(type(lib.embedder).__name__, hits[0].path, len(code) > 0)\n"
        f"print(sorted(m for m in {OPTIONAL_MODULES!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert out[0].startswith("OnnxEmbedder") and out[0].endswith("True")  # Python parsed by ast
    assert out[1] == "[]"
    # the command line too, as in a core install: the optional packages made unimportable and
    # no ONNX file cached yet
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {OPTIONAL_MODULES!r}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    env_blocked = {
        **env,
        "PYTHONPATH": f"{blocker}{os.pathsep}{REPO}",
        "LCMEM_CACHE_DIR": str(tmp_path / "empty-cache"),
    }
    cli = [sys.executable, "-m", "lcmem.cli"]
    store2 = str(tmp_path / "lib2")
    res = subprocess.run(
        [*cli, "index", str(docs), "--store", store2, "--quiet"],
        env=env_blocked,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    res = subprocess.run(
        [*cli, "search", "compress files", "--store", store2, "-k", "3", "--json"],
        env=env_blocked,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)) == 3
    # and a feature that needs an extra says which, in one line, with exit code 5
    res = subprocess.run(
        [*cli, "ask", "how are files compressed?", "--store", store2],
        env=env_blocked,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 5, res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: torch is not installed (needed by the local LLM and KV pages): "
        "pip install 'lcmem[llm]'"
    ]
