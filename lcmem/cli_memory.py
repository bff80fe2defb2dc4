"""``lcmem memory``: add text to the episodic memory, ask it, show an entity's timeline.

The memory lives in the library's database (``--store``, default ``./.lcmem``).

Example:
    $ lcmem memory add story.txt notes/
    $ lcmem memory add --text "I moved to Berlin yesterday." --at 2024-05-02T10:00
    $ lcmem memory ask "Where was Alice on March 5, 2021?"
    $ lcmem memory show "Alice Moreau"
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from lcmem.errors import ConfigError, PathNotFoundError, StoreError

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst", ".log", ".text", ""}


def _store_option(f: Any) -> Any:
    return click.option(
        "--store",
        "store",
        default=".lcmem",
        envvar="LCMEM_STORE",
        metavar="DIR_OR_URL",
        help="library folder or database URL (default ./.lcmem, or $LCMEM_STORE)",
    )(f)


def _workspace(store: str, *, create: bool, operator: str = "rules", llm: Any = None) -> Any:
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


def _files(paths: tuple[Path, ...]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if not p.exists():
            raise PathNotFoundError(f"{p} does not exist: pass files or folders of text")
        if p.is_dir():
            out += sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES and not f.name.startswith(".")
            )
        else:
            out.append(p)
    return out


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
    type=click.Choice(["rules", "llm"]),
    default="rules",
    show_default=True,
    help="how events are extracted",
)
@click.option("--llm", "llm_spec", default=None, help="LLM for --operator llm (path or URL)")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def add(
    paths: tuple[Path, ...],
    store: str,
    text: str | None,
    at: str | None,
    source: str | None,
    operator: str,
    llm_spec: str | None,
    as_json: bool,
) -> None:
    """Observe files, folders or --text into the memory (the same text is never added twice)."""
    if not paths and text is None:
        raise click.UsageError("give PATH... or --text TEXT")
    llm = None
    if operator == "llm":
        from lcmem.llm import load_llm

        llm = load_llm(llm_spec)
    ws = _workspace(store, create=True, operator=operator, llm=llm)
    items: list[tuple[str, str]] = []
    if text is not None:
        items.append((source or "chat", text))
    for f in _files(paths):
        try:
            items.append((str(f.resolve()), f.read_text(encoding="utf-8", errors="replace")))
        except OSError as exc:
            raise PathNotFoundError(f"cannot read {f}: {exc.strerror}") from exc
    rows = []
    failed = False
    for name, body in items:
        report = ws.observe(body, at=at, source=name)
        failed |= not report.ok
        rows.append(
            {
                "source": name,
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
            extra = f", {row['conflicts']} conflicts" if row["conflicts"] else ""
            click.echo(f"{name}: {status}{extra}")
        click.echo(repr(ws))
    if failed:
        sys.exit(1)


@memory.command("ask")
@click.argument("question")
@_store_option
@click.option("--llm", "llm_spec", default=None, help="LLM for free questions (path or URL)")
@click.option("--no-llm", is_flag=True, help="never call an LLM; print the memory context")
@click.option("--json", "as_json", is_flag=True, help="print the answer as JSON")
def ask(question: str, store: str, llm_spec: str | None, no_llm: bool, as_json: bool) -> None:
    """Answer QUESTION from the memory (directly when it has a known shape)."""
    if not question.strip():
        raise ConfigError("the question is empty: ask something")
    ws = _workspace(store, create=False)
    result = ws.ask(question)
    if result is not None:
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
@click.option("--json", "as_json", is_flag=True, help="print the timeline as JSON")
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
