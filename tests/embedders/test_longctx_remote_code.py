"""RoPE encoders that ship their own modelling code (nomic-embed, gte-v1.5 style), loaded with
``trust_remote_code=True``: a tiny randomly initialised model whose folder holds its own
``configuration_*.py`` / ``modeling_*.py`` and an ``auto_map``, so transformers runs the
folder's code, not a class of its own.

Checked: loading needs the explicit opt-in (clear error without it); inside the window every
strategy gives the base model; NTK really rescales the model's own rotary frequencies beyond the
window; strategies that need transformers' attention interface are refused with a clear error
instead of silently doing nothing.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.extras import needs

needs("torch", "transformers", extra="longctx")
import torch  # noqa: E402

from lcmem.embedders.longctx import LongContextEmbedder  # noqa: E402
from lcmem.errors import ConfigError, ModelNotFoundError  # noqa: E402
from lcmem.tokens import default_model_path  # noqa: E402

NATIVE = 16
TEXT = " ".join(f"word{i} alpha beta" for i in range(20))  # ~100 tokens

CONFIG_CODE = """
from transformers import PretrainedConfig


class TinyRopeConfig(PretrainedConfig):
    model_type = "tinyrope"

    def __init__(self, vocab_size=30522, hidden_size=32, num_attention_heads=4,
                 num_hidden_layers=2, max_position_embeddings=16, rope_theta=10000.0,
                 pad_token_id=0, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.num_hidden_layers = num_hidden_layers
        self.max_position_embeddings = max_position_embeddings
        self.rope_theta = rope_theta
        super().__init__(pad_token_id=pad_token_id, **kwargs)
"""

MODELING_CODE = """
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from .configuration_tinyrope import TinyRopeConfig


class TinyRotaryEmbedding(nn.Module):
    def __init__(self, dim, base):
        super().__init__()
        inv = 1.0 / base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim)
        self.register_buffer("inv_freq", inv)  # saved: no meta-device init surprises

    def forward(self, position_ids):
        freqs = position_ids[..., None].float() * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class TinyLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)
        self.norm1 = nn.LayerNorm(config.hidden_size)
        self.norm2 = nn.LayerNorm(config.hidden_size)
        self.mlp = nn.Sequential(nn.Linear(config.hidden_size, 64), nn.GELU(),
                                 nn.Linear(64, config.hidden_size))

    def forward(self, h, cos, sin, mask):
        b, n, d = h.shape
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        a = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        h = self.norm1(h + self.out(a.transpose(1, 2).reshape(b, n, d)))
        return self.norm2(h + self.mlp(h))


class TinyRopeModel(PreTrainedModel):
    config_class = TinyRopeConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        head_dim = config.hidden_size // config.num_attention_heads
        self.rotary_emb = TinyRotaryEmbedding(head_dim, config.rope_theta)
        self.layers = nn.ModuleList(TinyLayer(config) for _ in range(config.num_hidden_layers))
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.2)

    def forward(self, input_ids, attention_mask=None, position_ids=None, **kwargs):
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1])[None].expand_as(input_ids)
        mask = None
        if attention_mask is not None:
            mask = attention_mask[:, None, None, :].bool()
        cos, sin = self.rotary_emb(position_ids)
        h = self.embed(input_ids)
        for layer in self.layers:
            h = layer(h, cos, sin, mask)
        return BaseModelOutput(last_hidden_state=h)
"""


def _import_folder_module(folder: Path):
    """Import the folder's modeling code as a package (as transformers would) to build weights."""
    (folder / "__init__.py").write_text("")
    name = f"tinyrope_{abs(hash(str(folder)))}"
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    config_mod = importlib.import_module(f"{name}.configuration_tinyrope")
    model_mod = importlib.import_module(f"{name}.modeling_tinyrope")
    return config_mod, model_mod


@pytest.fixture(scope="module")
def remote_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tinyrope")
    (folder / "configuration_tinyrope.py").write_text(CONFIG_CODE)
    (folder / "modeling_tinyrope.py").write_text(MODELING_CODE)
    config_mod, model_mod = _import_folder_module(folder)
    torch.manual_seed(0)
    model = model_mod.TinyRopeModel(config_mod.TinyRopeConfig(max_position_embeddings=NATIVE))
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, folder / "model.safetensors"
    )
    config = model.config.to_dict()
    config["auto_map"] = {
        "AutoConfig": "configuration_tinyrope.TinyRopeConfig",
        "AutoModel": "modeling_tinyrope.TinyRopeModel",
    }
    config["architectures"] = ["TinyRopeModel"]
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "__init__.py").unlink()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        src = default_model_path() / name
        if src.exists():
            shutil.copy(src, folder / name)
    return folder


def _reference(folder: Path, ids: list[int], inv_scale: float | None = None) -> np.ndarray:
    """Mean-pooled unit vector from the folder's own code, with the rotary frequencies NTK-scaled
    by hand (the independent reference)."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(folder, trust_remote_code=True, local_files_only=True)
    model.eval()
    if inv_scale is not None:
        inv = model.rotary_emb.inv_freq.double()
        d = 2 * inv.shape[0]
        exponent = torch.arange(inv.shape[0], dtype=torch.float64) * 2 / (d - 2)
        model.rotary_emb.inv_freq = (inv * inv_scale ** (-exponent)).float()
    with torch.inference_mode():
        out = model(input_ids=torch.tensor([ids])).last_hidden_state[0].mean(0).numpy()
    return out / np.linalg.norm(out)


def test_remote_code_needs_the_explicit_opt_in(remote_dir):
    with pytest.raises(ModelNotFoundError, match="trust_remote_code"):
        LongContextEmbedder(remote_dir, strategy="ntk", max_tokens=64).embed(["hello"])


@pytest.mark.parametrize("strategy", ["ntk", "pi", "pcw"])
def test_remote_code_within_window_equals_base(remote_dir, strategy):
    emb = LongContextEmbedder(remote_dir, strategy=strategy, max_tokens=64, trust_remote_code=True)
    ids = emb.encode_ids(["alpha beta gamma"])[0]
    assert len(ids) <= NATIVE
    got = emb.embed(["alpha beta gamma"])[0]
    assert np.allclose(got, _reference(remote_dir, ids), atol=1e-5)


def test_remote_code_ntk_rescales_the_models_own_rotary_frequencies(remote_dir):
    emb = LongContextEmbedder(remote_dir, strategy="ntk", max_tokens=128, trust_remote_code=True)
    ids = emb.encode_ids([TEXT])[0]
    assert len(ids) > NATIVE
    got = emb.embed([TEXT])[0]
    assert np.allclose(got, _reference(remote_dir, ids, inv_scale=len(ids) / NATIVE), atol=1e-5)
    assert not np.allclose(got, _reference(remote_dir, ids), atol=1e-3)  # scaling did something
    # the model is left as it was: a short input afterwards is the base model again
    short = emb.encode_ids(["alpha beta"])[0]
    assert np.allclose(emb.embed(["alpha beta"])[0], _reference(remote_dir, short), atol=1e-5)


@pytest.mark.parametrize(
    ("strategy", "scaled"), [("selfextend", False), ("ntk", True), ("pi", True)]
)
def test_remote_code_attention_strategies_are_refused_not_ignored(remote_dir, strategy, scaled):
    emb = LongContextEmbedder(
        remote_dir,
        strategy=strategy,
        max_tokens=64,
        logit_scaling=scaled,
        trust_remote_code=True,
    )
    with pytest.raises(ConfigError, match="computes attention in its own code"):
        emb.embed([TEXT])


def test_remote_code_setting_is_recorded_and_reused_by_the_library(remote_dir, tmp_path):
    from click.testing import CliRunner

    import lcmem
    from lcmem.cli import cli as main

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(TEXT + " zebra cake")
    store = tmp_path / "lib"
    args = ["index", str(docs), "--store", str(store), "--embedder", str(remote_dir)]
    args += ["--embed-strategy", "ntk", "--embed-max-tokens", "128"]
    refused = CliRunner().invoke(main, args)
    assert isinstance(refused.exception, ModelNotFoundError)  # main() prints it, exits 2
    assert "--trust-remote-code" in str(refused.exception)
    done = CliRunner().invoke(main, [*args, "--trust-remote-code", "--quiet"])
    assert done.exit_code == 0, done.output
    with lcmem.open(str(store)) as lib:  # rebuilt from the manifest, remote code included
        assert lib.manifest["embedder"]["trust_remote_code"] is True
        assert lib.search("zebra cake", k=1, mode="dense")[0].path.endswith("a.txt")
    plain_args = ["index", str(docs), "--store", str(tmp_path / "x"), "--trust-remote-code"]
    plain = CliRunner().invoke(main, plain_args)
    assert plain.exit_code != 0 and "--embed-strategy" in plain.output
