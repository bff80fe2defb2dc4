"""Generation that does not loop: per-model settings and a stop at the first repeated sentence.

Small models such as SmolLM2-135M fall into loops under greedy decoding ("A file that was seen
but not changed is never embedded again." three times over). Three guards, set per model in a
:class:`GenerationSettings` that each backend keeps as ``llm.generation``:

- ``repetition_penalty`` and ``no_repeat_ngram_size``: transformers' own logits processors,
  applied to the *generated* tokens only (:func:`logits_processors`: counting the prompt would
  penalise copying a fact from the passages, the very thing an answer should do);
- ``frequency_penalty``: OpenAI's parameter, sent to OpenAI-compatible servers;
- ``stop_repeated_sentence``: generation ends when a sentence repeats (or nearly repeats) one
  already written, and the repeat is cut off (:func:`first_repeat`, :class:`SentenceGate`).

Example:
    >>> drop_repeats("Files are hashed. Unchanged files are skipped. Files are hashed. Files")
    'Files are hashed. Unchanged files are skipped.'
    >>> settings_for("SmolLM2-135M-Instruct").stop_repeated_sentence
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

SIMILAR = 90.0
"""Least ``rapidfuzz.fuzz.ratio`` (0-100) of two normalised sentences for one to repeat the
other: about one changed character in ten ("seen but unchanged" / "seen but not changed")."""
MIN_WORDS = 3
"""Shorter sentences ("Yes.", a lone ``-``) never count as repeats."""
HOLD = 75.0
"""While streaming, a sentence in progress at least this alike (``rapidfuzz.fuzz.ratio``) to
the opening of an earlier sentence is held back (:class:`SentenceGate`): below :data:`SIMILAR`,
so a near-repeat is held from its first words, not only an exact one."""

_END = re.compile(r"(?:[.!?]+[\"')\]]*(?=\s)|\n)")
_NON_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class GenerationSettings:
    """How a backend decodes, beyond greedy/temperature.

    Attributes:
        repetition_penalty: > 1 makes tokens already generated less likely (transformers;
            sent as ``repeat_penalty`` to OpenAI-compatible servers when not 1, as llama.cpp
            names it).
        no_repeat_ngram_size: > 0 forbids generating any n-gram of that size twice
            (transformers only).
        frequency_penalty: OpenAI's penalty (-2..2), sent to OpenAI-compatible servers when
            not 0; transformers ignores it.
        stop_repeated_sentence: end the answer at the first sentence that repeats an earlier
            one (all backends; the repeat is cut off).

    Example:
        >>> GenerationSettings(repetition_penalty=1.2).request_fields()
        {'repeat_penalty': 1.2}
    """

    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    frequency_penalty: float = 0.0
    stop_repeated_sentence: bool = True

    def __post_init__(self) -> None:
        from lcmem.errors import ConfigError

        if not self.repetition_penalty > 0:
            raise ConfigError(
                f"repetition_penalty must be above 0 (1.0 is off), got {self.repetition_penalty}"
            )
        if self.no_repeat_ngram_size < 0:
            raise ConfigError(
                f"no_repeat_ngram_size must be 0 (off) or more, got {self.no_repeat_ngram_size}"
            )
        if not -2.0 <= self.frequency_penalty <= 2.0:
            raise ConfigError(
                f"frequency_penalty must be within -2..2, got {self.frequency_penalty}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def request_fields(self) -> dict[str, Any]:
        """Fields an OpenAI-compatible request carries for these settings (only non-defaults:
        OpenAI's own API rejects ``repeat_penalty``, so leave ``repetition_penalty`` at 1 there).
        """
        fields: dict[str, Any] = {}
        if self.frequency_penalty:
            fields["frequency_penalty"] = float(self.frequency_penalty)
        if self.repetition_penalty != 1.0:
            fields["repeat_penalty"] = float(self.repetition_penalty)
        return fields


OFF = GenerationSettings(stop_repeated_sentence=False)
"""Plain decoding: no penalty, no repeated-sentence stop (lcmem before issue 21)."""

MODEL_DEFAULTS: Mapping[str, GenerationSettings] = {
    # Chosen on the dev split of benchmarks/bench_answers.py (results/answers.md): adding a
    # repetition penalty of 1.2 and no_repeat_ngram_size=4 changed no answer there, so only the
    # stop, which cannot change a token before the cut (greedy decoding), is on.
    "SmolLM2-135M-Instruct": GenerationSettings(stop_repeated_sentence=True),
}
"""Per-model defaults, by the backend's model name; other models get
``GenerationSettings()`` (the repeated-sentence stop only)."""


def settings_for(model_name: str) -> GenerationSettings:
    """The default settings of ``model_name`` (see :data:`MODEL_DEFAULTS`)."""
    return MODEL_DEFAULTS.get(model_name, GenerationSettings())


def _key(sentence: str) -> str:
    return " ".join(_NON_WORD.sub(" ", sentence.lower()).split())


def sentence_ends(text: str, final: bool = False) -> list[int]:
    """Offsets where the complete sentences of ``text`` end (after ``.!?`` before a blank, or a
    newline); with ``final`` the end of the text also ends one.

    Example:
        >>> t = "One two. Three four!\\nFive"
        >>> [t[:e] for e in sentence_ends(t)], sentence_ends(t, final=True)[-1]
        (['One two.', 'One two. Three four!'], 25)
    """
    ends: list[int] = []
    for m in _END.finditer(text):
        if text[ends[-1] if ends else 0 : m.end()].strip():  # not a blank line after an end
            ends.append(m.end())
    if final and text.strip() and (not ends or text[ends[-1] :].strip()):
        ends.append(len(text))
    return ends


def first_repeat(text: str, final: bool = False) -> int | None:
    """Offset where the first sentence that repeats an earlier one begins, or ``None``.

    Only complete sentences count (``final``: the text is finished, so its tail is one too).
    A sentence repeats another when their lowercased words, punctuation ignored, are equal or
    at least :data:`SIMILAR` alike; sentences under :data:`MIN_WORDS` words never do.

    Example:
        >>> t = "It is fast. It is cached by hash. It is cached by hash! More"
        >>> t[first_repeat(t):]
        ' It is cached by hash! More'
    """
    from rapidfuzz import fuzz

    seen: list[str] = []
    start = 0
    for end in sentence_ends(text, final):
        key = _key(text[start:end])
        if len(key.split()) >= MIN_WORDS:
            if any(key == s or fuzz.ratio(key, s) >= SIMILAR for s in seen):
                return start
            seen.append(key)
        start = end
    return None


def drop_repeats(text: str) -> str:
    """``text`` up to the first repeated sentence (see :func:`first_repeat`), right-stripped.

    Example:
        >>> drop_repeats("A is B. A is B.")
        'A is B.'
    """
    cut = first_repeat(text, final=True)
    return text if cut is None else text[:cut].rstrip()


class SentenceGate:
    """Streams text as it comes, stopping before the first repeated sentence.

    The sentence being written is shown piece by piece while it cannot be starting a repeat;
    while it reads like the start of an earlier sentence (its words at least :data:`HOLD`
    alike to that sentence's opening of the same length) it is held back until it either
    drifts away or completes as a repeat, which is then never shown. So a loop's second
    round stays hidden, and a first sentence streams token by token.

    Example:
        >>> gate = SentenceGate()
        >>> [gate.feed(p) for p in ["It is ", "cached. It is ", "cached. More"]]
        ['It is ', 'cached.', '']
        >>> gate.stopped, gate.finish()
        (True, '')
    """

    def __init__(self) -> None:
        self.text = ""
        self.shown = 0
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add ``piece``; return what may be shown now ("" while it may start a repeat)."""
        if self.stopped:
            return ""
        self.text += piece
        cut = first_repeat(self.text)
        if cut is not None:
            self.stopped = True
            return self._show(cut)
        ends = sentence_ends(self.text)
        done = ends[-1] if ends else 0
        if self._may_repeat(self.text[:done], self.text[done:]):
            return self._show(done)
        return self._show(len(self.text))

    def finish(self) -> str:
        """The rest, once generation ended (without a final repeat)."""
        if self.stopped:
            return ""
        cut = first_repeat(self.text, final=True)
        self.stopped = True
        return self._show(len(self.text) if cut is None else cut)

    def _show(self, upto: int) -> str:
        out = self.text[self.shown : upto]
        if upto < len(self.text) and self.stopped:
            out = out.rstrip()
        self.shown = max(self.shown, upto)
        return out

    @staticmethod
    def _may_repeat(before: str, partial: str) -> bool:
        """Does ``partial`` (a sentence in progress) read like the start of a sentence of
        ``before`` that could count as repeated (:data:`MIN_WORDS` words or more), or is it
        still blank?"""
        from rapidfuzz import fuzz

        key = _key(partial)
        if not key:
            return True  # blanks wait for what follows them (the answer ends stripped)
        start = 0
        for end in sentence_ends(before, final=True):
            earlier = _key(before[start:end])
            start = end
            if len(earlier.split()) >= MIN_WORDS and (fuzz.ratio(key, earlier[: len(key)]) >= HOLD):
                return True
        return False


def gated(pieces: Iterable[str], settings: GenerationSettings) -> Iterator[str]:
    """``pieces`` of a streamed answer, through a :class:`SentenceGate` when ``settings`` stop
    repeated sentences (else unchanged).

    Example:
        >>> "".join(gated(["A is B. ", "A is B. C"], GenerationSettings()))
        'A is B.'
    """
    if not settings.stop_repeated_sentence:
        yield from pieces
        return
    gate = SentenceGate()
    for piece in pieces:
        shown = gate.feed(piece)
        if shown:
            yield shown
        if gate.stopped:
            return
    rest = gate.finish()
    if rest:
        yield rest


def logits_processors(settings: GenerationSettings, prompt_len: int) -> list[Any]:
    """transformers logits processors for ``settings`` that look at generated tokens only.

    A penalty on the prompt's tokens would penalise copying the passages, the very thing an
    answer should do: the repetition penalty skips the prompt (``prompt_ignore_length``), and
    ``NoRepeatNGramLogitsProcessor``, which has no such option, is wrapped to read
    ``input_ids[:, prompt_len:]`` (:class:`_GeneratedOnly`, a few lines of our own).
    """
    from transformers import NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor

    out: list[Any] = []
    if settings.repetition_penalty != 1.0:
        out.append(
            RepetitionPenaltyLogitsProcessor(
                settings.repetition_penalty, prompt_ignore_length=prompt_len
            )
        )
    if settings.no_repeat_ngram_size > 0:
        out.append(
            _GeneratedOnly(NoRepeatNGramLogitsProcessor(settings.no_repeat_ngram_size), prompt_len)
        )
    return out


class _GeneratedOnly:
    """Run a logits processor on the generated part of ``input_ids`` only."""

    def __init__(self, processor: Any, prompt_len: int) -> None:
        self.processor, self.prompt_len = processor, prompt_len

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        generated = input_ids[:, self.prompt_len :]
        if generated.shape[1] == 0:
            return scores
        return self.processor(generated, scores)


def repeat_stopper(tokenizer: Any, prompt_len: int) -> Any:
    """A transformers ``StoppingCriteria``: stop once the generated text repeats a sentence."""
    import torch
    from transformers import StoppingCriteria

    class RepeatedSentence(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            done = [
                first_repeat(tokenizer.decode(row[prompt_len:], skip_special_tokens=True))
                is not None
                for row in input_ids
            ]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return RepeatedSentence()
