"""A seeded synthetic long-document QA set: made-up facts hidden in man section 1 text.

Each item is one document of about ``length`` tokens (in the tokenizer you pass) made of
consecutive man-page paragraphs, with facts inserted between sentences at random depths:

- ``single``: one fact answers the question (``The archive code of project Veltran is 48213.``
  / ``What is the archive code of project Veltran?``);
- ``two_hop``: a bridge fact names a person (``Project Veltran is led by Marisa Okonkwo.``) and a
  second fact, far from it, gives that person's property (``Marisa Okonkwo's office is in
  Tallinn.``); the question names only the first entity (``In which city is the office of the
  person who leads project Veltran?``).

Every document also holds distractors built from the same templates with other made-up names
and other values (two per item), so a question cannot be answered by matching its template
alone. Names are made up from syllables and checked absent from the filler; the gold answer
occurs exactly once in the document. Item ``i`` depends only on ``(seed, length, kind, i)``,
so asking for more items later keeps the first ones.

Scoring: the gold string, case-insensitive, contained in the answer (:func:`score`);
:func:`strict_score` also requires that no distractor value appears.

Example:
    >>> filler = ["The cat command reads files. It writes them to standard output."] * 400
    >>> words = lambda text: len(text.split())
    >>> item = make_item(300, "two_hop", 0, seed=1, filler=filler, count_tokens=words)
    >>> item.tokens <= 300 and item.text.count(item.gold) == 1
    True
    >>> all(item.text[f.offset : f.offset + len(f.text)] == f.text for f in item.facts)
    True
    >>> score(f"It is {item.gold}.", item.gold)
    True
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

KINDS = ("single", "two_hop")
SEPARATOR = "\n\n"
#: Minimum distance between the two facts of a two-hop item, as a fraction of the document.
MIN_HOP_GAP = 0.35

# Real cities whose names contain no other name of the list (so substring scoring is exact).
CITIES = tuple(
    """
    Tallinn Vilnius Ljubljana Bratislava Tbilisi Yerevan Ulaanbaatar Windhoek Gaborone Maputo
    Lusaka Harare Antananarivo Asuncion Montevideo Paramaribo Reykjavik Valletta Podgorica Skopje
    Tirana Chisinau Bishkek Dushanbe Ashgabat Thimphu Vientiane Nouakchott Ouagadougou Bamako
    Niamey Conakry Freetown Monrovia Lome Cotonou Libreville Brazzaville Kigali Bujumbura Dodoma
    Lilongwe Mbabane Maseru Suva Apia Nukualofa Honiara Majuro Palikir Tarawa Funafuti Trondheim
    Tampere Aarhus Gdansk Brno Debrecen Timisoara Plovdiv Thessaloniki Izmir Tabriz Mashhad Herat
    Multan Madurai Mandalay Cebu Davao Hobart Darwin Dunedin Nelson Whitehorse Yellowknife Iqaluit
    Saskatoon Halifax Tucson Boise Spokane Duluth Savannah Asheville Valparaiso Arequipa Cuenca
    Manaus Recife Salta Rosario Sucre Oruro
    """.split()  # noqa: SIM905
)

FIRST_NAMES = tuple(
    """
    Marisa Tomas Ingrid Rafael Yusuf Lena Oskar Priya Mateo Hana Felix Amara Dario Selma Kofi
    Noor Elias Greta Ivo Leila Anton Mira Soren Zora Caspar Nadia Rolf Ayla Emil Talia
    """.split()  # noqa: SIM905
)

_ONSETS = ("b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "kl", "l", "m", "n", "p")
_ONSETS += ("pr", "r", "s", "st", "t", "tr", "v", "z")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o")
_CODAS = ["", "", "", "n", "r", "l", "s", "m", "x", "nd", "rt"]


@dataclass(frozen=True)
class Fact:
    """One inserted sentence: its text, its character offset in the document and its role
    (``answer``: holds the gold; ``bridge``: links the question's entity to the answer's
    person; ``distractor``: same template, other names)."""

    text: str
    offset: int
    role: str

    @property
    def end(self) -> int:
        return self.offset + len(self.text)


@dataclass(frozen=True)
class Item:
    """One question over one long document.

    Attributes:
        id: ``"<length>-<kind>-<index>-s<seed>"``, stable across runs.
        kind: ``single`` or ``two_hop``.
        length: the target size in tokens; ``tokens`` is the measured size (never above it).
        text: the document.
        question, gold: the question and the answer string expected in a reply.
        facts: every inserted sentence with its offset (``text[f.offset:f.end] == f.text``).
        distractor_values: values of the distractor facts (never equal to ``gold``).
    """

    id: str
    kind: str
    length: int
    tokens: int
    text: str
    question: str
    gold: str
    facts: tuple[Fact, ...]
    distractor_values: tuple[str, ...] = field(default=())

    def depth(self, fact: Fact) -> float:
        """Where ``fact`` starts, as a fraction of the document's characters."""
        return fact.offset / max(1, len(self.text))


def score(answer: str, gold: str) -> bool:
    """True if ``gold`` occurs in ``answer`` (case-insensitive).

    Example:
        >>> score("The office is in TALLINN.", "Tallinn"), score("Riga", "Tallinn")
        (True, False)
    """
    return gold.casefold() in answer.casefold()


def strict_score(answer: str, gold: str, distractors: Sequence[str]) -> bool:
    """:func:`score`, and no distractor value in ``answer`` (listing every city is not right).

    Example:
        >>> strict_score("Tallinn or Riga", "Tallinn", ["Riga"])
        False
    """
    return score(answer, gold) and not any(score(answer, d) for d in distractors)


# -- made-up names and values ------------------------------------------------------------------
def made_up_word(rng: random.Random, syllables: tuple[int, int] = (2, 3)) -> str:
    """A pronounceable capitalised word such as ``Veltran`` (not a real word, usually)."""
    n = rng.randint(*syllables)
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(n)]
    return ("".join(parts) + rng.choice(_CODAS)).capitalize()


def _code(rng: random.Random) -> str:
    return str(rng.randint(10_000, 99_999))


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {made_up_word(rng, (2, 3))}"


@dataclass(frozen=True)
class _Template:
    fact: str  # with {e} (entity) and {v} (value)
    question: str  # with {e}
    value: Callable[[random.Random], str]


SINGLE_TEMPLATES = (
    _Template(
        "The archive code of project {e} is {v}.",
        "What is the archive code of project {e}?",
        _code,
    ),
    _Template(
        "The research vessel of expedition {e} is named {v}.",
        "What is the name of the research vessel of expedition {e}?",
        lambda rng: made_up_word(rng, (3, 3)),
    ),
    _Template(
        "The {e} society holds its annual meeting in {v}.",
        "In which city does the {e} society hold its annual meeting?",
        lambda rng: rng.choice(CITIES),
    ),
)

# (bridge: {e} -> {p}, answer: {p} -> {v}, question about {e})
TWO_HOP_TEMPLATES = (
    (
        "Project {e} is led by {p}.",
        "{p}'s office is in {v}.",
        "In which city is the office of the person who leads project {e}?",
        lambda rng: rng.choice(CITIES),
    ),
    (
        "The {e} observatory is run by {p}.",
        "The badge number of {p} is {v}.",
        "What is the badge number of the person who runs the {e} observatory?",
        _code,
    ),
    (
        "The ship {e} is captained by {p}.",
        "{p} was born in {v}.",
        "In which city was the captain of the ship {e} born?",
        lambda rng: rng.choice(CITIES),
    ),
)


# -- documents ---------------------------------------------------------------------------------
def _filler(
    rng: random.Random,
    pool: Sequence[str],
    counts: Sequence[int],
    budget: int,
) -> list[str]:
    """Consecutive paragraphs of ``pool`` from a random start whose counts sum to <= budget."""
    start = rng.randrange(len(pool))
    out: list[str] = []
    used = 0
    for k in range(len(pool)):
        i = (start + k) % len(pool)
        cost = counts[i] + 1  # about one token for the paragraph break
        if used + cost > budget:
            if out:
                break
            continue  # skip a paragraph bigger than the whole budget
        out.append(pool[i])
        used += cost
    return out


def _boundaries(text: str) -> list[int]:
    """Offsets right after a sentence (``.``/``!``/``?`` then space) or a paragraph."""
    cuts = [m.end() for m in re.finditer(r"[.!?](?=\s)", text)]
    cuts += [m.start() for m in re.finditer(re.escape(SEPARATOR), text)]
    return sorted(set(cuts))


def _insert(text: str, facts: Sequence[tuple[str, str, float]]) -> tuple[str, list[Fact]]:
    """Insert ``(sentence, role, depth)`` facts at the sentence boundaries nearest their depths
    (distinct boundaries); return the new text and the facts with their final offsets."""
    cuts = _boundaries(text)
    if len(cuts) < len(facts):
        raise ValueError("the filler has too few sentence boundaries for the facts")
    taken: dict[int, tuple[str, str]] = {}
    for sentence, role, depth in facts:
        want = depth * len(text)
        for cut in sorted(cuts, key=lambda c: abs(c - want)):
            if cut not in taken:
                taken[cut] = (sentence, role)
                break
    pieces: list[str] = []
    placed: list[Fact] = []
    pos = 0
    length = 0
    for cut in sorted(taken):
        sentence, role = taken[cut]
        pieces.append(text[pos:cut])
        length += cut - pos
        pieces.append(" ")
        placed.append(Fact(sentence, length + 1, role))
        pieces.append(sentence)
        length += 1 + len(sentence)
        pos = cut
    pieces.append(text[pos:])
    return "".join(pieces), placed


def _absent(words: Sequence[str], text: str) -> bool:
    low = text.casefold()
    return all(w.casefold() not in low for w in words)


def _draw_facts(
    rng: random.Random, kind: str, filler_text: str
) -> tuple[str, str, list[tuple[str, str]], list[str]]:
    """Question, gold, ``(sentence, role)`` facts (answer first) and distractor values."""
    while True:
        if kind == "single":
            t = rng.choice(SINGLE_TEMPLATES)
            entities = [made_up_word(rng) for _ in range(3)]
            values = [t.value(rng) for _ in range(3)]
            facts = [(t.fact.format(e=entities[0], v=values[0]), "answer")]
            facts += [
                (t.fact.format(e=e, v=v), "distractor")
                for e, v in zip(entities[1:], values[1:], strict=True)
            ]
            question = t.question.format(e=entities[0])
            names = entities
        elif kind == "two_hop":
            bridge, answer, q, value = rng.choice(TWO_HOP_TEMPLATES)
            entities = [made_up_word(rng) for _ in range(2)]
            people = [_person(rng) for _ in range(3)]
            values = [value(rng) for _ in range(3)]
            facts = [
                (answer.format(p=people[0], v=values[0]), "answer"),
                (bridge.format(e=entities[0], p=people[0]), "bridge"),
                (bridge.format(e=entities[1], p=people[1]), "distractor"),
                (answer.format(p=people[1], v=values[1]), "distractor"),
                (answer.format(p=people[2], v=values[2]), "distractor"),
            ]
            question = q.format(e=entities[0])
            names = entities + [p.split()[1] for p in people]
        else:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        distinct = len({n.casefold() for n in names}) == len(names)
        if (
            distinct
            and len({v.casefold() for v in values}) == len(values)
            and not any(a != b and a.casefold() in b.casefold() for a in values for b in values)
            and _absent(names + values, filler_text)
        ):
            return question, values[0], facts, values[1:]


def _depths(rng: random.Random, facts: Sequence[tuple[str, str]]) -> list[float]:
    """Random depths in [0.05, 0.95]; a two-hop pair lies at least MIN_HOP_GAP apart."""
    out = [rng.uniform(0.05, 0.95) for _ in facts]
    if len(facts) > 1 and facts[1][1] == "bridge":
        while abs(out[0] - out[1]) < MIN_HOP_GAP:
            out[1] = rng.uniform(0.05, 0.95)
    return out


def make_item(
    length: int,
    kind: str,
    index: int,
    *,
    seed: int,
    filler: Sequence[str],
    count_tokens: Callable[[str], int],
    filler_counts: Sequence[int] | None = None,
) -> Item:
    """Item ``index`` of the ``(seed, length, kind)`` series.

    Args:
        length: target size in tokens of ``count_tokens``; the document never exceeds it.
        kind: ``single`` or ``two_hop``.
        filler: paragraphs to draw consecutive runs from (:func:`load_filler`).
        count_tokens: the tokenizer to count with (the LLM's, for the benchmark).
        filler_counts: ``count_tokens`` of every paragraph, if already known (saves time).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = random.Random(f"longqa-{seed}-{length}-{kind}-{index}")
    counts = list(filler_counts) if filler_counts is not None else [count_tokens(p) for p in filler]
    reserve = 0
    for _ in range(50):
        paras = _filler(rng, filler, counts, length - reserve)
        base = SEPARATOR.join(paras)
        question, gold, facts, distractors = _draw_facts(rng, kind, base)
        text, placed = _insert(
            base, [(s, r, d) for (s, r), d in zip(facts, _depths(rng, facts), strict=True)]
        )
        low = text.casefold()
        if any(low.count(v.casefold()) != 1 for v in (gold, *distractors)):
            continue  # a value also occurs inside a made-up name: draw again
        tokens = count_tokens(text)
        if tokens <= length:
            return Item(
                id=f"{length}-{kind}-{index}-s{seed}",
                kind=kind,
                length=length,
                tokens=tokens,
                text=text,
                question=question,
                gold=gold,
                facts=tuple(placed),
                distractor_values=tuple(distractors),
            )
        reserve += tokens - length + sum(count_tokens(s) + 1 for s, _ in facts)
    raise RuntimeError(f"could not fit an item into {length} tokens: is the filler long enough?")


def make_items(
    length: int,
    kind: str,
    n: int,
    *,
    seed: int,
    filler: Sequence[str],
    count_tokens: Callable[[str], int],
    filler_counts: Sequence[int] | None = None,
) -> list[Item]:
    """Items ``0..n-1`` of the ``(seed, length, kind)`` series (see :func:`make_item`)."""
    counts = list(filler_counts) if filler_counts is not None else [count_tokens(p) for p in filler]
    return [
        make_item(
            length,
            kind,
            i,
            seed=seed,
            filler=filler,
            count_tokens=count_tokens,
            filler_counts=counts,
        )
        for i in range(n)
    ]


def load_filler(min_paragraphs: int = 20_000, seed: int = 0, min_words: int = 8) -> list[str]:
    """Man section 1 paragraphs (rendered and cached by ``manpages.py``), in the seeded order,
    keeping those of ``min_words`` words or more that look like prose (end with ``.``)."""
    try:
        from benchmarks.manpages import paragraphs
    except ImportError:  # run as a script: benchmarks/ itself is on sys.path
        from manpages import paragraphs  # type: ignore[no-redef]

    paras = paragraphs(min_paragraphs, "1", seed, min_words)
    return [p for p in paras if p.endswith(".")]
