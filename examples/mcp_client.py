"""Start ``lcmem serve --mcp`` over stdio on a library and call its tools with the MCP SDK.

Run (offline; index something first)::

    .venv/bin/lcmem index examples/docs --store /tmp/lcmem-demo
    .venv/bin/python examples/mcp_client.py --store /tmp/lcmem-demo "how do I install it"

This is what an agent host (Claude Desktop, an IDE, an agent framework) does: spawn the server
as a subprocess, list its tools, call ``search``, then widen a hit with ``get_span``.
"""

from __future__ import annotations

import argparse
import json
import sys

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


async def main(store: str, query: str, k: int, mode: str) -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "lcmem.cli", "serve", "--mcp", "--store", store],
        env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = (await session.list_tools()).tools
        print("tools:", ", ".join(t.name for t in tools))
        result = await session.call_tool("search", {"query": query, "k": k, "mode": mode})
        if result.is_error:
            sys.exit(f"search failed: {result.content[0].text}")
        hits = json.loads(result.content[0].text)["hits"]
        for h in hits:
            where = f"{h['path']}:{h['line_start']}-{h['line_end']}"
            print(f"{h['rank']}. {where}  {h['context']}  score {h['score']:.4f}")
            print("   " + " ".join(h["text"].split())[:160])
        if hits:  # read a few lines around the best hit
            top = hits[0]
            span = await session.call_tool(
                "get_span",
                {
                    "path": top["path"],
                    "line_start": max(1, top["line_start"] - 2),
                    "line_end": top["line_end"] + 2,
                },
            )
            text = json.loads(span.content[0].text)["text"]
            print(f"\naround hit 1 ({len(text)} characters):\n{text[:600]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query", nargs="?", default="how do I install it")
    parser.add_argument("--store", default=".lcmem", help="library folder (default ./.lcmem)")
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25"])
    args = parser.parse_args()
    anyio.run(main, args.store, args.query, args.k, args.mode)
