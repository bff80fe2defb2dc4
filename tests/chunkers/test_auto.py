"""AutoChunker dispatch, get_chunker, and the package's exports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import lcmem.chunkers as chunkers
from lcmem.chunkers import (
    AutoChunker,
    Chunker,
    CodeChunker,
    MarkdownChunker,
    RecursiveChunker,
    SentenceChunker,
    TokenChunker,
    get_chunker,
)
from lcmem.errors import ConfigError
from lcmem.tokens import WhitespaceTokenizer
from lcmem.types import Document
from tests.chunkers.checks import check_chunks

WS = WhitespaceTokenizer()
MARKDOWN = "# Guide\n\nSome text.\n\n## Part\n\nMore text.\n"
CODE = "import os\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return 2\n"


def test_dispatch_by_kind():
    auto = AutoChunker(200, 0, tokenizer=WS)
    assert type(auto.for_kind("markdown")) is MarkdownChunker
    assert type(auto.for_kind("code")) is CodeChunker
    for kind in ("rst", "text", "html", "pdf", None, "something-else"):
        chosen = auto.for_kind(kind)
        assert type(chosen) is RecursiveChunker
        assert chosen.config()["separators"][0] == "paragraphs"
    assert auto.for_kind("markdown") is auto.for_kind("markdown")  # built once
    sub = auto.for_kind("text")
    assert (sub.chunk_size, sub.chunk_overlap, sub.tokenizer) == (200, 0, WS)


def test_markdown_documents_get_heading_context():
    auto = AutoChunker(5, 0, tokenizer=WS)
    chunks = check_chunks(auto, Document(text=MARKDOWN, path="g.md", metadata={"kind": "markdown"}))
    assert [c.context for c in chunks] == ["Guide", "Guide > Part"]
    assert all(c.doc_path == "g.md" for c in chunks)
    plain = check_chunks(auto, Document(text=MARKDOWN, metadata={"kind": "text"}))
    assert all(c.context == "" for c in plain)


def test_code_documents_split_at_definitions():
    auto = AutoChunker(4, 0, tokenizer=WS)
    chunks = check_chunks(auto, Document(text=CODE, metadata={"kind": "code"}))
    assert [c.text.split("\n")[0] for c in chunks] == ["import os", "def a():", "def b():"]


def test_config_is_json_and_names_every_sub_chunker():
    cfg = AutoChunker(128, 16, tokenizer=WS).config()
    json.dumps(cfg)
    assert cfg["name"] == "auto" and cfg["chunk_size"] == 128 and cfg["overlap"] == 16
    assert cfg["tokenizer"] == "whitespace"
    assert set(cfg["by_kind"]) == {"markdown", "code", "text"}
    assert cfg["by_kind"]["markdown"]["name"] == "markdown"


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("auto", AutoChunker),
        ("token", TokenChunker),
        ("sentence", SentenceChunker),
        ("recursive", RecursiveChunker),
        ("markdown", MarkdownChunker),
        ("code", CodeChunker),
    ],
)
def test_get_chunker(name, cls):
    chunker = get_chunker(name, chunk_size=64, chunk_overlap=8, tokenizer=WS)
    assert type(chunker) is cls and isinstance(chunker, Chunker)
    assert (chunker.chunk_size, chunker.chunk_overlap) == (64, 8)
    assert chunker.config()["name"] == name
    json.dumps(chunker.config())


def test_unknown_chunker_lists_the_valid_names():
    with pytest.raises(ConfigError) as err:
        get_chunker("semantic")
    for name in ("auto", "token", "sentence", "recursive", "markdown"):
        assert name in str(err.value)


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="bad option"):
        get_chunker("token", size=3)
    with pytest.raises(ConfigError, match="chunk_overlap"):
        get_chunker("recursive", chunk_size=10, chunk_overlap=10)


def test_exports_and_light_import():
    assert set(chunkers.__all__) == {
        "Chunker",
        "CodeChunker",
        "TopicChunker",
        "TokenChunker",
        "SentenceChunker",
        "RecursiveChunker",
        "MarkdownChunker",
        "AutoChunker",
        "get_chunker",
    }
    code = (
        "import sys, lcmem.chunkers\n"
        "heavy = {'tokenizers', 'markdown_it', 'torch', 'numpy', 'transformers', 'tree_sitter'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
