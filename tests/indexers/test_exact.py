"""ExactIndex: counts and spans equal to a brute-force scan, across segments, masks and merges."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcmem.errors import ConfigError, EmptyQueryError, IndexCorruptError
from lcmem.indexers import exact
from lcmem.indexers.exact import ExactDoc, ExactIndex, fold, to_chars
from lcmem.indexers.exact_merge import MergePolicy


def brute_count(texts: list[str], pattern: str) -> int:
    """Overlapping occurrences, by str.find from every start."""
    total = 0
    for t in texts:
        i = t.find(pattern)
        while i != -1:
            total += 1
            i = t.find(pattern, i + 1)
    return total


def brute_spans(docs: dict[str, str], pattern: str) -> list[tuple[str, int, int]]:
    out = []
    for path in sorted(docs):
        t = docs[path]
        i = t.find(pattern)
        while i != -1:
            out.append((path, i, i + len(pattern)))
            i = t.find(pattern, i + 1)
    return out


def make(tmp_path, docs: dict[str, str], variant: str = "exact") -> ExactIndex:
    index = ExactIndex(tmp_path / variant, variant=variant)
    index.add(ExactDoc(i, p, f"h{i}", t) for i, (p, t) in enumerate(sorted(docs.items())))
    return index


def spans(index: ExactIndex, pattern: str, **kw) -> list[tuple[str, int, int]]:
    return [(h.path, h.start, h.end) for h in to_chars(index, index.locate(pattern, **kw))]


def test_counts_and_spans_match_brute_force_on_random_patterns(tmp_path):
    rng = random.Random(7)
    alphabet = "ab\nc é€😀"
    docs = {
        f"d{i:02d}.txt": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        for i in range(30)
    }
    index = make(tmp_path, docs)
    texts = list(docs.values())
    for _ in range(300):
        t = rng.choice(texts) or "a"
        i = rng.randrange(len(t))
        pat = t[i : i + rng.randint(1, 6)]
        assert index.count(pat) == brute_count(texts, pat), pat
        assert spans(index, pat) == brute_spans(docs, pat), pat
    # absent, and longer than any document
    assert index.count("zzz") == 0
    assert index.count("a" * 10_000) == 0
    assert index.locate("a" * 10_000) == []


def test_overlapping_occurrences_are_counted(tmp_path):
    index = make(tmp_path, {"a": "aaaa", "b": "aa"})
    assert index.count("aa") == 4  # 3 in "aaaa", 1 in "aa"
    assert index.count("aaaaa") == 0  # never across documents


def test_located_spans_slice_the_text_and_give_lines(tmp_path):
    text = "first line\nsecond é line 😀 here\nthird 😀\n"
    index = make(tmp_path, {"x.txt": text})
    hits = to_chars(index, index.locate("😀"))
    assert [(h.start, h.end, h.line_start) for h in hits] == [(25, 26, 2), (38, 39, 3)]
    for h in hits:
        assert text[h.start : h.end] == "😀"
    assert hits[0].snippet == "second é line 😀 here"
    multi = to_chars(index, index.locate("line\nsecond"))[0]
    assert (multi.line_start, multi.line_end) == (1, 2)


def test_empty_pattern_is_a_clear_error(tmp_path):
    index = make(tmp_path, {"a": "abc"})
    with pytest.raises(EmptyQueryError, match="empty"):
        index.count("")
    with pytest.raises(EmptyQueryError):
        index.locate("")


def test_limit_and_document_order(tmp_path):
    index = make(tmp_path, {"b.txt": "x x x", "a.txt": "x x", "c.txt": "x"})
    got = spans(index, "x", limit=3)
    assert got == [("a.txt", 0, 1), ("a.txt", 2, 3), ("b.txt", 0, 1)]


def test_segments_masks_merge_and_reopen(tmp_path):
    docs = {f"d{i}.txt": f"doc {i} says hello {'hello ' * (i % 3)}" for i in range(20)}
    index = ExactIndex(tmp_path / "ix")
    items = sorted(docs.items())
    for lo in range(0, 20, 5):  # four segments
        index.add(ExactDoc(i, p, f"h{i}", t) for i, (p, t) in list(enumerate(items))[lo : lo + 5])
    assert len(index.segments) == 4
    texts = list(docs.values())
    assert index.count("hello") == brute_count(texts, "hello")
    # remove two documents, replace one with new text
    index.remove([0, 7])
    index.add([ExactDoc(3, items[3][0], "new", "hello hello hello hello")])
    live = {i: t for i, (_, t) in enumerate(items) if i not in (0, 7)}
    live[3] = "hello hello hello hello"
    assert index.count("hello") == brute_count(list(live.values()), "hello")
    assert index.documents()[3] == "new" and 0 not in index.documents()
    assert len(index) == 18
    index.save()
    again = ExactIndex(tmp_path / "ix")
    assert again.count("hello") == index.count("hello")
    assert again.documents() == index.documents()
    # filters: only documents 1 and 3
    assert again.count("hello", allowed=[1, 3]) == brute_count([live[1], live[3]], "hello")
    # optimize: one segment, masked documents gone, same answers
    again.optimize()
    again.save()
    assert len(again.segments) == 1 and not any(again.deleted)
    assert again.nbytes == sum(len(t.encode()) + 1 for t in live.values())
    assert again.count("hello") == brute_count(list(live.values()), "hello")
    dirs = [p for p in (tmp_path / "ix").iterdir() if p.is_dir()]
    assert len(dirs) == 1  # merged-away segments deleted
    # merging by policy (in this process) keeps at most max_segments
    for k in range(3):
        again.add([ExactDoc(100 + k, f"n{k}", "h", "hello")])
    assert len(again.segments) == 4
    assert again.merge(MergePolicy(max_segments=2)) >= 1
    assert len(again.segments) <= 2
    assert again.count("hello") == brute_count(list(live.values()), "hello") + 3


def test_case_insensitive_variant_keeps_offsets(tmp_path):
    docs = {"a": "Hello HELLO hello İstanbul ẞtraße"}
    index = make(tmp_path, docs, variant="fold")
    assert index.count("hello") == 3
    assert index.count("HeLLo") == 3
    hits = to_chars(index, index.locate("istanbul"))
    assert docs["a"][hits[0].start : hits[0].end] == "İstanbul"
    assert len(fold(docs["a"])) == len(docs["a"])


def test_damaged_state_raises_index_corrupt(tmp_path):
    index = make(tmp_path, {"a": "abc"})
    index.save()
    (tmp_path / "exact" / "state.json").write_text("{not json")
    with pytest.raises(IndexCorruptError):
        ExactIndex(tmp_path / "exact")
    state = {"format": "lcmem-exact", "format_version": 99, "variant": "exact"}
    (tmp_path / "exact" / "state.json").write_text(json.dumps(state))
    with pytest.raises(IndexCorruptError, match="version"):
        ExactIndex(tmp_path / "exact")


def test_surrogates_and_separator_like_text(tmp_path):
    docs = {"a": "x\udc80y", "b": "\x00\x01\x7f\u00ff\uffff"}
    index = make(tmp_path, docs)
    assert index.count("\udc80") == 1
    assert index.count("\u00ff") == 1  # U+00FF is two UTF-8 bytes, never the 0xFF separator
    assert spans(index, "\x00\x01") == [("b", 0, 2)]


texts_st = st.lists(st.text(max_size=60), min_size=1, max_size=6)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=texts_st, data=st.data())
def test_hypothesis_random_unicode(tmp_path_factory, texts, data):
    tmp = tmp_path_factory.mktemp("hyp")
    docs = {f"d{i}": t for i, t in enumerate(texts)}
    index = make(tmp, docs)
    source = data.draw(st.sampled_from(texts))
    if source and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(source) - 1))
        pattern = source[i : i + data.draw(st.integers(1, 8))]
    else:
        pattern = data.draw(st.text(min_size=1, max_size=4))
    assert index.count(pattern) == brute_count(texts, pattern)
    got = to_chars(index, index.locate(pattern))
    assert [(h.path, h.start, h.end) for h in got] == brute_spans(docs, pattern)
    for h in got:
        assert docs[h.path][h.start : h.end] == pattern
        assert h.line_start == docs[h.path].count("\n", 0, h.start) + 1


def test_fold_table_covers_every_expanding_code_point():
    import sys

    expanding = {
        c
        for c in range(sys.maxunicode + 1)
        if not 0xD800 <= c <= 0xDFFF and len(chr(c).lower()) != 1
    }
    assert expanding == set(exact._FOLD_TABLE)


def test_columns_are_one_based_characters(tmp_path):
    index = make(tmp_path, {"a": "é x\n  😀y"})
    assert [h.column for h in to_chars(index, index.locate("x"))] == [3]
    assert [h.column for h in to_chars(index, index.locate("y"))] == [4]


def test_segments_split_at_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(exact, "MAX_SEGMENT_BYTES", 50)
    docs = {f"d{i}": f"hello world {i:04d} hello" for i in range(6)}  # 23 bytes + separator
    index = make(tmp_path, docs)
    assert len(index.segments) == 3 and all(s.nbytes <= 50 for s in index.segments)
    assert index.count("hello") == 12
    index.remove([0])
    index.optimize()
    assert len(index.segments) == 3 and index.count("hello") == 10


# -- bad input (issue 19, "Bad input"): one test per line of the issue --------------------
def test_bad_input_empty_pattern_is_a_clear_error_everywhere(tmp_path):
    index = make(tmp_path, {"a": "some text\there"})
    for call in (
        index.count,
        index.locate,
        lambda p: exact.count_normalized(index, p),
        lambda p: exact.locate_normalized(index, p),
    ):
        with pytest.raises(EmptyQueryError, match="empty: give the text"):
            call("")
    with pytest.raises(EmptyQueryError, match="only whitespace"):
        exact.count_normalized(index, " \t\n")
    assert index.count(" \t") == 0 and index.count("\t") == 1  # whitespace alone is a pattern
    with pytest.raises(ConfigError, match="not bytes"):
        index.count(b"text")  # type: ignore[arg-type]


def test_bad_input_pattern_longer_than_any_document_counts_zero(tmp_path):
    docs = {"a": "short", "b": "tiny é"}
    index = make(tmp_path, docs)
    longest = max(len(t.encode()) for t in docs.values())
    for pat in ("short" * 10, "x" * (longest + 1), "short\x00tiny é", "é" * 1000):
        assert index.count(pat) == 0, pat
        assert index.locate(pat) == []
        assert exact.count_normalized(index, pat) == 0
    # a pattern spanning two documents is never found: the separator lies between them
    assert index.count("shorttiny") == 0 and index.count("short" + "\xff" + "tiny") == 0


BINARY_LOOKING = {
    "ctl.bin": "\x00\x01\x02\x1b[31mred\x1b[0m\x7f\x80\x9f\x00\x00",
    "latin.txt": "caf\u00e9 \u00ff\u00fe\u00fd \ufffd\ufffd replacement \u00ff\u00ff\u00ff",
    "mixed.txt": "\ufeffBOM then \u0000NUL\r\n\u2028line sep\u0085NEL \U0010ffff\U0001f600",
    "surrogates.txt": "lone \udc80\udcff surrogates \ud800 and \U0001f600 a pair",
}
BINARY_PATTERNS = [
    "\x00",
    "\x00\x00",
    "\x1b[",
    "\x7f\x80",
    "\x9f",
    "\u00ff",
    "\u00ff\u00ff",
    "\ufffd",
    "\ufeff",
    "\r\n",
    "\u2028",
    "\u0085",
    "\U0010ffff",
    "\U0001f600",
    "\udc80\udcff",
    "\ud800",
    "é \u00ff",
]


@pytest.mark.parametrize("variant", ["exact", "fold"])
def test_bad_input_binary_looking_text_counts_code_points_and_keeps_spans(tmp_path, variant):
    """Control bytes, NUL, C1 controls, U+00FF (whose UTF-8 never is the 0xFF separator),
    U+FFFD, BOM, line separators, the last code point, lone surrogates: counts equal
    ``str``-based brute force and every span is a code-point slice equal to the pattern."""
    index = make(tmp_path, BINARY_LOOKING, variant=variant)
    norm = (lambda t: fold(t)) if variant == "fold" else (lambda t: t)
    docs = {p: norm(t) for p, t in BINARY_LOOKING.items()}
    for pat in BINARY_PATTERNS:
        want = brute_spans(docs, norm(pat))
        assert index.count(pat) == len(want), repr(pat)
        got = to_chars(index, index.locate(pat))
        assert [(h.path, h.start, h.end) for h in got] == want, repr(pat)
        for h in got:
            assert docs[h.path][h.start : h.end] == norm(pat)
            assert BINARY_LOOKING[h.path][h.start : h.end] == h.text or variant == "fold"
            assert h.line_start == BINARY_LOOKING[h.path].count("\n", 0, h.start) + 1
    # offsets are code points, not bytes: the emoji after 4-byte and 2-byte characters
    (hit,) = to_chars(index, index.locate("\U0001f600 a pair"))
    assert hit.start == BINARY_LOOKING["surrogates.txt"].index("\U0001f600 a pair")
