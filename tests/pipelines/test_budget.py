from __future__ import annotations

import pytest

from lcmem.errors import ConfigError
from lcmem.llm.base import user
from lcmem.pipelines.budget import LLMTokenizer, context_budget, pack_hits, shrink_to_fit
from lcmem.types import Chunk, Hit
from tests.pipelines.scripted import ScriptedLLM


def hit(path: str, start: int, words: int, rank: int) -> Hit:
    text = " ".join(["w"] * words)
    return Hit(Chunk(text, start, start + len(text), doc_path=path), 1.0 / rank, rank=rank)


def test_pack_takes_best_first_and_returns_document_order():
    hits = [
        hit("b.txt", 0, 4, rank=1),
        hit("a.txt", 50, 4, rank=2),
        hit("a.txt", 10, 30, rank=3),  # too big for what is left: skipped
        hit("a.txt", 0, 2, rank=4),  # smaller, still fits
        hit("c.txt", 0, 5, rank=5),  # over budget once the others are in
    ]
    packed, used = pack_hits(hits, ScriptedLLM(), budget=11, render=lambda h: h.text)
    assert [(h.path, h.chunk.start) for h in packed] == [("a.txt", 0), ("a.txt", 50), ("b.txt", 0)]
    assert used == 10 <= 11


def test_pack_counts_separators_and_never_exceeds_budget():
    llm = ScriptedLLM()
    hits = [hit("a", i * 100, 3, rank=i + 1) for i in range(10)]
    for budget in range(0, 30):
        packed, used = pack_hits(hits, llm, budget, render=lambda h: h.text, separator=" | ")
        rendered = " | ".join(h.text for h in packed)
        assert llm.count_tokens(rendered) == used <= budget


def test_pack_leaves_out_a_span_inside_a_chosen_one():
    outer = Hit(Chunk("a b c d", 0, 7, doc_path="x"), 1.0, rank=1)
    inner = Hit(Chunk("b c", 2, 5, doc_path="x"), 0.5, rank=2)
    packed, _ = pack_hits([outer, inner], ScriptedLLM(), 100, render=lambda h: h.text)
    assert packed == [outer]


def test_context_budget_default_is_capped_and_explicit_one_checked():
    llm = ScriptedLLM(context_window=1000)
    skeleton = [user("Question: what is up?")]
    overhead = llm.count_messages(skeleton)
    assert context_budget(llm, skeleton, max_tokens=100, cap=5000) == 1000 - overhead - 100
    assert context_budget(llm, skeleton, max_tokens=100, cap=300) == 300
    assert context_budget(llm, skeleton, max_tokens=100, budget=500) == 500
    with pytest.raises(ConfigError, match="--budget"):
        context_budget(llm, skeleton, max_tokens=100, budget=950)
    with pytest.raises(ConfigError, match="at least 1"):
        context_budget(llm, skeleton, max_tokens=100, budget=0)


def test_context_budget_refuses_a_question_too_long_for_the_window():
    llm = ScriptedLLM(context_window=100)
    with pytest.raises(ConfigError, match="shorter question"):
        context_budget(llm, [user("word " * 95)], max_tokens=10)


def test_llm_tokenizer_counts_with_the_llm_and_falls_back_to_words():
    tok = LLMTokenizer(ScriptedLLM())
    assert tok.count("a bb  ccc") == 3
    assert tok.offsets("a bb  ccc") == [(0, 1), (2, 4), (6, 9)]


def test_shrink_to_fit_drops_the_worst_ranked_until_the_joined_text_fits():
    hits = [hit("a", 0, 3, rank=2), hit("a", 10, 3, rank=1), hit("a", 20, 3, rank=3)]

    def numbered(hs):  # numbering adds a token per passage that packing did not see
        return " ".join(f"[{i}] {h.text}" for i, h in enumerate(hs))

    kept = shrink_to_fit(hits, ScriptedLLM(), 9, numbered)
    assert [h.rank for h in kept] == [2, 1]
    assert shrink_to_fit(hits, ScriptedLLM(), 3, numbered) == []
