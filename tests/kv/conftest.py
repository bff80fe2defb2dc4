"""A tiny Llama with random weights and the packaged SmolLM2 tokenizer: fast, real transformers."""

from __future__ import annotations

import threading
from typing import Any

import pytest


class TinyLLM:
    """What lcmem.kv needs from an LLM: ``.model``, ``.tokenizer``, ``.name``, ``_lock``."""

    context_window = 8192

    def __init__(self, model: Any, tokenizer: Any, name: str = "tiny-llama") -> None:
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self._lock = threading.Lock()


@pytest.fixture(scope="session")
def smol_tokenizer() -> Any:
    from transformers import AutoTokenizer

    from lcmem.llm.transformers import DEFAULT_LLM, resolve_llm_folder

    return AutoTokenizer.from_pretrained(str(resolve_llm_folder(DEFAULT_LLM)))


def tiny_model(vocab: int, seed: int = 0) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
    )
    model = LlamaForCausalLM(config).eval()
    return model


@pytest.fixture(scope="session")
def tiny_llm(smol_tokenizer: Any) -> TinyLLM:
    return TinyLLM(tiny_model(len(smol_tokenizer)), smol_tokenizer)


@pytest.fixture
def text() -> str:
    lines = [f"Line {i}: the value of item {i} is {i * 7 % 101}." for i in range(60)]
    return "\n".join(lines) + "\n"
