"""Analyzer: tokens, stopwords, Snowball stems, settings round trip, the batch fast path."""

from __future__ import annotations

import pytest
import Stemmer
from hypothesis import given, settings
from hypothesis import strategies as st

from lcmem.errors import ConfigError
from lcmem.indexers.analyzer import ENGLISH_STOPWORDS, Analyzer


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
    analyzer = Analyzer(stem=False, stopwords=None)
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
    assert Analyzer(pattern=r"\S+", stem=False, stopwords=None)("a-b c_d") == ["a-b", "c_d"]
    assert Analyzer(min_length=3, stem=False)("an ox in a big barn") == ["big", "barn"]


def test_custom_stopwords_are_matched_after_lowercasing() -> None:
    assert Analyzer(stopwords=["FOO"], stem=False)("foo Foo bar") == ["bar"]


def test_many_equals_calling_on_each_text_and_cache_does_not_change_results() -> None:
    texts = ["Hello worlds", "", "   ", "worlds of hellos", "The the THE"]
    analyzer = Analyzer()
    first = analyzer.many(texts)
    assert first == [Analyzer()(t) for t in texts]
    assert analyzer.many(texts) == first  # second pass served from the cache
    assert first[1] == [] and first[2] == [] and first[4] == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6))
def test_property_tokens_are_lowercase_non_stopword_stems(texts: list[str]) -> None:
    analyzer = Analyzer()
    out = analyzer.many(texts)
    assert out == [analyzer(t) for t in texts]
    plain = Analyzer(stem=False)
    for text, terms in zip(texts, out, strict=True):
        words = plain(text)
        assert all(w not in ENGLISH_STOPWORDS for w in words)
        assert terms == Stemmer.Stemmer("english").stemWords(words)


def test_config_round_trip() -> None:
    for analyzer in (
        Analyzer(),
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
