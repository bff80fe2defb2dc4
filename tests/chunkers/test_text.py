"""TokenChunker, SentenceChunker and RecursiveChunker on small cases and real documents."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from itertools import pairwise
from pathlib import Path

import pytest

from lcmem.chunkers import RecursiveChunker, SentenceChunker, TokenChunker
from lcmem.chunkers.sentences import split_sentences
from lcmem.chunkers.text import CODE_DEFINITIONS, LINES, Separator
from lcmem.errors import ConfigError
from lcmem.tokens import HFTokenizer, WhitespaceTokenizer
from lcmem.types import Document
from tests.chunkers.checks import check_chunks

WS = WhitespaceTokenizer()


@pytest.fixture(scope="module")
def hf() -> HFTokenizer:
    return HFTokenizer.default()


@pytest.fixture(scope="module")
def man_ls() -> str:
    """The ``ls`` manual page as plain text (built on the machine, nothing downloaded)."""
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    env = {"PATH": "/usr/bin:/bin", "MANWIDTH": "80", "LANG": "C.UTF-8"}
    run = subprocess.run(["man", "-P", "cat", "ls"], capture_output=True, text=True, env=env)
    if run.returncode != 0 or "--all" not in run.stdout:
        pytest.skip("the ls manual page is not installed")
    return run.stdout


@pytest.fixture(scope="module")
def stdlib_source() -> str:
    return Path(textwrap.__file__).read_text(encoding="utf-8")


PROSE = (
    "Chunking splits long documents. Each chunk is an exact span of the source!\n"
    "Dr. Who paid $3.50, i.e. not much. Did it work? Yes... it did.\n\n"
    "A second paragraph follows here. It has three sentences. The last one is short.\n"
)


# -- TokenChunker -----------------------------------------------------------------------------


def test_token_windows_and_overlap_whitespace():
    chunks = TokenChunker(4, 2, tokenizer=WS).chunk("a b c d e f g h i")
    assert [c.text for c in chunks] == ["a b c d", "c d e f", "e f g h", "g h i"]
    assert [c.token_count for c in chunks] == [4, 4, 4, 3]


def test_token_windows_follow_model_tokens(hf):
    text = "Retrieval augmented generation combines search with language models. " * 20
    chunker = TokenChunker(32, 8, tokenizer=hf)
    chunks = check_chunks(chunker, text)
    offsets = hf.offsets(text)
    starts = [a for a, _ in offsets]
    # Every chunk starts on a token and all but the last are full windows.
    assert all(c.start in starts for c in chunks)
    assert all(c.token_count == 32 for c in chunks[:-1])
    # Consecutive windows share exactly chunk_overlap tokens.
    for a, b in pairwise(chunks):
        shared = [s for s in starts if b.start <= s < a.end]
        assert len(shared) == 8


def test_token_chunker_keeps_characters_the_tokenizer_skips(hf):
    text = "alpha \u200b beta \u0301 gamma " * 30  # zero-width space, lone combining mark
    chunks = check_chunks(TokenChunker(5, 1, tokenizer=hf), text)
    assert "".join(c.text for c in chunks).count("\u200b") >= 30


# -- SentenceChunker --------------------------------------------------------------------------


def test_sentence_chunks_are_whole_sentences(hf):
    chunker = SentenceChunker(30, 10, tokenizer=hf)
    chunks = check_chunks(chunker, PROSE)
    bounds = {a for a, _ in split_sentences(PROSE)} | {b for _, b in split_sentences(PROSE)}
    for c in chunks:
        assert c.start in bounds and c.end in bounds, c.text


def test_sentence_overlap_is_trailing_whole_sentences():
    text = "Aa bb cc. Dd ee. Ff gg hh. Ii jj."
    chunks = SentenceChunker(5, 2, tokenizer=WS).chunk(text)
    # "Ff gg hh." (3 tokens) is more than the overlap, so the last chunk starts afresh.
    assert [c.text for c in chunks] == ["Aa bb cc. Dd ee.", "Dd ee. Ff gg hh.", "Ii jj."]


def test_sentence_longer_than_budget_is_cut_at_tokens():
    long = " ".join(f"w{i}" for i in range(25)) + "."
    text = f"Short one. {long} Another short."
    chunks = check_chunks(SentenceChunker(10, 0, tokenizer=WS), text)
    assert chunks[0].text == "Short one."
    assert chunks[-1].text == "Another short."
    assert [c.token_count for c in chunks[1:-1]] == [10, 10, 5]


# -- RecursiveChunker -------------------------------------------------------------------------


def test_recursive_prefers_paragraphs_then_sentences():
    chunker = RecursiveChunker(14, 0, tokenizer=WS)
    chunks = check_chunks(chunker, PROSE)
    assert chunks[-1].text == PROSE.split("\n\n")[1].strip()
    assert all(c.text.endswith((".", "!", "?")) for c in chunks)


def test_recursive_overlap_in_tokens():
    text = "one two three four five six seven eight nine ten eleven twelve"
    chunks = check_chunks(RecursiveChunker(5, 2, tokenizer=WS), text)
    assert [c.text for c in chunks] == [
        "one two three four five",
        "four five six seven eight",
        "seven eight nine ten eleven",
        "ten eleven twelve",
    ]


def test_recursive_custom_separators():
    chunker = RecursiveChunker(3, 0, tokenizer=WS, separators=[";", re.compile(r",\s*")])
    text = "a b; c d, e f g; h"
    chunks = check_chunks(chunker, text)
    assert [c.text for c in chunks] == ["a b;", "c d,", "e f g;", "h"]
    assert chunker.config()["separators"] == ["literal:;", "re:,\\s*"]
    assert RecursiveChunker(3, 0, tokenizer=WS, separators=[LINES]).separators == (LINES,)


@pytest.mark.parametrize("bad", ["", 3, None])
def test_bad_separator_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        RecursiveChunker(10, 0, tokenizer=WS, separators=[bad])
    with pytest.raises(ConfigError):
        Separator.of(bad)


def test_single_separator_string_is_a_config_error():
    with pytest.raises(ConfigError, match="list of separators"):
        RecursiveChunker(10, 0, tokenizer=WS, separators="\n")


def test_huge_word_is_cut_at_tokens(hf):
    text = "start " + "abcdefghij" * 9 + " end"  # a 90-character word, several model tokens
    chunks = check_chunks(RecursiveChunker(4, 0, tokenizer=hf), text)
    assert max(c.token_count for c in chunks) <= 4
    assert len(chunks) > 2


def test_config_names_what_changes_output(hf):
    cfg = RecursiveChunker(100, 10, tokenizer=hf).config()
    assert cfg == {
        "name": "recursive",
        "chunk_size": 100,
        "overlap": 10,
        "tokenizer": "all-MiniLM-L6-v2",
        "separators": ["paragraphs", "lines", "sentences", "words"],
        "max_chars": 1600,
        "min_tokens": 25,
    }
    assert TokenChunker(100, 10, tokenizer=WS).config()["tokenizer"] == "whitespace"
    assert SentenceChunker(100, 10, tokenizer=WS).config()["name"] == "sentence"


# -- real documents ---------------------------------------------------------------------------


@pytest.mark.parametrize("factory", [TokenChunker, SentenceChunker, RecursiveChunker])
def test_man_page(man_ls, hf, factory):
    chunks = check_chunks(factory(96, 16, tokenizer=hf), Document(text=man_ls, path="ls.1"))
    assert len(chunks) > 5
    assert all(c.doc_path == "ls.1" for c in chunks)


def test_man_page_recursive_cuts_between_lines(man_ls, hf):
    chunks = check_chunks(RecursiveChunker(96, 0, tokenizer=hf), man_ls)
    for c in chunks:
        assert c.start == 0 or man_ls[c.start - 1].isspace()
        assert c.end == len(man_ls) or man_ls[c.end].isspace()
    # Option entries stay with their description when they fit.
    all_entry = next(c for c in chunks if "--all" in c.text)
    assert "do not ignore entries starting with" in all_entry.text


def test_python_source_for_code_starts_chunks_at_definitions(stdlib_source, hf):
    chunker = RecursiveChunker.for_code(200, 0, tokenizer=hf)
    chunks = check_chunks(chunker, Document(text=stdlib_source, metadata={"kind": "code"}))
    firsts = [c.text.splitlines()[0] for c in chunks]
    assert "class TextWrapper:" in firsts
    assert any(line.startswith("def wrap(") for line in firsts)
    for c in chunks:
        assert c.start == 0 or stdlib_source[c.start - 1] in " \n"
    # The generic chunker does not know about definitions; the code preset starts more
    # chunks on one.
    plain = RecursiveChunker(200, 0, tokenizer=hf).chunk(stdlib_source)
    defs = re.compile(r"(def|class|@)")
    assert sum(bool(defs.match(f)) for f in firsts) > sum(bool(defs.match(c.text)) for c in plain)


@pytest.mark.parametrize("factory", [TokenChunker, SentenceChunker, RecursiveChunker])
def test_python_source_all_chunkers(stdlib_source, hf, factory):
    check_chunks(factory(128, 16, tokenizer=hf), stdlib_source)


@pytest.mark.parametrize(
    ("source", "starts"),
    [
        (
            "import os\n\n\n@cache\ndef a():\n    x = 1\n\n    def inner():\n        pass\n\n"
            "async def b():\n    pass\n\nclass C:\n    pass\n",
            ["@cache", "async def b", "class C"],
        ),
        (
            'package main\n\nimport "fmt"\n\nfunc a() {\n\tx := 1\n\n\treturn\n}\n\n'
            "func (s *S) b() {}\n\ntype T struct{}\n",
            ["func a", "func (s", "type T"],
        ),
        (
            "use std::io;\n\npub fn a() {}\n\nimpl S {\n    fn b() {}\n\n    fn c() {}\n}\n\n"
            "pub(crate) struct P;\n",
            ["pub fn a", "impl S", "pub(crate) struct"],
        ),
        (
            "const x = 1;\n\nexport default function f() {}\n\nexport class K {}\n\n"
            "function g() {\n\n  return 1;\n}\n",
            ["export default function", "export class", "function g"],
        ),
    ],
)
def test_code_definition_separator(source, starts):
    cuts = CODE_DEFINITIONS.cuts(source, 0, len(source))
    lines = [source[c:].split("\n", 1)[0] for c in cuts]
    assert len(lines) == len(starts)
    assert all(line.startswith(s) for line, s in zip(lines, starts, strict=True)), lines
