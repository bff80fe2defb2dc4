"""The server fixture's helper: a child server that dies fails the test at once, with its log.

Each child here is a real Python process standing in for llama_cpp.server's failure modes: one
that dies while loading, and one that answers ``/models`` (so it counts as started) and then
crashes, as llama.cpp built for the wrong CPU did on its first request.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tests.llm.conftest import SERVER_READY_SECONDS, ServerProcess, free_port

DIES_LOADING = "print('loading model', flush=True); print('fatal: no such tensor'); exit(3)"

ANSWERS_ONCE_THEN_CRASHES = textwrap.dedent(
    """
    import os, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            self.wfile.flush()
            print("general protection fault in libggml-cpu.so", flush=True)
            os.kill(os.getpid(), 11)

    print("listening", flush=True)
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """
)


def test_a_server_dying_at_start_fails_at_once_with_its_log(tmp_path: Path) -> None:
    server = ServerProcess.start(
        "fake server", [sys.executable, "-c", DIES_LOADING], tmp_path / "l"
    )
    url = f"http://127.0.0.1:{free_port()}/v1/models"  # nothing listens: only the exit ends this
    try:
        with pytest.raises(pytest.fail.Exception) as failed:
            server.wait_ready(url, {}, SERVER_READY_SECONDS)
    finally:
        server.stop()
    message = str(failed.value)
    assert "fake server exited with code 3" in message
    assert "loading model\nfatal: no such tensor" in message
    assert "not ready in" not in message  # it did not wait for the deadline


def test_a_server_crashing_after_start_fails_the_next_check_with_its_log(tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-c", ANSWERS_ONCE_THEN_CRASHES, str(port)]
    server = ServerProcess.start("fake server", cmd, tmp_path / "log")
    try:
        server.wait_ready(f"http://127.0.0.1:{port}/v1/models", {}, SERVER_READY_SECONDS)
        server.proc.wait(timeout=30)  # it crashes right after its first answer
        with pytest.raises(pytest.fail.Exception) as failed:
            server.check()
    finally:
        server.stop()
    message = str(failed.value)
    assert "fake server killed by signal 11" in message
    assert "general protection fault in libggml-cpu.so" in message


def test_a_running_server_passes_the_check(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
    server = ServerProcess.start("sleeper", cmd, tmp_path / "log")
    try:
        server.check()
        assert server.exit_message() is None
    finally:
        server.stop()
    assert server.exit_message() is not None  # stopped now
