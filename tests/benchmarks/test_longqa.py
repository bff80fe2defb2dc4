"""The long-document QA generator: deterministic, facts where it says, gold answers consistent."""

from __future__ import annotations

import re

import pytest

from benchmarks.longqa import (
    KINDS,
    MIN_HOP_GAP,
    Item,
    load_filler,
    make_item,
    make_items,
    score,
    strict_score,
)


def words(text: str) -> int:
    """A cheap stand-in tokenizer (the benchmark counts in SmolLM2's)."""
    return len(text.split())


@pytest.fixture(scope="module")
def filler() -> list[str]:
    """Real man section 1 paragraphs (rendered once and cached by benchmarks/manpages.py)."""
    paras = load_filler(400)
    assert len(paras) > 100
    return paras


def _items(filler: list[str], seed: int = 0, n: int = 4, length: int = 1500) -> list[Item]:
    return [
        item
        for kind in KINDS
        for item in make_items(length, kind, n, seed=seed, filler=filler, count_tokens=words)
    ]


def test_same_seed_same_items_other_seed_other_items(filler: list[str]) -> None:
    a, b = _items(filler), _items(filler)
    assert a == b
    c = _items(filler, seed=1)
    assert [i.text for i in a] != [i.text for i in c]
    assert len({i.question for i in a}) == len(a)  # every question is its own


def test_more_items_keep_the_first_ones(filler: list[str]) -> None:
    short = make_items(1500, "two_hop", 2, seed=3, filler=filler, count_tokens=words)
    longer = make_items(1500, "two_hop", 4, seed=3, filler=filler, count_tokens=words)
    assert longer[:2] == short


@pytest.mark.parametrize("length", [600, 1500, 4000])
def test_length_is_at_most_and_near_the_target(filler: list[str], length: int) -> None:
    for item in _items(filler, n=2, length=length):
        assert item.tokens == words(item.text)
        assert 0.85 * length <= item.tokens <= length


def test_facts_are_at_their_offsets_between_sentences(filler: list[str]) -> None:
    for item in _items(filler):
        roles = [f.role for f in item.facts]
        assert roles.count("answer") == 1
        assert roles.count("bridge") == (1 if item.kind == "two_hop" else 0)
        assert len(item.facts) == (5 if item.kind == "two_hop" else 3)
        for fact in item.facts:
            assert item.text[fact.offset : fact.end] == fact.text
            # inserted as a whole sentence: after a sentence end or a paragraph break
            before = item.text[: fact.offset].rstrip(" ")
            assert before.endswith((".", "!", "?")) or item.text[: fact.offset].endswith("\n")
            assert 0.0 < item.depth(fact) < 1.0
        offsets = [f.offset for f in item.facts]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


def test_gold_answers_are_consistent(filler: list[str]) -> None:
    for item in _items(filler):
        answer = next(f for f in item.facts if f.role == "answer")
        low = item.text.casefold()
        assert item.gold in answer.text
        assert low.count(item.gold.casefold()) == 1  # only in its fact: not guessable from filler
        assert len(item.distractor_values) == 2 and item.gold not in item.distractor_values
        for value in item.distractor_values:
            assert low.count(value.casefold()) == 1
            assert not score(value, item.gold)
        assert item.question.endswith("?")
        assert item.gold.casefold() not in item.question.casefold()


def test_single_questions_name_the_entity_of_the_answer_fact(filler: list[str]) -> None:
    for item in _items(filler):
        if item.kind != "single":
            continue
        answer = next(f for f in item.facts if f.role == "answer")
        entity = _entity(item.question, answer.text)
        assert entity and entity in answer.text
        assert all(entity not in f.text for f in item.facts if f.role == "distractor")


def test_two_hop_needs_both_facts_far_apart(filler: list[str]) -> None:
    for item in _items(filler):
        if item.kind != "two_hop":
            continue
        answer = next(f for f in item.facts if f.role == "answer")
        bridge = next(f for f in item.facts if f.role == "bridge")
        entity = _entity(item.question, bridge.text)
        person = _shared_name(bridge.text, answer.text)
        assert entity and entity not in answer.text  # the answer fact alone does not answer
        assert person and person not in item.question  # the question does not name the person
        assert item.text.count(person) == 2  # bridge and answer only
        gap = abs(answer.offset - bridge.offset) / len(item.text)
        assert gap >= MIN_HOP_GAP - 0.1  # depths snap to the nearest sentence boundary


def test_scoring() -> None:
    assert score("The code is 48213.", "48213")
    assert score("tallinn", "Tallinn")
    assert not score("I do not know", "Tallinn")
    assert strict_score("Tallinn", "Tallinn", ["Riga"])
    assert not strict_score("Tallinn, or maybe Riga", "Tallinn", ["Riga"])


def test_unknown_kind_is_refused(filler: list[str]) -> None:
    with pytest.raises(ValueError, match="kind"):
        make_item(1000, "three_hop", 0, seed=0, filler=filler, count_tokens=words)


def _entity(question: str, fact: str) -> str | None:
    """The capitalised made-up word the question and the fact share."""
    for word in re.findall(r"\b[A-Z][a-z]+\b", question):
        if word not in ("What", "In") and word in fact:
            return word
    return None


def _shared_name(a: str, b: str) -> str | None:
    """The two-word person name in both sentences."""
    for m in re.finditer(r"[A-Z][a-z]+ [A-Z][a-z]+", a):
        if m.group() in b:
            return m.group()
    return None
