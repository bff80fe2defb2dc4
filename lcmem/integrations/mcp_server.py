"""``lcmem serve --mcp``: one library as a Model Context Protocol server (stdio or HTTP).

Built on the official ``mcp`` SDK (2.x, whose ``MCPServer`` is v1's ``FastMCP``). Tools:
``search``, ``grep``, ``get_chunk``, ``get_span``, ``list_documents``, ``status``, and ``index``
only when started with allowed roots. Each indexed document is a resource ``lcmem://document/{path}``
(the path percent-encoded). Errors a model can cause come back as tool errors it can read.

Security: one library per server; read-only unless ``allow_index`` roots are given (index
requests are checked by :class:`~lcmem.integrations.pathguard.PathGuard`); HTTP binds to
127.0.0.1 by default, refuses another address without a token, and with a token answers 401
to any request lacking ``Authorization: Bearer <token>``.

Example:
    $ lcmem serve --mcp --store ./.lcmem                       # stdio, for a desktop agent
    $ LCMEM_MCP_TOKEN=s3cret lcmem serve --mcp --transport http --port 8765
    >>> server = build_server(lcmem.open("./.lcmem"))           # doctest: +SKIP
    >>> server.run("stdio")                                     # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import sys
import threading
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Annotated, Any, Literal

from lcmem.errors import ConfigError, LcmemError
from lcmem.integrations import require_extra
from lcmem.integrations.tools import (
    DEFAULT_SPAN_CHARS,
    DOCUMENT_URI_PREFIX,
    MAX_GREP,
    MAX_K,
    MAX_SPAN_CHARS,
    LibraryTools,
    document_uri,
)

require_extra("mcp.server.mcpserver", "mcp")

from mcp.server.mcpserver import MCPServer, ResourceSecurity  # noqa: E402
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError  # noqa: E402
from mcp.types import Resource as MCPResource  # noqa: E402
from mcp.types import ToolAnnotations  # noqa: E402
from pydantic import Field  # noqa: E402

DEFAULT_PORT = 8765
HTTP_PATH = "/mcp"

INSTRUCTIONS = """\
This server searches one lcmem library: documents split into chunks, each an exact span of
its source file, indexed for dense (meaning) and BM25 (keyword) search.
Typical use: call `search`, read the hits' text; if a hit is cut short, call `get_span` with its
path and a wider line range (or `get_chunk` with neighbouring ids); cite path and lines.
`list_documents` and `status` show what the library holds. Documents are also resources
lcmem://document/{percent-encoded path}."""

SEARCH_DESCRIPTION = f"""\
Search the library and return the best-matching chunks (passages) with where they come from.

Use mode="hybrid" (default) for most questions: it fuses meaning-based (dense) and keyword (BM25)
rankings. Use mode="bm25" for exact words, identifiers, flags, error messages or file names
(e.g. "--no-clobber", "ECONNRESET"). Use mode="dense" for paraphrased or conceptual questions
whose words may not appear in the text.

Returns {{"query", "mode", "hits": [...]}}; each hit has rank, score (higher is better, only
comparable within one call), chunk_id, path, uri, start/end (character offsets in the document),
line_start/line_end (1-based, inclusive), context (heading or code trail such as
"Install > From source"), text (the chunk itself) and metadata. No hits comes with a "note".

Arguments: query (required), k (1-{MAX_K}, default 5), mode, where (metadata filter: a value
matches equal metadata, a list matches any of its items, "path" takes shell wildcards; keys
include kind ("text", "markdown", "rst", "html", "pdf", "code"), lang ("python"...) for code,
ext (".md"), title, relpath, page for PDFs).
Example: {{"query": "how do I extract a tar archive", "k": 5, "mode": "hybrid",
"where": {{"kind": "text"}}}}"""

GREP_DESCRIPTION = f"""\
Find an exact string in every document of the library and count it: an error message, an
identifier, a flag, a quote to verify. Literal text, not a regex; overlapping occurrences count.
Faster and surer than search when you know the exact words; use search for meaning.
Returns {{"pattern", "count" (every occurrence), "matches": [...]}}: the first `limit`
(1-{MAX_GREP}, default 20) in document order, each with path, uri, start/end (character
offsets), line_start, line_end, column, text and snippet (the line around it). No match
comes with a "note".
Options: ignore_case, normalize_whitespace (any run of spaces/newlines matches any run),
count_only (skip the matches), where (metadata filter as in search).
Example: {{"pattern": "Permission denied", "limit": 10}}"""

GET_CHUNK_DESCRIPTION = """\
Fetch chunks by id (the chunk_id of search hits), e.g. to re-read a hit or read the chunks just
before or after it (ids of consecutive chunks of one document are usually consecutive).
Returns {"chunks": [... same fields as a search hit, without score], "missing": [ids not
found]}; it is an error only when none is found. Example: {"ids": [42, 43]} or {"ids": 42}"""

GET_SPAN_DESCRIPTION = f"""\
Read an exact piece of an indexed document, by 1-based inclusive line range or by character
offsets [start, end). Use it to widen a search hit (e.g. lines 10 before line_start to 10 after
line_end) or to quote a cited span exactly. Give either line_start/line_end or start/end; an
omitted end reads on to the end of the document, an end past the end is clamped, and at most
max_chars characters (default {DEFAULT_SPAN_CHARS}, at most {MAX_SPAN_CHARS}) come back
("truncated": true then, and "end" tells where it stopped). The path is a document path from a
search hit or list_documents (a unique ending such as "docs/guide.md" also works).
Returns path, start, end, line_start, line_end, document_chars, document_lines, truncated, text.
Example: {{"path": "/srv/docs/guide.md", "line_start": 40, "line_end": 80}}"""

LIST_DOCUMENTS_DESCRIPTION = """\
List the documents in the library (their paths and resource URIs), sorted by path, paged.
Use it to see what the library covers or to find a document's exact path; `contains` keeps
paths containing that text (case-insensitive). Returns {"total", "offset", "next_offset"
(null on the last page), "documents": [{"path", "uri"}]}.
Example: {"contains": "tar", "limit": 20}"""

STATUS_DESCRIPTION = """\
Describe the library: number of documents and chunks, the embedder and chunker it was built
with, whether indices are current, whether this server is read-only and which roots it may
index. Takes no arguments."""

INDEX_DESCRIPTION = """\
Index (or re-index) files and folders so they become searchable. Only paths inside the
server's allowed roots are accepted: {roots}. Relative paths are taken from the first root;
'..' components and symlinks leading outside the roots are refused, and then nothing is
indexed. Incremental: unchanged files are skipped, files deleted under a given folder leave
the library. Returns the report: summary, counts and the paths added, updated, removed and
skipped (lists cut to 50 entries; the *_count fields are exact).
Example: {{"paths": ["{example}"]}}"""

ASK_DESCRIPTION = """\
Answer a question about the library with a local LLM and cite the passages used. Slower than
`search` (seconds to a minute on a CPU): prefer `search` + reading when you can reason
yourself. pipeline: rag (retrieve, then answer; default), rtr (quote evidence, verify each
quote against the source, then reason: no invented evidence), coa (a chain of readers over the
documents holding the best hits), memory (the episodic memory: who, where, when). Returns
{"answer", "citations": [hits with path, lines, text], "usage": {tokens, llm_calls, seconds}}.
Example: {"question": "which flag makes tar read from a gzip file?", "pipeline": "rtr"}"""

MEMORY_OBSERVE_DESCRIPTION = """\
Remember something: read a chat turn, a note or a chapter of a story into the library's
episodic memory, which tracks people, places and events over time. Give `at` (ISO date or
date-time) for what was said then, so that "yesterday" or "next Friday" resolve; `source` names
where it comes from (default "mcp"). Observing the same text twice adds nothing. Returns the
events extracted (actors, action, place, time), dates it could not resolve, and conflicts with
what was known (older facts are kept with a closed validity interval, never deleted).
Example: {"text": "I moved to Berlin yesterday.", "at": "2024-05-02T10:00", "source": "chat"}"""

MEMORY_QUERY_DESCRIPTION = """\
Ask the episodic memory about people, places and time: "Where was Alice on 2021-03-06?",
"Who was at Riverside Park on 5 March 2021?", "Where is Bob now?", "Timeline of Alice",
"Who met both Alice and Bob?", "How many times did Alice visit Lisbon?". "I" means the user of
chat turns. Returns a structured answer (kind, answers, the events it rests on with their
source spans) when the question has one of those shapes, and always `context`: a compact
timeline of the relevant events to reason over.
Example: {"question": "Where was I on 2024-05-01?"}"""

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


class _LcmemMCPServer(MCPServer):
    """MCPServer that lists the library's documents as resources when asked (not at start)."""

    def __init__(self, tools: LibraryTools, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lcmem_tools = tools

    async def list_resources(self) -> list[MCPResource]:
        import anyio.to_thread

        listed = await super().list_resources()
        paths = await anyio.to_thread.run_sync(self.lcmem_tools.document_paths)
        listed += [
            MCPResource(
                uri=document_uri(p),
                name=os.path.basename(p) or p,
                description=f"Indexed document {p} (full text)",
                mime_type="text/plain",
            )
            for p in paths
        ]
        return listed


def _as_tool_error(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an lcmem error (caused by the arguments) into a tool error the model can read."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LcmemError as exc:
            raise ToolError(str(exc)) from exc

    return wrapper


def build_server(
    library: Any,
    *,
    allow_index: Iterable[str | os.PathLike[str]] = (),
    name: str = "lcmem",
    llm: Any = None,
) -> MCPServer:
    """An MCP server (not yet running) exposing ``library``.

    Args:
        library: an open :class:`lcmem.Library`; the server keeps and reuses it.
        allow_index: roots the ``index`` tool may touch; empty means no ``index`` tool.
        name: the server name clients see.
        llm: the model behind ``ask`` (path, URL or LLM); ``None``: the packaged default,
            loaded on the first question.

    Example:
        >>> server = build_server(lcmem.open("./.lcmem"))       # doctest: +SKIP
    """
    from lcmem import __version__

    tools = LibraryTools(library, allow_index=allow_index, llm=llm)
    server = _LcmemMCPServer(
        tools,
        name=name,
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )
    _register_tools(server, tools)
    _register_resources(server, tools)
    return server


def _register_tools(server: MCPServer, tools: LibraryTools) -> None:
    """Every tool of the server, in one place: thin wrappers over :class:`LibraryTools`."""

    @_as_tool_error
    def search(
        query: Annotated[str, Field(description="what to look for, in natural language or words")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="number of hits")] = 5,
        mode: Annotated[
            Literal["hybrid", "dense", "bm25"],
            Field(description="hybrid (default), bm25 for exact words, dense for meaning"),
        ] = "hybrid",
        where: Annotated[
            dict[str, Any] | None,
            Field(description='metadata filter, e.g. {"lang": "python"} or {"path": "*/docs/*"}'),
        ] = None,
    ) -> dict[str, Any]:
        return tools.search(query, k=k, mode=mode, where=where)

    @_as_tool_error
    def grep(
        pattern: Annotated[str, Field(description="the exact text to find (not a regex)")],
        limit: Annotated[int, Field(ge=1, le=MAX_GREP, description="most matches returned")] = 20,
        where: Annotated[
            dict[str, Any] | None,
            Field(description='metadata filter, e.g. {"lang": "python"} or {"path": "*/docs/*"}'),
        ] = None,
        ignore_case: Annotated[bool, Field(description="match whatever the case")] = False,
        normalize_whitespace: Annotated[
            bool, Field(description="any whitespace run matches any whitespace run")
        ] = False,
        count_only: Annotated[bool, Field(description="only count, list no match")] = False,
    ) -> dict[str, Any]:
        return tools.grep(
            pattern,
            limit=limit,
            where=where,
            ignore_case=ignore_case,
            normalize_whitespace=normalize_whitespace,
            count_only=count_only,
        )

    @_as_tool_error
    def get_chunk(
        ids: Annotated[
            list[int] | int, Field(description="a chunk id or a list of them (chunk_id of hits)")
        ],
    ) -> dict[str, Any]:
        return tools.get_chunks(ids)

    @_as_tool_error
    def get_span(
        path: Annotated[str, Field(description="document path from a search hit")],
        line_start: Annotated[int | None, Field(description="first line, 1-based")] = None,
        line_end: Annotated[int | None, Field(description="last line, inclusive")] = None,
        start: Annotated[int | None, Field(description="first character offset")] = None,
        end: Annotated[int | None, Field(description="character offset after the last")] = None,
        max_chars: Annotated[
            int, Field(ge=1, le=MAX_SPAN_CHARS, description="cut the text at this length")
        ] = DEFAULT_SPAN_CHARS,
    ) -> dict[str, Any]:
        return tools.get_span(
            path,
            start=start,
            end=end,
            line_start=line_start,
            line_end=line_end,
            max_chars=max_chars,
        )

    @_as_tool_error
    def list_documents(
        contains: Annotated[
            str | None, Field(description="keep paths containing this text")
        ] = None,
        offset: Annotated[int, Field(ge=0, description="skip this many documents")] = 0,
        limit: Annotated[int, Field(ge=1, le=1000, description="page size")] = 100,
    ) -> dict[str, Any]:
        return tools.list_documents(contains, offset=offset, limit=limit)

    @_as_tool_error
    def status() -> dict[str, Any]:
        return tools.status()

    server.add_tool(search, description=SEARCH_DESCRIPTION, annotations=READ_ONLY)
    server.add_tool(grep, description=GREP_DESCRIPTION, annotations=READ_ONLY)
    server.add_tool(get_chunk, description=GET_CHUNK_DESCRIPTION, annotations=READ_ONLY)
    server.add_tool(get_span, description=GET_SPAN_DESCRIPTION, annotations=READ_ONLY)
    server.add_tool(list_documents, description=LIST_DOCUMENTS_DESCRIPTION, annotations=READ_ONLY)
    server.add_tool(status, description=STATUS_DESCRIPTION, annotations=READ_ONLY)

    @_as_tool_error
    def ask(
        question: Annotated[str, Field(description="the question, in natural language")],
        pipeline: Annotated[
            Literal["rag", "rtr", "coa", "memory"],
            Field(description="rag (default), rtr (verified quotes), coa, memory"),
        ] = "rag",
        k: Annotated[
            int | None, Field(ge=1, le=MAX_K, description="passages retrieved (default 8)")
        ] = None,
        max_tokens: Annotated[
            int | None, Field(ge=1, le=1024, description="longest answer, in LLM tokens")
        ] = None,
    ) -> dict[str, Any]:
        return tools.ask(question, pipeline=pipeline, k=k, max_tokens=max_tokens)

    @_as_tool_error
    def memory_observe(
        text: Annotated[str, Field(description="what was said or what happened")],
        at: Annotated[
            str | None, Field(description="when, ISO date or date-time, e.g. 2024-05-02T10:00")
        ] = None,
        source: Annotated[str | None, Field(description='where it comes from, e.g. "chat"')] = None,
    ) -> dict[str, Any]:
        return tools.memory_observe(text, at=at, source=source)

    @_as_tool_error
    def memory_query(
        question: Annotated[str, Field(description="a question about people, places, dates")],
        max_events: Annotated[
            int, Field(ge=1, le=200, description="most events in the context")
        ] = 12,
    ) -> dict[str, Any]:
        return tools.memory_query(question, max_events=max_events)

    server.add_tool(ask, description=ASK_DESCRIPTION, annotations=READ_ONLY)
    server.add_tool(
        memory_observe,
        description=MEMORY_OBSERVE_DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    server.add_tool(memory_query, description=MEMORY_QUERY_DESCRIPTION, annotations=READ_ONLY)

    if tools.can_index:

        @_as_tool_error
        def index(
            paths: Annotated[
                list[str],
                Field(description="files or folders inside the allowed roots", min_length=1),
            ],
        ) -> dict[str, Any]:
            return tools.index(paths)

        roots = [str(r) for r in tools.guard.roots]
        server.add_tool(
            index,
            description=INDEX_DESCRIPTION.format(roots=", ".join(roots), example=roots[0]),
            annotations=ToolAnnotations(
                read_only_hint=False, destructive_hint=False, open_world_hint=False
            ),
        )


def _register_resources(server: MCPServer, tools: LibraryTools) -> None:
    # The SDK refuses absolute paths and '..' in template parameters by default, to protect
    # handlers that open files. This one never touches the file system: `path` is only a key
    # looked up among the library's stored documents, so the check is lifted for it alone.
    @server.resource(
        DOCUMENT_URI_PREFIX + "{path}",
        name="document",
        description="Full text of an indexed document; {path} is its percent-encoded path "
        "(as in the uri field of search hits and list_documents).",
        mime_type="text/plain",
        security=ResourceSecurity(exempt_params={"path"}),
    )
    def document(path: str) -> str:
        try:
            return tools.document_text(path)  # the SDK has already percent-decoded it
        except LcmemError as exc:
            raise ResourceNotFoundError(str(exc)) from exc


# -- running --------------------------------------------------------------------------------
class BearerTokenMiddleware:
    """ASGI middleware answering 401 unless ``Authorization: Bearer <token>`` matches.

    The SDK's own auth support is an OAuth 2.1 resource server (it needs an authorization
    server's issuer URL and publishes metadata for it); a single shared secret has no issuer,
    so this small check (constant-time comparison) is used instead.
    """

    def __init__(self, app: Any, token: str) -> None:
        if not token:
            raise ConfigError("the bearer token is empty: give a non-empty --token")
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="lcmem"'),
                    ],
                }
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": b'{"error": "unauthorized: send Authorization: Bearer <token>"}',
                }
            )
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: dict[str, Any]) -> bool:
        for key, value in scope.get("headers", []):
            if key.lower() == b"authorization":
                scheme, _, given = value.partition(b" ")
                if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token):
                    return True
        return False


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_app(server: MCPServer, *, host: str = "127.0.0.1", token: str | None = None) -> Any:
    """The Starlette app serving ``server`` at ``/mcp`` (behind the token check if given)."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"serving on {host} would expose the library to the network without a token: "
            "pass --token (or $LCMEM_MCP_TOKEN), or keep the default --host 127.0.0.1"
        )
    app = server.streamable_http_app(host=host, streamable_http_path=HTTP_PATH)
    return BearerTokenMiddleware(app, token) if token else app


def serve(
    store: str,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    allow_index: Iterable[str | os.PathLike[str]] = (),
    warm_up: bool = True,
    llm: Any = None,
) -> None:
    """Open the library at ``store`` once and serve it until the client or a signal stops it.

    The embedder and indices load in a background thread right after start (``warm_up``):
    the MCP handshake is not delayed by the model load, and a search arriving meanwhile
    waits for it instead of paying for it later.
    """
    import lcmem

    if transport not in ("stdio", "http"):
        raise ConfigError(f"transport must be stdio or http, got {transport!r}")
    library = lcmem.open(store)
    try:
        server = build_server(library, allow_index=allow_index, llm=llm)
        app = http_app(server, host=host, token=token) if transport == "http" else None
        if warm_up:
            tools: LibraryTools = server.lcmem_tools  # type: ignore[attr-defined]
            threading.Thread(target=_quiet(tools.warm_up), daemon=True).start()
        if app is None:
            server.run("stdio")
        else:
            import uvicorn

            print(f"lcmem MCP server on http://{host}:{port}{HTTP_PATH}", file=sys.stderr)
            uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()
    finally:
        library.close()


def _quiet(fn: Callable[[], None]) -> Callable[[], None]:
    """Run ``fn``, reporting a failure on stderr (the tool call will report it again)."""

    def run() -> None:
        try:
            fn()
        except Exception as exc:  # a warm-up failure must not kill the server
            print(f"lcmem: warm-up failed: {exc}", file=sys.stderr)

    return run
