"""The MCP tools that answer questions (`ask`) and keep an episodic memory (`memory_*`)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from tests.extras import needs

needs("mcp.server.mcpserver", extra="mcp")

from mcp import Client  # noqa: E402

from lcmem.errors import ConfigError, EmptyQueryError  # noqa: E402
from lcmem.integrations.mcp_server import build_server  # noqa: E402
from lcmem.integrations.tools import LibraryTools  # noqa: E402
from tests.pipelines.scripted import ScriptedLLM  # noqa: E402

pytestmark = pytest.mark.slow  # the shared library fixture loads the real embedder


def _json(result: Any) -> dict[str, Any]:
    text = "".join(getattr(b, "text", "") for b in result.content)
    assert not result.is_error, text
    return json.loads(text)


def _call(server: Any, name: str, **args: Any) -> Any:
    async def main() -> Any:
        async with Client(server) as c:
            return await c.call_tool(name, args)

    return anyio.run(main)


def test_ask_cites_the_retrieved_passages(library):
    seen: list[str] = []

    def answer(messages: Any) -> str:
        seen.append(messages[-1]["content"])
        return "Unpack the archive with tar -xzf into /srv."

    server = build_server(library, llm=ScriptedLLM(answer))
    out = _json(_call(server, "ask", question="how do I restore a snapshot?", k=3))
    assert out["answer"].startswith("Unpack the archive")
    assert out["pipeline"] == "rag" and out["usage"]["llm_calls"] == 1
    assert out["usage"]["prompt_tokens"] > 0
    cited = [c["path"] for c in out["citations"]]
    assert any(p.endswith("guide.md") for p in cited)
    for c in out["citations"]:  # every citation is an exact span of its document
        assert library.document_text(c["path"])[c["start"] : c["end"]] == c["text"]
    assert "restore a snapshot" in seen[0]  # the retrieved passage reached the model


def test_ask_rejects_bad_arguments(library):
    tools = LibraryTools(library, llm=ScriptedLLM(["x"]))
    with pytest.raises(EmptyQueryError):
        tools.ask("  ")
    with pytest.raises(ConfigError, match="pipeline must be one of"):
        tools.ask("q", pipeline="bogus")
    with pytest.raises(ConfigError, match="k must be"):
        tools.ask("q", k=0)
    server = build_server(library, llm=ScriptedLLM(["x"]))
    bad = _call(server, "ask", question="")
    assert bad.is_error


def test_memory_observe_then_query(library):
    server = build_server(library, llm=ScriptedLLM(["unused"]))
    first = _json(
        _call(
            server,
            "memory_observe",
            text="I moved to Berlin yesterday.",
            at="2024-05-02T10:00",
            source="chat",
        )
    )
    assert first["events"] and first["events"][0]["time"] == "2024-05-01"
    again = _json(
        _call(
            server,
            "memory_observe",
            text="I moved to Berlin yesterday.",
            at="2024-05-02T10:00",
            source="chat",
        )
    )
    assert again["duplicate"] and not again["events"]
    out = _json(_call(server, "memory_query", question="Where was I on 2024-05-03?"))
    assert out["answers"] == ["Berlin"]
    assert "Berlin" in out["context"]
    # the memory persists in the library's database: a new server sees it
    fresh = build_server(library, llm=ScriptedLLM(["unused"]))
    out = _json(_call(fresh, "memory_query", question="Where was I on 2024-05-03?"))
    assert out["answers"] == ["Berlin"]
