"""Analyzer: tokens, stopwords, Snowball stems, settings round trip, the batch fast path."""

from __future__ import annotations

import re

import pytest
import Stemmer
from hypothesis import given, settings
from hypothesis import strategies as st

from lcmem.errors import ConfigError
from lcmem.indexers.analyzer import (
    DEFAULT_PATTERN,
    ENGLISH_STOPWORDS,
    PLAIN_PATTERN,
    Analyzer,
    split_identifier,
)


def test_default_pipeline_lowercases_drops_stopwords_and_stems() -> None:
    assert Analyzer()("The Parsers ARE running, and the files were Saved!") == [
        "parser",
        "run",
        "file",
        "were",
        "save",
    ]


def test_stems_are_pystemmers_english_snowball() -> None:
    words = ["connection", "connected", "generously", "happiness", "ponies", "caresses"]
    assert Analyzer(stopwords=None)(" ".join(words)) == Stemmer.Stemmer("english").stemWords(words)


def test_unicode_words_and_digits_are_tokens_underscores_and_punctuation_split() -> None:
    analyzer = Analyzer(stem=False, stopwords=None, split_identifiers=False)
    assert analyzer("Été à Zürich: parse_config() v2.0 東京") == [
        "été",
        "à",
        "zürich",
        "parse",
        "config",
        "v2",
        "0",
        "東京",
    ]


def test_settings_can_switch_each_step_off() -> None:
    text = "The Running Dogs"
    assert Analyzer(lowercase=False, stem=False, stopwords=None)(text) == [
        "The",
        "Running",
        "Dogs",
    ]
    assert Analyzer(stem=False)(text) == ["running", "dogs"]
    assert Analyzer(stopwords=None)(text) == ["the", "run", "dog"]
    assert Analyzer(stopwords=["dogs"], stem=False)(text) == ["the", "running"]
    plain = {"stem": False, "stopwords": None, "split_identifiers": False}
    assert Analyzer(pattern=r"\S+", **plain)("a-b c_d") == ["a-b", "c_d"]
    assert Analyzer(min_length=3, stem=False)("an ox in a big barn") == ["big", "barn"]


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("parse_header", ["parse", "header"]),
        ("parseHeader", ["parse", "Header"]),
        ("ParseHeader", ["Parse", "Header"]),
        ("HTTPServer", ["HTTP", "Server"]),
        ("XMLHttpRequest", ["XML", "Http", "Request"]),
        ("getURL", ["get", "URL"]),
        ("GET_HEADER", ["GET", "HEADER"]),
        ("b64encode", ["b", "64", "encode"]),
        ("utf8", ["utf", "8"]),
        ("__init__", ["init"]),
        ("_B32_ENCODE", ["B", "32", "ENCODE"]),
        ("Zürich", ["Zürich"]),
        ("éTéÉtude", ["é", "Té", "Étude"]),
        ("東京", ["東京"]),
        ("HTTP東京", ["HTTP東京"]),  # uncased letters count as neither case
        ("aB東", ["a", "B東"]),
        ("ABc", ["A", "Bc"]),
        ("Abc", ["Abc"]),
        ("x", ["x"]),
        ("2024", ["2024"]),
        ("___", []),
    ],
)
def test_split_identifier_cuts_at_underscores_case_changes_and_digits(
    word: str, parts: list[str]
) -> None:
    assert split_identifier(word) == parts


def test_identifiers_give_their_words_then_themselves() -> None:
    plain = Analyzer(stem=False, stopwords=None)
    assert plain("getHeader") == ["get", "header", "getheader"]
    assert plain("get_header") == ["get", "header", "get_header"]
    assert plain("GET_HEADER()") == ["get", "header", "get_header"]
    assert plain("self.parse_header(raw)") == [
        "self",
        "parse",
        "header",
        "parse_header",
        "raw",
    ]
    assert plain("__init__ _private") == ["init", "private"]  # one word: no whole copy
    # each part and the whole go through stopwords, min_length and stemming like any word
    assert Analyzer()("is_running getParsers") == [
        "run",
        "is_run",
        "get",
        "parser",
        "getpars",
    ]
    assert Analyzer(stem=False, min_length=3)("toX") == ["tox"]


def test_a_plain_words_query_matches_camel_and_snake_case_code() -> None:
    analyzer = Analyzer()
    query = set(analyzer("get the default locale"))
    for code in ("def getDefaultLocale():", "def get_default_locale():", "GET_DEFAULT_LOCALE = 1"):
        assert query <= set(analyzer(code)), code
    assert not query <= set(Analyzer(split_identifiers=False)("def getDefaultLocale():"))


def test_identifier_splitting_keeps_case_when_not_lowercasing() -> None:
    analyzer = Analyzer(lowercase=False, stem=False, stopwords=None)
    assert analyzer("parseHTTP") == ["parse", "HTTP", "parseHTTP"]


def test_pattern_default_follows_identifier_splitting() -> None:
    assert Analyzer().pattern == DEFAULT_PATTERN
    assert Analyzer(split_identifiers=False).pattern == PLAIN_PATTERN
    assert Analyzer(split_identifiers=False).config()["split_identifiers"] is False


def test_settings_recorded_before_identifier_splitting_restore_the_old_analyzer() -> None:
    old = {
        "lowercase": True,
        "pattern": PLAIN_PATTERN,
        "stopwords": "english",
        "stem": True,
        "language": "english",
        "min_length": 1,
    }
    analyzer = Analyzer.from_config(old)
    assert analyzer.split_identifiers is False
    assert analyzer("parse_header getHeader") == ["pars", "header", "gethead"]


def test_custom_stopwords_are_matched_after_lowercasing() -> None:
    assert Analyzer(stopwords=["FOO"], stem=False)("foo Foo bar") == ["bar"]


@pytest.mark.parametrize("split", [True, False])
def test_many_equals_calling_on_each_text_and_cache_does_not_change_results(split: bool) -> None:
    texts = ["Hello worlds", "", "   ", "worlds of hellos", "The the THE", "getX get_x GetX"]
    analyzer = Analyzer(split_identifiers=split)
    first = analyzer.many(texts)
    assert first == [Analyzer(split_identifiers=split)(t) for t in texts]
    assert analyzer.many(texts) == first  # second pass served from the cache
    assert first[1] == [] and first[2] == [] and first[4] == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6))
def test_property_tokens_are_lowercase_non_stopword_stems(texts: list[str]) -> None:
    analyzer = Analyzer(split_identifiers=False)
    out = analyzer.many(texts)
    assert out == [analyzer(t) for t in texts]
    plain = Analyzer(stem=False, split_identifiers=False)
    for text, terms in zip(texts, out, strict=True):
        words = plain(text)
        assert all(w not in ENGLISH_STOPWORDS for w in words)
        assert terms == Stemmer.Stemmer("english").stemWords(words)


# Letters of both cases, digits, underscores, separators (Unicode case mappings that depend on
# the neighbouring characters, such as Greek final sigma, are left out on purpose).
_CODE_TEXT = st.text(alphabet="aAbBxXyYzZéÉü東01_ .-()", max_size=40)


@settings(max_examples=100, deadline=None)
@given(st.lists(_CODE_TEXT, max_size=6))
def test_property_identifier_parts_cover_the_word_and_split_no_further(texts: list[str]) -> None:
    analyzer = Analyzer()
    out = analyzer.many(texts)
    assert out == [Analyzer()(t) for t in texts]
    for text, terms in zip(texts, out, strict=True):
        assert all(t == t.lower() and t not in ENGLISH_STOPWORDS for t in terms)
        for word in re.findall(DEFAULT_PATTERN, text):
            parts = split_identifier(word)
            assert "".join(parts) == word.replace("_", "")
            assert all(split_identifier(p) == [p] for p in parts)
        # a text without compound identifiers is analysed as before
        if all(len(split_identifier(w)) <= 1 for w in re.findall(DEFAULT_PATTERN, text)):
            assert terms == Analyzer(split_identifiers=False)(text)


def test_config_round_trip() -> None:
    for analyzer in (
        Analyzer(),
        Analyzer(split_identifiers=False),
        Analyzer(stem=False, stopwords=None, min_length=2),
        Analyzer(stopwords=["x", "y"], language="french", pattern=r"\w+", lowercase=False),
    ):
        config = analyzer.config()
        rebuilt = Analyzer.from_config(config)
        assert rebuilt.config() == config
        assert rebuilt("Les chats et THE dogs_x") == analyzer("Les chats et THE dogs_x")
    assert Analyzer().config()["stopwords"] == "english"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pattern": "("},
        {"stopwords": "klingon"},
        {"language": "klingon"},
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        Analyzer(**kwargs)


def test_from_config_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="bad analyzer settings"):
        Analyzer.from_config({"stem": True, "colour": "blue"})


def test_blobs_are_not_split_into_identifier_parts():
    """A hex dump or base64 word is one term, not thousands of one-character parts."""
    from lcmem.indexers.analyzer import MAX_IDENTIFIER

    blob = "a1b2c3d4" * 100
    analyzer = Analyzer(stem=False, stopwords=None)
    assert analyzer.many([blob]) == [[blob]]
    short = "a1b2c3d4" * (MAX_IDENTIFIER // 8)
    assert len(analyzer.many([short])[0]) > 1
