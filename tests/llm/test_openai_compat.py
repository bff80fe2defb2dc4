"""OpenAICompatibleLLM: against llama-cpp-python's real OpenAI-compatible server for the normal
paths, auth and bad URLs; a scripted loopback server and raw sockets for retries and hangs."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from lcmem.errors import (
    ConfigError,
    LLMAuthError,
    LLMConnectionError,
    LLMContextError,
    LLMError,
    LLMNotFoundError,
    LLMTimeoutError,
    ModelNotFoundError,
)
from lcmem.llm import load_llm, system, user
from lcmem.llm.openai_compat import (
    DEFAULT_CONTEXT_WINDOW,
    OpenAICompatibleLLM,
    _hold_back_stop,
    backoff_delay,
)
from lcmem.llm.repetition import OFF
from tests.llm.conftest import Reply, chat_body, free_port

FRANCE = [system("You are a helpful assistant."), user("What is the capital of France?")]


@pytest.fixture(autouse=True)
def _no_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LCMEM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def client(server: Any, **kw: Any) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(server.base_url, api_key=server.api_key, **kw)


# -- the real server --------------------------------------------------------------------------


@pytest.mark.slow
def test_real_completion_answers_and_reports_usage(llama_server: Any) -> None:
    out = client(llama_server).complete(FRANCE, max_tokens=30)
    assert "Paris" in out.text
    assert out.prompt_tokens > 0 and out.completion_tokens > 0
    assert out.seconds > 0


@pytest.mark.slow
def test_real_stream_joins_to_the_same_text(llama_server: Any) -> None:
    llm = client(llama_server, generation=OFF)  # plain decoding streams delta by delta
    pieces = list(llm.stream(FRANCE, max_tokens=30))
    assert len(pieces) > 1
    assert "".join(pieces) == llm.generate(FRANCE, max_tokens=30)
    guarded = client(llama_server)  # the default holds text back to whole sentences
    assert "".join(guarded.stream(FRANCE, max_tokens=30)) == guarded.generate(FRANCE, max_tokens=30)


@pytest.mark.slow
def test_real_stop_strings_cut_both_ways(llama_server: Any) -> None:
    llm = client(llama_server)
    full = llm.generate(FRANCE, max_tokens=30)
    assert " Paris" in full
    cut = llm.generate(FRANCE, max_tokens=30, stop=[" Paris"])
    assert cut == full[: full.index(" Paris")]
    assert "".join(llm.stream(FRANCE, max_tokens=30, stop=[" Paris"])) == cut


@pytest.mark.slow
def test_real_seeded_sample_is_repeatable(llama_server: Any) -> None:
    llm = client(llama_server)
    story = [user("Write one sentence about a cat.")]
    first = llm.generate(story, max_tokens=20, temperature=1.0, seed=7)
    assert first and first == llm.generate(story, max_tokens=20, temperature=1.0, seed=7)


@pytest.mark.slow
def test_real_wrong_key_is_an_auth_error_without_retries(
    llama_server: Any, sleeps: list[float]
) -> None:
    llm = OpenAICompatibleLLM(llama_server.base_url, model="m", api_key="wrong")
    with pytest.raises(LLMAuthError, match=r"401.*API key was refused.*LCMEM_API_KEY"):
        llm.generate(FRANCE)
    assert sleeps == []


@pytest.mark.slow
def test_real_missing_key_says_none_was_sent(llama_server: Any) -> None:
    with pytest.raises(LLMAuthError, match="no API key was sent"):
        OpenAICompatibleLLM(llama_server.base_url, model="m").generate(FRANCE)


@pytest.mark.slow
def test_real_wrong_path_is_not_found(llama_server: Any, sleeps: list[float]) -> None:
    base = llama_server.base_url.removesuffix("/v1") + "/api"
    llm = OpenAICompatibleLLM(base, model="m", api_key=llama_server.api_key)
    with pytest.raises(LLMNotFoundError, match=r"404.*check the base URL"):
        llm.generate(FRANCE)
    assert sleeps == []


@pytest.mark.slow
def test_real_model_name_comes_from_models_when_not_given(llama_server: Any) -> None:
    llm = client(llama_server)
    assert llm.model is None
    llm.generate(FRANCE, max_tokens=2)
    assert llm.model is not None and llm.model.endswith(".gguf")
    # llama-cpp-python does not report a window in /models: the documented default applies
    assert llm.context_window == DEFAULT_CONTEXT_WINDOW


@pytest.mark.slow
def test_real_prompt_over_the_servers_window_is_a_context_error(llama_server: Any) -> None:
    llm = client(llama_server)
    with pytest.raises(LLMContextError, match=r"context length.*shorten the input") as info:
        llm.generate([user("word " * 3000)], max_tokens=8)
    assert isinstance(info.value, ConfigError)


@pytest.mark.slow
def test_real_token_counts_match_the_servers_with_the_packaged_tokenizer(
    llama_server: Any,
) -> None:
    llm = client(llama_server, tokenizer="SmolLM2-135M-Instruct", context_window=2048)
    out = llm.complete(FRANCE, max_tokens=30)
    assert llm.count_messages(FRANCE) == out.prompt_tokens
    # the server may or may not count the end-of-turn token it stopped at
    assert out.completion_tokens - llm.count_tokens(out.text) in (0, 1)
    with pytest.raises(LLMContextError, match="window of 2048"):  # refused before sending
        llm.generate([user("word " * 3000)], max_tokens=8)


@pytest.mark.slow
def test_load_llm_url_with_model_and_key_from_env(
    llama_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LCMEM_API_KEY", llama_server.api_key)
    llm = load_llm(f"{llama_server.base_url}#smollm2")
    assert isinstance(llm, OpenAICompatibleLLM)
    assert llm.name == f"smollm2@{llama_server.base_url}"
    assert "Paris" in llm.generate(FRANCE, max_tokens=30)


# -- endpoints that are down, hang or drip ---------------------------------------------------


@pytest.mark.timeout(60)
def test_closed_port_is_a_connection_error_after_bounded_retries(sleeps: list[float]) -> None:
    llm = OpenAICompatibleLLM(f"http://127.0.0.1:{free_port()}/v1", model="m", max_retries=2)
    with pytest.raises(LLMConnectionError, match=r"cannot reach.*is running"):
        llm.generate(FRANCE)
    assert len(sleeps) == 2


@pytest.mark.timeout(60)
def test_server_that_accepts_and_never_answers_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes the handshake; nobody ever reads or writes
        port = listener.getsockname()[1]
        llm = OpenAICompatibleLLM(f"http://127.0.0.1:{port}/v1", model="m", timeout=1.0)
        with pytest.raises(LLMTimeoutError, match=r"within 1 s.*raise timeout="):
            llm.generate(FRANCE)
        with pytest.raises(LLMTimeoutError):
            list(llm.stream(FRANCE))


@pytest.mark.timeout(60)
def test_server_that_drips_bytes_forever_hits_the_deadline(scripted: Any) -> None:
    srv = scripted({"/chat/completions": [Reply(drip=True)]})
    llm = OpenAICompatibleLLM(srv.base_url, model="m", timeout=1.0)
    with pytest.raises(LLMTimeoutError):
        llm.generate(FRANCE)


# -- retries and error mapping (scripted server) ----------------------------------------------


def test_5xx_is_retried_with_growing_backoff(scripted: Any, sleeps: list[float]) -> None:
    srv = scripted(
        {
            "/chat/completions": [
                Reply(500, {"error": {"message": "boom"}}),
                Reply(500, {"error": {"message": "boom"}}),
                Reply(200, chat_body("ok", {"prompt_tokens": 5, "completion_tokens": 1})),
            ]
        }
    )
    llm = OpenAICompatibleLLM(srv.base_url, model="m", max_retries=3, backoff=0.5)
    out = llm.complete(FRANCE)
    assert (out.text, out.prompt_tokens, out.completion_tokens) == ("ok", 5, 1)
    assert srv.count("/chat/completions") == 3
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


def test_429_honours_retry_after(scripted: Any, sleeps: list[float]) -> None:
    srv = scripted(
        {
            "/chat/completions": [
                Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "2"}),
                Reply(200, chat_body("ok")),
            ]
        }
    )
    assert OpenAICompatibleLLM(srv.base_url, model="m").generate(FRANCE) == "ok"
    assert sleeps == [2.0]


def test_retries_are_bounded(scripted: Any, sleeps: list[float]) -> None:
    srv = scripted({"/chat/completions": [Reply(503, {"error": {"message": "overloaded"}})]})
    llm = OpenAICompatibleLLM(srv.base_url, model="m", max_retries=2)
    with pytest.raises(LLMError, match=r"503 \(overloaded\).*retries ran out"):
        llm.generate(FRANCE)
    assert srv.count("/chat/completions") == 3 and len(sleeps) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_are_not_retried(scripted: Any, sleeps: list[float], status: int) -> None:
    srv = scripted({"/chat/completions": [Reply(status, {"error": {"message": "bad key"}})]})
    with pytest.raises(LLMAuthError, match=f"HTTP {status} \\(bad key\\)"):
        OpenAICompatibleLLM(srv.base_url, model="m", api_key="k").generate(FRANCE)
    assert srv.count("/chat/completions") == 1 and sleeps == []


def test_unknown_model_names_the_models_the_server_has(scripted: Any) -> None:
    srv = scripted(
        {
            "/chat/completions": [
                Reply(404, {"error": {"message": "model `gpt-9` does not exist"}})
            ],
            "/models": [Reply(200, {"data": [{"id": "qwen-small"}, {"id": "llama-tiny"}]})],
        }
    )
    with pytest.raises(LLMNotFoundError, match=r"gpt-9.*serves qwen-small, llama-tiny") as info:
        OpenAICompatibleLLM(srv.base_url, model="gpt-9").generate(FRANCE)
    assert isinstance(info.value, ModelNotFoundError)


def test_request_carries_key_model_stop_and_seed(
    scripted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-openai-env")
    srv = scripted({"/chat/completions": [Reply(200, chat_body("a b c. STOP d"))]})
    stops = ["S1", "S2", "S3", "S4", " STOP"]
    text = OpenAICompatibleLLM(srv.base_url, model="m").generate(FRANCE, stop=stops, seed=3)
    assert text == "a b c."  # the fifth stop string is applied on the client
    sent = srv.requests[-1]
    headers = {k.lower(): v for k, v in sent["headers"].items()}  # HTTP names ignore case
    assert headers["authorization"] == "Bearer from-openai-env"
    assert sent["json"]["model"] == "m" and sent["json"]["seed"] == 3
    assert sent["json"]["stop"] == stops[:4]
    assert sent["json"]["messages"] == FRANCE


def test_lcmem_key_wins_over_openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "b")
    monkeypatch.setenv("LCMEM_API_KEY", "a")
    assert OpenAICompatibleLLM("http://x/v1").api_key == "a"
    assert OpenAICompatibleLLM("http://x/v1", api_key="c").api_key == "c"


def test_missing_usage_falls_back_to_estimates(scripted: Any) -> None:
    srv = scripted({"/chat/completions": [Reply(200, chat_body("twelve chars"))]})
    out = OpenAICompatibleLLM(srv.base_url, model="m").complete(FRANCE)
    assert out.completion_tokens == 3 and out.prompt_tokens > 0


def test_window_and_model_from_models_endpoint(scripted: Any) -> None:
    srv = scripted({"/models": [Reply(200, {"data": [{"id": "big", "max_model_len": 4096}]})]})
    llm = OpenAICompatibleLLM(srv.base_url)
    assert llm.context_window == 4096
    assert OpenAICompatibleLLM(srv.base_url, context_window=1000).context_window == 1000
    assert llm._model_name() == "big"


def test_server_without_models_gives_default_window(scripted: Any) -> None:
    srv = scripted({})
    assert OpenAICompatibleLLM(srv.base_url, model="m").context_window == DEFAULT_CONTEXT_WINDOW
    with pytest.raises(ConfigError, match="#MODEL"):
        OpenAICompatibleLLM(srv.base_url).generate(FRANCE)


def test_non_json_answer_is_a_clear_error(scripted: Any) -> None:
    srv = scripted({"/chat/completions": [Reply(200, b"<html>hello</html>")]})
    with pytest.raises(LLMError, match=r"did not answer with JSON.*/v1"):
        OpenAICompatibleLLM(srv.base_url, model="m").generate(FRANCE)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not http"):
        OpenAICompatibleLLM("127.0.0.1:8000/v1")
    with pytest.raises(ConfigError, match="timeout"):
        OpenAICompatibleLLM("http://x/v1", timeout=0)
    with pytest.raises(ConfigError, match="context_window"):
        OpenAICompatibleLLM("http://x/v1", context_window=0)
    with pytest.raises(ModelNotFoundError, match="no tokenizer"):
        OpenAICompatibleLLM("http://x/v1", tokenizer="/nonexistent/tok").count_tokens("x")


# -- pure helpers -----------------------------------------------------------------------------


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff_delay(n, 0.5, 3.0) for n in range(6)]
    assert 0.375 <= delays[0] <= 0.5 and 0.75 <= delays[1] <= 1.0
    assert all(d <= 3.0 for d in delays) and delays[5] >= 2.25
    assert backoff_delay(0, 0.5, 3.0, retry_after=100) == 3.0
    assert backoff_delay(0, 0.5, 3.0, retry_after=-5) == 0.0


@pytest.mark.parametrize(
    ("pieces", "stop", "expected"),
    [
        (["Par", "is.\nQ", "uestion: x"], ["\nQuestion:"], "Paris."),
        (["STOP here"], ["STOP"], ""),
        (["no stop ", "at all"], ["zzz"], "no stop at all"),
        (["a", "b", "c"], None, "abc"),
        (["ab", "X", "Ycd"], ["XY", "cd"], "ab"),
    ],
)
def test_hold_back_stop(pieces: list[str], stop: list[str] | None, expected: str) -> None:
    assert "".join(_hold_back_stop(iter(pieces), stop)) == expected


def test_estimate_without_tokenizer() -> None:
    llm = OpenAICompatibleLLM("http://x/v1", model="m")
    assert llm.count_tokens("") == 0 and llm.count_tokens("abcd") == 1
    assert llm.count_tokens("abcde") == 2
    assert llm.count_messages([user("abcd")]) > llm.count_tokens("abcd")


def test_generation_settings_reach_the_request_and_repeats_are_cut(scripted: Any) -> None:
    from lcmem.llm.repetition import OFF, GenerationSettings

    looping = "It is cached by hash. It is cached by hash. It is"
    srv = scripted({"/chat/completions": [Reply(200, chat_body(looping))] * 2})
    guarded = GenerationSettings(frequency_penalty=0.4, repetition_penalty=1.1)
    llm = OpenAICompatibleLLM(srv.base_url, model="m", generation=guarded)
    assert llm.generate(FRANCE) == "It is cached by hash."
    sent = srv.requests[-1]["json"]
    assert sent["frequency_penalty"] == 0.4 and sent["repeat_penalty"] == 1.1
    plain = OpenAICompatibleLLM(srv.base_url, model="m", generation=OFF)
    assert plain.generate(FRANCE) == looping
    assert "frequency_penalty" not in srv.requests[-1]["json"]
    assert "repeat_penalty" not in srv.requests[-1]["json"]


# -- the openai client underneath ----------------------------------------------------------------


REFUSED_MAX_TOKENS = {
    "error": {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
    }
}


def test_length_field_switches_once_when_the_server_names_the_other(scripted: Any) -> None:
    srv = scripted(
        {"/chat/completions": [Reply(400, REFUSED_MAX_TOKENS), Reply(200, chat_body("ok"))]}
    )
    llm = OpenAICompatibleLLM(srv.base_url, model="m")
    assert llm.max_tokens_param == "max_tokens"  # what local servers read
    assert llm.generate(FRANCE, max_tokens=7) == "ok"
    assert llm.generate(FRANCE, max_tokens=7) == "ok"
    bodies = [r["json"] for r in srv.requests]
    assert bodies[0]["max_tokens"] == 7 and "max_completion_tokens" not in bodies[0]
    assert all(b["max_completion_tokens"] == 7 and "max_tokens" not in b for b in bodies[1:])
    assert len(bodies) == 3 and llm.max_tokens_param == "max_completion_tokens"


def test_length_field_given_explicitly_is_not_switched(scripted: Any) -> None:
    srv = scripted({"/chat/completions": [Reply(400, REFUSED_MAX_TOKENS)]})
    llm = OpenAICompatibleLLM(srv.base_url, model="m", max_tokens_param="max_tokens")
    with pytest.raises(LLMError, match=r"HTTP 400: Unsupported parameter: 'max_tokens'"):
        llm.generate(FRANCE)
    assert srv.count("/chat/completions") == 1
    assert OpenAICompatibleLLM("https://api.openai.com/v1").max_tokens_param == (
        "max_completion_tokens"
    )
    with pytest.raises(ConfigError, match="max_tokens_param"):
        OpenAICompatibleLLM("http://x/v1", max_tokens_param="max_length")


def test_no_key_sends_no_authorization_header(scripted: Any) -> None:
    srv = scripted({"/chat/completions": [Reply(200, chat_body("ok"))]})
    assert OpenAICompatibleLLM(srv.base_url, model="m").generate(FRANCE) == "ok"
    assert "authorization" not in {k.lower() for k in srv.requests[-1]["headers"]}


def _events(*events: dict[str, Any] | str) -> bytes:
    lines = [": keep-alive\n\n"]
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        lines.append(f"data: {data}\n\n")
    return "".join(lines).encode()


def _delta(text: str) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}}],
    }


def test_stream_joins_the_deltas_and_maps_a_mid_stream_error(scripted: Any) -> None:
    srv = scripted(
        {
            "/chat/completions": [
                Reply(200, _events(_delta("Par"), _delta("is."), {"choices": []}, "[DONE]")),
                Reply(200, _events(_delta("Pa"), {"error": {"message": "out of memory"}})),
            ]
        }
    )
    # Plain decoding: the repeated-sentence stop holds text back until a sentence ends.
    llm = OpenAICompatibleLLM(srv.base_url, model="m", generation=OFF)
    assert list(llm.stream(FRANCE)) == ["Par", "is."]
    assert srv.requests[-1]["json"]["stream"] is True
    pieces: list[str] = []
    with pytest.raises(LLMError, match="failed mid-answer: out of memory"):
        pieces.extend(llm.stream(FRANCE))
    assert pieces == ["Pa"]
