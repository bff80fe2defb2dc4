"""Evidence helpers: paraphrase matching, name chains, the carried unit's budget, focus."""

from __future__ import annotations

from lcmem.pipelines.evidence import (
    bridge_names,
    chain_order,
    closest_sentence,
    echoes,
    focus,
    keep_within,
    mentions,
    names,
    sentences_naming,
)
from lcmem.types import Chunk, Hit

QUESTION = "In which city was the captain of the ship Petend born?"
FACTS = [
    "Soren Lumol was born in Tarawa.",  # same first name as a distractor, other person
    "Marisa Lumol was born in Brno.",
    "The ship Petend is captained by Marisa Lumol.",
    "The ship Kora is captained by Soren Lumol.",
    "Marisa Okafor was born in Suva.",
]


def hits(texts: list[str]) -> list[Hit]:
    out, at = [], 0
    for t in texts:
        out.append(Hit(Chunk(t, at, at + len(t), doc_path="/d/x.txt"), 1.0))
        at += len(t) + 1
    return out


def test_names_are_capitalised_runs_without_function_words():
    assert names("What is the badge number of Lena Voss's team at the Naram site?") == [
        "Lena Voss",
        "Naram",
    ]
    assert names("NAME grep - print lines. The options are: -r.") == []
    assert mentions("captained by Marisa Lumol.", "marisa lumol")
    assert not mentions("captained by Marisa Lumolsen.", "Marisa Lumol")


def test_the_chain_links_whole_names_not_shared_first_names():
    order, chained = chain_order(QUESTION, FACTS)
    assert [FACTS[i] for i in order[:chained]] == [
        "The ship Petend is captained by Marisa Lumol.",
        "Marisa Lumol was born in Brno.",
    ]
    assert sorted(order) == list(range(len(FACTS)))  # every line, once
    assert chain_order("how do I rotate logs?", FACTS) == (list(range(len(FACTS))), 0)


def test_focus_keeps_the_chain_and_bridge_names_seed_the_second_hop():
    evidence = hits(FACTS)
    chosen, aside = focus(QUESTION, evidence)
    assert [h.chunk.text for h in chosen] == [FACTS[2], FACTS[1]]
    assert len(aside) == 3
    assert bridge_names(QUESTION, evidence[2:3]) == ["Marisa Lumol"]
    assert focus("how do I rotate logs?", evidence) == (evidence, [])


def test_keep_within_puts_the_chain_first_then_question_words_and_respects_the_budget():
    lines = [
        "Ships need crews.",
        "The ship Petend is captained by Marisa Lumol.",
        "A captain of a ship was born somewhere.",
        "Marisa Lumol was born in Brno.",
    ]
    words = lambda s: len(s.split())  # noqa: E731
    text = lambda h: h.chunk.text  # noqa: E731
    kept, left = keep_within(QUESTION, hits(lines), 16, words, text)
    assert [h.chunk.text for h in kept] == [lines[1], lines[3]]  # 8 + 6 words; no room for 8
    assert [h.chunk.text for h in left] == [lines[0], lines[2]]
    kept, _ = keep_within(QUESTION, hits(lines), 23, words, text)
    assert [h.chunk.text for h in kept] == [lines[1], lines[3], lines[2]]  # most question words
    assert keep_within(QUESTION, hits(lines), 2, words, text)[0] == []


def test_closest_sentence_needs_enough_shared_words_and_gives_exact_spans():
    text = "Logs rotate daily. The ship Petend is captained by Marisa Lumol. Bye now."
    passage = Chunk(text, 1000, 1000 + len(text), doc_path="/d/x.txt", line_start=7)
    found = closest_sentence("Marisa Lumol is the captain of the ship Petend", passage)
    assert found is not None
    assert found.text == "The ship Petend is captained by Marisa Lumol."
    assert found.start == 1000 + text.index("The ship") and found.line_start == 7
    assert closest_sentence("The ship sank in a storm off the coast of Chile", passage) is None
    assert closest_sentence("", passage) is None
    [s] = sentences_naming(passage, ["Marisa Lumol"])
    assert s.text == found.text and s.start == found.start
    assert sentences_naming(passage, ["Soren Lumol"]) == []


def test_a_long_restatement_points_at_a_short_fact_sentence_and_echoes_are_recognised():
    text = "Use git-archive to pack files. The archive code of project Konel is 55771."
    passage = Chunk(text, 0, len(text), doc_path="/d/k.txt")
    # 4 of the quote's 9 words (under 60%), but 4 of the sentence's 5: it points at it
    quote = 'The archive code of project Konel is a text file named "konel.txt".'
    found = closest_sentence(quote, passage)
    assert found is not None and found.text == "The archive code of project Konel is 55771."
    question = "What is the archive code of project Konel?"
    assert echoes("Question: What is the archive code of project Konel?", question)
    assert echoes("The archive code of project Konel is:", question)
    assert not echoes(quote, question)


def test_keep_within_prefers_the_chained_line_sharing_most_question_words():
    lines = [
        "The town of Elmsford sits on the river Wend.",
        "The Elmsford bridge was built in 1887 by the engineer Clara Voss.",
    ]
    words = lambda s: len(s.split())  # noqa: E731
    kept, left = keep_within(
        "Who built the Elmsford bridge?", hits(lines), 12, words, lambda h: h.chunk.text
    )
    assert [h.chunk.text for h in kept] == [lines[1]] and [h.chunk.text for h in left] == [lines[0]]
