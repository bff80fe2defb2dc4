"""The ``lcmem`` command line: ``index``, ``search``, ``ask``, ``status``, ``serve``.

Every command takes ``--store DIR_OR_URL`` (default ``./.lcmem``, or ``$LCMEM_STORE``).
Errors print one line on stderr (one JSON object under ``--json``), without a traceback, and
exit with a code that tells the kind of failure (see :mod:`lcmem.cli_common`).

Example:
    $ lcmem index ./docs
    $ lcmem search "how do I rotate logs" -k 5
    $ lcmem ask "how do I rotate logs?" --pipeline rtr
    $ lcmem status --json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from lcmem import cli_common
from lcmem.cli_common import (
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    STORE_HELP,
    json_option,
)
from lcmem.cli_common import parse_size as _parse_size
from lcmem.cli_common import store_option as _store_option
from lcmem.errors import LcmemError


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES_HELP)
@click.version_option(package_name="lcmem")
def cli() -> None:
    """lcmem: search and memory over documents longer than any context window."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_store_option
@json_option("print the report as JSON")
@click.option("-q", "--quiet", is_flag=True, help="no progress bars, only errors")
@click.option(
    "--max-file-size", default="10MB", show_default=True, help="skip larger files (e.g. 512k, 10MB)"
)
@click.option(
    "--chunker",
    default=None,
    type=click.Choice(
        ["auto", "token", "sentence", "recursive", "markdown", "code", "topic", "none"]
    ),
    help="how to split documents (default: auto, by file type; none: each document whole)",
)
@click.option("--chunk-size", type=int, default=None, help="chunk budget in embedder tokens")
@click.option("--chunk-overlap", type=int, default=None, help="overlap in embedder tokens")
@click.option(
    "--embedder",
    default=None,
    help="sentence-transformers model name or folder (default all-MiniLM-L6-v2)",
)
@click.option(
    "--embed-max-tokens",
    type=int,
    default=None,
    help="read chunks up to this many tokens with a long-context strategy (e.g. 4096)",
)
@click.option(
    "--embed-strategy",
    default=None,
    help="long-context strategy: pcw, gp, rp, pi, ntk, selfextend, truncate (+s: logit "
    "scaling, e.g. pi+s) or sea-mean/sea-max/sea-attention; default pcw with --embed-max-tokens",
)
@click.option(
    "--trust-remote-code",
    is_flag=True,
    help="let a long-context embedder folder run its own modelling code (nomic-embed, "
    "gte-v1.5; only for folders you trust); recorded in the library",
)
@click.option(
    "--embed-precision",
    type=click.Choice(["fp32", "int8"]),
    default=None,
    help="embedding precision of a new library (default fp32; int8: quantized ONNX model, "
    "faster, recorded in the library)",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="embedding threads (default: every core)",
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
    type=click.Choice(["auto", "flat", "ivf", "hnsw"]),
    default=None,
    help="dense index kind for a new library (default auto: exact while small, approximate "
    "from 200,000 chunks on; flat keeps it exact)",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="auto",
    default=None,
    metavar="[auto|ADDRESS]",
    help="read, chunk and embed on a Ray cluster (auto: a running one, else a local one; "
    "or ray://HOST:PORT); needs lcmem[ray] and a store every node reaches (PostgreSQL)",
)
@click.option(
    "--ray-actors",
    type=click.IntRange(min=1),
    default=None,
    help="embedder actors with --ray (default: one per GPU, else one per two CPUs)",
)
@click.option(
    "--ray-batch-docs",
    type=click.IntRange(min=1),
    default=None,
    help="documents embedded and committed per transaction with --ray (default 16)",
)
@click.option(
    "--optimize",
    is_flag=True,
    help="then merge the exact-search index into one segment (drops deleted documents' text; "
    "waits for a background merge first)",
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
    embed_max_tokens: int | None,
    embed_strategy: str | None,
    trust_remote_code: bool,
    embed_precision: str | None,
    threads: int | None,
    batch_chunks: int,
    faiss_kind: str | None,
    ray_address: str | None,
    ray_actors: int | None,
    ray_batch_docs: int | None,
    optimize: bool,
) -> None:
    """Index files and folders (incremental: unchanged files are skipped)."""
    import lcmem

    emb: Any = embedder
    if embed_max_tokens is not None or embed_strategy is not None:  # long-context setting
        from lcmem.embedders.longctx import make_embedder

        emb = make_embedder(
            embedder,
            strategy=embed_strategy,
            max_tokens=embed_max_tokens,
            trust_remote_code=trust_remote_code,
        )
    elif trust_remote_code:
        raise click.UsageError(
            "--trust-remote-code applies to long-context embedders: add --embed-strategy or "
            "--embed-max-tokens"
        )
    lib = lcmem.open(
        store,
        embedder=emb,
        chunker=chunker,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        faiss_kind=faiss_kind,
        embed_precision=embed_precision,
        threads=threads,
    )
    with lib:
        show = None if not (quiet or as_json) else False
        report = lib.index(
            list(paths),
            max_file_size=_parse_size(max_file_size),
            progress=show,
            batch_chunks=batch_chunks,
            executor="ray" if ray_address else "local",
            ray_address=ray_address,
            ray_actors=ray_actors,
            ray_batch_docs=ray_batch_docs,
        )
        if optimize:
            lib.optimize()
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
        click.get_current_context().exit(EXIT_PARTIAL)


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
@click.option(
    "--fusion",
    default=None,
    metavar="METHOD[:KEY=VALUE,...]",
    help="hybrid fusion for this search (default: the library's): zscore, minmax, tmm or rrf, "
    "e.g. rrf:k=60 or zscore:coverage=1,boost=8 (keys: dense, k, candidates, boost, complete, "
    "adaptive, coverage, phrase, coord, coord_power, near, near_width)",
)
@click.option(
    "--group",
    type=click.Choice(["chunk", "document"]),
    default="chunk",
    show_default=True,
    help="document: one hit per file (its best chunk), its other matching chunks attached",
)
@json_option("print hits as JSON")
def search(
    query: str,
    store: str,
    k: int,
    mode: str,
    where: tuple[str, ...],
    fusion: str | None,
    group: str,
    as_json: bool,
) -> None:
    """Search the library."""
    import lcmem

    filters = _parse_where(where)
    _require_library(store)
    with lcmem.open(store) as lib:
        hits = lib.search(
            query,
            k=k,
            mode=mode,  # type: ignore[arg-type]
            where=filters or None,
            fusion=fusion,
            group=group,  # type: ignore[arg-type]
        )
        if as_json:
            click.echo(json.dumps([_hit_json(h) for h in hits], indent=2))
            return
        if not hits:
            click.echo("no hits", err=True)
            return
        _print_hits(lib, query, hits)


@cli.command()
@_store_option
@json_option("print as JSON")
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
        from lcmem.chunkers.base import describe_chunker

        click.echo(f"chunker    {describe_chunker(chunker)}")
    dense = info.get("dense") or {}
    click.echo(f"dense      faiss {dense.get('summary') or 'flat'}")
    built = dense.get("index_file")
    if built:
        click.echo(
            f"           index file: {built['structure']}, {built['ntotal']:,} vectors, "
            f"{built['bytes'] / 2**20:.1f} MiB"
        )
    click.echo(f"indices    {'current' if info['indices_current'] else 'will sync on next use'}")
    for line in _exact_lines(info["exact"]):
        click.echo(line)


def _exact_lines(exact: dict[str, Any]) -> list[str]:
    """``status`` lines of the exact-search indices (one per variant, then the policy)."""
    lines = []
    for variant, x in exact["variants"].items():
        name = f"{'exact' if variant == 'exact' else 'exact-' + variant:<10} "
        case = "case-sensitive" if x["case_sensitive"] else "case-insensitive"
        if not x["built"] or "error" in x:
            lines.append(name + (x.get("error") or f"{case}, built on first use"))
            continue
        merge = (
            "merge running"
            if x["merge_running"]
            else "merge pending"
            if x["merge_pending"]
            else "no merge needed"
        )
        lines.append(
            f"{name}{x['segments']} segment(s), {x['documents']} documents "
            f"({x['masked_documents']} masked), {x['text_bytes'] / 1e6:.1f} MB text, "
            f"{x['disk_bytes'] / 1e6:.1f} MB on disk; {case}; {merge}"
            + ("; will sync on next use" if x.get("in_step_with_store") is False else "")
        )
    p = exact["merge_policy"]
    lines.append(
        f"{'merging':<10} {p['policy']}: over {p['max_segments']} segments, similar sizes "
        f"(ratio {p['size_ratio']:g}, floor {p['floor_bytes'] / 2**20:g} MiB, at most "
        f"{p['max_merge_at_once']} at once), {'in the background' if p['background'] else 'inline'}"
        + ("" if p["recorded"] else " (default)")
    )
    lines.append(f"{'whitespace':<10} normalised {exact['whitespace_normalised']}")
    return lines


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
@click.option(
    "--llm",
    "llm_spec",
    default=None,
    metavar="PATH_OR_URL",
    help="model behind the ask tool: folder, .gguf or URL (default: packaged SmolLM2)",
)
def serve(
    mcp: bool,
    store: str,
    transport: str,
    host: str,
    port: int,
    token: str | None,
    allow_index: tuple[Path, ...],
    llm_spec: str | None,
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
        llm=llm_spec,
    )


@cli.command()
@click.argument("question")
@click.option(
    "--store",
    "--library",
    "-l",
    "store",
    default=".lcmem",
    envvar="LCMEM_STORE",
    metavar="DIR_OR_URL",
    help=STORE_HELP,
)
@click.option(
    "--pipeline",
    "-p",
    type=click.Choice(["rag", "coa", "rtr", "kv", "memory"]),
    default="rag",
    show_default=True,
    help="rag: retrieve and answer; coa: chain of agents over the whole input; rtr: quote, "
    "verify, then reason; kv: KV-page retrieval; memory: episodic memory",
)
@click.option(
    "--doc",
    "docs",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="read this file directly, no library needed (repeatable); rag and rtr index the "
    "files in memory for the run",
)
@click.option(
    "--llm", "llm_spec", default=None, metavar="PATH_OR_URL", help="model folder, .gguf or URL"
)
@click.option("-k", "--k", "k", type=int, default=None, help="chunks retrieved")
@click.option("--budget", type=int, default=None, help="context budget in the LLM's tokens")
@click.option("--max-tokens", type=int, default=None, help="most tokens in the answer")
@json_option("print answer, citations and trace as JSON")
def ask(
    question: str,
    store: str,
    pipeline: str,
    docs: tuple[Path, ...],
    llm_spec: str | None,
    k: int | None,
    budget: int | None,
    max_tokens: int | None,
    as_json: bool,
) -> None:
    """Answer QUESTION from the library (or --doc files), citing where the answer comes from."""
    from lcmem.errors import EmptyQueryError

    if not question.strip():
        raise EmptyQueryError("the question is empty: ask something, e.g. lcmem ask 'what is X?'")
    documents = [_read_doc(p) for p in docs] if docs else None
    library_given = click.get_current_context().get_parameter_source("store") in (
        click.core.ParameterSource.COMMANDLINE,
        click.core.ParameterSource.ENVIRONMENT,
    )
    if documents is None or library_given:
        _require_library(store)
    options = {
        name: value
        for name, value in (("k", k), ("budget", budget), ("max_tokens", max_tokens))
        if value is not None
    }
    import contextlib

    import lcmem

    with contextlib.ExitStack() as stack:
        lib = None
        if documents is None or library_given:
            lib = stack.enter_context(lcmem.open(store))
        answer, streamed = _run_pipeline(
            pipeline, llm_spec, options, question, lib, documents, stream=not as_json
        )
    if as_json:
        click.echo(json.dumps(_answer_json(question, pipeline, answer), indent=2, default=str))
        return
    if not streamed:
        click.echo(answer.text)
    else:
        click.echo()
        if getattr(answer, "origin", "model") != "model":
            # The streamed text was the model's; the support check replaced it.
            click.echo(REPLACED_NOTE, err=True)
            click.echo(answer.text)
    _print_citations(answer.citations)


REPLACED_NOTE = (
    "[lcmem] not supported by the sources: the answer above is the model's; "
    "what the sources say instead:"
)
"""Printed on stderr after a streamed answer that the support check replaced
(:mod:`lcmem.pipelines.support`); ``--json`` carries ``origin`` and ``model_text`` instead."""


def _run_pipeline(
    name: str,
    llm_spec: str | None,
    options: dict[str, Any],
    question: str,
    lib: Any,
    documents: Any,
    *,
    stream: bool = True,
) -> tuple[Any, bool]:
    """Build the pipeline, stream its answer to a terminal when it can (and ``stream``);
    (answer, streamed).

    The model's text is streamed as it comes even when the pipeline checks it against its
    sources afterwards: the caller says so when the check replaced it (``answer.origin``).
    """
    from lcmem.errors import ConfigError
    from lcmem.llm import load_llm
    from lcmem.pipelines import get_pipeline

    _check_llm_spec(llm_spec)
    llm = load_llm(llm_spec)
    try:
        pipe = get_pipeline(name, llm, **options)
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise
        raise ConfigError(
            f"the {name} pipeline does not take one of {', '.join(sorted(options))}: "
            "leave that option out"
        ) from exc
    streamed = False
    if stream and _is_terminal() and hasattr(pipe, "on_text"):

        def show(piece: str) -> None:
            nonlocal streamed
            if not streamed:
                piece = piece.lstrip()
            streamed = True
            click.echo(piece, nl=False)
            sys.stdout.flush()

        pipe.on_text = show
    return pipe.ask(question, library=lib, documents=documents), streamed


def _is_terminal() -> bool:
    return sys.stdout.isatty()


def _check_llm_spec(spec: str | None) -> None:
    """Fail before any work when ``--llm`` names a local path that does not exist."""
    from lcmem.errors import ModelNotFoundError

    if spec is None or spec.startswith(("http://", "https://")):
        return
    from lcmem.llm.transformers import DEFAULT_LLM

    if spec != DEFAULT_LLM and not Path(spec).expanduser().exists():
        raise ModelNotFoundError(
            f"--llm {spec}: no such model folder or .gguf file; pass a local Hugging Face "
            "model folder, a .gguf file or an http(s):// OpenAI-compatible endpoint"
        )


def _read_doc(path: Path) -> Any:
    from lcmem.errors import PathNotFoundError
    from lcmem.loaders import read_document

    if not path.is_file():
        raise PathNotFoundError(f"--doc {path}: no such file; pass a readable text file")
    return read_document(path)


def _answer_json(question: str, pipeline: str, answer: Any) -> dict[str, Any]:
    return {
        "question": question,
        "pipeline": pipeline,
        "answer": answer.text,
        "origin": getattr(answer, "origin", "model"),
        "model_text": getattr(answer, "model_text", ""),
        "citations": [h.to_dict() for h in answer.citations],
        "trace": answer.trace.to_dict(),
    }


def _print_citations(citations: list[Any]) -> None:
    if not citations:
        click.echo("(no citations)", err=True)
        return
    click.echo("\nsources:")
    for i, h in enumerate(citations, start=1):
        c = h.chunk
        lines = f":{c.line_start}-{c.line_end}" if c.line_start else f" @{c.start}-{c.end}"
        text = " ".join(c.text.split())
        snippet = text if len(text) <= 100 else text[:97] + "..."
        click.echo(f"  [{i}] {_rel(h.path)}{lines}  {snippet}")


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
        if h.others:
            lines = ", ".join(f"{o.chunk.line_start}-{o.chunk.line_end}" for o in h.others[:8])
            more = f" (+{len(h.others) - 8})" if len(h.others) > 8 else ""
            console.print(f"   [dim]also matches at lines {lines}{more}[/dim]")


def _hit_json(h: Any) -> dict[str, Any]:
    return h.to_dict()


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


def _add_subgroups() -> None:
    """Command groups that live in their own modules (kept small, one job each)."""
    from lcmem.cli_grep import grep
    from lcmem.cli_memory import memory

    cli.add_command(memory)
    cli.add_command(grep)


_add_subgroups()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lcmem`` console script: run, then exit with the command's code.

    An lcmem error exits with its ``exit_code`` (1, 4 or 5), a usage error with 2, an
    interrupted run with 130 (see ``lcmem --help``).
    """
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    """Run the command line once and return its exit code; errors are printed, not raised.

    Example:
        >>> run(["--version"])  # doctest: +ELLIPSIS
        lcmem, version ...
        0
    """
    args = list(sys.argv[1:] if argv is None else argv)
    cli_common.reset()
    try:
        code = cli.main(args=args, prog_name="lcmem", standalone_mode=False)
    except click.exceptions.Abort:
        return _interrupted(args)
    except click.ClickException as exc:
        if cli_common.json_requested(args):
            cli_common.print_error(
                exc.format_message(), kind=type(exc).__name__, code=exc.exit_code, as_json=True
            )
        else:
            exc.show()
        return exc.exit_code
    except LcmemError as exc:
        code = cli_common.exit_code_of(exc)
        as_json = cli_common.json_requested(args)
        cli_common.print_error(str(exc), kind=type(exc).__name__, code=code, as_json=as_json)
        return code
    except KeyboardInterrupt:
        return _interrupted(args)
    # A command's return value, or the code of ctx.exit(code) (click returns it, not raising).
    return code if isinstance(code, int) else 0


def _interrupted(args: list[str]) -> int:
    message = "interrupted; the library keeps its last good state"
    if cli_common.json_requested(args):
        cli_common.print_error(message, kind="Interrupted", code=EXIT_INTERRUPTED, as_json=True)
    else:
        click.echo(message, err=True)
    return EXIT_INTERRUPTED


if __name__ == "__main__":
    main()
