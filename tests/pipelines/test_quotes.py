from __future__ import annotations

from lcmem.pipelines.quotes import find_quote, split_quotes, sub_chunk, verify_quotes
from lcmem.types import Chunk

TEXT = (
    "The Elmsford bridge was built in 1887 by the engineer Clara Voss.\n"
    "It is made of red  sandstone and crosses the river Wend."
)


def test_exact_quote_is_found_at_its_span():
    m = find_quote("built in 1887", TEXT)
    assert m is not None and m.method == "exact"
    assert TEXT[m.start : m.end] == "built in 1887"


def test_case_and_whitespace_are_normalised_and_span_is_the_source_text():
    m = find_quote("it is made of RED sandstone", TEXT)
    assert m is not None and m.method == "normalised"
    assert TEXT[m.start : m.end] == "It is made of red  sandstone"


def test_a_typo_matches_fuzzily_and_the_span_is_widened_to_whole_words():
    m = find_quote("the engineer Klara Vos", TEXT)
    assert m is not None and m.method == "fuzzy" and m.score >= 90
    assert TEXT[m.start : m.end] == "the engineer Clara Voss"


def test_a_quote_cut_inside_a_word_gives_the_whole_word():
    m = find_quote("Clara Vos", TEXT)
    assert m is not None and TEXT[m.start : m.end] == "Clara Voss"


def test_hallucinated_quotes_are_not_found():
    for quote in [
        "The bridge was built in 1990 by Peter Holm.",
        "It is made of blue granite and crosses the sea.",
        "Vosz",  # short quotes must match exactly or normalised, never fuzzily
    ]:
        assert find_quote(quote, TEXT) is None


def test_verify_keeps_source_text_drops_the_rest_with_document_offsets():
    passage = Chunk(TEXT, 1000, 1000 + len(TEXT), doc_path="elms.txt", line_start=7, line_end=8)
    check = verify_quotes(
        [
            "The Elmsford bridge was built in 1887 by the engineer Clara Voss.",
            "It was paid for by the queen of Sweden in 1885.",
            "crosses the river wend",
            "crosses the river Wend.",  # the same span once normalised: not repeated
        ],
        [Chunk("unrelated text about cheese fairs", 0, 33, doc_path="other.txt"), passage],
    )
    assert check.dropped == ["It was paid for by the queen of Sweden in 1885."]
    assert [h.chunk.metadata["method"] for h in check.verified] == ["exact", "normalised", "exact"]
    for h in check.verified:
        assert h.path == "elms.txt"
        assert TEXT[h.chunk.start - 1000 : h.chunk.end - 1000] == h.chunk.text
        assert h.chunk.text in TEXT
    assert check.verified[1].chunk.line_start == 8
    detail = check.detail()
    assert detail["dropped"] == check.dropped and len(detail["verified"]) == 3


def test_split_quotes_strips_bullets_labels_and_marks():
    out = 'Sentences:\n1. "A first one."\n\n* [2] doc.txt:4-5\n- “A second one.”\n- ab\n'
    assert split_quotes(out) == ["A first one.", "A second one."]


def test_sub_chunk_keeps_offsets_and_lines():
    c = sub_chunk(Chunk("l1\nl2\nl3", 5, 13, doc_path="p", line_start=10), 3, 8)
    assert (c.text, c.start, c.end, c.line_start, c.line_end) == ("l2\nl3", 8, 13, 11, 12)


def test_with_a_library_a_quote_crossing_passages_is_found_in_one_lookup():
    from lcmem.types import Document
    from tests.pipelines.scripted import FakeLibrary, chunks_of

    doc = Document("The bridge opened in 1932. It is 503 m long and\nvery old.", path="b.txt")
    pieces = ["The bridge opened in 1932.", " It is 503 m long and\nvery old."]
    passages = chunks_of(doc, pieces)
    quote = "opened in 1932. It is 503 m"
    assert verify_quotes([quote], passages).dropped == [quote]
    check = verify_quotes([quote], passages, library=FakeLibrary([doc], passages))
    hit = check.verified[0]
    assert (hit.chunk.text, hit.chunk.start, hit.chunk.metadata["method"]) == (quote, 11, "exact")
    assert doc.text[hit.chunk.start : hit.chunk.end] == quote
