"""Supported or marked: answers checked against their citations, else the best evidence."""

from __future__ import annotations

import pytest

from lcmem.pipelines import get_pipeline
from lcmem.pipelines.base import Answer
from lcmem.pipelines.prompts import NO_ANSWER
from lcmem.pipelines.support import (
    EXTRACTIVE_PREFIX,
    best_sentence,
    check_answer,
    check_sentence,
    supported_or_marked,
)
from lcmem.types import Chunk, Document, Hit
from tests.pipelines.scripted import FakeLibrary, ScriptedLLM, chunks_of

# The sample docs' passage that `make demo` cites (examples/docs/guide/incremental.md).
SKIPPED = (
    "## What is skipped\n\nA file whose size and modification time have not changed is not "
    "even read. A file that was touched but whose content hash is the same is not chunked "
    "again. Chunks whose text was seen before reuse the embedding cached in the database under "
    "the text's content hash, so unchanged text is never embedded twice, even when it moves to "
    "another file."
)
STORAGE = "A library on disk is one folder. It holds lcmem.db, a SQLite database."


def hits(*texts: str) -> list[Hit]:
    return [
        Hit(Chunk(t, 0, len(t), doc_path=f"d{i}.md"), 1.0, rank=i + 1) for i, t in enumerate(texts)
    ]


def test_a_copied_or_paraphrased_answer_is_supported() -> None:
    cited = hits(SKIPPED, STORAGE)
    copied = "Unchanged text is never embedded twice."
    assert check_answer("why?", copied, cited).origin == "model"
    para = "It reuses the embedding cached under the content hash of the text."
    check = check_answer("How are embeddings reused?", para, cited)
    assert check.origin == "model" and check.text == para
    assert check.sentences[0]["how"] == "overlap" and check.sentences[0]["share"] >= 0.75


def test_a_guessed_number_is_not_supported_even_with_every_word_found() -> None:
    cited = hits("The archive code of project Konel is 55771.")
    assert check_sentence(
        "The archive code of project Konel is 55771.", [c.chunk.text for c in cited]
    )["supported"]
    wrong = check_sentence("The archive code of project Konel is 94022.", [cited[0].chunk.text])
    assert not wrong["supported"]


def test_words_from_elsewhere_are_not_support() -> None:
    check = check_answer(
        "How does lcmem avoid embedding unchanged files again?",
        "Unchanged files are uploaded to a remote server every night.",
        hits(SKIPPED, STORAGE),
    )
    assert check.origin == "extractive"
    assert check.text == (
        EXTRACTIVE_PREFIX + "Chunks whose text was seen before reuse the embedding cached in the "
        "database under the text's content hash, so unchanged text is never embedded twice, "
        "even when it moves to another file."
    )
    assert check.evidence is not None and check.evidence.startswith("d0.md:")


def test_a_two_hop_answer_may_join_two_cited_facts() -> None:
    cited = hits(
        "The Naram observatory is run by Lena Voss.", "The badge number of Lena Voss is 18383."
    )
    answer = "The person who runs the Naram observatory has badge number 18383."
    assert check_answer("What is the badge number of ...?", answer, cited).origin == "model"


def test_every_sentence_must_be_supported() -> None:
    answer = "Unchanged text is never embedded twice. The cache lives on the moon, in Paris."
    check = check_answer("Is text embedded twice?", answer, hits(SKIPPED))
    assert [s["supported"] for s in check.sentences] == [True, False]
    assert check.origin == "extractive"


def test_not_found_answers_and_empty_answers_fall_back_too() -> None:
    assert check_answer("Is text embedded twice?", NO_ANSWER, hits(SKIPPED)).origin == "extractive"
    assert check_answer("Is text embedded twice?", "", hits(SKIPPED)).origin == "extractive"


def test_without_any_related_evidence_the_answer_is_not_found() -> None:
    check = check_answer("Who painted the ceiling?", "Michelangelo did.", hits(STORAGE))
    assert check.origin == "none" and check.text == NO_ANSWER


def test_headings_are_not_offered_as_the_answer() -> None:
    text = "## Files that are skipped here\nThe scan skips large files."
    found = best_sentence("Which files are skipped?", hits(text))  # both share two words
    assert found == ("The scan skips large files.", "d0.md:31-58")


def test_supported_or_marked_keeps_the_models_text_and_records_a_step() -> None:
    answer = Answer("The cache lives on the moon.", hits(SKIPPED))
    supported_or_marked(answer, "Where is the embedding cached?")
    assert answer.origin == "extractive" and answer.text.startswith(EXTRACTIVE_PREFIX)
    assert answer.model_text == "The cache lives on the moon."
    step = answer.trace.steps[-1]
    assert step.name == "check support" and step.detail["origin"] == "extractive"
    assert step.detail["sentences"][0]["supported"] is False


BEES = Document(
    "Bees make honey in summer. The hive has one queen. Wasps do not make honey. "
    "Honey keeps for years in a sealed jar.",
    path="/docs/bees.txt",
)
PIECES = [
    "Bees make honey in summer.",
    "The hive has one queen.",
    "Wasps do not make honey.",
    "Honey keeps for years in a sealed jar.",
]
QUESTION = "When do bees make honey?"


def ask(name: str, replies: list[str], **options: object) -> Answer:
    llm = ScriptedLLM(replies * 8)  # CoA's workers and manager, RtR's quote and reason steps
    pipe = get_pipeline(name, llm, **options)
    if name == "coa":
        return pipe.ask(QUESTION, documents=[BEES])
    return pipe.ask(QUESTION, library=FakeLibrary([BEES], chunks_of(BEES, PIECES)))


@pytest.mark.parametrize("name", ["rag", "rtr", "coa"])
def test_pipelines_mark_an_unsupported_answer_and_keep_a_supported_one(name: str) -> None:
    wrong = ask(name, ["Bees make honey in summer.", "Bees make honey only on Mondays at 9."])
    if name == "rag":  # one call: the reply is the answer
        wrong = ask(name, ["Bees make honey only on Mondays at 9."])
    assert wrong.origin == "extractive", wrong.trace.to_dict()
    assert wrong.text == EXTRACTIVE_PREFIX + "Bees make honey in summer."
    assert wrong.model_text == "Bees make honey only on Mondays at 9."
    assert wrong.trace.steps[-1].name == "check support"

    right = ask(name, ["Bees make honey in summer."])
    assert right.origin == "model" and right.text == "Bees make honey in summer."

    unchecked = ask(name, ["Bees make honey in summer.", "On Mondays at 9."], check_support=False)
    if name == "rag":
        unchecked = ask(name, ["On Mondays at 9."], check_support=False)
    assert unchecked.origin == "model" and unchecked.text == "On Mondays at 9."
    assert all(s.name != "check support" for s in unchecked.trace.steps)


def test_hard_wrapped_sources_give_whole_sentences() -> None:
    from pathlib import Path

    path = Path(__file__).parents[2] / "examples" / "docs" / "guide" / "incremental.md"
    whole = path.read_text(encoding="utf-8")
    start = whole.index("## What is skipped")
    text = whole[start : whole.index("## What is removed")]  # the section `make demo` cites
    hit = Hit(Chunk(text, start, start + len(text), doc_path="incremental.md"), 1.0, rank=1)
    found = best_sentence("how does lcmem avoid embedding unchanged files again?", [hit])
    assert found is not None
    sentence, span = found
    assert sentence == (
        "Chunks whose text was seen before reuse the embedding cached in the database under the "
        "text's content hash, so unchanged text is never embedded twice, even when it moves to "
        "another file."
    )
    begin, end = (int(x) for x in span.rsplit(":", 1)[1].split("-"))
    assert " ".join(whole[begin:end].split()) == sentence


def test_echoed_passage_headers_are_not_claims() -> None:
    answer = "[2] guide/incremental.md:5-10\nUnchanged text is never embedded twice."
    check = check_answer("Is text embedded twice?", answer, hits(SKIPPED))
    assert check.origin == "model" and len(check.sentences) == 1


VESSELS = (
    "The research vessel of expedition Vetravox is named Trodrodal. Logs rotate daily. "
    "The research vessel of expedition Naren is named Banadrart."
)
SHIPS = (
    "The ship Petend is captained by Soren Pohocand. Logs rotate daily. "
    "Soren Pohocand was born in Brno. Ida Mel was born in Tunis."
)


def test_the_questions_own_words_are_not_claims() -> None:
    q = "In which city was the captain of the ship Petend born?"
    # the answer's only claim is Brno: "captain" and "born" come from the question
    assert check_answer(
        q, "The captain of the ship Petend was born in Brno.", hits(SHIPS)
    ).origin == ("model")
    restated = check_answer(q, "The captain of the ship Petend was born in the city.", hits(SHIPS))
    assert restated.sentences[0]["how"] == "unchecked" and restated.origin == "extractive"


def test_a_fuzzy_quote_with_another_name_is_not_support() -> None:
    q = "What is the name of the research vessel of expedition Vetravox?"
    check = check_answer(
        q, "The research vessel of expedition Vetravox is named Banadrart.", hits(VESSELS)
    )
    assert check.origin == "extractive"
    assert (
        check.text
        == EXTRACTIVE_PREFIX + "The research vessel of expedition Vetravox is named Trodrodal."
    )
    right = check_answer(
        q, "The research vessel of expedition Vetravox is named Trodrodal.", hits(VESSELS)
    )
    assert right.origin == "model" and right.sentences[0]["how"] == "quote"


def test_a_claim_must_be_about_the_questions_names() -> None:
    q = "In which city was the captain of the ship Petend born?"
    check = check_answer(q, "The captain of the ship Petend was born in Tunis.", hits(SHIPS))
    assert check.sentences[0]["how"] == "unlinked" and check.origin == "extractive"


def test_a_fuzzy_quote_of_a_decoy_with_the_questions_name_swapped_in_is_not_support() -> None:
    # found on the test split (round 3): kv's "... project Tedon is 72908." passed as a fuzzy
    # quote of the decoy "... project Gusor is 72908."; the quote path now asks `linked` too
    decoy = "The archive code of project Gusor is 72908. Logs rotate daily."
    own = "The archive code of project Tedon is 15531."
    q = "What is the archive code of project Tedon?"
    wrong = check_answer(q, "The archive code of project Tedon is 72908.", hits(decoy, own))
    assert wrong.sentences[0]["supported"] is False
    assert wrong.origin == "extractive" and "15531" in wrong.text
    right = check_answer(q, "The archive code of project Tedon is 15531.", hits(decoy, own))
    assert right.origin == "model" and right.sentences[0]["how"] == "quote"
    # a claim that names no name of the question is not held to the rule (nothing to link)
    assert check_sentence("Project Gusor has code 72908.", [decoy], q)["supported"] is True


def test_a_two_hop_fallback_shows_the_bridge_then_the_fact_it_leads_to() -> None:
    q = "In which city was the captain of the ship Petend born?"
    check = check_answer(q, "The ship Petend was born in Brazzaville.", hits(SHIPS))
    assert check.text == EXTRACTIVE_PREFIX + (
        "The ship Petend is captained by Soren Pohocand. Soren Pohocand was born in Brno."
    )
    assert check.evidence == "d0.md:0-47, d0.md:67-99"


def test_a_bare_echoed_path_is_not_a_claim() -> None:
    q = "In which city was the captain of the ship Petend born?"
    answer = "notes-3.txt:145\nThe captain of the ship Petend was born in Brno."
    assert check_answer(q, answer, hits(SHIPS)).origin == "model"


# -- kv's citation choice (cite_supporting) ----------------------------------------------------

PAGES = [
    "The server does not ask for a password. Logs rotate daily.",  # most voted, no fact
    "The research vessel of expedition Kemafund is named Mogone.",  # a distractor
    "The ship Petend is captained by Marisa Lumol. A group can be named.",  # bridge
    "Files are hashed first. Marisa Lumol was born in Brno.",  # the answer fact
    "The research vessel of expedition Mebam is named Gekuge. More text here.",
]


def _pages() -> list[Hit]:
    out, at = [], 0
    for i, text in enumerate(PAGES):
        out.append(Hit(Chunk(text, at, at + len(text), doc_path="doc.txt"), 1.0, rank=i + 1))
        at += len(text) + 1
    return out


def test_a_right_answer_cites_the_page_it_rests_on_not_the_most_voted() -> None:
    from lcmem.pipelines.support import cite_supporting

    q = "What is the name of the research vessel of expedition Mebam?"
    cited, how = cite_supporting(q, "The vessel of expedition Mebam is named Gekuge.", _pages(), 3)
    assert how["chosen"] == "supported" and how["from"] == 5
    assert cited[0].chunk.text == PAGES[4] and [h.rank for h in cited] == [1, 2, 3]
    assert len(cited) == 3  # filled with the best others
    assert check_answer(q, "The vessel of expedition Mebam is named Gekuge.", cited).origin == (
        "model"
    )


def test_a_distractor_s_value_is_not_support_and_the_evidence_is_cited() -> None:
    from lcmem.pipelines.support import cite_supporting

    q = "What is the name of the research vessel of expedition Mebam?"
    wrong = "The research vessel of expedition Mebam is named Mogone."
    cited, how = cite_supporting(q, wrong, _pages(), 2)
    assert how["chosen"] == "evidence"
    assert cited[0].chunk.text == PAGES[4]
    shown = check_answer(q, wrong, cited)
    assert shown.origin == "extractive" and "Gekuge" in shown.text


def test_a_two_hop_answer_cites_the_bridge_and_the_answer_fact() -> None:
    from lcmem.pipelines.support import cite_supporting

    q = "In which city was the captain of the ship Petend born?"
    right = "The captain of the ship Petend was born in Brno."
    cited, how = cite_supporting(q, right, _pages(), 1)
    assert how["chosen"] == "supported"
    assert {h.chunk.text for h in cited} == {PAGES[2], PAGES[3]}  # more than the limit of 1
    assert check_answer(q, right, cited).origin == "model"
    cited, how = cite_supporting(q, "The captain was born in Manaus.", _pages(), 1)
    assert how["chosen"] == "evidence" and cited[0].chunk.text == PAGES[2]


def test_supporting_names_the_texts_or_none() -> None:
    from lcmem.pipelines.support import supporting

    texts = [p for p in PAGES]
    q = "In which city was the captain of the ship Petend born?"
    assert supporting("It was Brno.", texts, q) == [3]  # claims only "Brno", no name: alone
    assert supporting("The captain of the ship Petend was born in Brno.", texts, q) == [2, 3]
    assert supporting("The captain of the ship Petend was born in Rome.", texts, q) is None
    assert supporting("The ship Petend.", texts, q) == []  # claims nothing the question lacks


def test_an_answer_that_claims_nothing_cites_the_evidence() -> None:
    from lcmem.pipelines.support import cite_supporting

    q = "What is the name of the research vessel of expedition Mebam?"
    cited, how = cite_supporting(q, "The research vessel of expedition Mebam.", _pages(), 1)
    assert how["chosen"] == "evidence" and cited[0].chunk.text == PAGES[4]
    cited, how = cite_supporting("Zzz qqq?", "Nothing.", _pages(), 2)
    assert how["chosen"] == "first" and [h.chunk.text for h in cited] == PAGES[:2]
