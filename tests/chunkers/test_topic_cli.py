"""``topic`` by name: get_chunker, the CLI's --chunker choice, and an end-to-end index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lcmem.chunkers import AutoChunker, TopicChunker, get_chunker
from lcmem.tokens import WhitespaceTokenizer

PASTA = (
    "Bring a large pot of salted water to a rolling boil before adding the pasta. "
    "Stir the spaghetti during the first minute so the strands do not stick together. "
    "Taste the pasta a minute before the time on the packet; it should still be firm. "
    "Keep a cup of the starchy cooking water to loosen the tomato sauce later. "
    "Drain the noodles, toss them with the sauce and grated parmesan, and serve at once. "
)
NETWORK = (
    "Assign a static IP address to the ethernet interface in the netplan configuration. "
    "Set the default gateway and the DNS servers the host should query for names. "
    "Apply the configuration and check the routing table with the ip route command. "
    "If the link stays down, inspect the kernel log for driver errors on the network card. "
    "Restart the resolver service when name lookups still fail after the change. "
)


def test_get_chunker_builds_a_topic_chunker():
    chunker = get_chunker("topic", chunk_size=64, tokenizer=WhitespaceTokenizer())
    assert isinstance(chunker, TopicChunker)
    assert chunker.chunk_size == 64


def test_auto_never_picks_topic():
    auto = AutoChunker(tokenizer=WhitespaceTokenizer())
    for kind in ("text", "rst", "html", "pdf", None):
        assert auto.for_kind(kind).name == "recursive"


@pytest.mark.slow
def test_cli_index_with_chunker_topic(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text((PASTA * 2) + "\n\n" + (NETWORK * 2), encoding="utf-8")
    store = tmp_path / "store"
    env = {**os.environ, "COLUMNS": "120"}

    def lcmem(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "lcmem.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )

    out = lcmem("index", str(docs), "--store", str(store), "--chunker", "topic", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["errors"] == []
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["chunker"]["name"] == "topic"
    # The topic chunker cut between the two subjects: a hit about one holds none of the other.
    found = lcmem("search", "how long to boil spaghetti", "--store", str(store), "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    hits = hits["hits"] if isinstance(hits, dict) else hits
    top = hits[0]["text"]
    assert "pasta" in top and "gateway" not in top
