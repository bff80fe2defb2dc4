"""`lcmem grep` as a user runs it: real subprocesses, the real packaged model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LCMEM = [sys.executable, "-m", "lcmem.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([*LCMEM, *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_grep_count_list_json_and_exit_codes(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Notes\n\nsee the  manual\nThe Manual says: é😀 manual\n")
    (docs / "b.txt").write_text("nothing here but a manual\n")
    store = str(tmp_path / "lib")
    assert run("index", str(docs), "--store", store, "--optimize").returncode == 0

    out = run("grep", "manual", "--store", store, "--count")
    assert (out.returncode, out.stdout.strip()) == (0, "3")
    out = run("grep", "manual", "--store", store, "--count", "-i")
    assert out.stdout.strip() == "4"
    out = run("grep", "the manual", "--store", store, "--count", "--normalize-whitespace")
    assert out.stdout.strip() == "1"
    out = run("grep", "manual", "--store", store, "--count", "--where", "path=*.txt")
    assert out.stdout.strip() == "1"

    lines = run("grep", "😀 manual", "--store", store).stdout.splitlines()
    assert len(lines) == 1
    path, line, column, text = lines[0].split(":", 3)
    assert Path(path).name == "a.md" and (line, column) == ("4", "19")
    assert text.strip() == "The Manual says: é😀 manual"

    data = json.loads(run("grep", "manual", "--store", store, "--json", "-k", "2").stdout)
    assert [(Path(m["path"]).name, m["line_start"]) for m in data["matches"]] == [
        ("a.md", 3),
        ("a.md", 4),
    ]
    m = data["matches"][0]
    assert (docs / "a.md").read_text()[m["start"] : m["end"]] == "manual"

    none = run("grep", "absent words", "--store", store)
    assert none.returncode == 1 and none.stdout == ""
    empty = run("grep", "", "--store", store)
    assert empty.returncode != 0 and "empty" in empty.stderr

    # status shows both exact indices (-i built the case-insensitive one), text and JSON
    text = run("status", "--store", store).stdout
    assert "exact      1 segment(s), 2 documents (0 masked)" in text
    assert "case-insensitive" in text and "merging    tiered: over 8 segments" in text
    exact = json.loads(run("status", "--store", store, "--json").stdout)["exact"]
    assert exact["variants"]["exact"]["segments"] == 1
    assert exact["variants"]["fold"]["documents"] == 2
    assert exact["variants"]["exact"]["disk_bytes"] > exact["variants"]["exact"]["text_bytes"]
    assert exact["merge_policy"]["recorded"] and not exact["variants"]["exact"]["merge_pending"]
