"""The repetition guard: repeated-sentence detection, the streaming gate, settings, and the
transformers processors restricted to generated tokens."""

from __future__ import annotations

import random

import pytest

from lcmem.errors import ConfigError
from lcmem.llm.repetition import (
    OFF,
    GenerationSettings,
    SentenceGate,
    drop_repeats,
    first_repeat,
    gated,
    logits_processors,
    loop_start,
    repeat_hold,
    repeat_stopper,
    settings_for,
)
from tests.extras import needs

# `make demo`'s answer on a fresh clone (issue 21), verbatim.
LOOP = (
    "The command is skipped because it is not even read. A file that was touched but unchanged "
    "is never embedded again. A file that was seen but not changed is never embedded again. A "
    "file that was seen but not changed is never embedded again. A file that was seen but not "
    "changed is never embedded again. A file"
)


def test_the_demo_loop_is_cut_after_its_first_occurrence() -> None:
    text = drop_repeats(LOOP)
    assert text == (
        "The command is skipped because it is not even read. A file that was touched but "
        "unchanged is never embedded again. A file that was seen but not changed is never "
        "embedded again."
    )
    assert first_repeat(text, final=True) is None


def test_near_repeats_count_and_distinct_sentences_do_not() -> None:
    assert first_repeat("The code is 55771. The code is 55771!\n", final=True) == 18
    assert first_repeat("The cache is keyed by hash. The cache is keyed by a hash.", True) == 27
    distinct = "The code of Konel is 55771. The code of Veltran is 48213. Both are old."
    assert first_repeat(distinct, final=True) is None
    assert drop_repeats(distinct) == distinct


def test_short_sentences_and_unfinished_tails_are_not_repeats() -> None:
    assert first_repeat("Yes. Yes. Yes.", final=True) is None  # under MIN_WORDS words
    assert first_repeat("It is cached. It is cach") is None  # the tail is not complete yet
    assert first_repeat("It is cached. It is cached", final=True) == 13


def test_lines_are_sentences_too() -> None:
    text = "- the cache is per file\n- the hash is sha256\n- the cache is per file\n- more"
    assert drop_repeats(text) == "- the cache is per file\n- the hash is sha256"


@pytest.mark.parametrize("seed", range(40))
def test_streaming_through_the_gate_shows_what_complete_returns(seed: int) -> None:
    rng = random.Random(seed)
    text = LOOP if seed % 2 else "One fact here. Another fact there. A third one, unfinished"
    cuts = sorted(rng.sample(range(1, len(text)), 8))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    shown = list(gated(pieces, GenerationSettings()))
    assert "".join(shown).strip() == drop_repeats(text)
    assert all(piece for piece in shown)


def test_the_gate_streams_and_holds_back_what_may_start_a_repeat() -> None:
    gate = SentenceGate()
    assert gate.feed("The cache ") == "The cache "  # a first sentence streams as it comes
    assert gate.feed("is keyed by hash. It") == "is keyed by hash. It"
    # " The cache is keyed by hash." opens like the first sentence: held back
    assert gate.feed(" is fast. The cache is keyed by hash.") == " is fast."
    assert not gate.stopped  # "hash." may still go on ("hash.py"): not a sentence yet
    assert gate.feed(" More") == "" and gate.stopped
    assert gate.feed("More text.") == "" and gate.finish() == ""


def test_a_sentence_that_drifts_from_an_earlier_one_is_released() -> None:
    gate = SentenceGate()
    shown = [gate.feed(w) for w in ["The cache ", "is fast. ", "The cache ", "holds ", "chunks."]]
    assert shown == ["The cache ", "is fast.", "", " The cache holds ", "chunks."]
    assert gate.finish() == ""


@pytest.mark.parametrize(
    "text",
    [
        "The cache is keyed by hash. The cache is keyed by a hash. More",
        "The code is 55771. The code is 55771!\nMore",
        LOOP,
    ],
)
def test_word_by_word_a_near_repeat_is_never_shown(text: str) -> None:
    words = text.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    shown = list(gated(pieces, GenerationSettings()))
    assert "".join(shown).strip() == drop_repeats(text)
    assert len(shown) > 3  # the first sentence came word by word


def test_gated_without_the_stop_passes_pieces_unchanged() -> None:
    assert list(gated(["A b c. ", "A b c. "], OFF)) == ["A b c. ", "A b c. "]


def test_settings_are_checked_and_map_to_server_fields() -> None:
    for bad in (
        {"repetition_penalty": 0.0},
        {"no_repeat_ngram_size": -1},
        {"frequency_penalty": 3.0},
    ):
        with pytest.raises(ConfigError):
            GenerationSettings(**bad)
    assert GenerationSettings().request_fields() == {}
    fields = GenerationSettings(repetition_penalty=1.1, frequency_penalty=0.5).request_fields()
    assert fields == {"frequency_penalty": 0.5, "repeat_penalty": 1.1}
    assert settings_for("SmolLM2-135M-Instruct").stop_repeated_sentence
    assert settings_for("some/other-model") == GenerationSettings()


def test_repetition_penalty_spares_the_prompts_tokens() -> None:
    needs("torch", extra="llm")
    import torch

    (penalty,) = logits_processors(GenerationSettings(repetition_penalty=2.0), prompt_len=2)
    ids = torch.tensor([[5, 6, 7]])  # prompt 5 6, generated 7
    scores = penalty(ids, torch.ones(1, 10))
    assert scores[0, 7] == 0.5  # generated: penalised
    assert scores[0, 5] == scores[0, 6] == 1.0  # in the prompt only: copying stays free


def test_no_repeat_ngrams_look_at_generated_tokens_only() -> None:
    needs("torch", extra="llm")
    import torch

    (ban,) = logits_processors(GenerationSettings(no_repeat_ngram_size=2), prompt_len=2)
    # The prompt holds the bigram 3 4; generating 3 then 4 is still allowed.
    scores = ban(torch.tensor([[3, 4, 3]]), torch.zeros(1, 10))
    assert torch.isfinite(scores[0, 4])
    # Generated 3 4 3: the bigram 3 4 was generated already, so 4 is banned.
    scores = ban(torch.tensor([[0, 0, 3, 4, 3]]), torch.zeros(1, 10))
    assert scores[0, 4] == float("-inf") and torch.isfinite(scores[0, 5])
    assert logits_processors(OFF, prompt_len=2) == []


class WordTokenizer:
    """Test double: token i is the i-th word of VOCAB."""

    VOCAB = ("<p>", "It", "is", "cached.", "fast.")

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return " ".join(self.VOCAB[int(i)] for i in ids)


def test_the_stopper_fires_once_a_generated_sentence_repeats() -> None:
    needs("torch", extra="llm")
    import torch

    stop = repeat_stopper(WordTokenizer(), prompt_len=1, settings=GenerationSettings())
    it_is_cached = [1, 2, 3]
    running = torch.tensor([[0, *it_is_cached, 1, 2, 4]])
    looping = torch.tensor([[0, *it_is_cached, 1, 2, 4, *it_is_cached, 1]])
    assert stop(running, None).tolist() == [False]
    assert stop(looping, None).tolist() == [True]


# rag single-1 of benchmarks/results/answers.md: a loop without sentence ends.
SYSTEMD = "The unit file is " + "systemd.system." * 12 + "systemd"


def test_a_loop_without_sentence_ends_is_cut_after_one_round() -> None:
    assert first_repeat(SYSTEMD, sentences=True, spans=False) is None  # the old stop missed it
    assert drop_repeats(SYSTEMD) == "The unit file is systemd.system."
    assert drop_repeats(SYSTEMD, spans=False) == SYSTEMD
    assert GenerationSettings().cut(SYSTEMD) == "The unit file is systemd.system."
    assert OFF.cut(SYSTEMD) == SYSTEMD and OFF.repeat_at(SYSTEMD) is None


def test_a_span_must_occur_three_times_without_overlap() -> None:
    span = "one two three four five six seven eight"
    assert loop_start(f"{span} and {span}") is None  # twice: an answer may say it twice
    text = f"{span}, {span}, {span}"
    assert text[: loop_start(text)] == f"{span}, "
    assert loop_start("a " * 23) is None and loop_start("a " * 24) == 2  # 8 x 3 tokens


def test_a_loop_that_varies_is_cut_at_its_span_s_second_occurrence() -> None:
    rounds = [f"run the unit with the same option set {n}" for n in (1, 2, 3)]
    text = ", ".join(rounds)
    assert text[: loop_start(text)].rstrip(", ") == rounds[0]


def test_spans_across_sentence_ends_are_left_to_the_sentence_stop() -> None:
    # the demo loop: spans across "again. A file" do not count, so the span stop
    # cuts it where the sentence stop does (at its fourth sentence), not mid-sentence
    cut, sentence_cut = loop_start(LOOP), first_repeat(LOOP, sentences=True, spans=False)
    assert cut is not None and sentence_cut is not None
    assert LOOP[:cut].rstrip() == LOOP[:sentence_cut].rstrip()
    assert drop_repeats(LOOP) == drop_repeats(LOOP, spans=False)


def test_repeat_hold_holds_the_tail_that_repeats_earlier_text() -> None:
    assert repeat_hold("It runs systemd.system.systemd") == len("It runs systemd.system.")
    assert repeat_hold("It runs fast.") == len("It runs fast.")
    assert repeat_hold("It is fast. It is") == len("It is fast. ")
    assert repeat_hold("It is fast. Slow.") == len("It is fast. Slow.")  # a "." alone
    assert repeat_hold("It runs systemd.sys") == len("It runs systemd.")  # a word being written


@pytest.mark.parametrize("seed", range(20))
def test_streaming_a_loop_never_shows_its_second_round(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(SYSTEMD)), 12))
    pieces = [SYSTEMD[a:b] for a, b in zip([0, *cuts], [*cuts, len(SYSTEMD)], strict=True)]
    shown = list(gated(pieces, GenerationSettings()))
    assert "".join(shown).strip() == "The unit file is systemd.system."
    assert list(gated(pieces, GenerationSettings(stop_repeated_span=False))) == pieces


# test split, rag single-0 (round 3): a loop inside one underscore-joined word, verbatim start
IDENT = "The <system_servicedir_default_user_context" + "_default_user_context" * 8


def test_a_loop_inside_one_underscore_joined_word_is_cut_after_one_round() -> None:
    assert drop_repeats(IDENT) == "The <system_servicedir_default_user_context"
    dotted = "See " + "net.core.rmem_max." * 6
    assert drop_repeats(dotted) == "See net.core.rmem_max."
    dashed = "Run --no-ask-password" + "-ask-password" * 8
    assert drop_repeats(dashed) == "Run --no-ask-password"


def test_identifiers_with_repeated_parts_are_not_loops() -> None:
    text = (
        "Set default_user_default to default_user, then read default_user_default_group "
        "and user_default_user_context from the file."
    )
    assert loop_start(text) is None and drop_repeats(text) == text
    assert loop_start("a_b_a_b_a_b_a_b_a_b_a") is None  # 21 tokens: under 8 x 3
    assert repeat_hold("x_y z __.") == len("x_y z __.")  # marks alone are not held
    assert repeat_hold("x_y z_") == len("x_y z")  # but a final joiner waits for its next part


@pytest.mark.parametrize("seed", range(10))
def test_streaming_an_identifier_loop_never_shows_its_second_round(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(IDENT)), 15))
    pieces = [IDENT[a:b] for a, b in zip([0, *cuts], [*cuts, len(IDENT)], strict=True)]
    shown = "".join(gated(pieces, GenerationSettings()))
    assert shown.strip() == "The <system_servicedir_default_user_context"


def test_the_stopper_fires_on_a_loop_only_when_spans_stop() -> None:
    needs("torch", extra="llm")
    import torch

    class Letters:
        def decode(self, ids, skip_special_tokens: bool = True) -> str:
            return ".".join("xy"[int(i)] for i in ids)

    ids = torch.tensor([[0, 1] * 12])  # "x.y.x.y..." : 48 tokens, no sentence end
    assert repeat_stopper(Letters(), 0, GenerationSettings())(ids, None).tolist() == [True]
    sentences_only = GenerationSettings(stop_repeated_span=False)
    assert repeat_stopper(Letters(), 0, sentences_only)(ids, None).tolist() == [False]
