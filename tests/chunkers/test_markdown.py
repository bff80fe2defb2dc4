"""MarkdownChunker on a README-like document and on awkward Markdown."""

from __future__ import annotations

import pytest

from lcmem.chunkers import MarkdownChunker
from lcmem.errors import ConfigError
from lcmem.tokens import HFTokenizer, WhitespaceTokenizer
from lcmem.types import Document
from tests.chunkers.checks import check_chunks

WS = WhitespaceTokenizer()

INSTALL_FENCE = """```bash
git clone https://example.com/lcmem.git
cd lcmem
make install PREFIX=/usr/local
```"""

USAGE_FENCE = """```python
import lcmem

lib = lcmem.open("./.lcmem")
lib.index(["./docs"])
for hit in lib.search("how do I configure the store?", k=5):
    print(hit.path, hit.score)
```"""

OPTIONS_TABLE = """| Option | Default | Meaning |
|--------|---------|---------|
| `--chunk-size` | 200 | Tokens per chunk, counted with the embedder's tokenizer. |
| `--overlap` | 20 | Tokens shared by consecutive chunks. |
| `--mode` | hybrid | One of dense, bm25 or hybrid. |"""

README = f"""---
title: lcmem
tags: [retrieval, memory]
---

lcmem
=====

Retrieval and memory for documents longer than any context window. It chunks a folder of
documents, embeds the chunks, and keeps a hybrid index that a pipeline can query.

## Install

You need Python 3.11 or later. Pick one of the two ways below.

### From source

Clone the repository and install it with make. This builds the package and installs the
command line tool.

{INSTALL_FENCE}

### From pip

```
pip install lcmem
```

## Usage

Open a library, index a folder, then search it. Every hit cites an exact span.

{USAGE_FENCE}

Options
-------

{OPTIONS_TABLE}

<details>
<summary>Advanced</summary>
Environment variables override the options above.
</details>

## Notes

- Indexing is incremental:
  - unchanged files are skipped;
  - deleted files leave every index.
- Nothing is downloaded at run time.

[home]: https://example.com/lcmem
"""


@pytest.fixture(scope="module")
def hf() -> HFTokenizer:
    return HFTokenizer.default()


def containing(chunks, needle):
    found = [c for c in chunks if needle in c.text]
    assert found, f"no chunk contains {needle!r}"
    return found


@pytest.mark.parametrize("size", [120, 200, 400])
def test_readme_fences_and_tables_stay_whole(hf, size):
    chunks = check_chunks(MarkdownChunker(size, 10, tokenizer=hf), README)
    for block in (INSTALL_FENCE, USAGE_FENCE, OPTIONS_TABLE):
        assert hf.count(block) <= size
        containing(chunks, block)  # the whole block lies in one chunk
    # Nothing is lost, including the link reference definition the parser consumes.
    containing(chunks, "[home]: https://example.com/lcmem")


def test_readme_context_trails(hf):
    chunks = check_chunks(MarkdownChunker(60, 0, tokenizer=hf), README)
    assert containing(chunks, "make install")[0].context == "lcmem > Install > From source"
    assert containing(chunks, "pip install lcmem")[0].context == "lcmem > Install > From pip"
    assert containing(chunks, "lib.search")[0].context == "lcmem > Usage"
    assert containing(chunks, "--overlap")[0].context == "lcmem > Options"
    assert containing(chunks, "Environment variables")[0].context == "lcmem > Options"
    notes = containing(chunks, "deleted files")[0]
    assert notes.context == "lcmem > Notes"
    assert notes.metadata == {"headings": ["lcmem", "Notes"], "heading_level": 2}
    front = containing(chunks, "title: lcmem")[0]
    assert front.context == "" and front.metadata["front_matter"] is True
    assert front.text.startswith("---") and front.text.endswith("---")


def test_readme_sections_do_not_share_chunks(hf):
    chunks = check_chunks(MarkdownChunker(400, 0, tokenizer=hf), README)
    # H2 (used several times) is the top level: no chunk runs from one H2 section into another.
    for a, b in [
        ("make install", "lib.search"),
        ("lib.search", "--overlap"),
        ("Environment variables", "deleted files"),
    ]:
        assert not [c for c in chunks if a in c.text and b in c.text]
    # The two small subsections of Install fit together: the chunk's context is their parent.
    both = containing(chunks, "make install")[0]
    assert "pip install lcmem" in both.text
    assert both.context == "lcmem > Install"
    assert both.metadata["heading_level"] == 2


def test_heading_stays_with_its_text(hf):
    for size in (30, 60, 120):
        chunks = check_chunks(MarkdownChunker(size, 0, tokenizer=hf), README)
        for c in chunks:
            last_line = c.text.rsplit("\n", 1)[-1]
            assert not last_line.startswith("#"), f"chunk ends with a heading: {c.text!r}"
            assert c.text not in ("Options\n-------", "lcmem\n=====")


def test_section_level_option(hf):
    text = "# A\n\none\n\n## B\n\ntwo\n\n## C\n\nthree\n"
    auto = MarkdownChunker(200, 0, tokenizer=WS).chunk(text)
    assert [c.context for c in auto] == ["A", "A > B", "A > C"]
    one = MarkdownChunker(200, 0, tokenizer=WS, section_level=1).chunk(text)
    assert [c.text for c in one] == [text.strip()]
    with pytest.raises(ConfigError):
        MarkdownChunker(200, 0, tokenizer=WS, section_level=7)


def test_fence_larger_than_budget_is_split_between_lines(hf):
    body = "\n".join(f"    value_{i} = compute({i}, option={i * 7})" for i in range(80))
    text = f"# Code\n\nIntro.\n\n```python\ndef big():\n{body}\n```\n\nAfter.\n"
    chunks = check_chunks(MarkdownChunker(64, 0, tokenizer=hf), text)
    fence_start = text.index("```python")
    fence_end = text.index("```\n\nAfter") + 3
    parts = [c for c in chunks if c.start < fence_end and c.end > fence_start]
    assert len(parts) > 2
    for c in parts:
        line_start = text.rfind("\n", 0, c.start) + 1
        assert not text[line_start : c.start].strip(), "a part starts mid-line"
        assert c.end == len(text) or text[c.end] == "\n", "a part ends mid-line"
        assert c.context == "Code"


def test_table_larger_than_budget_is_split_between_rows():
    rows = "\n".join(f"| row {i} | value {i} |" for i in range(40))
    text = f"## Data\n\n| name | value |\n|---|---|\n{rows}\n"
    chunks = check_chunks(MarkdownChunker(30, 0, tokenizer=WS), text)
    assert len(chunks) > 3
    for c in chunks:
        assert c.text.endswith("|") and c.context == "Data"


def test_long_list_is_split_between_items():
    items = "\n".join(f"- item {i} has a few words in it" for i in range(30))
    text = f"# List\n\n{items}\n"
    chunks = check_chunks(MarkdownChunker(40, 0, tokenizer=WS), text)
    assert len(chunks) > 3
    for c in chunks[1:]:
        assert c.text.startswith("- item")
    assert chunks[0].text.startswith("# List\n\n- item 0")


def test_long_paragraph_is_split_by_sentences():
    para = " ".join(f"Sentence number {i} is here." for i in range(40))
    chunks = check_chunks(MarkdownChunker(30, 0, tokenizer=WS), f"# T\n\n{para}\n")
    assert len(chunks) > 3
    assert all(c.text.endswith(".") for c in chunks)
    assert chunks[0].text.startswith("# T\n\nSentence number 0")


def test_overlap_between_blocks_of_one_section():
    paras = "\n\n".join(f"Para {i} a b c." for i in range(6))
    chunks = check_chunks(MarkdownChunker(12, 5, tokenizer=WS), f"## S\n\n{paras}\n")
    texts = [c.text for c in chunks]
    assert texts[0] == "## S\n\nPara 0 a b c.\n\nPara 1 a b c."
    assert texts[1].startswith("Para 1 a b c.")  # one paragraph of overlap


@pytest.mark.parametrize(
    "text",
    [
        "```\nnever closed\n\n# not a heading\n",
        "- a\n  - b\n    - c\n      - d\n\n1. x\n   > quote\n",
        "| a |\n|---|\n| 1 |\n\n| broken\n|--\n",
        "---\nonly: front matter\n---\n",
        "---\nnot closed front matter\n",
        "Title\n===\n\nSub\n---\n\ntext\n",
        "<div>\n\n*md inside*\n\n</div>\n",
        "#\n\n# \n\n##\n",
        "\u00a0\n\x1c\n#\u2028x\n",
        "a\rb\r\n# h\r\n",
    ],
)
def test_awkward_markdown(hf, text):
    for tok in (WS, hf):
        for size in (1, 3, 50):
            check_chunks(MarkdownChunker(size, size // 3, tokenizer=tok), text)


def test_unclosed_fence_swallows_the_rest():
    text = "# A\n\nintro\n\n```\ncode\n# not a heading\n"
    chunks = MarkdownChunker(200, 0, tokenizer=WS).chunk(text)
    assert [c.context for c in chunks] == ["A"]


def test_metadata_and_path():
    doc = Document(text="# One\n\n## Two\n\ntext\n", path="/docs/a.md")
    (chunk,) = MarkdownChunker(100, 0, tokenizer=WS).chunk(doc)
    assert chunk.context == "One > Two"
    assert chunk.metadata == {"headings": ["One", "Two"], "heading_level": 2, "short": True}
    assert chunk.doc_path == "/docs/a.md"


def test_heading_titles_are_plain_text():
    text = "# Install `lcmem` from [source](http://x) *now*\n\ntext\n"
    (chunk,) = MarkdownChunker(100, 0, tokenizer=WS).chunk(text)
    assert chunk.context == "Install lcmem from source now"


def test_config():
    cfg = MarkdownChunker(100, 0, tokenizer=WS).config()
    assert cfg["name"] == "markdown" and cfg["section_level"] == "auto"
    assert cfg["tokenizer"] == "whitespace"
