"""Fixtures for the LLM backends: the packaged SmolLM2 loaded once, a real OpenAI-compatible
server (llama-cpp-python's) on loopback, and a scripted HTTP server for failure cases."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SERVER_KEY = "test-key-123"
SERVER_READY_SECONDS = 180  # the model loads in seconds; the bound only guards a broken start
LOG_TAIL_CHARS = 3000  # how much of a dead server's log a failure shows


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def smollm() -> Any:
    """The packaged SmolLM2-135M-Instruct run by transformers, loaded once per session."""
    from lcmem.llm.transformers import TransformersLLM

    llm = TransformersLLM()
    _ = llm.model  # load now, so each test measures only its own work
    return llm


@dataclass
class ServerProcess:
    """A server run as a child process, its output in a log file.

    ``check()`` fails the calling test at once when the child has exited, with the end of its
    log, so a crashed server shows its own last words instead of connection errors (the client
    retries those, against a port nobody listens on any more).

    Example:
        >>> import sys, tempfile
        >>> log = Path(tempfile.mkdtemp()) / "log"
        >>> server = ServerProcess.start("demo", [sys.executable, "-c", "print('bye')"], log)
        >>> server.proc.wait()
        0
        >>> server.exit_message().splitlines()[-1]
        'bye'
    """

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, cmd: list[str], log: Path) -> ServerProcess:
        with open(log, "wb") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        return cls(name, proc, log)

    def tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        """The last ``chars`` characters of the child's output."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError as e:
            return f"(no log: {e})"

    def exit_message(self) -> str | None:
        """None while the child runs; else how it ended and its last log lines."""
        code = self.proc.poll()
        if code is None:
            return None
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"{self.name} {how}; the end of its log ({self.log}):\n{self.tail()}"

    def check(self) -> None:
        """Fail the running test at once if the child has exited."""
        message = self.exit_message()
        if message is not None:
            pytest.fail(message, pytrace=False)

    def wait_ready(self, url: str, headers: dict[str, str], seconds: float) -> None:
        """Poll ``url`` until it answers 200; fail at once if the child exits meanwhile."""
        deadline = time.monotonic() + seconds
        request = urllib.request.Request(url, headers=headers)
        while True:
            self.check()
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{self.name} not ready in {seconds} s; the end of its log:\n{self.tail()}",
                    pytrace=False,
                )
            time.sleep(0.3)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


@dataclass
class LlamaServer:
    """A running ``python -m llama_cpp.server`` with the packaged GGUF."""

    base_url: str
    api_key: str
    n_ctx: int
    process: ServerProcess


@pytest.fixture(scope="session")
def _llama_server_session() -> Iterator[LlamaServer]:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port, with an API key."""
    pytest.importorskip(
        "llama_cpp.server.app",
        reason="needs the llama.cpp test server (in lcmem[dev]; compiled from source): "
        "pip install 'llama-cpp-python[server]'",
    )
    from lcmem.llm.transformers import default_gguf_path

    port, n_ctx = free_port(), 2048
    log = Path(tempfile.mkdtemp(prefix="lcmem-llama-server-")) / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(default_gguf_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--api_key",
        SERVER_KEY,
        "--n_ctx",
        str(n_ctx),
        "--n_threads",  # one thread: the model is tiny, and spinning threads on a busy
        "1",  # machine slow everything down
        "--verbose",  # llama.cpp's load log (CPU features, buffers) and request timings go to
        "True",  # the log file, which a failure shows when the server dies
    ]
    server = ServerProcess.start("llama_cpp.server", cmd, log)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        auth = {"Authorization": f"Bearer {SERVER_KEY}"}
        server.wait_ready(base_url + "/models", auth, SERVER_READY_SECONDS)
        yield LlamaServer(base_url, SERVER_KEY, n_ctx, server)
    finally:
        server.stop()
        shutil.rmtree(log.parent, ignore_errors=True)


@pytest.fixture
def llama_server(_llama_server_session: LlamaServer) -> LlamaServer:
    """The session's server, checked alive before each test: one that died (in an earlier test
    or between tests) fails the test at once with its log, sending no request."""
    _llama_server_session.process.check()
    return _llama_server_session


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A test that failed while the server died gets the server's exit and log in its report."""
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("llama_server")
    if report.when == "call" and report.failed and isinstance(server, LlamaServer):
        message = server.process.exit_message()
        if message is not None:
            report.sections.append(("llama_cpp.server died", message))


# -- a scripted HTTP server (a test double for failure modes a real server rarely shows) --------


@dataclass
class Reply:
    """One scripted answer: ``drip=True`` sends headers then one byte every 0.2 s, forever."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drip: bool = False


@dataclass
class Scripted:
    """What the scripted server saw and will answer."""

    base_url: str
    script: dict[str, list[Reply]]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r["path"].endswith(path))


def chat_body(text: str, usage: dict[str, int] | None = None) -> dict[str, Any]:
    """A minimal OpenAI chat-completion response."""
    body: dict[str, Any] = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


@pytest.fixture
def scripted() -> Iterator[Callable[[dict[str, list[Reply]]], Scripted]]:
    """Start a loopback HTTP server answering each path from a script (last reply repeats)."""
    servers: list[ThreadingHTTPServer] = []

    def start(script: dict[str, list[Reply]]) -> Scripted:
        state = Scripted("", {k: list(v) for k, v in script.items()})

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.removeprefix("/v1")
                state.requests.append(
                    {
                        "path": path,
                        "headers": dict(self.headers),
                        "json": json.loads(raw) if raw else None,
                    }
                )
                replies = state.script.get(path) or [Reply(404, {"error": {"message": "no"}})]
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                data = (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                )
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.drip:
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    try:
                        for _ in range(600):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.2)
                    except OSError:
                        pass  # the client gave up, as it should
                    return
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff delays the OpenAI-compatible client asked for (recorded, not slept)."""
    from lcmem.llm import openai_compat

    recorded: list[float] = []
    monkeypatch.setattr(openai_compat, "_sleep", recorded.append)
    return recorded
