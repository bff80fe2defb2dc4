"""The ``lcmem`` command line: ``index``, ``search``, ``status``, ``serve``.

Every command takes ``--store DIR_OR_URL`` (default ``./.lcmem``, or ``$LCMEM_STORE``).
Errors print one line on stderr and exit non-zero, without a traceback.

Example:
    $ lcmem index ./docs
    $ lcmem search "how do I rotate logs" -k 5
    $ lcmem status --json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from lcmem.errors import LcmemError

STORE_HELP = "library folder or database URL (default ./.lcmem, or $LCMEM_STORE)"


def _store_option(f: Any) -> Any:
    return click.option(
        "--store",
        "store",
        default=".lcmem",
        envvar="LCMEM_STORE",
        show_default=False,
        metavar="DIR_OR_URL",
        help=STORE_HELP,
    )(f)


def _parse_size(value: str) -> int:
    """``10MB``, ``512k``, ``1048576`` -> bytes."""
    text = value.strip().lower().removesuffix("b").removesuffix("i")
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a size such as 10MB or 512k") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lcmem")
def cli() -> None:
    """lcmem: search and memory over documents longer than any context window."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_store_option
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("-q", "--quiet", is_flag=True, help="no progress bars, only errors")
@click.option(
    "--max-file-size", default="10MB", show_default=True, help="skip larger files (e.g. 512k, 10MB)"
)
@click.option(
    "--chunker",
    default=None,
    type=click.Choice(["auto", "token", "sentence", "recursive", "markdown"]),
    help="how to split documents (default: auto, by file type)",
)
@click.option("--chunk-size", type=int, default=None, help="chunk budget in embedder tokens")
@click.option("--chunk-overlap", type=int, default=None, help="overlap in embedder tokens")
@click.option(
    "--embedder",
    default=None,
    help="sentence-transformers model name or folder (default all-MiniLM-L6-v2)",
)
@click.option(
    "--batch-chunks",
    type=int,
    default=256,
    show_default=True,
    help="chunks embedded and committed per transaction",
)
@click.option(
    "--faiss",
    "faiss_kind",
    type=click.Choice(["flat", "ivf", "hnsw"]),
    default=None,
    help="dense index kind for a new library (default flat, exact)",
)
def index(
    paths: tuple[Path, ...],
    store: str,
    as_json: bool,
    quiet: bool,
    max_file_size: str,
    chunker: str | None,
    chunk_size: int | None,
    chunk_overlap: int | None,
    embedder: str | None,
    batch_chunks: int,
    faiss_kind: str | None,
) -> None:
    """Index files and folders (incremental: unchanged files are skipped)."""
    import lcmem

    lib = lcmem.open(
        store,
        embedder=embedder,
        chunker=chunker,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        faiss_kind=faiss_kind,
    )
    with lib:
        show = None if not (quiet or as_json) else False
        report = lib.index(
            list(paths),
            max_file_size=_parse_size(max_file_size),
            progress=show,
            batch_chunks=batch_chunks,
        )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for path, message in report.errors:
            click.echo(f"error: {_rel(path)}: {message}", err=True)
        if not quiet:
            for path, message in report.warnings:
                click.echo(f"warning: {_rel(path)}: {message}", err=True)
            click.echo(
                f"{report.summary()}; {report.chunks_added} chunks added, "
                f"{report.embedded} embedded, in {report.seconds:.1f}s"
            )
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.argument("query")
@_store_option
@click.option("-k", "k", default=10, show_default=True, help="number of hits")
@click.option(
    "--mode", type=click.Choice(["hybrid", "dense", "bm25"]), default="hybrid", show_default=True
)
@click.option(
    "--where",
    "where",
    multiple=True,
    metavar="KEY=VALUE",
    help="metadata filter, repeatable: lang=python, kind=markdown, path='*/docs/*'",
)
@click.option("--json", "as_json", is_flag=True, help="print hits as JSON")
def search(
    query: str, store: str, k: int, mode: str, where: tuple[str, ...], as_json: bool
) -> None:
    """Search the library."""
    import lcmem

    filters = _parse_where(where)
    _require_library(store)
    with lcmem.open(store) as lib:
        hits = lib.search(query, k=k, mode=mode, where=filters or None)  # type: ignore[arg-type]
        if as_json:
            click.echo(json.dumps([_hit_json(h) for h in hits], indent=2))
            return
        if not hits:
            click.echo("no hits", err=True)
            return
        _print_hits(lib, query, hits)


@cli.command()
@_store_option
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
def status(store: str, as_json: bool) -> None:
    """Show what the library holds and how it was built."""
    import lcmem

    _require_library(store)
    with lcmem.open(store) as lib:
        info = lib.status()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    manifest = info["manifest"] or {}
    emb = manifest.get("embedder", {})
    chunker = manifest.get("chunker", {})
    click.echo(f"library    {info['location']} ({info['database']})")
    click.echo(f"documents  {info['documents']}")
    click.echo(f"chunks     {info['chunks']}")
    if emb:
        click.echo(f"embedder   {emb.get('name')} (dim {emb.get('dim')})")
    if chunker:
        click.echo(
            f"chunker    {chunker.get('name')} (size {chunker.get('chunk_size')}, "
            f"overlap {chunker.get('overlap')})"
        )
    click.echo(f"dense      faiss {manifest.get('faiss', {}).get('kind', 'flat')}")
    click.echo(f"indices    {'current' if info['indices_current'] else 'will sync on next use'}")


@cli.command()
@click.option("--mcp", "mcp", is_flag=True, help="serve the Model Context Protocol (required)")
@_store_option
@click.option(
    "--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP address to bind")
@click.option("--port", type=int, default=8765, show_default=True, help="HTTP port")
@click.option(
    "--token",
    envvar="LCMEM_MCP_TOKEN",
    default=None,
    help="HTTP bearer token clients must send (or $LCMEM_MCP_TOKEN)",
)
@click.option(
    "--allow-index",
    "allow_index",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="ROOT",
    help="let clients index files under ROOT (repeatable); read-only without it",
)
def serve(
    mcp: bool,
    store: str,
    transport: str,
    host: str,
    port: int,
    token: str | None,
    allow_index: tuple[Path, ...],
) -> None:
    """Serve the library to agents over MCP (stdio, or streamable HTTP at /mcp)."""
    if not mcp:
        raise click.UsageError("say which protocol to serve: lcmem serve --mcp")
    if not allow_index:
        _require_library(store)
    from lcmem.integrations.mcp_server import serve as serve_mcp

    serve_mcp(
        store,
        transport=transport,  # type: ignore[arg-type]
        host=host,
        port=port,
        token=token,
        allow_index=allow_index,
    )


# -- output helpers ------------------------------------------------------------------------
def _print_hits(lib: Any, query: str, hits: list[Any]) -> None:
    from rich.console import Console

    from lcmem.snippets import snippet

    console = Console(highlight=False, soft_wrap=False)
    terms = set(lib.analyzer(query))
    for h in hits:
        c = h.chunk
        where = f"{_rel(h.path)}:{c.line_start}-{c.line_end}"
        context = f"  [dim]{_escape(c.context)}[/dim]" if c.context else ""
        console.print(
            f"[bold]{h.rank}.[/bold] [cyan]{_escape(where)}[/cyan]{context}  "
            f"[dim]score {h.score:.4f}[/dim]"
        )
        snip = snippet(c.text, terms, lib.analyzer)
        console.print("   " + snip.markup())


def _hit_json(h: Any) -> dict[str, Any]:
    c = h.chunk
    return {
        "rank": h.rank,
        "score": h.score,
        "scores": h.scores,
        "path": h.path,
        "start": c.start,
        "end": c.end,
        "line_start": c.line_start,
        "line_end": c.line_end,
        "context": c.context,
        "chunk_id": c.id,
        "text": c.text,
        "metadata": c.metadata,
    }


def _parse_where(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--where")
        parsed: Any = value
        if value.lstrip("-").isdigit():
            parsed = int(value)
        elif value in ("true", "false"):
            parsed = value == "true"
        if key in out:  # repeated key: any of the values
            prev = out[key] if isinstance(out[key], list) else [out[key]]
            out[key] = [*prev, parsed]
        else:
            out[key] = parsed
    return out


def _require_library(store: str) -> None:
    from lcmem.errors import StoreError

    if "://" not in store and not (Path(store) / "lcmem.db").exists():
        raise StoreError(f"no library at {store}: run `lcmem index PATH` first, or pass --store")


def _rel(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lcmem`` console script."""
    try:
        cli.main(args=argv, prog_name="lcmem", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted; the library keeps its last good state", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LcmemError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted; the library keeps its last good state", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
