"""A chat model behind any OpenAI-compatible HTTP server (OpenAI, vLLM, llama.cpp, Ollama, ...).

Requests go through the official ``openai`` client (request building, authentication, HTTP
status classes, server-sent-event parsing, new API parameters). This module is the thin lcmem
layer on top: messages that say what to change, token counting, a deadline for the whole
answer and the retry policy. Every call is bounded: a connect timeout, a read timeout and a
deadline for the whole answer, so a server that hangs or drips bytes raises
:class:`~lcmem.errors.LLMTimeoutError` instead of blocking. Connection errors, HTTP 408/429 and
5xx are retried a bounded number of times with exponential backoff (honouring ``Retry-After``);
a refused API key (401/403) or an unknown model or path (404) fails at once with a message
that says what to change.

The answer length is sent as ``max_tokens``, which every local server (llama.cpp,
llama-cpp-python, vLLM, Ollama, LM Studio) reads, except to ``api.openai.com``, whose newer
models accept only ``max_completion_tokens``. When a server refuses the one sent and names the
other (HTTP 400), the call is repeated once with the other and the choice is kept.

The API key comes from ``api_key=``, else ``LCMEM_API_KEY``, else ``OPENAI_API_KEY``.

Token counts of completions are the server's own ``usage`` numbers. :meth:`count_tokens` uses
a local tokenizer when given one (``tokenizer=`` a Hugging Face tokenizer folder, a ``.gguf``
file, or ``"SmolLM2-135M-Instruct"`` for the packaged model's); otherwise it estimates
one token per 4 characters, the usual rule of thumb for English text with BPE vocabularies
(SmolLM2's tokenizer averages 4.5 characters per token on ``man bash`` and ``argparse.py``,
so the estimate errs on the high side, which keeps prompts inside the window).

Example:
    >>> llm = OpenAICompatibleLLM("http://127.0.0.1:8000/v1", model="smollm2")  # no request yet
    >>> llm.name
    'smollm2@http://127.0.0.1:8000/v1'
    >>> llm.count_tokens("twelve chars")                    # estimate: no tokenizer given
    3
    >>> llm.generate([user("What is the capital of France?")])  # doctest: +SKIP
    'The capital of France is Paris.'
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lcmem._extras import require
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
from lcmem.llm.base import LLM, Completion, Message, trim_at_stop, user
from lcmem.llm.repetition import GenerationSettings, gated

if TYPE_CHECKING:
    import openai

_OPENAI_REQUEST_FIELDS = frozenset({"frequency_penalty", "presence_penalty"})
"""Generation fields the openai client takes as keyword arguments."""

DEFAULT_CONTEXT_WINDOW = 8192
"""Context window assumed when neither the caller nor the server's ``/models`` gives one."""

CHARS_PER_TOKEN = 4.0
"""Characters per token of the estimate :meth:`OpenAICompatibleLLM.count_tokens` falls back to."""

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Keys under which servers report a model's context window in /models entries
# (vLLM: max_model_len, LM Studio: max_context_length, OpenRouter: context_length).
_WINDOW_KEYS = ("context_window", "context_length", "max_model_len", "max_context_length", "n_ctx")
# OpenAI accepts at most 4 stop sequences; the rest are applied on the client.
_MAX_SERVER_STOPS = 4
_LENGTH_PARAMS = ("max_tokens", "max_completion_tokens")
_log = logging.getLogger(__name__)
_sleep = time.sleep  # a module attribute so tests can record the backoff without waiting
T = TypeVar("T")


class _Retry(Exception):
    """One attempt failed in a way worth retrying; ``error`` is raised when attempts run out."""

    def __init__(self, error: LLMError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class _LengthParamRefused(Exception):
    """The server refused the answer-length field and named the other one (now switched to)."""


class OpenAICompatibleLLM(LLM):
    """A chat model served over the OpenAI chat-completions API.

    Args:
        base_url: the API root, usually ending in ``/v1`` (``http://127.0.0.1:8000/v1``).
        model: the model name the server knows; ``None`` takes the first of ``/models``.
        api_key: sent as ``Authorization: Bearer``; default ``LCMEM_API_KEY`` or
            ``OPENAI_API_KEY`` from the environment, none if both are unset.
        context_window: tokens the model handles; default from ``/models`` if the server
            reports it, else 8192.
        tokenizer: for exact :meth:`count_tokens`: a local tokenizer folder, a ``.gguf``
            file, ``"SmolLM2-135M-Instruct"`` or a loaded transformers tokenizer.
        timeout: seconds a whole non-streaming answer may take, and the longest wait for each
            piece of a streamed one.
        connect_timeout: seconds to open the connection.
        max_retries: retries after the first attempt (connection errors, 408, 429, 5xx).
        backoff: first retry delay in seconds; it doubles each retry (with jitter) up to
            ``max_backoff``.
        headers: extra HTTP headers sent with every request.
        generation: decoding guards; ``frequency_penalty`` and ``repetition_penalty`` (as
            llama.cpp's ``repeat_penalty``) are sent when set, the repeated-sentence stop is
            applied to the text received.
        max_tokens_param: the request field for the answer length, ``"max_tokens"`` or
            ``"max_completion_tokens"``; default ``max_completion_tokens`` for
            ``api.openai.com`` and ``max_tokens`` elsewhere, switched once if the server
            refuses it and names the other.

    Example:
        >>> OpenAICompatibleLLM("http://127.0.0.1:8000/v1", model="m", context_window=4096)
        OpenAICompatibleLLM('http://127.0.0.1:8000/v1', model='m')
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        context_window: int | None = None,
        tokenizer: str | Path | Any | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        headers: Mapping[str, str] | None = None,
        generation: GenerationSettings | None = None,
        max_tokens_param: str | None = None,
    ) -> None:
        base = str(base_url).strip().rstrip("/")
        base = base.removesuffix("/chat/completions")
        if not base.startswith(("http://", "https://")):
            raise ConfigError(
                f"LLM base URL {base_url!r} is not http(s): pass e.g. http://127.0.0.1:8000/v1"
            )
        for label, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if not value > 0:
                raise ConfigError(f"{label} must be a positive number of seconds, not {value!r}")
        if max_retries < 0 or backoff < 0:
            raise ConfigError("max_retries and backoff must be >= 0")
        if max_tokens_param not in (None, *_LENGTH_PARAMS):
            raise ConfigError(
                f"max_tokens_param must be one of {', '.join(_LENGTH_PARAMS)}, "
                f"not {max_tokens_param!r}"
            )
        if context_window is not None and context_window <= 0:
            raise ConfigError(
                f"context_window must be a positive token count, not {context_window}"
            )
        self.base_url = base
        self.model = model or None
        self.api_key = (
            api_key or os.environ.get("LCMEM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        )
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self._headers = dict(headers or {})
        self._window = context_window
        self._tokenizer_spec = tokenizer
        self._tokenizer: Any = None
        self._length_param_given = max_tokens_param is not None
        self.max_tokens_param = max_tokens_param or (
            "max_completion_tokens" if "://api.openai.com" in base else "max_tokens"
        )
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()
        self.generation = generation or GenerationSettings()

    # -- identity ------------------------------------------------------------------------
    @property
    def name(self) -> str:  # type: ignore[override]
        """``model@base_url``."""
        return f"{self.model or 'default'}@{self.base_url}"

    @property
    def context_window(self) -> int:  # type: ignore[override]
        """The window given, else the one ``/models`` reports, else 8192 (asked once)."""
        if self._window is None:
            self._window = self._window_from_server() or DEFAULT_CONTEXT_WINDOW
        return self._window

    def models(self) -> list[dict[str, Any]]:
        """The entries of the server's ``GET /models`` (each has at least an ``id``)."""
        return self._models(self.timeout)

    def _models(self, timeout: float) -> list[dict[str, Any]]:
        data = self._call(
            # options is openai's RequestOptions TypedDict, which lives in a private module
            lambda: self._api().get(
                "/models",
                cast_to=object,
                options=self._options(timeout),  # type: ignore[call-overload]
            ),
            "/models",
            retries=0,
        )
        entries = data.get("data", []) if isinstance(data, dict) else data
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    # -- tokens --------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens of ``text``: exact with a ``tokenizer``, else ``ceil(len(text) / 4)``."""
        tok = self._get_tokenizer()
        if tok is None:
            return math.ceil(len(text) / CHARS_PER_TOKEN)
        return len(tok(text, add_special_tokens=False)["input_ids"])

    def count_messages(self, messages: Sequence[Message]) -> int:
        """Tokens of the chat prompt; exact with a tokenizer that has a chat template."""
        tok = self._get_tokenizer()
        if tok is not None and getattr(tok, "chat_template", None):
            enc = tok.apply_chat_template(
                list(messages), add_generation_prompt=True, return_dict=True
            )
            return len(enc["input_ids"])
        return super().count_messages(messages)

    def _get_tokenizer(self) -> Any:
        if self._tokenizer is None and self._tokenizer_spec is not None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = _load_tokenizer(self._tokenizer_spec)
        return self._tokenizer

    # -- generation ----------------------------------------------------------------------
    def complete(
        self,
        messages: Sequence[Message],
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Completion:
        """One chat completion; token counts are the server's ``usage``."""
        started = time.perf_counter()
        body = self._body(messages, max_tokens, stop, temperature, seed)
        data = self._chat(body, self._answer)
        try:
            message = data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(
                f"{self.base_url}/chat/completions answered without choices[0].message "
                f"({_shorten(json.dumps(data))}): is this an OpenAI-compatible chat API?"
            ) from None
        text = trim_at_stop(message.get("content") or "", stop)
        text = self.generation.cut(text)
        usage = data.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        return Completion(
            text,
            int(prompt_tokens) if prompt_tokens is not None else self.count_messages(messages),
            int(completion_tokens) if completion_tokens is not None else self.count_tokens(text),
            time.perf_counter() - started,
        )

    def stream(
        self,
        messages: Sequence[Message],
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield the answer in pieces as the server sends them (server-sent events)."""
        body = self._body(messages, max_tokens, stop, temperature, seed)
        events = self._chat(
            body, lambda b: self._api().chat.completions.create(**b, stream=True, **self._kw())
        )
        try:
            yield from gated(_hold_back_stop(self._stream_pieces(events), stop), self.generation)
        finally:
            events.close()

    def _body(
        self,
        messages: Sequence[Message],
        max_tokens: int,
        stop: Sequence[str] | None,
        temperature: float,
        seed: int | None,
    ) -> dict[str, Any]:
        if self._tokenizer_spec is not None:  # exact counts: refuse what cannot fit
            prompt = self.count_messages(messages)
            if prompt + max_tokens > self.context_window:
                raise LLMContextError(
                    f"the prompt has {prompt} tokens and up to {max_tokens} more were asked for, "
                    f"beyond {self.name}'s window of {self.context_window}: shorten the input or "
                    "use a pipeline that reads long inputs in parts (rag, coa, rtr, kv)"
                )
        body: dict[str, Any] = {
            "model": self._model_name(),
            "messages": [dict(m) for m in messages],
            self.max_tokens_param: int(max_tokens),
            "temperature": float(temperature),
        }
        stops = [s for s in (stop or []) if s]
        if stops:
            body["stop"] = stops[:_MAX_SERVER_STOPS]
        if seed is not None:
            body["seed"] = int(seed)
        fields = self.generation.request_fields()
        # Fields the openai client does not know (llama.cpp's repeat_penalty) go in extra_body.
        extra = {k: fields.pop(k) for k in list(fields) if k not in _OPENAI_REQUEST_FIELDS}
        body.update(fields)
        if extra:
            body["extra_body"] = extra
        return body

    def _model_name(self) -> str:
        if self.model is None:
            try:
                ids = [str(e["id"]) for e in self.models() if "id" in e]
            except LLMNotFoundError:
                ids = []
            if not ids:
                raise ConfigError(
                    f"no model name given and {self.base_url}/models lists none: pass one as "
                    f"{self.base_url}#MODEL (or model=...)"
                )
            self.model = ids[0]
        return self.model

    def _window_from_server(self) -> int | None:
        try:
            entries = self._models(min(self.timeout, 10.0))
        except LLMError as e:
            _log.debug(
                "no context window from %s/models (%s); assuming %d",
                self.base_url,
                e,
                DEFAULT_CONTEXT_WINDOW,
            )
            return None
        chosen = [e for e in entries if e.get("id") == self.model] or entries[:1]
        for entry in chosen:
            for where in (entry, entry.get("meta") or {}):
                for key in (*_WINDOW_KEYS, "n_ctx_train"):
                    value = where.get(key)
                    if isinstance(value, int) and value > 0:
                        return value
        return None

    # -- HTTP (the openai client) ---------------------------------------------------------
    def _api(self) -> openai.OpenAI:
        """The ``openai`` client, made once; its own retries are off (see :meth:`_call`)."""
        if self._client is None:
            import openai

            with self._lock:
                if self._client is None:
                    self._client = openai.OpenAI(
                        base_url=self.base_url,
                        # openai refuses to start without a key; when there is none the
                        # Authorization header is omitted from every request (see _kw)
                        api_key=self.api_key or "unused",
                        timeout=openai.Timeout(self.timeout, connect=self.connect_timeout),
                        max_retries=0,
                        default_headers=self._headers or None,
                    )
        return self._client

    def _kw(self, timeout: float | None = None) -> dict[str, Any]:
        """Per-request options of the openai client's resource methods."""
        import openai

        kw: dict[str, Any] = {}
        if not self.api_key:
            kw["extra_headers"] = {"Authorization": openai.omit}
        if timeout is not None:
            kw["timeout"] = openai.Timeout(timeout, connect=self.connect_timeout)
        return kw

    def _options(self, timeout: float) -> dict[str, Any]:
        """The same options in the form of the client's low-level ``get``."""
        kw = self._kw(timeout)
        options: dict[str, Any] = {"timeout": kw["timeout"]}
        if "extra_headers" in kw:
            options["headers"] = kw["extra_headers"]
        return options

    def _answer(self, body: dict[str, Any]) -> Any:
        """One non-streamed chat completion, read under a deadline for the whole answer.

        The body is read here rather than by the openai client because httpx's read timeout
        bounds each read, not the answer: a server dripping a byte a second never trips it.
        """
        url = self.base_url + "/chat/completions"
        deadline = time.monotonic() + self.timeout
        create = self._api().chat.completions.with_streaming_response.create
        with create(**body, **self._kw()) as response:
            raw = _read(response.iter_bytes(), deadline, url, self)
        try:
            return json.loads(raw)
        except ValueError:
            raise LLMError(
                f"{url} did not answer with JSON ({_shorten(raw.decode('utf-8', 'replace'))!r}): "
                "check that the base URL is an OpenAI-compatible API root (often ending in /v1)"
            ) from None

    def _chat(self, body: dict[str, Any], send: Callable[[dict[str, Any]], T]) -> T:
        """:meth:`_call` of ``send(body)`` on ``/chat/completions``; when the server refused
        the answer-length field for the other one, once more with the other."""
        try:
            return self._call(lambda: send(body), "/chat/completions")
        except _LengthParamRefused:
            sent = next(p for p in _LENGTH_PARAMS if p in body)
            body = {k: v for k, v in body.items() if k != sent} | {
                self.max_tokens_param: body[sent]
            }
            return self._call(lambda: send(body), "/chat/completions")

    def _call(self, attempt: Callable[[], T], path: str, retries: int | None = None) -> T:
        """Run ``attempt``; on a retryable failure wait with exponential backoff and try again.

        lcmem keeps this loop instead of the openai client's own retries (``max_retries=0``
        there) because that one also retries read timeouts, so a hung server would hold a
        call for several times ``timeout``, and its backoff is fixed (0.5 s doubling to 8 s)
        where lcmem's is configurable.
        """
        import openai

        retries = self.max_retries if retries is None else retries
        for n in range(retries + 1):
            try:
                return attempt()
            except openai.APIError as e:
                failure = self._failure(e, path)
                if isinstance(failure, LLMError):
                    raise failure from e
                if isinstance(failure, _LengthParamRefused):
                    raise failure from e
                if n >= retries:
                    raise failure.error from e
                delay = backoff_delay(n, self.backoff, self.max_backoff, failure.retry_after)
                _log.warning("%s; retry %d of %d in %.1f s", failure.error, n + 1, retries, delay)
                _sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _failure(
        self, error: openai.APIError, path: str
    ) -> LLMError | _Retry | _LengthParamRefused:
        """The lcmem error (or retry) for an error of the openai client."""
        import openai

        url = self.base_url + path
        if isinstance(error, openai.APITimeoutError):
            cause = type(error.__cause__).__name__
            if cause in ("ConnectTimeout", "PoolTimeout"):  # nothing was sent: safe to retry
                return _Retry(self._connect_error(url, error.__cause__ or error))
            return LLMTimeoutError(self._timeout_message(url, self.timeout))
        if isinstance(error, openai.APIConnectionError):
            return _Retry(self._connect_error(url, error.__cause__ or error))
        if isinstance(error, openai.APIStatusError):
            try:
                text = error.response.text
            except Exception:  # a body that cannot be read any more: the status says enough
                text = ""
            if error.status_code == 400 and self._switch_length_param(text):
                return _LengthParamRefused()
            return self._status_error(error.status_code, text, url, error.response.headers, path)
        return LLMError(f"{url} failed mid-answer: {error.message}")

    def _switch_length_param(self, text: str) -> bool:
        """Swap ``max_tokens``/``max_completion_tokens`` if the server refused one for the
        other (OpenAI: "Unsupported parameter: 'max_tokens' ... Use 'max_completion_tokens'")."""
        sent = self.max_tokens_param
        other = _LENGTH_PARAMS[1 - _LENGTH_PARAMS.index(sent)]
        said = _server_message(text)
        if f"'{sent}'" in said and other in said and not self._length_param_given:
            _log.info("%s refused %s; sending %s from now on", self.base_url, sent, other)
            self.max_tokens_param = other
            return True
        return False

    def _stream_pieces(self, events: Iterator[Any]) -> Iterator[str]:
        """Text deltas of the openai client's chat-completion chunks, errors mapped to lcmem's."""
        import openai

        url = self.base_url + "/chat/completions"
        try:
            for chunk in events:
                for choice in chunk.choices or []:
                    piece = choice.delta.content if choice.delta else None
                    if piece:
                        yield piece
        except openai.APITimeoutError as e:
            raise LLMTimeoutError(self._timeout_message(url, self.timeout)) from e
        except openai.APIConnectionError as e:
            raise self._connect_error(url, e.__cause__ or e) from e
        except openai.APIError as e:
            raise LLMError(f"{url} failed mid-answer: {_shorten(e.message)}") from e
        except ValueError as e:  # an event whose data is not JSON
            raise LLMError(f"{url} sent a malformed event: {e}") from None

    # -- error messages ------------------------------------------------------------------
    def _connect_error(self, url: str, cause: BaseException) -> LLMConnectionError:
        return LLMConnectionError(
            f"cannot reach the LLM server at {url} ({type(cause).__name__}: {cause}): check that "
            "the server is running and the base URL (host, port, http/https) is right"
        )

    def _timeout_message(self, url: str, timeout: float) -> str:
        return (
            f"no answer from {url} within {timeout:g} s: the server is overloaded or hung, or "
            "the answer takes longer; raise timeout= or ask for fewer max_tokens"
        )

    def _status_error(
        self, status: int, text: str, url: str, headers: Mapping[str, str], path: str
    ) -> LLMError | _Retry:
        said = _server_message(text)
        if status in (401, 403):
            key = (
                "the API key was refused"
                if self.api_key
                else "no API key was sent (LCMEM_API_KEY and OPENAI_API_KEY are unset)"
            )
            return LLMAuthError(
                f"{url} answered HTTP {status} ({said}): {key}; set LCMEM_API_KEY or "
                "OPENAI_API_KEY, or pass api_key="
            )
        if status == 404:
            hint = self._not_found_hint() if path != "/models" else "check the base URL"
            return LLMNotFoundError(f"{url} answered HTTP 404 ({said}): {hint}")
        if status in _RETRY_STATUS or status >= 500:
            return _Retry(
                LLMError(f"{url} answered HTTP {status} ({said}) and retries ran out: try later"),
                _retry_after(headers.get("retry-after")),
            )
        if "context" in said.lower() and ("length" in said.lower() or "window" in said.lower()):
            return LLMContextError(
                f"{url} answered HTTP {status}: {said.rstrip('.')}; shorten the input or use "
                "a pipeline that reads long inputs in parts (rag, coa, rtr, kv)"
            )
        return LLMError(f"{url} answered HTTP {status}: {said}")

    def _not_found_hint(self) -> str:
        try:  # best effort, one quick request: name the models the server does have
            ids = [str(e.get("id")) for e in self._models(min(self.timeout, 5.0))]
        except LLMError:
            ids = []
        if self.model in ids:
            return (
                f"the server lists model {self.model!r}, so the path is wrong: check the base URL "
                "(OpenAI-compatible servers usually serve under /v1)"
            )
        if ids:
            return (
                f"the server does not know model {self.model!r}; it serves {', '.join(ids[:10])} "
                f"(pass one as {self.base_url}#MODEL)"
            )
        return (
            f"check the base URL (OpenAI-compatible servers usually serve under /v1) and the "
            f"model name {self.model!r}"
        )

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP connection pool (the object stays usable: it reopens on demand)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> OpenAICompatibleLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAICompatibleLLM({self.base_url!r}, model={self.model!r})"


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before retry ``attempt + 1``: the server's ``Retry-After`` if it gave one,
    else ``base * 2**attempt`` with up to 25% jitter off; never more than ``cap``.

    Example:
        >>> backoff_delay(0, 0.5, 20.0, retry_after=3.0)
        3.0
        >>> 0.75 <= backoff_delay(1, 0.5, 20.0) <= 1.0
        True
    """
    if retry_after is not None:
        return max(0.0, min(cap, retry_after))
    return min(cap, base * 2**attempt) * random.uniform(0.75, 1.0)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def _read(pieces: Iterator[bytes], deadline: float, url: str, llm: OpenAICompatibleLLM) -> bytes:
    """The whole body, failing once ``deadline`` passes (a server that drips bytes forever)."""
    import httpx2  # the openai client's HTTP library (a dependency of openai)

    chunks: list[bytes] = []
    try:
        for chunk in pieces:
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise LLMTimeoutError(llm._timeout_message(url, llm.timeout))
    except httpx2.TimeoutException as e:
        raise LLMTimeoutError(llm._timeout_message(url, llm.timeout)) from e
    except httpx2.TransportError as e:
        raise llm._connect_error(url, e) from e
    return b"".join(chunks)


def _server_message(text: str) -> str:
    """The human part of an error body: ``error.message``, ``detail`` or the raw text."""
    try:
        data = json.loads(text)
    except ValueError:
        return _shorten(text.strip()) or "no message"
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message") or err
        if err:
            return _shorten(str(err))
    return _shorten(text.strip())


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _hold_back_stop(pieces: Iterator[str], stop: Sequence[str] | None) -> Iterator[str]:
    """Pass ``pieces`` through, ending before the first stop string even when it spans pieces.

    The last ``len(longest stop) - 1`` characters are held back until it is clear they do
    not start a stop string (servers usually apply ``stop`` themselves; this covers those
    that ignore it or were sent only the first four).

    Example:
        >>> list(_hold_back_stop(iter(["Par", "is.\\nQ", "uestion: x"]), ["\\nQuestion:"]))
        ['Paris.']
    """
    stops = [s for s in (stop or []) if s]
    if not stops:
        yield from pieces
        return
    hold = max(len(s) for s in stops) - 1
    text, sent = "", 0
    for piece in pieces:
        text += piece
        cut = trim_at_stop(text, stops)
        if len(cut) < len(text):
            if len(cut) > sent:
                yield cut[sent:]
            return
        safe = len(text) - hold
        if safe > sent:
            yield text[sent:safe]
            sent = safe
    if len(text) > sent:
        yield text[sent:]


def _load_tokenizer(spec: str | Path | Any) -> Any:
    """A transformers tokenizer from a folder, a ``.gguf`` file or the packaged model's name."""
    if not isinstance(spec, str | Path):
        return spec  # already a tokenizer object
    from lcmem.llm.transformers import DEFAULT_LLM, resolve_llm_folder

    path = Path(spec).expanduser()
    has_tokenizer = path.is_dir() and any(
        (path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")
    )
    folder = path if has_tokenizer else None
    if folder is None and (str(spec) == DEFAULT_LLM or path.suffix == ".gguf" or path.is_dir()):
        folder = resolve_llm_folder(str(spec))
    if folder is None:
        raise ModelNotFoundError(
            f"no tokenizer at {str(spec)!r}: pass a folder with tokenizer.json, a .gguf file, "
            f"or {DEFAULT_LLM!r}"
        )
    require("transformers", extra="llm")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"cannot load a tokenizer from {folder}: {e}") from e


__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_CONTEXT_WINDOW",
    "OpenAICompatibleLLM",
    "backoff_delay",
    "user",
]
