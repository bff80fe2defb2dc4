"""The tokenizers: the fast word-cache path of HFTokenizer must agree with the real tokenizer."""

from __future__ import annotations

import inspect
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from lcmem.tokens import (
    HFTokenizer,
    WhitespaceTokenizer,
    _load_tokie,
    _merge_subword_offsets,
    _tokie_safe,
    default_model_path,
    split_rows,
)

TOK = HFTokenizer.default()  # the packaged tokenizer.json: cheap to load, no model weights
RAW = TOK._tok


def real_count(text: str) -> int:
    return len(RAW.encode(text, add_special_tokens=False).ids)


def real_offsets(text: str) -> list[tuple[int, int]]:
    return _merge_subword_offsets(RAW.encode(text, add_special_tokens=False).offsets)


# Characters that stress every rule: ASCII words and punctuation (the underscore is BERT
# punctuation), the four splitting spaces, control characters BERT deletes (\f, \v, \x00,
# DEL), accents, CJK (padded with spaces), no-break and ideographic spaces, a zero-width space,
# a soft hyphen, typographic quotes, a long run and the added tokens' brackets.
ALPHABET = [
    *"abcXYZ019_.,;:()[]{}'\"#@-+=/\\ \t\n\r",
    "\x0c",
    "\x0b",
    "\x00",
    "\x7f",
    "\x85",
    "é",
    "Ü",
    "ß",
    "日",
    "本",
    "\xa0",
    "\u3000",
    "\u200b",
    "\xad",
    "\u2019",
    "\u201c",
    "İ",
    "ﬁ",
]
PIECES = st.one_of(
    st.sampled_from(ALPHABET),
    st.sampled_from(["[CLS]", "[MASK]", "[mask]", "tokenization", "unbelievably", "x" * 120]),
)
TEXTS = st.lists(PIECES, max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_fast_counts_and_offsets_match_the_real_tokenizer(text):
    assert TOK.count(text) == real_count(text)
    assert TOK.offsets(text) == real_offsets(text)
    assert TOK.token_starts(text) == [a for a, _ in real_offsets(text)]
    assert TOK.line_counts(text) == [real_count(line) for line in text.split("\n")]


@settings(max_examples=50, deadline=None)
@given(st.lists(TEXTS, max_size=8))
def test_count_many_matches_count(texts):
    assert TOK.count_many(texts) == [real_count(t) for t in texts]


def test_real_source_and_prose_agree():
    src = inspect.getsource(textwrap)
    prose = "Naïve café owners’ “smart” quotes — and 日本語 text.\n\nSecond paragraph\x0chere."
    for text in (src, prose, src[1234:5678]):
        assert TOK.count(text) == real_count(text)
        assert TOK.offsets(text) == real_offsets(text)
        assert TOK.line_counts(text) == [real_count(line) for line in text.split("\n")]


def test_added_tokens_go_to_the_real_tokenizer():
    assert TOK.count("[CLS]") == 1 == real_count("[CLS]")
    assert TOK.count("a [SEP] b") == 3
    assert TOK._fast is not None and TOK._fast.count("a [SEP] b") is None


def test_whitespace_additive():
    assert TOK.whitespace_additive is True
    assert WhitespaceTokenizer().whitespace_additive is True

    class Prefix(WhitespaceTokenizer):
        def count(self, text: str) -> int:
            return super().count(text) + 1

    assert Prefix().whitespace_additive is False  # a subclass may count differently


def test_the_word_cache_is_bounded():

    fast = HFTokenizer(default_model_path())._fast
    assert fast is not None
    fast._MAX_CACHE = 50
    first = " ".join(f"w{k}" for k in range(40))
    second = " ".join(f"v{k}" for k in range(30))
    assert fast.count(first) == real_count(first)
    assert fast.count(second) == real_count(second)  # 40 + 30 > 50: the cache starts over
    assert len(fast._counts) <= 30
    assert fast.count(first) == real_count(first)


# -- tokie (the Rust tokenizer used for counting) and the token index -------------------------

ASCII = st.lists(
    st.one_of(
        st.characters(min_codepoint=0, max_codepoint=127),
        st.sampled_from(["[CLS]", "[SEP]", "[mask]", "tokenization", "unaffable", "x" * 120]),
    ),
    max_size=60,
).map("".join)


def real_starts(text: str) -> list[int]:
    return [a for a, _ in real_offsets(text)]


def test_tokie_is_loaded_for_the_default_tokenizer():
    assert TOK._tokie is not None  # tokie is a dependency: the fast counts are in use


@settings(max_examples=400, deadline=None)
@given(ASCII)
def test_tokie_counts_and_starts_match_on_ascii(text):
    # tokie is trusted on ASCII without DEL only (see _tokie_safe); DEL goes elsewhere.
    if _tokie_safe(text):
        assert TOK._tokie.count_tokens(text) == real_count(text)
    assert TOK.count(text) == real_count(text)
    starts = real_starts(text)
    assert TOK._row_starts(text) == starts
    assert [TOK._row_start(text, r) for r in range(len(starts))] == starts


def test_tokie_is_not_trusted_where_it_differs():
    assert not _tokie_safe("a\x7fb")  # BertNormalizer deletes DEL, tokie does not
    assert not _tokie_safe("café")
    # Non-ASCII characters are trusted one by one, each checked against the real tokenizer:
    assert TOK._tokie_counts("naïve café 日本語")
    assert not TOK._tokie_counts("gg\U000443af")  # unassigned: tokie counts 2, really 1
    assert not TOK._tokie_counts("\U000e6b0d")  # tokie drops it, the real tokenizer does not
    assert not TOK._tokie_counts("한국어")  # a syllable normalizes into several jamo
    for text in ("\x7f,", "Æ😍Í\x81", "\U000e6b0d[CLS]", "gg\U000443af"):
        assert TOK.count(text) == real_count(text)
        assert TOK.count_many([text, "plain words"]) == [real_count(text), 2]


def test_a_tokenizer_tokie_does_not_reproduce_is_not_used(tmp_path):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    other = Tokenizer(WordLevel({"[UNK]": 0, "hello": 1}, unk_token="[UNK]"))
    assert _load_tokie(other, default_model_path() / "tokenizer.json") is None
    assert _load_tokie(RAW, tmp_path / "missing.json") is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXTS, ASCII, st.text(max_size=80)))
def test_token_index_locates_every_token(text):
    index = TOK.token_index(text)
    starts = real_starts(text)
    if index is None:  # two tokens share a start: the caller lists them instead
        assert len(set(starts)) < len(starts)
        return
    assert index.n == len(starts)
    assert [index.start(k) for k in range(index.n)] == starts
    for offset in range(len(text) + 1):
        assert index.before(offset) == sum(a < offset for a in starts)


def test_token_index_on_real_text():
    src = inspect.getsource(textwrap)
    prose = "Naïve café owners’ “smart” quotes — and 日本語 text.\n\n한국어 문장\x0chere."
    for text in (src, prose, src[1234:5678]):
        index = TOK.token_index(text)
        starts = real_starts(text)
        if index is None:
            assert len(set(starts)) < len(starts)
            continue
        assert [index.start(k) for k in range(index.n)] == starts
        assert [index.before(a) for a in starts] == list(range(len(starts)))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" \n\tab.", max_size=200), st.integers(1, 12))
def test_split_rows_cuts_at_one_newline_or_space(text, limit):
    rows = split_rows(text, limit)
    at = 0
    for k, row in enumerate(rows):
        assert text[at : at + len(row)] == row
        at += len(row)
        if k < len(rows) - 1:
            assert text[at] in " \n"  # the one character dropped after the row
            at += 1
        assert len(row) <= limit or " " not in row[1:]  # longer only where no space to cut
    assert at == len(text)


def test_token_index_on_long_lines():
    # No newline at all (a scraped page): rows are cut at spaces, and every token is found.
    words = inspect.getsource(textwrap).split()
    text = " ".join(words) + " " + "x" * 3000 + "".join(f" {w}" for w in words[:50])
    index = TOK.token_index(text)
    assert max(map(len, index.rows)) == 3000  # only the spaceless run stays one long row
    starts = real_starts(text)
    assert [index.start(k) for k in range(index.n)] == starts
    assert [index.before(a) for a in starts[::7]] == list(range(0, len(starts), 7))


def test_token_index_takes_every_start_at_once_where_it_can():
    from lcmem.tokens import ArrayTokenIndex, TokenIndex

    src = inspect.getsource(textwrap)
    mixed = src.replace("\n\n", "\n# café ‘quoted’ — naïve\n\n", 3)  # a few non-ASCII lines
    accented = src.replace("e", "é")  # every character one tokie is trusted with
    cjk = "日本語のテキスト、そして English.\n" * 20
    for text in (src, mixed, accented, cjk):
        index = TOK.token_index(text)
        assert isinstance(index, ArrayTokenIndex)
        starts = real_starts(text)
        assert [index.start(k) for k in range(index.n)] == starts
        assert [index.before(a + 1) for a in starts] == list(range(1, len(starts) + 1))
    # a word over 100 characters is one [UNK]; Hangul normalizes into several characters:
    # both go row by row
    assert isinstance(TOK.token_index("a " + "x" * 120), TokenIndex)
    assert not isinstance(TOK.token_index("한국어 문장\nand English " * 30), ArrayTokenIndex)
