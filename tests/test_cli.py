"""The `lcmem` command as a user runs it: real subprocesses, the real packaged model."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lcmem.cli import main as lcmem_main
from tests.conftest import man_text

LCMEM = [sys.executable, "-m", "lcmem.cli"]


def run(*args: str, cwd: Path | None = None, check: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.run(
        [*LCMEM, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"lcmem {args} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_help_is_fast_to_import():
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import lcmem.cli"],
        capture_output=True,
        text=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
    heavy = [
        m
        for m in ("torch", "faiss", "sentence_transformers", "numpy", "sqlalchemy")
        if m in imported
    ]
    assert heavy == [], f"`lcmem --help` imports {heavy}"
    assert "Usage" in run("--help").stdout


@pytest.mark.slow
def test_index_search_status(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ls.txt").write_text(man_text("ls"))
    (docs / "notes.md").write_text("# Garden\n\n## Tomatoes\n\nWater the tomatoes every morning.\n")
    store = str(tmp_path / "lib")
    out = run("index", str(docs), "--store", store, "--json", check=True)
    report = json.loads(out.stdout)
    assert len(report["added"]) == 2 and report["errors"] == []

    hits = json.loads(
        run("search", "water the plants", "--store", store, "--json", "-k", "2", check=True).stdout
    )
    assert Path(hits[0]["path"]).name == "notes.md"
    assert hits[0]["context"] == "Garden > Tomatoes"
    assert hits[0]["line_start"] >= 1

    hits = json.loads(
        run(
            "search",
            "sort by modification time",
            "--store",
            store,
            "--json",
            "--mode",
            "bm25",
            "--where",
            "kind=text",
            check=True,
        ).stdout
    )
    assert hits and all(Path(h["path"]).name == "ls.txt" for h in hits)

    text = run("search", "tomatoes", "--store", store, "-k", "1", check=True).stdout
    assert "notes.md:" in text and "Garden > Tomatoes" in text and "tomatoes" in text.lower()

    grouped = json.loads(
        run(
            "search",
            "list files",
            "--store",
            store,
            "--json",
            "--group",
            "document",
            "--fusion",
            "rrf:k=60",
            check=True,
        ).stdout
    )
    assert len({h["path"] for h in grouped}) == len(grouped) == 2
    assert grouped[0]["scores"]["dense_weight"] == 0.5 and grouped[0]["score"] <= 2 / 61
    assert Path(grouped[0]["path"]).name == "ls.txt" and grouped[0]["others"]
    bad = run("search", "x", "--store", store, "--fusion", "nope")
    assert bad.returncode != 0 and "unknown fusion" in bad.stderr

    status = json.loads(run("status", "--store", store, "--json", check=True).stdout)
    assert status["documents"] == 2 and status["manifest"]["embedder"]["dim"] == 384

    again = json.loads(run("index", str(docs), "--store", store, "--json", check=True).stdout)
    assert len(again["unchanged"]) == 2 and again["embedded"] == 0


@pytest.mark.parametrize(
    "args, message, code",
    [
        (["index", "/no/such/folder"], "does not exist", 1),
        (["search", "x"], "no library at", 4),
        (["status"], "no library at", 4),
        (["index", ".", "--max-file-size", "lots"], "not a size", 2),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, args, message, code):
    proc = run(*args, "--store", str(tmp_path / "nolib"), cwd=tmp_path)
    assert proc.returncode == code
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr

    as_json = run(*args, "--json", "--store", str(tmp_path / "nolib"), cwd=tmp_path)
    assert as_json.returncode == code
    error = json.loads(as_json.stderr)["error"]
    assert message in error["message"] and error["exit_code"] == code


def test_python_dash_m_and_exit_codes_in_help():
    proc = subprocess.run(
        [sys.executable, "-m", "lcmem", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "Usage: lcmem" in proc.stdout
    assert "Exit codes:" in proc.stdout and "usage error" in proc.stdout


def test_main_passes_on_the_commands_exit_code():
    """``ctx.exit(code)`` inside a command reaches the shell (click returns it, not raises)."""
    import click

    from lcmem.cli import cli, run

    @cli.command("exit-with")
    @click.argument("code", type=int)
    def exit_with(code: int) -> None:
        click.get_current_context().exit(code)

    try:
        assert run(["exit-with", "3"]) == 3
        assert run(["exit-with", "0"]) == 0
        with pytest.raises(SystemExit) as exited:
            lcmem_main(["exit-with", "7"])
        assert exited.value.code == 7
    finally:
        cli.commands.pop("exit-with")


@pytest.mark.slow
def test_empty_query_is_an_error(tmp_path):
    docs = tmp_path / "d"
    docs.mkdir()
    (docs / "a.txt").write_text("Some words about sailing boats.\n")
    store = str(tmp_path / "lib")
    run("index", str(docs), "--store", store, "-q", check=True)
    proc = run("search", "  ", "--store", store)
    assert proc.returncode == 1 and "query is empty" in proc.stderr
    assert "Traceback" not in proc.stderr


def _consistency(store: Path, docs: Path) -> dict:
    """Check the library against the folder: no loss, no duplicate, indices = store."""
    import lcmem

    lib = lcmem.open(store)
    try:
        paths = sorted(lib.documents())
        assert paths == sorted(str(p.resolve()) for p in docs.iterdir())
        with sqlite3.connect(store / "lcmem.db") as db:
            dup = db.execute(
                "SELECT document_id, ordinal, COUNT(*) FROM lcmem_chunks "
                "GROUP BY document_id, ordinal HAVING COUNT(*) > 1"
            ).fetchall()
            orphans = db.execute(
                "SELECT COUNT(*) FROM lcmem_chunks c LEFT JOIN lcmem_documents d "
                "ON d.id = c.document_id WHERE d.id IS NULL"
            ).fetchone()[0]
        assert dup == [] and orphans == 0
        for p in paths:  # every document is fully chunked: its text is covered
            text = lib.document_text(p)
            assert text.strip()
        dense, sparse = lib._indices()
        ids = lib.store.chunk_ids()
        assert np.array_equal(np.sort(dense.ids()), ids)
        assert np.array_equal(np.sort(sparse.ids()), ids)
        return {"documents": len(paths), "chunks": len(ids)}
    finally:
        lib.close()


@pytest.mark.slow
def test_sigkill_mid_index_then_rerun_is_consistent(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    names = ["ls", "cp", "mv", "rm", "cat", "grep", "sed", "find", "tar", "chmod", "ln", "sort"]
    for name in names:
        (docs / f"{name}.txt").write_text(man_text(name))
    store = tmp_path / "lib"
    proc = subprocess.Popen(
        [*LCMEM, "index", str(docs), "--store", str(store), "--quiet", "--batch-chunks", "8"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    db_path = store / "lcmem.db"
    committed = 0
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if db_path.exists():
            try:
                with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as db:
                    committed = db.execute("SELECT COUNT(*) FROM lcmem_documents").fetchone()[0]
            except sqlite3.OperationalError:
                committed = 0
            if committed >= 2:
                break
        time.sleep(0.05)
    assert proc.poll() is None, f"indexing ended before it could be killed: {proc.stderr.read()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= committed < len(names)

    second = run("index", str(docs), "--store", str(store), "--json", check=True)
    report = json.loads(second.stdout)
    assert len(report["unchanged"]) >= committed
    assert len(report["added"]) + len(report["unchanged"]) == len(names)
    assert report["removed"] == [] and report["errors"] == []
    state = _consistency(store, docs)

    # a third run does nothing, and the result equals a clean index of the same folder
    third = json.loads(run("index", str(docs), "--store", str(store), "--json", check=True).stdout)
    assert third["embedded"] == 0 and len(third["unchanged"]) == len(names)
    clean = tmp_path / "clean"
    run("index", str(docs), "--store", str(clean), "--quiet", check=True)
    assert _consistency(clean, docs) == state


@pytest.mark.slow
def test_progress_on_a_terminal_and_quiet_when_piped(tmp_path):
    import pty

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Bees\n\nBees make honey from the nectar of flowers.\n")
    (docs / "b.txt").write_text("Ants build nests underground and farm aphids.\n")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*LCMEM, "index", str(docs), "--store", str(tmp_path / "t")],
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        shown += data
    proc.wait(timeout=300)
    os.close(master)
    screen = shown.decode(errors="replace")
    assert proc.returncode == 0
    assert "files" in screen and "chunks" in screen and "2/2" in screen

    piped = run("index", str(docs), "--store", str(tmp_path / "p"), check=True)
    assert piped.stderr == "" and "2 added" in piped.stdout
