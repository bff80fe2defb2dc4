"""``lcmem memory``: add text to the episodic memory, ask it, show an entity's timeline.

The memory lives in the library's database (``--store``, default ``./.lcmem``).

Files are read as ``lcmem index`` reads them (:mod:`lcmem.loaders`): folders honour
``.gitignore`` / ``.lcmemignore``, HTML and PDF give their text, and files larger than
``--max-file-size`` are skipped. Source code is skipped in folders (it holds no episodes);
name a file to observe it anyway.

Example:
    $ lcmem memory add story.txt notes/
    $ lcmem memory add --text "I moved to Berlin yesterday." --at 2024-05-02T10:00
    $ lcmem memory ask "Where was Alice on March 5, 2021?"
    $ lcmem memory show "Alice Moreau"
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from lcmem.cli_common import EXIT_PARTIAL, json_option, parse_size
from lcmem.cli_common import store_option as _store_option
from lcmem.errors import ConfigError, LoadError, PathNotFoundError, StoreError


def _workspace(store: str, *, create: bool, operator: str = "auto", llm: Any = None) -> Any:
    from lcmem.memory import EpisodicWorkspace

    if "://" in store:
        url = store
    else:
        folder = Path(store).expanduser().resolve()
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"{folder} is a file: --store takes a folder or a database URL")
        if not create and not (folder / "lcmem.db").exists():
            raise StoreError(
                f"no memory at {store}: run `lcmem memory add PATH` first, or pass --store"
            )
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / 'lcmem.db'}"
    return EpisodicWorkspace(url, operator=operator, llm=llm)


@dataclass
class _Inputs:
    """What ``memory add`` read: (source, text) pairs, and the paths that failed or were skipped."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _read_inputs(paths: tuple[Path, ...], max_file_size: int) -> _Inputs:
    """Read files and folders through the loaders ``lcmem index`` uses.

    A path that does not exist is an error before anything is observed; a file that cannot be
    read or parsed is reported and the others are still observed.
    """
    from lcmem.loaders import SourceFile, read_document, walk

    for p in paths:
        if not os.path.lexists(p):
            raise PathNotFoundError(f"{p} does not exist: pass files or folders of text")
    out = _Inputs()
    for item in walk(paths, max_file_size=max_file_size):
        if not isinstance(item, SourceFile):
            (out.errors if item.error else out.skipped).append((str(item.path), item.reason))
            continue
        given = item.path == item.root
        if not given and _is_code(item.path):
            out.skipped.append((str(item.path), "source code (memory reads prose)"))
            continue
        try:
            doc = read_document(item.path, root=item.root)
        except LoadError as exc:
            out.errors.append((str(item.path), str(exc)))
            continue
        out.texts.append((doc.path, doc.text))
    return out


def _is_code(path: Path) -> bool:
    from lcmem.loaders import file_kind

    return file_kind(path) == "code"


@click.group("memory")
def memory() -> None:
    """Episodic memory: who did what, where and when."""


@memory.command("add")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_store_option
@click.option("--text", "text", default=None, help="observe this text (e.g. a chat turn)")
@click.option("--at", "at", default=None, help="when the text was said/written (ISO time)")
@click.option("--source", default=None, help="source name for --text (default 'chat')")
@click.option(
    "--operator",
    type=click.Choice(["auto", "parser", "rules", "llm"]),
    default="auto",
    show_default=True,
    help="how events are extracted (auto: the spaCy parser when installed, else rules)",
)
@click.option("--llm", "llm_spec", default=None, help="LLM for --operator llm (path or URL)")
@click.option(
    "--max-file-size", default="10MB", show_default=True, help="skip larger files (e.g. 512k, 10MB)"
)
@json_option("print the report as JSON")
def add(
    paths: tuple[Path, ...],
    store: str,
    text: str | None,
    at: str | None,
    source: str | None,
    operator: str,
    llm_spec: str | None,
    max_file_size: str,
    as_json: bool,
) -> None:
    """Observe files, folders or --text into the memory (the same text is never added twice)."""
    if not paths and text is None:
        raise click.UsageError("give PATH... or --text TEXT")
    inputs = _read_inputs(paths, parse_size(max_file_size))
    llm = None
    if operator == "llm":
        from lcmem.llm import load_llm

        llm = load_llm(llm_spec)
    ws = _workspace(store, create=True, operator=operator, llm=llm)
    items: list[tuple[str, str]] = []
    if text is not None:
        items.append((source or "chat", text))
    items += inputs.texts
    rows = [_failed_row(path, reason) for path, reason in inputs.errors]
    failed = bool(inputs.errors)
    for name, body in items:
        report = ws.observe(body, at=at, source=name)
        failed |= not report.ok
        rows.append(
            {
                "source": name,
                "read": True,
                "events": len(report.events),
                "duplicate": report.duplicate,
                "unresolved": report.unresolved,
                "conflicts": len(report.conflicts),
                "warnings": report.warnings,
                "errors": report.errors,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            name = _rel(row["source"])
            for err in row["errors"]:
                click.echo(f"error: {name}: {err}", err=True)
            for warn in row["warnings"]:
                click.echo(f"warning: {name}: {warn}", err=True)
            if row["unresolved"]:
                shown = ", ".join(repr(u) for u in row["unresolved"][:5])
                click.echo(f"warning: {name}: unresolved dates: {shown}", err=True)
            status = "already observed" if row["duplicate"] else f"{row['events']} events"
            if not row["read"]:
                status = "not read"
            extra = f", {row['conflicts']} conflicts" if row["conflicts"] else ""
            click.echo(f"{name}: {status}{extra}")
        click.echo(repr(ws))
    if failed:
        click.get_current_context().exit(EXIT_PARTIAL)


def _failed_row(path: str, reason: str) -> dict[str, Any]:
    """A report row for a file that could not be read (nothing was observed from it)."""
    return {
        "source": path,
        "read": False,
        "events": 0,
        "duplicate": False,
        "unresolved": [],
        "conflicts": 0,
        "warnings": [],
        "errors": [reason],
    }


@memory.command("ask")
@click.argument("question")
@_store_option
@click.option("--llm", "llm_spec", default=None, help="LLM for free questions (path or URL)")
@click.option("--no-llm", is_flag=True, help="never call an LLM; print the memory context")
@json_option("print the answer as JSON")
def ask(question: str, store: str, llm_spec: str | None, no_llm: bool, as_json: bool) -> None:
    """Answer QUESTION from the memory (directly when it has a known shape)."""
    if not question.strip():
        raise ConfigError("the question is empty: ask something")
    ws = _workspace(store, create=False)
    result = ws.ask(question)
    if result.kind != "unparsed":
        _print_result(result.text, result.notes, result.events, as_json)
        return
    context = ws.context_for(question)
    if no_llm or not context:
        text = context or "The memory holds nothing about this question."
        _print_result(text, [], ws.evidence_for(question), as_json)
        return
    from lcmem.llm import load_llm
    from lcmem.pipelines.memory import MemoryPipeline

    answer = MemoryPipeline(load_llm(llm_spec), workspace=ws).ask(
        question, documents=[]
    )  # documents=[] : the workspace is already filled
    _print_result(answer.text, [], ws.evidence_for(question), as_json)


def _print_result(text: str, notes: list[str], events: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {"answer": text, "notes": notes, "events": [_event_json(e) for e in events]},
                indent=2,
            )
        )
        return
    click.echo(text)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    for e in events[:10]:
        where = f"{_rel(e.source.path)}:{e.source.start}-{e.source.end}" if e.source else ""
        click.echo(f"  [{e.day or '?'}] {e.text[:100]}  ({where})")


@memory.command("show")
@click.argument("entity")
@_store_option
@json_option("print the timeline as JSON")
def show(entity: str, store: str, as_json: bool) -> None:
    """Show ENTITY's timeline: events in time order and where it was when."""
    ws = _workspace(store, create=False)
    r = ws.reconciler
    ids = r.lookup(entity, "person") or r.lookup(entity, "place")
    if not ids:
        known = ", ".join(ws.people()[:10])
        raise ConfigError(
            f"no person or place called {entity!r} in memory"
            + (f": known people include {known}" if known else ": add some text first")
        )
    if as_json:
        out = []
        for eid in ids:
            out.append(
                {
                    "id": eid,
                    "name": r.name_of(eid),
                    "aliases": r.entity(eid)["aliases"],
                    "events": [_event_json(e) for e in r.events_of(eid)],
                    "facts": [f.to_dict() for f in r.facts.get(eid, [])],
                }
            )
        click.echo(json.dumps(out, indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    for eid in ids:
        node = r.entity(eid)
        table = Table(
            title=f"{escape(node['name'])} ({node['kind']}; also {', '.join(node['aliases'])})",
            title_justify="left",
        )
        for col in ("when", "who", "what", "where", "source"):
            table.add_column(col)
        for e in r.events_of(eid):
            who = ", ".join(dict.fromkeys(r.name_of(x) for x in e.entity_ids.values()))
            src = f"{_rel(e.source.path)}:{e.source.start}" if e.source else ""
            when = e.day or f"? ({e.time_text})"
            if e.flashback:
                when += " (flashback)"
            table.add_row(
                escape(when), escape(who), escape(e.action), escape(r.name_of(e.place_id)), src
            )
        console.print(table)
        facts = r.facts.get(eid, [])
        if facts:
            last = facts[-1]
            console.print(
                f"latest location: {escape(r.name_of(last.value))} since {last.valid_from}"
                + (" (conflicting)" if last.status == "conflicting" else "")
            )


def _event_json(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "time": e.time,
        "time_text": e.time_text,
        "time_status": e.time_status,
        "actors": [{"name": a.name, "role": a.role} for a in e.actors],
        "action": e.action,
        "location": e.location,
        "source": None
        if e.source is None
        else {"path": e.source.path, "start": e.source.start, "end": e.source.end},
        "text": e.text,
    }


def _rel(path: str) -> str:
    try:
        return os.path.relpath(path) if os.path.isabs(path) else path
    except ValueError:
        return path
