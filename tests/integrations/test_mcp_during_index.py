"""Issue 18, item 3: ``lcmem serve --mcp --transport http`` keeps answering, and never shows a
half-written library, while another process runs ``lcmem index`` into the same PostgreSQL
database.

Three "machines" share only the PostgreSQL server (the throwaway one of ``tests/conftest.py``):
this process seeds the library, the server process serves it and the writer process indexes
more pages and a changed one; each has its own index folder (its own ``XDG_CACHE_HOME``), so
the server must follow the store's commits itself (``Library._current_indices``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

import lcmem
from tests.conftest import man_text
from tests.extras import needs

needs("mcp.server.mcpserver", extra="mcp")

import itertools  # noqa: E402

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
LCMEM = (sys.executable, "-m", "lcmem.cli")
SEED = ("cp", "mv", "ln", "rm")
ADDED = ("ls", "cat", "grep", "sed", "find", "sort", "head", "tail", "wc", "chmod")
CHANGED = "cp"  # text appended: old offsets stay valid, its old chunk ids go away
QUERIES = (
    ("copy files and directories", "hybrid"),
    ("sort lines of text files", "hybrid"),
    ("print newline, word, and byte counts", "bm25"),
    ("output the last part of files", "dense"),
    ("remove directories", "bm25"),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited before listening"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("the server did not start listening")


def _env(tmp_path: Path, machine: str) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
        "XDG_CACHE_HOME": str(tmp_path / machine),  # its own index folder
    }


def _json(result: Any) -> dict[str, Any]:
    text = "".join(getattr(block, "text", "") for block in result.content)
    assert not result.is_error, text
    return json.loads(text)


def test_http_server_answers_whole_states_while_another_process_indexes(
    tmp_path, fresh_postgres_url
):
    url = fresh_postgres_url
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in SEED:
        (docs / f"{name}.txt").write_text(man_text(name)[:6000])
    seed = lcmem.open(url=url, index_dir=tmp_path / "seed")
    assert seed.index([docs]).ok
    seed.close()

    port = _free_port()
    server = subprocess.Popen(
        [*LCMEM, "serve", "--mcp", "--transport", "http", "--port", str(port), "--store", url],
        cwd=REPO,
        env=_env(tmp_path, "server"),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.err").open("wb"),
    )
    writer_log = tmp_path / "writer.err"
    seen: list[dict[str, Any]] = []  # one entry per round of calls during the run
    final_hits: dict[tuple[str, str], list[tuple[str, int]]] = {}
    final_status: dict[str, Any] = {}

    async def call(session: ClientSession, name: str, **args: Any) -> dict[str, Any]:
        return _json(await session.call_tool(name, args))

    async def check_hits(session: ClientSession, hits: list[dict[str, Any]]) -> None:
        """Each hit is an exact span of its document and its chunk id resolves (only the
        changed document may lose its old ids between the search and this call)."""
        got = await call(session, "get_chunk", ids=[h["chunk_id"] for h in hits])
        by_id = {c["chunk_id"]: c for c in got["chunks"]}
        for h in hits:
            if h["chunk_id"] in by_id:
                assert by_id[h["chunk_id"]]["text"] == h["text"]
            else:
                assert Path(h["path"]).stem == CHANGED, h
            span = await call(session, "get_span", path=h["path"], start=h["start"], end=h["end"])
            assert span["text"] == h["text"], h["path"]

    async def main() -> None:
        with anyio.fail_after(900):
            await run_client()

    async def run_client() -> None:
        async with (
            streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            before = await call(session, "status")
            assert before["documents"] == len(SEED)
            first = await call(session, "search", query="sort lines of text files", k=5)
            assert all(Path(h["path"]).stem in SEED for h in first["hits"])

            for name in ADDED:
                (docs / f"{name}.txt").write_text(man_text(name)[:8000])
            with (docs / f"{CHANGED}.txt").open("a") as f:
                f.write("\n\nSEE ALSO\n       install(1), rsync(1), the coreutils manual.\n")
            writer = subprocess.Popen(
                [*LCMEM, "index", str(docs), "--store", url, "--batch-chunks", "4", "--quiet"],
                cwd=REPO,
                env=_env(tmp_path, "writer"),
                stdout=subprocess.DEVNULL,
                stderr=writer_log.open("wb"),
            )
            try:
                i = 0
                while writer.poll() is None:
                    query, mode = QUERIES[i % len(QUERIES)]
                    i += 1
                    status = await call(session, "status")
                    res = await call(session, "search", query=query, k=5, mode=mode)
                    listed = await call(session, "list_documents", limit=1000)
                    await check_hits(session, res["hits"])
                    seen.append(
                        {
                            "documents": status["documents"],
                            "chunks": status["chunks"],
                            "listed": listed["total"],
                            "hits": [Path(h["path"]).stem for h in res["hits"]],
                        }
                    )
                    await anyio.sleep(0.05)
            finally:
                if writer.poll() is None:
                    writer.kill()
                writer.wait()
            assert writer.returncode == 0, writer_log.read_text()[-3000:]
            final_status.update(await call(session, "status"))
            for query, mode in QUERIES:
                for m in (mode, "hybrid"):
                    res = await call(session, "search", query=query, k=5, mode=m)
                    await check_hits(session, res["hits"])
                    final_hits[(query, m)] = [(h["path"], h["start"]) for h in res["hits"]]

    try:
        _wait_for_port(port, server)
        anyio.run(main)
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert b"Traceback" not in (tmp_path / "server.err").read_bytes()

    # The server answered throughout, and saw the writer half way at least once.
    total = len(SEED) + len(ADDED)
    assert seen, "the writer finished before the server was asked anything"
    assert any(len(SEED) < s["documents"] < total for s in seen), seen
    # Never backwards: documents and chunks only grow (the change only appends text).
    for a, b in itertools.pairwise(seen):
        assert a["documents"] <= b["documents"] and a["chunks"] <= b["chunks"], (a, b)
        assert a["listed"] <= b["listed"], (a, b)

    # After the run the server holds exactly what a fresh reader builds from the store.
    fresh = lcmem.open(url=url, index_dir=tmp_path / "fresh")
    assert final_status["documents"] == total == fresh.store.document_count()
    assert final_status["chunks"] == fresh.store.chunk_count()
    for (query, mode), hits in final_hits.items():
        want = [(h.path, h.chunk.start) for h in fresh.search(query, k=5, mode=mode)]
        assert hits == want, (query, mode)
    assert Path(final_hits[("sort lines of text files", "hybrid")][0][0]).stem == "sort"
    fresh.close()
