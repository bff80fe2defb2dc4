"""The LLM interface, its helpers and load_llm's mapping from what a user types to a backend."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from lcmem.llm import LLM, Completion, Message, assistant, load_llm, system, trim_at_stop, user
from lcmem.llm.openai_compat import OpenAICompatibleLLM
from lcmem.llm.transformers import DEFAULT_LLM, TransformersLLM


class Words(LLM):
    """A test double: answers with the last message's words, up to ``max_tokens`` of them."""

    name, context_window = "words", 64

    def __init__(self) -> None:
        self.calls: list[tuple[int, list[str] | None, float, int | None]] = []

    def complete(
        self,
        messages: Sequence[Message],
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Completion:
        self.calls.append((max_tokens, list(stop) if stop else None, temperature, seed))
        words = messages[-1]["content"].split()[:max_tokens]
        text = trim_at_stop(" ".join(words), stop)
        return Completion(text, self.count_messages(messages), len(text.split()), 0.0)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_message_helpers() -> None:
    assert system("s") == {"role": "system", "content": "s"}
    assert user("u") == {"role": "user", "content": "u"}
    assert assistant("a") == {"role": "assistant", "content": "a"}


@pytest.mark.parametrize(
    ("text", "stop", "expected"),
    [
        ("Paris.\nQuestion: next", ["\nQuestion:"], "Paris."),
        ("a STOP b END c", ["END", "STOP"], "a "),  # the earliest stop wins, not the first listed
        ("nothing to cut", ["zzz"], "nothing to cut"),
        ("keep", None, "keep"),
        ("keep", [], "keep"),
        ("keep", [""], "keep"),  # an empty stop string cuts nothing
        ("STOP at start", ["STOP"], ""),
    ],
)
def test_trim_at_stop(text: str, stop: list[str] | None, expected: str) -> None:
    assert trim_at_stop(text, stop) == expected


def test_generate_passes_every_argument_to_complete() -> None:
    llm = Words()
    assert llm.generate([user("one two three four")], 3, ["three"], 0.5, 9) == "one two "
    assert llm.calls == [(3, ["three"], 0.5, 9)]


def test_default_stream_yields_the_whole_answer_once() -> None:
    llm = Words()
    assert list(llm.stream([user("a b c")], max_tokens=2)) == ["a b"]


def test_default_count_messages_adds_template_overhead() -> None:
    llm = Words()
    msgs = [system("be brief"), user("hello there")]
    assert llm.count_messages(msgs) > sum(llm.count_tokens(m["content"]) for m in msgs)


def test_llm_is_abstract() -> None:
    class Incomplete(LLM):
        name, context_window = "x", 1

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]


def test_load_llm_returns_an_llm_as_it_is() -> None:
    llm = Words()
    assert load_llm(llm) is llm


def test_load_llm_url_with_model_makes_an_http_client_without_a_request() -> None:
    llm = load_llm("http://127.0.0.1:8000/v1#model-name")
    assert isinstance(llm, OpenAICompatibleLLM)
    assert (llm.base_url, llm.model) == ("http://127.0.0.1:8000/v1", "model-name")
    assert llm.name == "model-name@http://127.0.0.1:8000/v1"


def test_load_llm_url_without_model_leaves_it_to_the_server() -> None:
    llm = load_llm("https://example.invalid/v1/")
    assert isinstance(llm, OpenAICompatibleLLM)
    assert (llm.base_url, llm.model) == ("https://example.invalid/v1", None)


def test_load_llm_default_and_paths_are_lazy_transformers_models(tmp_path: object) -> None:
    default = load_llm()
    assert isinstance(default, TransformersLLM) and default.name == DEFAULT_LLM
    local = load_llm(str(tmp_path))
    assert isinstance(local, TransformersLLM) and local.model_path == str(tmp_path)
    assert default._model is None and local._model is None  # nothing loaded yet
