"""Position strategies of LongContextEmbedder, checked against independent references on tiny
randomly initialised models (BERT: absolute positions; Llama and ModernBERT: rotary)."""

from __future__ import annotations

import copy
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.extras import needs

needs("torch", "transformers", extra="longctx")
import torch  # noqa: E402
import transformers  # noqa: E402

from lcmem.embedders import rope  # noqa: E402
from lcmem.embedders.longctx import LongContextEmbedder  # noqa: E402
from lcmem.errors import ConfigError  # noqa: E402
from lcmem.tokens import default_model_path  # noqa: E402

NATIVE = 16
TEXT = " ".join(f"word{i} alpha beta" for i in range(20))  # ~100 tokens


def _save(model, folder: Path) -> Path:
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        src = default_model_path() / name
        if src.exists():
            shutil.copy(src, folder / name)
    return folder


def _common() -> dict:
    return dict(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=NATIVE,
        initializer_range=0.2,
    )


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = transformers.BertConfig(**_common())
    return _save(transformers.BertModel(cfg), tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(**_common(), num_key_value_heads=2, pad_token_id=0)
    return _save(transformers.LlamaModel(cfg), tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="module")
def modernbert_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = transformers.ModernBertConfig(
        **_common(),
        global_attn_every_n_layers=1,
        pad_token_id=0,
        cls_token_id=101,
        sep_token_id=102,
        bos_token_id=101,
        eos_token_id=102,
    )
    return _save(transformers.ModernBertModel(cfg), tmp_path_factory.mktemp("modernbert"))


def _ref_mean(model, ids, **kwargs) -> np.ndarray:
    """Mean-pooled, normalised last hidden state of ``model`` on one input (the reference)."""
    x = torch.tensor([ids])
    # An explicit all-ones mask: without one, transformers >= 5.25 reads non-consecutive
    # position_ids as packed sequences and attends only within each run of positions.
    kwargs.setdefault("attention_mask", torch.ones_like(x))
    with torch.inference_mode():
        out = model(input_ids=x, **kwargs).last_hidden_state[0]
    v = out.mean(0).numpy()
    return v / np.linalg.norm(v)


def _vec(emb, ids) -> np.ndarray:
    v = emb.pool(emb.token_states(ids))
    return v / np.linalg.norm(v)


# -- absolute positions ------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["pi", "gp", "rp", "pcw", "truncate"])
def test_within_window_equals_base(bert_dir, strategy):
    emb = LongContextEmbedder(bert_dir, strategy=strategy, max_tokens=256, logit_scaling=True)
    base = transformers.BertModel.from_pretrained(bert_dir).eval()
    texts = ["alpha beta", "word1 word2 word3 gamma delta"]
    got = emb.embed(texts)
    for text, row in zip(texts, got, strict=True):
        ids = emb.tokenizer(text)["input_ids"]
        assert len(ids) <= NATIVE
        np.testing.assert_allclose(row, _ref_mean(base, ids), atol=1e-5)


@pytest.mark.parametrize("strategy", ["gp", "rp"])
def test_integer_position_mapping_beyond_window(bert_dir, strategy):
    emb = LongContextEmbedder(bert_dir, strategy=strategy, max_tokens=256)
    ids = emb.encode_ids([TEXT])[0]
    n = len(ids)
    assert n > 3 * NATIVE
    base = transformers.BertModel.from_pretrained(bert_dir).eval()
    pos = torch.arange(n) // math.ceil(n / NATIVE) if strategy == "gp" else torch.arange(n) % NATIVE
    want = _ref_mean(base, ids, position_ids=pos[None], token_type_ids=torch.zeros(1, n).long())
    np.testing.assert_allclose(_vec(emb, ids), want, atol=1e-5)
    np.testing.assert_allclose(emb.embed([TEXT])[0], want, atol=1e-5)


def test_position_interpolation_matches_interpolated_table(bert_dir):
    emb = LongContextEmbedder(bert_dir, strategy="pi", max_tokens=256)
    ids = emb.encode_ids([TEXT])[0]
    n = len(ids)
    ref = copy.deepcopy(transformers.BertModel.from_pretrained(bert_dir).eval())
    table = ref.embeddings.position_embeddings.weight.detach()
    # An independent interpolation: torch's linear resampling with aligned end points.
    big = torch.nn.functional.interpolate(table.T[None], size=n, mode="linear", align_corners=True)
    ref.embeddings.position_embeddings = torch.nn.Embedding.from_pretrained(big[0].T)
    want = _ref_mean(
        ref, ids, position_ids=torch.arange(n)[None], token_type_ids=torch.zeros(1, n).long()
    )
    np.testing.assert_allclose(_vec(emb, ids), want, atol=1e-5)


def test_logit_scaling_multiplies_attention_logits(bert_dir):
    emb = LongContextEmbedder(bert_dir, strategy="rp", max_tokens=256, logit_scaling=True)
    ids = emb.encode_ids([TEXT])[0]
    n = len(ids)
    ref = transformers.BertModel.from_pretrained(bert_dir).eval()
    s = rope.logit_scale(n, NATIVE)
    assert s > 1.2
    with torch.no_grad():  # scaling the query projection scales every logit by s
        for layer in ref.encoder.layer:
            layer.attention.self.query.weight.mul_(s)
            layer.attention.self.query.bias.mul_(s)
    pos = (torch.arange(n) % NATIVE)[None]
    want = _ref_mean(ref, ids, position_ids=pos, token_type_ids=torch.zeros(1, n).long())
    np.testing.assert_allclose(_vec(emb, ids), want, atol=1e-5)
    # and the setting does not leak into the next (short) input
    short = emb.encode_ids(["alpha beta"])[0]
    np.testing.assert_allclose(
        _vec(emb, short),
        _ref_mean(ref.__class__.from_pretrained(bert_dir).eval(), short),
        atol=1e-5,
    )


def test_pcw_encodes_windows_apart(bert_dir):
    emb = LongContextEmbedder(bert_dir, strategy="pcw", max_tokens=256)
    ids = emb.encode_ids([TEXT])[0]
    base = transformers.BertModel.from_pretrained(bert_dir).eval()
    body, step = ids[1:-1], NATIVE - 2
    states = []
    for i in range(0, len(body), step):
        w = [ids[0], *body[i : i + step], ids[-1]]
        with torch.inference_mode():
            h = base(input_ids=torch.tensor([w])).last_hidden_state[0]
        states.append(h[1:-1])
        first, last = (h[:1] if i == 0 else None), h[-1:]
        if first is not None:
            head = first
    want = torch.cat([head, *states, last]).mean(0).numpy()
    np.testing.assert_allclose(_vec(emb, ids), want / np.linalg.norm(want), atol=1e-5)


def test_batching_mixes_short_and_long(bert_dir):
    emb = LongContextEmbedder(bert_dir, strategy="pi", max_tokens=64, batch_size=2)
    texts = ["alpha", TEXT, "beta gamma", TEXT + " extra", "delta"]
    together = emb.embed(texts)
    alone = np.concatenate([emb.embed([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert together.shape == (5, 32) and np.allclose(np.linalg.norm(together, axis=1), 1, atol=1e-5)
    assert len(emb.encode_ids([TEXT])[0]) == 64 + 2  # max_tokens of its own, [CLS] and [SEP]


def test_wrong_strategy_for_model_is_a_config_error(bert_dir, llama_dir):
    with pytest.raises(ConfigError, match="rotary"):
        LongContextEmbedder(bert_dir, strategy="ntk").embed(["x"])
    with pytest.raises(ConfigError, match="absolute"):
        LongContextEmbedder(llama_dir, strategy="gp").embed(["x"])
    with pytest.raises(ConfigError, match="choose one of"):
        LongContextEmbedder(bert_dir, strategy="yarn")


# -- rotary positions --------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["ntk", "selfextend", "pi", "pcw"])
@pytest.mark.parametrize("which", ["llama", "modernbert"])
def test_rope_within_window_equals_base(request, which, strategy):
    folder = request.getfixturevalue(f"{which}_dir")
    emb = LongContextEmbedder(folder, strategy=strategy, max_tokens=256)
    base = transformers.AutoModel.from_pretrained(folder).eval()
    ids = emb.encode_ids(["alpha beta gamma delta"])[0]
    assert len(ids) <= NATIVE
    np.testing.assert_allclose(
        emb.embed(["alpha beta gamma delta"])[0], _ref_mean(base, ids), atol=1e-5
    )


@pytest.mark.parametrize("which", ["llama", "modernbert"])
def test_ntk_equals_a_model_with_a_raised_rope_base(request, which):
    folder = request.getfixturevalue(f"{which}_dir")
    emb = LongContextEmbedder(folder, strategy="ntk", max_tokens=256)
    ids = emb.encode_ids([TEXT])[0]
    n, d = len(ids), 32 // 4
    cfg = transformers.AutoConfig.from_pretrained(folder)
    params = cfg.rope_parameters
    scale = (n / NATIVE) ** (d / (d - 2))
    if "rope_theta" in params:
        params["rope_theta"] = params["rope_theta"] * scale
    else:  # one set of parameters per layer type (ModernBERT)
        for p in params.values():
            p["rope_theta"] = p["rope_theta"] * scale
    ref = transformers.AutoModel.from_pretrained(folder, config=cfg).eval()
    np.testing.assert_allclose(_vec(emb, ids), _ref_mean(ref, ids), atol=1e-4)
    # the original frequencies are back afterwards
    short = emb.encode_ids(["alpha beta"])[0]
    base = transformers.AutoModel.from_pretrained(folder).eval()
    np.testing.assert_allclose(_vec(emb, short), _ref_mean(base, short), atol=1e-5)


def _reference_selfextend(window: int, group: int, inv_freq):
    """SelfExtend by definition: every (query i, key j) pair scored at its mapped relative
    distance, one pair at a time (slow; tiny inputs only)."""

    def attend(module, query, key, value, attention_mask, scaling=None, **kwargs):
        b, h, n, d = query.shape
        groups = getattr(module, "num_key_value_groups", 1)
        key = key.repeat_interleave(groups, 1)
        value = value.repeat_interleave(groups, 1)
        pos = torch.arange(n)
        q0 = rope.rotate(query, -pos, inv_freq)  # back to position 0
        k0 = rope.rotate(key, -pos, inv_freq)
        causal = module.is_causal
        logits = torch.full((b, h, n, n), float("-inf"))
        for i in range(n):
            for j in range(n):
                if causal and j > i:
                    continue
                if abs(i - j) < window:
                    rel = i - j
                elif j < i:
                    rel = i // group + window - window // group - j // group
                else:
                    rel = i // group - (window - window // group) - j // group
                qi = rope.rotate(q0[:, :, i : i + 1], torch.tensor([rel]), inv_freq)
                logits[:, :, i, j] = (qi[:, :, 0] * k0[:, :, j]).sum(-1)
        p = torch.softmax(logits * (scaling or d**-0.5), -1)
        return (p @ value).transpose(1, 2).contiguous(), None

    return attend


@pytest.mark.parametrize("which", ["llama", "modernbert"])
def test_selfextend_maps_positions_as_defined(request, which):
    folder = request.getfixturevalue(f"{which}_dir")
    window, group = 6, 3
    emb = LongContextEmbedder(
        folder,
        strategy="selfextend",
        max_tokens=40,
        selfextend_window=window,
        selfextend_group=group,
    )
    ids = emb.encode_ids([TEXT])[0]
    assert len(ids) == 40 + 2  # max_tokens of the text's own, [CLS] and [SEP]
    got = _vec(emb, ids)
    ref = transformers.AutoModel.from_pretrained(folder).eval()
    transformers.AttentionInterface.register(
        "test_ref_se", _reference_selfextend(window, group, emb.loaded.inv_freq)
    )
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    ALL_MASK_ATTENTION_FUNCTIONS.register("test_ref_se", sdpa_mask)
    ref.set_attn_implementation("test_ref_se")
    np.testing.assert_allclose(
        got, _ref_mean(ref, ids, attention_mask=torch.ones(1, len(ids)).long()), atol=1e-4
    )
    plain = _ref_mean(transformers.AutoModel.from_pretrained(folder).eval(), ids)
    assert not np.allclose(got, plain, atol=1e-4)  # beyond the window it does change things


def test_untested_transformers_version_is_a_clear_error(monkeypatch):
    from lcmem.embedders.longctx import UNTESTED_TRANSFORMERS_ENV, check_transformers_version
    from lcmem.errors import ConfigError

    monkeypatch.delenv(UNTESTED_TRANSFORMERS_ENV, raising=False)
    check_transformers_version(transformers.__version__)  # the installed one is tested
    with pytest.raises(ConfigError, match="tested with transformers"):
        check_transformers_version("5.26.0")
    with pytest.raises(ConfigError, match=UNTESTED_TRANSFORMERS_ENV):
        check_transformers_version("4.57.1")
    monkeypatch.setenv(UNTESTED_TRANSFORMERS_ENV, "1")
    with pytest.warns(UserWarning, match="vectors may differ"):
        check_transformers_version("5.26.0")
