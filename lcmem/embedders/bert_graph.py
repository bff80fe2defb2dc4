"""Write the ONNX graph of a BERT encoder from its safetensors weights: no torch, no transformers.

The default embedder (all-MiniLM-L6-v2) runs on ONNX Runtime, and its ONNX file is made once, at
first use, from the packaged weights. This module makes it with ``onnx.helper`` from
``model.safetensors`` (read by ``safetensors.numpy``) and ``config.json``, so a core install
(no torch, transformers or sentence-transformers) gets the default search path.

Why lcmem writes the graph itself: every maintained exporter needs torch at export time.
``torch.onnx.export`` traces the PyTorch module; optimum's exporter and sentence-transformers'
``backend="onnx"`` (which calls optimum) load the model through transformers, i.e. torch, and
issue 20 asks for a core install without it (torch alone is 723 MB installed here). The graph
of ``BertModel`` is small and fixed (embeddings, then N x [self-attention, GELU FFN], each with
a residual LayerNorm). Measured (``benchmarks/bench_onnx_graph.py``, results in
``benchmarks/results/onnx_graph.md``), on 1,000 man-page and stdlib chunks: cosine with
sentence-transformers fp32 min 0.9999999, and the same vectors as the torch export (max
difference 0.0: ONNX Runtime optimizes both to the same MatMul/BiasGelu/LayerNorm/Softmax
nodes); export in a fresh process 4.7x-6.9x faster than ``torch.onnx.export`` (7.8 s vs
38.8 s wall on a loaded 2-core machine).

The graph computes what ``torch.onnx.export`` writes for ``BertModel`` with eager attention:
inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` (int64, ``[batch, tokens]``),
output ``last_hidden_state`` (float32, ``[batch, tokens, hidden]``), opset 17, the additive
attention mask ``(1 - mask) * float32.min`` and the exact (erf) GELU.

Example:
    >>> from lcmem.tokens import default_model_path
    >>> unsupported_reason(default_model_path()) is None
    True
    >>> build(default_model_path(), Path("/tmp/minilm.onnx"))    # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from lcmem._atomic import atomic_path
from lcmem.errors import ConfigError, ModelNotFoundError

#: Bumped when the graph this module writes changes (part of the export cache key).
RECIPE = "bert-graph-1"
OPSET = 17
WEIGHTS = "model.safetensors"
#: ``hidden_act`` values and the graph written for each (``gelu`` is the exact, erf one).
ACTIVATIONS = ("gelu", "relu")
_WORD = "embeddings.word_embeddings.weight"
#: protobuf cannot hold a model over 2 GiB in one file; keep a margin for the graph itself.
_MAX_BYTES = 1_900_000_000


def unsupported_reason(path: Path) -> str | None:
    """Why this module cannot write the graph of the model folder ``path``, or ``None``.

    Reads ``config.json`` and the header of ``model.safetensors`` (not the weights).

    Example:
        >>> unsupported_reason(Path("/nonexistent"))
        'it has no config.json'
    """
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "it has no config.json"
    reason = config_reason(config)
    if reason:
        return reason
    if not (path / WEIGHTS).is_file():
        return f"its weights are not in {WEIGHTS} (the torch-free export reads only safetensors)"
    try:
        from safetensors import safe_open

        with safe_open(str(path / WEIGHTS), framework="numpy") as fh:
            keys = list(fh.keys())
    except Exception as exc:  # a damaged or foreign file: say so rather than crash
        return f"{WEIGHTS} cannot be read ({exc})"
    if _prefix(keys) is None:
        return f"{WEIGHTS} has no tensor named like '{_WORD}' (not a BERT checkpoint)"
    return None


def config_reason(config: dict[str, Any]) -> str | None:
    """Why a ``config.json`` (as a dict) describes a model this module cannot write, or ``None``.

    Example:
        >>> config_reason({"model_type": "bert", "hidden_act": "gelu_new"})
        "hidden_act 'gelu_new' is not one of gelu, relu"
    """
    kind = config.get("model_type")
    if kind != "bert":
        return f"model type {kind!r} is not 'bert'"
    act = config.get("hidden_act", "gelu")
    if act not in ACTIVATIONS:
        return f"hidden_act {act!r} is not one of {', '.join(ACTIVATIONS)}"
    pos = config.get("position_embedding_type", "absolute")
    if pos not in (None, "absolute"):
        return f"position_embedding_type {pos!r} is not 'absolute'"
    if config.get("is_decoder") or config.get("add_cross_attention"):
        return "it is a decoder (is_decoder / add_cross_attention), not an encoder"
    try:
        hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
        int(config["num_hidden_layers"])
    except (KeyError, TypeError, ValueError):
        return "config.json lacks hidden_size, num_attention_heads or num_hidden_layers"
    if heads < 1 or hidden % heads:
        return f"hidden_size {hidden} is not a multiple of num_attention_heads {heads}"
    return None


def build(path: Path, target: Path) -> None:
    """Write the ONNX file of the BERT model folder ``path`` to ``target`` (atomically).

    Raises :class:`ConfigError` for a model this module does not support (see
    :func:`unsupported_reason`) and :class:`ModelNotFoundError` if its weights are missing.
    """
    reason = unsupported_reason(path)
    if reason:
        if not (path / WEIGHTS).is_file() and (path / "config.json").is_file():
            raise ModelNotFoundError(f"cannot write the ONNX graph of {path}: {reason}")
        raise ConfigError(f"cannot write the ONNX graph of {path}: {reason}")
    from safetensors.numpy import load_file

    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    weights = load_file(str(path / WEIGHTS))
    size = sum(4 * t.size for t in weights.values())  # written as float32
    if size > _MAX_BYTES:
        raise ConfigError(
            f"{path} is too large for one ONNX file ({size / 1e9:.1f} GB of weights); "
            "use SentenceEmbedder for this model"
        )
    data = graph(config, weights).SerializeToString()  # ONNX Runtime checks it when loading
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def graph(config: dict[str, Any], weights: dict[str, np.ndarray]) -> Any:
    """The ``onnx.ModelProto`` of ``BertModel`` for ``config`` with ``weights`` (by name).

    Weight names may carry a prefix (``bert.``, ``0.auto_model.``...) and old checkpoints'
    ``LayerNorm.gamma``/``beta``; both are accepted.
    """
    from onnx import TensorProto, helper

    reason = config_reason(config)
    if reason:
        raise ConfigError(f"cannot write the ONNX graph of this model: {reason}")
    w = _Weights(weights)
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    act = str(config.get("hidden_act", "gelu"))
    inner = config.get("intermediate_size")
    inner = int(inner) if inner else None
    head_dim = hidden // heads
    g = _Graph()

    # Embeddings: word + token type + position (0..tokens-1), then LayerNorm.
    word = g.node("Gather", [g.init("word", w.get(_WORD, (None, hidden))), "input_ids"])
    types = w.get("embeddings.token_type_embeddings.weight", (None, hidden))
    typed = g.node("Gather", [g.init("token_type", types), "token_type_ids"])
    tokens = g.node("Shape", ["input_ids"], start=1, end=2)
    positions = g.node(
        "Slice",
        [
            g.init("position", w.get("embeddings.position_embeddings.weight", (None, hidden))),
            g.const("zero", np.array([0], dtype=np.int64)),
            tokens,
            g.const("axis0", np.array([0], dtype=np.int64)),
        ],
    )
    x = g.node("Add", [g.node("Add", [word, typed]), positions])
    x = g.layer_norm(x, w, "embeddings.LayerNorm", hidden, eps)

    # The additive mask of eager attention: 0 where attended, float32.min where padded.
    mask = g.node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = g.node("Unsqueeze", [mask, g.const("axes12", np.array([1, 2], dtype=np.int64))])
    mask = g.node("Sub", [g.const("one", np.array(1.0, dtype=np.float32)), mask])
    mask = g.node("Mul", [mask, g.const("min", np.array(np.finfo(np.float32).min, np.float32))])

    split = g.const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge = g.const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = g.const("scale", np.array(head_dim**-0.5, dtype=np.float32))
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def heads_of(name: str, perm: list[int], source: str, p: str = p) -> str:
            y = g.linear(source, w, p + f"attention.self.{name}", hidden, hidden)
            return g.node("Transpose", [g.node("Reshape", [y, split])], perm=perm)

        q = heads_of("query", [0, 2, 1, 3], x)
        k = heads_of("key", [0, 2, 3, 1], x)  # already transposed for q @ k
        v = heads_of("value", [0, 2, 1, 3], x)
        scores = g.node("Add", [g.node("Mul", [g.node("MatMul", [q, k]), scale]), mask])
        ctx = g.node("MatMul", [g.node("Softmax", [scores], axis=-1), v])
        ctx = g.node("Reshape", [g.node("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
        out = g.linear(ctx, w, p + "attention.output.dense", hidden, hidden)
        x = g.layer_norm(g.node("Add", [out, x]), w, p + "attention.output.LayerNorm", hidden, eps)
        h = g.linear(x, w, p + "intermediate.dense", inner, hidden)
        h = g.gelu(h) if act == "gelu" else g.node("Relu", [h])
        out = g.linear(h, w, p + "output.dense", hidden, inner)
        x = g.layer_norm(g.node("Add", [out, x]), w, p + "output.LayerNorm", hidden, eps)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))

    dims = ["batch", "tokens"]
    body = helper.make_graph(
        g.nodes,
        "bert",
        [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in _INPUTS],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*dims, hidden])],
        initializer=g.inits,
    )
    model = helper.make_model(
        body, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lcmem"
    )
    model.ir_version = 8  # what ONNX Runtime >= 1.14 reads; opset 17 needs IR >= 8
    return model


_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class _Weights:
    """The checkpoint's tensors by their ``BertModel`` name, whatever prefix they carry."""

    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        prefix = _prefix(list(tensors))
        if prefix is None:
            raise ConfigError(f"the weights have no tensor named like '{_WORD}' (not BERT)")
        self.tensors = {
            _old_names(k[len(prefix) :]): v for k, v in tensors.items() if k.startswith(prefix)
        }

    def get(self, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
        """The float32 tensor ``name``; its shape must match ``shape`` (``None``: any size)."""
        if name not in self.tensors:
            raise ConfigError(f"the weights lack '{name}' (not a BertModel checkpoint?)")
        t = self.tensors[name]
        fits = t.ndim == len(shape) and all(
            s is None or s == d for s, d in zip(shape, t.shape, strict=True)
        )
        if not fits:
            raise ConfigError(f"weight '{name}' has shape {t.shape}, config.json implies {shape}")
        if t.dtype != np.float32:
            t = t.astype(np.float32)  # fp16 checkpoints: the graph computes in fp32
        return t


def _prefix(keys: list[str]) -> str | None:
    """What comes before ``embeddings.word_embeddings.weight`` (``""``, ``"bert."``...)."""
    for k in keys:
        if k.endswith(_WORD):
            return k[: -len(_WORD)]
    return None


def _old_names(name: str) -> str:
    return name.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
        "LayerNorm.beta", "LayerNorm.bias"
    )


class _Graph:
    """Accumulates nodes and initializers, naming every value uniquely."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._count = 0

    def _name(self, base: str) -> str:
        self._count += 1
        return f"{base}_{self._count}"

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = self._name(op)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def init(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, name: str, array: np.ndarray) -> str:
        return self.init(name, array)

    def linear(
        self, x: str, w: _Weights, name: str, out_dim: int | None, in_dim: int | None
    ) -> str:
        """``x @ W.T + b`` of a ``torch.nn.Linear`` (W stored transposed, as MatMul wants)."""
        weight = w.get(name + ".weight", (out_dim, in_dim))
        bias = w.get(name + ".bias", (weight.shape[0],))
        y = self.node("MatMul", [x, self.init(name + ".weight_t", weight.T)])
        return self.node("Add", [self.init(name + ".bias", bias), y])

    def layer_norm(self, x: str, w: _Weights, name: str, dim: int, eps: float) -> str:
        scale = self.init(name + ".weight", w.get(name + ".weight", (dim,)))
        bias = self.init(name + ".bias", w.get(name + ".bias", (dim,)))
        return self.node("LayerNormalization", [x, scale, bias], axis=-1, epsilon=eps)

    def gelu(self, x: str) -> str:
        """Exact GELU, ``x * 0.5 * (1 + erf(x / sqrt(2)))``, as torch exports it."""
        root2 = self.const(self._name("sqrt2"), np.array(math.sqrt(2.0), dtype=np.float32))
        one = self.const(self._name("one"), np.array(1.0, dtype=np.float32))
        half = self.const(self._name("half"), np.array(0.5, dtype=np.float32))
        erf = self.node("Erf", [self.node("Div", [x, root2])])
        return self.node("Mul", [self.node("Mul", [x, self.node("Add", [erf, one])]), half])
