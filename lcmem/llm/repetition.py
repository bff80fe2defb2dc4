"""Generation that does not loop: per-model settings and a stop at the first repeated sentence
or repeated span.

Small models such as SmolLM2-135M fall into loops under greedy decoding ("A file that was seen
but not changed is never embedded again." three times over). Three guards, set per model in a
:class:`GenerationSettings` that each backend keeps as ``llm.generation``:

- ``repetition_penalty`` and ``no_repeat_ngram_size``: transformers' own logits processors,
  applied to the *generated* tokens only (:func:`logits_processors`: counting the prompt would
  penalise copying a fact from the passages, the very thing an answer should do);
- ``frequency_penalty``: OpenAI's parameter, sent to OpenAI-compatible servers;
- ``stop_repeated_sentence``: generation ends when a sentence repeats (or nearly repeats) one
  already written, and the repeat is cut off (:func:`first_repeat`, :class:`SentenceGate`);
- ``stop_repeated_span``: generation ends when a run of :data:`LOOP_TOKENS` or more tokens
  occurs :data:`LOOP_TIMES` times, also without any sentence end
  ("systemd.system.systemd.system..."); one round of the loop is kept (:func:`loop_start`).

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
from itertools import pairwise
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

LOOP_TOKENS = 8
"""Tokens (words and punctuation marks, :func:`word_tokens`) in a span that loops."""
LOOP_TIMES = 3
"""Times a span of :data:`LOOP_TOKENS` tokens must occur, without overlap, to be a loop: twice
can be an answer naming the same thing twice, three times in a short answer is a loop."""

# Words are runs of letters and digits: "_" is a mark of its own, as "." and "-" are, so a loop
# inside one identifier ("user_context_user_context_...") is a loop of tokens too.
_TOKEN = re.compile(r"[^\W_]+|[^\w\s]|_")
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
        stop_repeated_span: end the answer once a span of :data:`LOOP_TOKENS` tokens occurs
            :data:`LOOP_TIMES` times, sentence ends or not (all backends; the loop is cut
            after its first round).

    Example:
        >>> GenerationSettings(repetition_penalty=1.2).request_fields()
        {'repeat_penalty': 1.2}
    """

    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    frequency_penalty: float = 0.0
    stop_repeated_sentence: bool = True
    stop_repeated_span: bool = True

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

    @property
    def stops(self) -> bool:
        """Does any repeat end generation?"""
        return self.stop_repeated_sentence or self.stop_repeated_span

    def repeat_at(self, text: str, final: bool = False) -> int | None:
        """:func:`first_repeat` of ``text`` under these settings (``None`` when both are off)."""
        if not self.stops:
            return None
        return first_repeat(text, final, self.stop_repeated_sentence, self.stop_repeated_span)

    def cut(self, text: str) -> str:
        """``text`` up to its first repeat under these settings (:func:`drop_repeats`)."""
        if not self.stops:
            return text
        return drop_repeats(text, self.stop_repeated_sentence, self.stop_repeated_span)

    def gate(self) -> SentenceGate | None:
        """A :class:`SentenceGate` for a stream under these settings, ``None`` if none stops."""
        if not self.stops:
            return None
        return SentenceGate(self.stop_repeated_sentence, self.stop_repeated_span)

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


OFF = GenerationSettings(stop_repeated_sentence=False, stop_repeated_span=False)
"""Plain decoding: no penalty, no repeat stop (lcmem before issue 21)."""
SENTENCES_ONLY = GenerationSettings(stop_repeated_span=False)
"""The repeated-sentence stop alone (SmolLM2's default in issue 21's rounds 1-2)."""

MODEL_DEFAULTS: Mapping[str, GenerationSettings] = {
    # Chosen on the dev split of benchmarks/bench_answers.py (results/answers.md): adding a
    # repetition penalty of 1.2 and no_repeat_ngram_size=4 changed no answer there, so only the
    # stop, which cannot change a token before the cut (greedy decoding), is on. Round 3 added
    # the repeated-span stop (same reason: it only ends a loop; results/answers.md).
    "SmolLM2-135M-Instruct": GenerationSettings(stop_repeated_sentence=True),
}
"""Per-model defaults, by the backend's model name; other models get
``GenerationSettings()`` (the repeated-sentence and repeated-span stops)."""


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


def first_repeat(
    text: str, final: bool = False, sentences: bool = True, spans: bool = True
) -> int | None:
    """Offset where the first repeat begins, or ``None``: a sentence repeating an earlier one
    (``sentences``), or the second round of a loop of tokens (``spans``, :func:`loop_start`).

    Only complete sentences count (``final``: the text is finished, so its tail is one too).
    A sentence repeats another when their lowercased words, punctuation ignored, are equal or
    at least :data:`SIMILAR` alike; sentences under :data:`MIN_WORDS` words never do.

    Example:
        >>> t = "It is fast. It is cached by hash. It is cached by hash! More"
        >>> t[first_repeat(t):]
        ' It is cached by hash! More'
    """
    cuts = []
    if sentences:
        cuts.append(_repeated_sentence(text, final))
    if spans:
        cuts.append(loop_start(text))
    return min((c for c in cuts if c is not None), default=None)


def _repeated_sentence(text: str, final: bool) -> int | None:
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


def word_tokens(text: str) -> list[re.Match[str]]:
    """Words (letters and digits) and single punctuation marks of ``text``, lowercased by the
    callers; the joiners of identifiers (``_``, ``.``, ``-``) are marks of their own.

    Example:
        >>> [m.group() for m in word_tokens("systemd.system unit_file")]
        ['systemd', '.', 'system', 'unit', '_', 'file']
    """
    return list(_TOKEN.finditer(text))


def loop_start(text: str, size: int = LOOP_TOKENS, times: int = LOOP_TIMES) -> int | None:
    """Offset where a loop's second round begins, or ``None`` when ``text`` has no loop.

    A loop: some span of ``size`` tokens (:func:`word_tokens`, case ignored) within one
    sentence occurs ``times`` times without overlap (a span across a sentence end would cut
    a loop of sentences mid-sentence: those are the sentence stop's). The cut keeps one
    round: it is one period after the span's first occurrence (the smallest shift under
    which the text from there on repeats itself), or, for a loop that varies, the span's
    second occurrence. So loops without sentence ends are caught too.

    Example:
        >>> t = "The unit is " + "systemd.system." * 7
        >>> t[: loop_start(t)]
        'The unit is systemd.system.'
        >>> loop_start("A file is seen. A file is seen. A file is seen.") is None  # too short
        True
    """
    found = word_tokens(text)
    toks = [m.group().lower() for m in found]
    # ends[i]: sentence ends before token i (spans across them are the sentence stop's job)
    ends = [0]
    for before, after in pairwise(found):
        gap = text[before.end() : after.start()]
        stop = "\n" in gap or (gap.isspace() and before.group() in ".!?")
        ends.append(ends[-1] + stop)
    where: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(toks) - size + 1):
        if ends[i + size - 1] != ends[i]:
            continue
        at = where.setdefault(tuple(toks[i : i + size]), [])
        if at and i < at[-1] + size:
            continue  # overlaps the previous occurrence
        at.append(i)
        if len(at) < times:
            continue
        first, end = at[0], i + size
        cut = at[1]
        for shift in range(1, at[1] - first):
            if toks[first + shift : end] == toks[first : end - shift]:
                cut = first + shift
                break
        return found[cut].start()
    return None


def repeat_hold(text: str) -> int:
    """Offset from which the end of ``text`` repeats earlier text (token-wise), else its
    length: the longest run of final tokens that also occurs earlier (the last one may be a
    word still being written: "sys" matches "systemd"). While streaming,
    that run may be a loop's next round, so it is held back until it drifts away (a run of
    punctuation marks alone is not held, but for a final ``_`` or ``-``: an identifier's
    joiner waits for its next part).

    Example:
        >>> t = "It runs systemd.system.systemd"
        >>> t[repeat_hold(t):]
        'systemd'
        >>> "a b c"[repeat_hold("a b c") :]
        ''
    """
    found = word_tokens(text)
    rev = [m.group().lower() for m in reversed(found)]
    longest = 0
    for k in range(1, len(rev)):  # the last token may be a word cut short: a prefix matches
        if not rev[k].startswith(rev[0]):
            continue
        n = 1
        while k + n < len(rev) and rev[n] == rev[k + n]:
            n += 1
        longest = max(longest, n)
    # a final "_" or "-" joins an identifier still being written: it waits for its next part,
    # which may be a loop's next round ("user_context_" + "default_user_context")
    joining = len(text.rstrip("_-"))
    if not any(t[0].isalnum() for t in rev[:longest]):
        return joining  # nothing, or a repeated "." or "," alone: released at once
    return min(joining, found[len(found) - longest].start())


def drop_repeats(text: str, sentences: bool = True, spans: bool = True) -> str:
    """``text`` up to the first repeat (see :func:`first_repeat`), right-stripped.

    Example:
        >>> drop_repeats("A is B. A is B.")
        'A is B.'
    """
    cut = first_repeat(text, True, sentences, spans)
    return text if cut is None else text[:cut].rstrip()


class SentenceGate:
    """Streams text as it comes, stopping before the first repeated sentence (or loop).

    The sentence being written is shown piece by piece while it cannot be starting a repeat;
    while it reads like the start of an earlier sentence (its words at least :data:`HOLD`
    alike to that sentence's opening of the same length) it is held back until it either
    drifts away or completes as a repeat, which is then never shown. So a loop's second
    round stays hidden, and a first sentence streams token by token. With ``spans``, the
    final tokens that repeat earlier text (:func:`repeat_hold`) are held back too, so a loop
    without sentence ends (:func:`loop_start`) is cut before its second round is shown.

    Example:
        >>> gate = SentenceGate()
        >>> [gate.feed(p) for p in ["It is ", "cached. It is ", "cached. More"]]
        ['It is ', 'cached.', '']
        >>> gate.stopped, gate.finish()
        (True, '')
    """

    def __init__(self, sentences: bool = True, spans: bool = True) -> None:
        self.sentences, self.spans = sentences, spans
        self.text = ""
        self.shown = 0
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add ``piece``; return what may be shown now ("" while it may start a repeat)."""
        if self.stopped:
            return ""
        self.text += piece
        cut = first_repeat(self.text, False, self.sentences, self.spans)
        if cut is not None:
            self.stopped = True
            return self._show(cut)
        upto = len(self.text)
        if self.sentences:
            ends = sentence_ends(self.text)
            done = ends[-1] if ends else 0
            if self._may_repeat(self.text[:done], self.text[done:]):
                upto = done
        if self.spans:
            upto = min(upto, repeat_hold(self.text))
        return self._show(upto)

    def finish(self) -> str:
        """The rest, once generation ended (without a final repeat)."""
        if self.stopped:
            return ""
        cut = first_repeat(self.text, True, self.sentences, self.spans)
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
    gate = settings.gate()
    if gate is None:
        yield from pieces
        return
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


def repeat_stopper(tokenizer: Any, prompt_len: int, settings: GenerationSettings) -> Any:
    """A transformers ``StoppingCriteria``: stop once the generated text repeats a sentence or
    loops (as ``settings`` say)."""
    import torch
    from transformers import StoppingCriteria

    class RepeatedSentence(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            done = [
                settings.repeat_at(tokenizer.decode(row[prompt_len:], skip_special_tokens=True))
                is not None
                for row in input_ids
            ]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return RepeatedSentence()
