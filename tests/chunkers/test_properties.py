"""Property tests: every chunker keeps its invariants on random and adversarial text, with
both the whitespace tokenizer and the real packaged Hugging Face tokenizer."""

from __future__ import annotations

from functools import partial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcmem.chunkers import (
    AutoChunker,
    CodeChunker,
    MarkdownChunker,
    RecursiveChunker,
    SentenceChunker,
    TokenChunker,
)
from lcmem.chunkers.topic import TopicChunker
from lcmem.tokens import HFTokenizer, WhitespaceTokenizer
from lcmem.types import Document
from tests.chunkers.checks import HashEmbedder, check_chunks

TOKENIZERS = {"whitespace": WhitespaceTokenizer(), "hf": HFTokenizer.default()}

FACTORIES = {
    "token": TokenChunker,
    "sentence": SentenceChunker,
    "recursive": RecursiveChunker,
    "code": RecursiveChunker.for_code,
    "markdown": MarkdownChunker,
    "auto": AutoChunker,
    "ast-python": partial(CodeChunker, language="python"),
    "ast-javascript": partial(CodeChunker, language="javascript"),
}
FACTORIES["topic"] = lambda size, overlap, tok: TopicChunker(size, overlap, tok, HashEmbedder())

FRAGMENTS = [
    "word",
    "Hello, world.",
    "Dr. Smith paid $3.50, i.e. a lot.",
    "Really?! Yes... no.",
    '"Quoted." Then',
    " ",
    "\n",
    "\n\n",
    "\n\n\n   \n",
    "\t",
    "x" * 300,
    "supercalifragilisticexpialidocious" * 5,
    "unaffable",
    "🦛🦛🦛",
    "👩‍👩‍👧",
    "e\u0301\u0301",
    "\u0301",
    "\u200b",
    "你好。我很好！",
    "# Title\n",
    "Setext\n======\n",
    "Sub\n---\n",
    "## Install `x`\n\n",
    "### Deep\n",
    "```python\ndef f():\n    return 1\n```\n",
    "```\nunclosed fence\n",
    "~~~\ntilde\n~~~\n",
    "    indented code\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n",
    "- item\n  - nested\n    - deeper\n- next\n",
    "1. one\n2. two\n",
    "> quote\n> more\n",
    "<div>\n<p>html</p>\n</div>\n",
    "---\ntitle: x\n---\n",
    "[ref]: http://example.com\n",
    "def f(x):\n    return x\n\n",
    "class A:\n    pass\n\n\n",
    "fn main() {}\n",
    "@decorator\ndef g(a, b):\n    'doc'\n    if a:\n        return b\n",
    "async def h():\n\tawait x  # 🦛\n",
    "class Ünïcode(object):\n    ß = 'straße'\n    def m(self): pass\n",
    "function f(a) {\n  if (a) { return [1, 2; }\n",
    "class K { m() { return `t ${x}`; } }\n",
    "}}}{{{(((",
    "var a=function(){return 1},b=function(){return 2};",
]

adversarial = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30)), max_size=40
).map("".join)
random_unicode = st.text(max_size=400)
budgets = st.integers(min_value=1, max_value=40).flatmap(
    lambda size: st.tuples(st.just(size), st.integers(min_value=0, max_value=size - 1))
)
kinds = st.sampled_from([None, "markdown", "code", "text", "pdf"])

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("kind", FACTORIES)
@SETTINGS
@given(text=st.one_of(adversarial, random_unicode), budget=budgets, doc_kind=kinds)
def test_invariants(kind, tok_name, text, budget, doc_kind):
    size, overlap = budget
    chunker = FACTORIES[kind](size, overlap, TOKENIZERS[tok_name])
    doc = Document(text=text, path="x", metadata={"kind": doc_kind} if doc_kind else {})
    chunks = check_chunks(chunker, doc)
    if kind in ("token", "sentence", "recursive", "code"):
        assert all(c.context == "" for c in chunks)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("kind", FACTORIES)
@settings(SETTINGS, max_examples=40)
@given(text=adversarial, size=st.integers(min_value=50, max_value=300))
def test_invariants_realistic_budgets(kind, tok_name, text, size):
    chunker = FACTORIES[kind](size, size // 10, TOKENIZERS[tok_name])
    check_chunks(chunker, Document(text=text * 3, metadata={"kind": "markdown"}))


@pytest.mark.parametrize("kind", FACTORIES)
@pytest.mark.parametrize("text", ["", " ", "\n\n\n", " \t\n \u3000\n"])
def test_blank_documents_give_no_chunks(kind, text):
    chunker = FACTORIES[kind](10, 2, WhitespaceTokenizer())
    assert chunker.chunk(text) == []


ADVERSARIAL_DOCS = {
    "no-spaces": "abcdefghij" * 2000,
    "no-spaces-short-words": "ab.cd,ef;" * 1500,
    "only-newlines": "\n" * 5000,
    "newlines-and-dots": ".\n" * 3000,
    "emoji": "🦛👩‍👩‍👧🎉" * 800,
    "combining": "e\u0301\u0302a\u0303" * 1000,
    "cjk": "你好世界。这是一个测试！" * 400,
    "one-long-line": "word " * 4000,
    "deep-list": "".join("  " * i + f"- level {i}\n" for i in range(60)),
    "fence-only": "```\n" + "x = 1\n" * 2000,
    "huge-table": "| a | b |\n|---|---|\n" + "| 1 | 2 |\n" * 1500,
    "heading-storm": "".join(f"{'#' * (i % 6 + 1)} h{i}\n" for i in range(600)),
}


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("kind", FACTORIES)
@pytest.mark.parametrize("name", ADVERSARIAL_DOCS)
def test_adversarial_documents(kind, tok_name, name):
    chunker = FACTORIES[kind](64, 8, TOKENIZERS[tok_name])
    doc = Document(text=ADVERSARIAL_DOCS[name], metadata={"kind": "markdown"})
    chunks = check_chunks(chunker, doc)
    assert bool(chunks) == bool(doc.text.strip())


class _Broken(TokenChunker):
    """A test double that breaks one invariant on purpose."""

    def __init__(self, flaw: str) -> None:
        super().__init__(3, 0, WhitespaceTokenizer())
        self.flaw = flaw

    def _chunk(self, doc):
        chunks = super()._chunk(doc)
        c = chunks[0]
        if self.flaw == "drop":
            return chunks[1:]
        if self.flaw == "untrimmed":
            c.end += 1
            c.text = doc.text[c.start : c.end]
        if self.flaw == "count":
            c.token_count += 1
        if self.flaw == "budget":
            c.end = chunks[1].end
            c.text = doc.text[c.start : c.end]
            c.token_count = self.tokenizer.count(c.text)
            return [c, *chunks[2:]]
        if self.flaw == "order":
            return chunks[::-1]
        return chunks


@pytest.mark.parametrize("flaw", ["drop", "untrimmed", "count", "budget", "order"])
def test_the_checks_catch_a_broken_chunker(flaw):
    with pytest.raises(AssertionError):
        check_chunks(_Broken(flaw), "a b c d e f g h i j")
