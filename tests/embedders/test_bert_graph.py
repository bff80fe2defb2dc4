"""The torch-free ONNX writer for BERT (lcmem.embedders.bert_graph): the graph computes BertModel
(checked against a NumPy forward pass on tiny random models, and against sentence-transformers
on real text), the export needs no torch, and unsupported models get a clear error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file
from scipy.special import erf

from lcmem.embedders import bert_graph
from lcmem.embedders import onnx as onnx_backend
from lcmem.errors import ConfigError, ModelNotFoundError
from lcmem.tokens import default_model_path

REPO = Path(__file__).resolve().parents[2]
STDLIB = Path(os.__file__).parent

TINY = {
    "model_type": "bert",
    "hidden_size": 8,
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "intermediate_size": 12,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "vocab_size": 30,
}


def _tiny_weights(config: dict, seed: int = 0, prefix: str = "") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, i = config["hidden_size"], config["intermediate_size"]

    def r(*shape: int) -> np.ndarray:
        return rng.normal(scale=0.5, size=shape).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(config["vocab_size"], h),
        "embeddings.position_embeddings.weight": r(config["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight": r(config["type_vocab_size"], h),
        "embeddings.LayerNorm.weight": 1 + r(h),
        "embeddings.LayerNorm.bias": r(h),
        "pooler.dense.weight": r(h, h),  # present in checkpoints, unused by the encoder
        "pooler.dense.bias": r(h),
    }
    for n in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        for name in ("query", "key", "value"):
            w[p + f"attention.self.{name}.weight"] = r(h, h)
            w[p + f"attention.self.{name}.bias"] = r(h)
        w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"] = r(h, h), r(h)
        w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"] = r(i, h), r(i)
        w[p + "output.dense.weight"], w[p + "output.dense.bias"] = r(h, i), r(h)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + ln + ".weight"], w[p + ln + ".bias"] = 1 + r(h), r(h)
    return {prefix + k: v for k, v in w.items()}


def _reference(config: dict, w: dict, ids: np.ndarray, mask: np.ndarray, types: np.ndarray):
    """BertModel's last_hidden_state in NumPy (float64), from the transformers source."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    h, heads = config["hidden_size"], config["num_attention_heads"]
    d = h // heads
    eps = config["layer_norm_eps"]

    def ln(x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[name + ".weight"] + w[name + ".bias"]

    def lin(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    b, t = ids.shape
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.token_type_embeddings.weight"][types]
    )
    x = ln(x + w["embeddings.position_embeddings.weight"][:t], "embeddings.LayerNorm")
    bias = (1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min
    for n in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{n}."

        def split(y):
            return y.reshape(b, t, heads, d).transpose(0, 2, 1, 3)

        q, k, v = (split(lin(x, p + f"attention.self.{s}")) for s in ("query", "key", "value"))
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
        e = np.exp(s - s.max(-1, keepdims=True))
        ctx = (e / e.sum(-1, keepdims=True)) @ v
        ctx = ctx.transpose(0, 2, 1, 3).reshape(b, t, h)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        y = lin(x, p + "intermediate.dense")
        y = 0.5 * y * (1 + erf(y / np.sqrt(2))) if config["hidden_act"] == "gelu" else y.clip(0)
        x = ln(lin(y, p + "output.dense") + x, p + "output.LayerNorm")
    return x


def _run(model, ids, mask, types) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return sess.run(["last_hidden_state"], feed)[0]


# -- unit: the graph computes BertModel ------------------------------------------------------


@pytest.mark.parametrize(
    ("act", "prefix", "old_names"),
    [("gelu", "", False), ("relu", "bert.", True), ("gelu", "0.auto_model.", False)],
)
def test_graph_matches_a_numpy_bert(act, prefix, old_names):
    import onnx

    config = {**TINY, "hidden_act": act}
    weights = _tiny_weights(config, prefix=prefix)
    if old_names:  # old TF-converted checkpoints: LayerNorm.gamma / LayerNorm.beta
        weights = {
            k.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
                "LayerNorm.bias", "LayerNorm.beta"
            ): v
            for k, v in weights.items()
        }
    model = bert_graph.graph(config, weights)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in model.graph.output] == ["last_hidden_state"]

    rng = np.random.default_rng(1)
    ids = rng.integers(0, TINY["vocab_size"], size=(3, 7)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 4:] = 0  # a padded row
    mask[2, 1:] = 0  # a single real token
    types = (rng.random(ids.shape) < 0.3).astype(np.int64)
    got = _run(model, ids, mask, types)
    plain = _tiny_weights(config)
    want = _reference(config, plain, ids, mask, types)
    real = mask.astype(bool)
    assert got.shape == (3, 7, TINY["hidden_size"]) and got.dtype == np.float32
    assert np.abs(got[real] - want[real]).max() < 1e-4
    # padding does not change a real token's state: the padded row run alone, unpadded
    alone = _run(model, ids[1:2, :4], mask[1:2, :4], types[1:2, :4])
    assert np.abs(alone[0] - got[1, :4]).max() < 1e-5


def test_fp16_weights_are_computed_in_fp32():
    weights = {k: v.astype(np.float16) for k, v in _tiny_weights(TINY).items()}
    model = bert_graph.graph(TINY, weights)
    assert all(t.data_type == 1 for t in model.graph.initializer if "weight" in t.name)


# -- unit: unsupported models get a clear error ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_type": "roberta"}, "model type 'roberta' is not 'bert'"),
        ({"hidden_act": "gelu_new"}, "hidden_act 'gelu_new' is not one of gelu, relu"),
        ({"position_embedding_type": "relative_key"}, "'relative_key' is not 'absolute'"),
        ({"is_decoder": True}, "decoder"),
        ({"num_attention_heads": 3}, "not a multiple"),
        ({"hidden_size": None}, "lacks hidden_size"),
    ],
)
def test_unsupported_config_is_named(change, message):
    config = {**TINY, **change}
    assert message in (bert_graph.config_reason(config) or "")
    with pytest.raises(ConfigError, match="cannot write the ONNX graph"):
        bert_graph.graph(config, _tiny_weights(TINY))


def test_weights_that_do_not_fit_the_config_are_named():
    weights = _tiny_weights(TINY)
    del weights["encoder.layer.1.output.dense.bias"]
    with pytest.raises(ConfigError, match=r"lack 'encoder\.layer\.1\.output\.dense\.bias'"):
        bert_graph.graph(TINY, weights)
    with pytest.raises(ConfigError, match="shape"):
        bert_graph.graph({**TINY, "intermediate_size": 10}, _tiny_weights(TINY))
    with pytest.raises(ConfigError, match="not BERT"):
        bert_graph.graph(TINY, {"encoder.weight": np.zeros(3, np.float32)})


def _folder(tmp_path: Path, config: dict, weights: dict | None) -> Path:
    """A sentence-transformers folder around a tiny model (the default's tokenizer)."""
    src = default_model_path()
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    if weights is not None:
        save_file(weights, str(folder / "model.safetensors"))
    shutil.copy(src / "modules.json", folder / "modules.json")
    shutil.copytree(src / "1_Pooling", folder / "1_Pooling")
    (folder / "tokenizer.json").symlink_to(src / "tokenizer.json")
    return folder


def test_build_writes_a_file_and_refuses_other_models(tmp_path):
    import onnx

    folder = _folder(tmp_path, TINY, _tiny_weights(TINY, prefix="bert."))
    assert bert_graph.unsupported_reason(folder) is None
    bert_graph.build(folder, tmp_path / "out" / "model.onnx")
    onnx.checker.check_model(str(tmp_path / "out" / "model.onnx"))
    assert onnx_backend.export_recipe(folder) == bert_graph.RECIPE

    (folder / "config.json").write_text(json.dumps({**TINY, "model_type": "roberta"}))
    assert "roberta" in (bert_graph.unsupported_reason(folder) or "")
    assert onnx_backend.export_recipe(folder) == onnx_backend.TORCH_RECIPE
    with pytest.raises(ConfigError, match="model type 'roberta' is not 'bert'"):
        bert_graph.build(folder, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()

    (folder / "config.json").write_text(json.dumps(TINY))
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not read")
    assert "model.safetensors" in (bert_graph.unsupported_reason(folder) or "")
    with pytest.raises(ModelNotFoundError, match=r"model\.safetensors"):
        bert_graph.build(folder, tmp_path / "x.onnx")


def test_a_model_neither_exporter_can_take_is_refused_up_front(tmp_path, monkeypatch):
    folder = _folder(tmp_path, {**TINY, "model_type": "roberta"}, _tiny_weights(TINY))
    monkeypatch.setattr(onnx_backend, "_torch_importable", lambda: True)
    assert onnx_backend.unsupported_reason(folder) is None  # torch exports it once
    monkeypatch.setattr(onnx_backend, "_torch_importable", lambda: False)
    reason = onnx_backend.unsupported_reason(folder) or ""
    assert "model type 'roberta' is not 'bert'" in reason
    assert "needs torch and transformers" in reason
    with pytest.raises(ConfigError, match="needs torch and transformers"):
        onnx_backend.OnnxEmbedder(folder)
    (folder / "config.json").write_text(json.dumps(TINY))  # a BERT: no torch needed
    assert onnx_backend.unsupported_reason(folder) is None


# -- real model ------------------------------------------------------------------------------

_MAN_PAGES = ("gzip", "tar", "ls", "grep", "find", "cp", "chmod", "sort", "ssh", "rsync")
_SIZES = (12, 40, 90, 160, 230, 300)  # chunk sizes in tokens; 300 is cut at 256


def real_chunks(n: int) -> list[str]:
    """``n`` chunks of man pages and stdlib sources, of varied lengths (to past 256 tokens)."""
    from lcmem.chunkers import get_chunker
    from lcmem.types import Document

    texts: list[tuple[str, str]] = []
    if shutil.which("man"):
        for name in _MAN_PAGES:
            env = {**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8"}
            res = subprocess.run(
                ["man", "-P", "cat", name], capture_output=True, text=True, env=env
            )
            if res.returncode == 0 and res.stdout.strip():
                texts.append((name, res.stdout))
    for name in ("shutil.py", "gzip.py", "tarfile.py", "argparse.py", "textwrap.py"):
        texts.append((name, (STDLIB / name).read_text(encoding="utf-8")))
    per_doc: list[list[str]] = []
    for i, (name, text) in enumerate(texts):
        chunker = get_chunker("token", chunk_size=_SIZES[i % len(_SIZES)], chunk_overlap=0)
        per_doc.append([c.text for c in chunker.chunk(Document(text=text, path=name))])
    out: list[str] = []
    while len(out) < n and any(per_doc):  # round robin: every source and size is in
        for chunks in per_doc:
            if chunks and len(out) < n:
                out.append(chunks.pop(0))
    return out


@pytest.mark.slow
def test_same_vectors_as_sentence_transformers_on_real_chunks(tmp_path):
    from lcmem.embedders.sentence import SentenceEmbedder

    texts = real_chunks(240)
    emb = onnx_backend.OnnxEmbedder(cache_dir=tmp_path, batch_size=16)
    assert emb.onnx_path.parent.name.endswith(bert_graph.RECIPE)  # the torch-free export
    lengths = [len(e.ids) for e in emb.tokenizer.encode_batch(texts)]
    assert len(texts) >= 200 and min(lengths) < 32 and max(lengths) == 256
    got = emb.embed(texts)
    want = SentenceEmbedder().embed(texts)
    cos = (got * want).sum(axis=1)
    assert float(cos.min()) >= 0.99999, float(cos.min())


_PROBE = """
import sys
class _Block:  # as if torch and friends were not installed
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'transformers', 'sentence_transformers'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, _Block())
from lcmem.embedders.auto import load_embedder
fp32 = load_embedder('all-MiniLM-L6-v2')
v = fp32.embed(['compress files with gzip', 'list directory contents'])
int8 = load_embedder('all-MiniLM-L6-v2', precision='int8')
q = int8.embed(['compress files with gzip', 'list directory contents'])
import json
print(json.dumps({
    "kind": type(fp32).__name__,
    "folder": fp32.onnx_path.parent.name,
    "int8": int8.onnx_path.name,
    "shape": list(v.shape),
    "int8_cos": float((v * q).sum(axis=1).min()),
    "loaded": sorted(m for m in ('torch', 'transformers', 'sentence_transformers')
                     if m in sys.modules),
}))
"""


@pytest.mark.slow
def test_export_and_search_need_no_torch(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO), "LCMEM_CACHE_DIR": str(cache)}
    res = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["kind"] == "OnnxEmbedder" and out["folder"].endswith(bert_graph.RECIPE)
    assert out["int8"] == "model.int8.onnx" and out["shape"] == [2, 384]
    assert out["int8_cos"] > 0.9  # quantizing the new graph works, and stays close to fp32
    assert out["loaded"] == []
    assert (cache / "onnx" / out["folder"] / "model.onnx").is_file()
