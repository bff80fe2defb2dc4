"""A second chronicle generator for episodic memory, written from its own specification.

It exists so that lcmem's memory is not only measured on text shaped like ``epbench.py``'s.
Nothing here is shared with that generator: other name pools, other places, other sentence
shapes, other date phrases, chapters of several paragraphs, and paragraphs that are *not*
events (distractors). This specification was frozen (committed) before lcmem was run on it.

Specification
-------------
World: 18 characters (first + last name from the pools below, drawn by seed) and the 24 places
of ``PLACES`` (multi-word and one-word names, with and without "the", one possessive). The
chronicle is a list of *asserted* events (day, place, 1-3 characters, activity); no character
has two events on one day. Only asserted events are gold facts.

Narrative clock: the day of the last non-flashback asserted event. Relative date phrases are
relative to it; distractor paragraphs never move it.

Event sentence shapes (chosen at random per event; D = date phrase, P = place, X, Y, Z = names):

1. ``D, X <activity> <prep> P.``                 (activity from ``ACTIVITIES``: any verb)
2. ``D, P received X.`` / ``D, P received X and Y.``  (the place opens the clause)
3. ``The evening of D found X at P.`` / ``The morning of D found X and Y at P.``
4. ``X, Y and Z walked to P D.``                  (a list opening the sentence)
5. ``At P, X and Y <activity> D.``                (place first, then the people)
6. ``X joined Y at P D.``
7. ``P was busy D: X <activity> there.``          (place at sentence start)
8. ``X spent D at P, <activity-ing> with Y.``
9. flashbacks, always with an absolute date, told later than they happened and not moving the
   clock: ``Much earlier, on D, ...``, ``Months before all this, on D, ...``, ``Looking further
   back, on D, ...``, ``Years before, on D, ...``, ``X still remembered D, when she had been at
   P.``

Date phrases: absolute ``9 May 2030``, ``May 9, 2030``, ``Tuesday 9 May 2030``, ``9th May
2030``, ``2030-05-09``; relative ``Two days later``, ``The following morning``, ``The next
day``, ``A week on``, ``Three days afterwards``, ``That same evening``, ``After a fortnight``.
Names: the first time in full, later in full or by first name.

Distractor paragraphs (mention known characters and places, assert no location):
cancelled plans, rumours, letters written *to* someone, dreams and wishes, descriptions of
places, negated visits, hypotheticals. Some carry an absolute date (which must not move the
clock or make a fact). ``distractors`` = paragraphs per event (0 = plain chronicle).

Chapters: 3-7 paragraphs, headed ``Chapter N``, ``Part N`` or ``~ N ~``. Each event paragraph
is the event sentence plus 0-2 nameless filler sentences.

Questions (gold computed from the asserted events):

- ``latest``: "What was X's latest known location?" / "Where is X now?" -> place(s) of X's
  latest event.
- ``latest_asof``: "As of D, what was X's latest known location?" -> place(s) of X's latest
  event on or before D (none before X's first event).
- ``places``: "Which places did X visit between D1 and D2?" -> distinct places (inclusive).
- ``count``: "How many distinct places did X visit?" (optionally "between D1 and D2").
- ``met_both``: "Which characters met both A and B?" -> characters other than A and B who
  shared an asserted event with A and one with B.

Splits: ``dev`` books use seeds 1000+i, ``test`` books 2000+i; tune only on dev.

Example:
    >>> book = generate(tokens=3000, seed=seed_for("dev", 0), distractors=1.0)
    >>> book.text.split("\\n", 1)[0] in ("Chapter 1", "Part 1", "~ 1 ~")
    True
    >>> qs = questions(book, per_type=2, seed=1)
    >>> sorted({q.kind for q in qs})
    ['count', 'latest', 'latest_asof', 'met_both', 'places']
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field

FIRSTS = [
    "Anselm",
    "Beatriz",
    "Cosima",
    "Dagny",
    "Emeric",
    "Fenna",
    "Gideon",
    "Hester",
    "Isolde",
    "Jasper",
    "Kasimir",
    "Liesel",
    "Magnus",
    "Noemi",
    "Oskar",
    "Perpetua",
    "Quill",
    "Rowena",
    "Silvan",
    "Theda",
    "Ulric",
    "Vesna",
    "Wendel",
    "Xenia",
    "Yorick",
    "Zelda",
    "Auberon",
    "Brigid",
    "Caspian",
    "Delphine",
]
LASTS = [
    "Roark",
    "Quell",
    "Varga",
    "Hale",
    "Tolland",
    "Ostrow",
    "Pennick",
    "Dray",
    "Lacombe",
    "Merriweather",
    "Stavros",
    "Ibsen",
    "Cardew",
    "Fairholm",
    "Vance",
    "Ashdown",
    "Kerrigan",
    "Mistral",
    "Oduya",
    "Szabo",
    "Thackery",
    "Ruelle",
    "Bexley",
    "Harlan",
    "Winslow",
    "Yeats",
    "Corrigan",
    "Valdez",
]
PLACES = [
    "Tallow Wharf", "Marrowby", "the Glasshouse Inn", "Kestrel Yard", "Ossory Hall",
    "the Lantern Quay", "Brackwater", "Fennick Lock", "the Old Tannery", "Hollin Bridge",
    "St. Avel's Chapel", "Dunmore Station", "Pellam Gardens", "Redcap Market",
    "Thornbury Forge", "the Salt Exchange", "Calder Mill", "Westerly Point", "Ashgrove",
    "the Rookery", "Greyfriars Lane", "Vantage Hill", "the Copper Kettle", "Emberlee",
]  # fmt: skip
ACTIVITIES = [
    ("built a henhouse", "building a henhouse"), ("fed the goats", "feeding the goats"),
    ("wound the tower clock", "winding the tower clock"), ("mended nets", "mending nets"),
    ("tuned the old organ", "tuning the old organ"), ("sketched the harbour", "sketching"),
    ("bartered for salt", "bartering for salt"), ("unloaded crates", "unloading crates"),
    ("judged a baking contest", "judging a baking contest"), ("swept the steps", "sweeping"),
    ("caught a pike", "fishing"), ("haggled over rope", "haggling over rope"),
    ("stitched sails", "stitching sails"), ("counted the ledgers", "counting ledgers"),
    ("polished brass lamps", "polishing lamps"), ("chopped firewood", "chopping firewood"),
    ("brewed cider", "brewing cider"), ("whittled spoons", "whittling spoons"),
    ("recited old ballads", "reciting ballads"), ("patched the roof", "patching the roof"),
    ("herded sheep", "herding sheep"), ("carved a sign", "carving a sign"),
    ("pressed apples", "pressing apples"), ("sorted letters", "sorting letters"),
]  # fmt: skip
PREPS = ["at", "in", "near", "beside", "outside"]
FILLER = [
    "The wind had turned cold.", "Gulls wheeled over the rooftops.",
    "Nobody said much about the weather.", "A cart rattled past on the cobbles.",
    "The bells rang twice and then fell silent.", "Smoke hung low over the chimneys.",
    "It rained on and off all afternoon.", "Somewhere a dog barked at nothing.",
    "The bread that day was burnt at the edges.", "Lamps were lit early.",
]  # fmt: skip
NUMBER = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def seed_for(split: str, i: int) -> int:
    """The seed of book ``i`` of a split (``dev`` or ``test``)."""
    return {"dev": 1000, "test": 2000}[split] + i


@dataclass
class Character:
    first: str
    last: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class ChronEvent:
    """One asserted event of the chronicle."""

    day: str
    place: str
    characters: list[str]
    activity: str
    flashback: bool = False


@dataclass
class Book:
    text: str
    events: list[ChronEvent]
    characters: list[Character]
    places: list[str]
    chapters: list[tuple[int, int]] = field(default_factory=list)
    n_distractors: int = 0


@dataclass
class Question:
    kind: str
    text: str
    gold: list[str]
    args: dict[str, str]


def _abs(d: dt.date, rng: random.Random) -> str:
    m = d.strftime("%B")
    suf = {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10 if d.day not in (11, 12, 13) else 0, "th")
    return rng.choice(
        [
            f"{d.day} {m} {d.year}",
            f"{m} {d.day}, {d.year}",
            f"{WEEKDAYS[d.weekday()]} {d.day} {m} {d.year}",
            f"{d.day}{suf} {m} {d.year}",
            d.isoformat(),
        ]
    )


def _rel(delta: int, rng: random.Random) -> str | None:
    opts = {
        0: ["That same evening", "Later that day"],
        1: ["The following morning", "The next day"],
        2: ["Two days later", "Two days afterwards"],
        3: ["Three days later", "Three days afterwards"],
        7: ["A week on", "A week later"],
        14: ["After a fortnight", "Two weeks later"],
    }.get(delta)
    return rng.choice(opts) if opts else None


def _list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def _event_sentence(
    rng: random.Random, names: list[str], place: str, date: str, absolute: bool, flashback: bool
) -> str:
    act, acting = rng.choice(ACTIVITIES)
    prep = rng.choice(PREPS)
    who = _list(names)
    if flashback:
        cue = rng.choice(
            ["Much earlier, on", "Months before all this, on", "Looking further back, on",
             "Years before, on", "remember"]
        )  # fmt: skip
        if cue == "remember" and len(names) == 1:
            return f"{who} still remembered {date}, when she had been at {place}."
        cue = cue if cue != "remember" else "Much earlier, on"
        return f"{cue} {date}, {who} {act} {prep} {place}."
    lead = f"On {date}" if absolute else date
    tail = f"on {date}" if absolute else date[0].lower() + date[1:]
    shapes = ["plain", "received", "found", "at_first", "busy"]
    if len(names) >= 2:
        shapes += ["joined", "spent"]
    if len(names) == 3:
        shapes += ["walked", "walked"]
    shape = rng.choice(shapes)
    if shape == "plain":
        return f"{lead}, {who} {act} {prep} {place}."
    if shape == "received":
        return f"{lead}, {place} received {who}."
    if shape == "found" and absolute:
        part = rng.choice(["evening", "morning"])
        return f"The {part} of {date} found {who} at {place}."
    if shape == "found":
        return f"{lead}, {who} turned up at {place} and {act}."
    if shape == "at_first":
        return f"At {place}, {who} {act} {tail}."
    if shape == "busy":
        return f"{_cap(place)} was busy {tail}: {who} {act} there."
    if shape == "joined":
        return f"{names[0]} joined {_list(names[1:])} at {place} {tail}."
    if shape == "spent":
        return f"{names[0]} spent {tail} at {place}, {acting} with {_list(names[1:])}."
    return f"{who} walked to {place} {tail}."


def _distractor(
    rng: random.Random, chars: list[Character], places: list[str], clock: dt.date
) -> str:
    x, y = (c.first if rng.random() < 0.5 else c.name for c in rng.sample(chars, 2))
    p, q = rng.sample(places, 2)
    d = _abs(clock + dt.timedelta(days=rng.randint(3, 40)), rng)
    kind = rng.randrange(8)
    if kind == 0:  # cancelled plan
        return rng.choice(
            [
                f"{x} had planned to travel to {p} on {d}, but the trip was called off.",
                f"{x} meant to visit {p} with {y}; in the end neither of them went.",
                f"A trip to {p} was arranged for {x} on {d}. It was cancelled the day before.",
            ]
        )
    if kind == 1:  # rumour
        return rng.choice(
            [
                f"It was rumoured that {x} had been seen at {p}.",
                f"Word went round that {x} was hiding in {p}, though nobody believed it.",
                f"Some said {x} and {y} had quarrelled at {p}; others said it was a lie.",
            ]
        )
    if kind == 2:  # letter to someone
        return rng.choice(
            [
                f"{x} wrote a long letter to {y} about the weather in {p}.",
                f"{x} sent a parcel to {y}, wrapped in brown paper.",
                f"In a letter to {y}, {x} described the market at {p}.",
            ]
        )
    if kind == 3:  # dream or wish
        return rng.choice(
            [
                f"That night {x} dreamt of {p}.",
                f"{x} wished she could see {p} again with {y}.",
                f"{x} longed to walk through {p} one more time.",
            ]
        )
    if kind == 4:  # description of a place
        return rng.choice(
            [
                f"{_cap(p)} stood at the end of a long lane, its roofs grey with slate.",
                f"Nobody remembered who had founded {p}, or why.",
                f"{_cap(p)} was older than {q}, and far quieter.",
            ]
        )
    if kind == 5:  # negated
        return rng.choice(
            [
                f"{x} did not go to {p} that week.",
                f"{x} never reached {p}; the road was flooded.",
            ]
        )
    if kind == 6:  # hypothetical
        return f"If {x} had gone to {p}, she would have met {y} there."
    return rng.choice(  # talk about someone, no meeting
        [
            f"{x} talked about {y} for hours, though {y} was far away.",
            f"Everyone in {p} had heard of {x}.",
        ]
    )


def generate(tokens: int = 20000, seed: int = 0, *, distractors: float = 0.0) -> Book:
    """A chronicle of about ``tokens`` tokens (words x 4/3); ``distractors`` paragraphs per event.

    The same seed gives the same book.
    """
    rng = random.Random(seed)
    chars = [
        Character(f, la)
        for f, la in zip(rng.sample(FIRSTS, 18), rng.sample(LASTS, 18), strict=True)
    ]
    places = list(PLACES)
    rng.shuffle(places)
    weights = [1.0 / (i + 1) ** 0.4 for i in range(len(places))]
    clock = dt.date(2030, 1, 1) + dt.timedelta(days=rng.randrange(300))
    first_day = clock
    busy: dict[str, set[str]] = {}
    seen: set[str] = set()
    events: list[ChronEvent] = []
    paragraphs: list[str] = []
    n_distr = 0
    started = False
    words = 0
    budget = int(tokens * 0.75)
    while words < budget:
        # distractor paragraphs before the next event
        n = int(distractors) + (1 if rng.random() < distractors - int(distractors) else 0)
        for _ in range(n if started else 0):
            para = _distractor(rng, chars, places, clock)
            paragraphs.append(para)
            n_distr += 1
            words += len(para.split())
        flashback = started and (clock - first_day).days > 30 and rng.random() < 0.08
        if flashback:
            when = first_day + dt.timedelta(days=rng.randrange((clock - first_day).days - 1))
        else:
            delta = rng.choice([0, 1, 1, 2, 2, 3, 3, 7, 14, 5, 9])
            when = clock + dt.timedelta(days=delta) if started else clock
        k = rng.choices([1, 2, 3], [0.4, 0.4, 0.2])[0]
        free = [c for c in chars if when.isoformat() not in busy.get(c.name, set())]
        if len(free) < k:
            clock = when + dt.timedelta(days=1) if not flashback else clock
            continue
        people = rng.sample(free, k)
        place = rng.choices(places, weights)[0]
        rel = None if (flashback or not started) else _rel((when - clock).days, rng)
        absolute = rel is None or rng.random() < 0.35
        date = _abs(when, rng) if absolute else rel
        names = []
        for c in people:
            names.append(c.name if c.name not in seen or rng.random() < 0.5 else c.first)
            seen.add(c.name)
        sentence = _event_sentence(rng, names, place, date, absolute, flashback)
        fill = rng.sample(FILLER, rng.randint(0, 2))
        para = " ".join([sentence, *fill])
        paragraphs.append(para)
        words += len(para.split())
        events.append(ChronEvent(when.isoformat(), place, [c.name for c in people],
                                 sentence, flashback))  # fmt: skip
        for c in people:
            busy.setdefault(c.name, set()).add(when.isoformat())
        if not flashback:
            clock = when
        started = True
    # chapters of 3-7 paragraphs
    parts: list[str] = []
    chapters: list[tuple[int, int]] = []
    offset, i, n_ch = 0, 0, 0
    while i < len(paragraphs):
        n_ch += 1
        take = rng.randint(3, 7)
        head = rng.choice([f"Chapter {n_ch}", f"Part {n_ch}", f"~ {n_ch} ~"])
        if n_ch == 1:
            head = rng.choice(["Chapter 1", "Part 1", "~ 1 ~"])
        body = head + "\n\n" + "\n\n".join(paragraphs[i : i + take]) + "\n\n"
        chapters.append((offset, offset + len(body)))
        parts.append(body)
        offset += len(body)
        i += take
    return Book("".join(parts), events, chars, places, chapters, n_distr)


# -- gold ---------------------------------------------------------------------------------
def by_char(book: Book) -> dict[str, list[ChronEvent]]:
    out: dict[str, list[ChronEvent]] = {}
    for e in sorted(book.events, key=lambda e: e.day):
        for c in e.characters:
            out.setdefault(c, []).append(e)
    return out


def gold_latest(book: Book, who: str, as_of: str | None = None) -> list[str]:
    evs = [e for e in by_char(book).get(who, []) if as_of is None or e.day <= as_of]
    if not evs:
        return []
    return sorted({e.place for e in evs if e.day == evs[-1].day})


def gold_places(book: Book, who: str, start: str | None = None, end: str | None = None):
    return sorted(
        {
            e.place
            for e in by_char(book).get(who, [])
            if (start is None or e.day >= start) and (end is None or e.day <= end)
        }
    )


def gold_met_both(book: Book, a: str, b: str) -> list[str]:
    ev = by_char(book)
    pa = {c for e in ev.get(a, []) for c in e.characters}
    pb = {c for e in ev.get(b, []) for c in e.characters}
    return sorted((pa & pb) - {a, b})


def _long(day: str, rng: random.Random) -> str:
    d = dt.date.fromisoformat(day)
    return rng.choice(
        [f"{d.day} {d.strftime('%B')} {d.year}", f"{d.strftime('%B')} {d.day}, {d.year}"]
    )


def questions(book: Book, per_type: int = 20, seed: int = 0) -> list[Question]:
    """``per_type`` questions of each kind with gold answers (see the module doc)."""
    rng = random.Random(seed)
    chars = by_char(book)
    names = sorted(chars)
    days = sorted({e.day for e in book.events})
    lo, hi = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])

    def rand_day() -> str:
        return (lo + dt.timedelta(days=rng.randrange((hi - lo).days + 1))).isoformat()

    def ref(name: str) -> str:
        return name if rng.random() < 0.7 else name.split()[0]

    out: list[Question] = []
    for _ in range(per_type):
        x = rng.choice(names)
        text = rng.choice(
            ["What was {x}'s latest known location?", "Where is {x} now?",
             "Where was {x} last seen?", "What is the latest known location of {x}?"]
        ).format(x=ref(x))  # fmt: skip
        out.append(Question("latest", text, gold_latest(book, x), {"person": x}))

        x = rng.choice(names)
        d = rand_day() if rng.random() < 0.6 else rng.choice(chars[x]).day
        text = rng.choice(
            ["As of {d}, what was {x}'s latest known location?",
             "Where was {x} as of {d}?", "What was the latest known location of {x} as of {d}?"]
        ).format(x=ref(x), d=_long(d, rng))  # fmt: skip
        out.append(
            Question("latest_asof", text, gold_latest(book, x, d), {"person": x, "as_of": d})
        )

        x = rng.choice(names)
        d1, d2 = sorted([rand_day(), rand_day()])
        text = rng.choice(
            ["Which places did {x} visit between {a} and {b}?",
             "Which distinct places did {x} visit between {a} and {b}?"]
        ).format(x=ref(x), a=_long(d1, rng), b=_long(d2, rng))  # fmt: skip
        gold = gold_places(book, x, d1, d2)
        out.append(Question("places", text, gold, {"person": x, "start": d1, "end": d2}))

        x = rng.choice(names)
        if rng.random() < 0.5:
            text = f"How many distinct places did {ref(x)} visit?"
            gold, args = gold_places(book, x), {"person": x}
        else:
            d1, d2 = sorted([rand_day(), rand_day()])
            text = (
                f"How many distinct places did {ref(x)} visit between {_long(d1, rng)} and "
                f"{_long(d2, rng)}?"
            )
            gold, args = gold_places(book, x, d1, d2), {"person": x, "start": d1, "end": d2}
        out.append(Question("count", text, [str(len(gold))], args))

        a = rng.choice(names)
        partners = sorted({c for e in chars[a] for c in e.characters} - {a})
        b = rng.choice(partners) if partners and rng.random() < 0.3 else rng.choice(names)
        while b == a:
            b = rng.choice(names)
        text = rng.choice(
            ["Which characters met both {a} and {b}?", "Who met both {a} and {b}?"]
        ).format(a=ref(a), b=ref(b))
        out.append(Question("met_both", text, gold_met_both(book, a, b), {"a": a, "b": b}))
    return out


def norm(name: str) -> str:
    """Matching key of an answer: lower case, no leading *the*, no possessive, no dots."""
    s = re.sub(r"['’]s$", "", name.strip().lower()).replace(".", "")
    s = re.sub(r"^the\s+", "", s)
    return " ".join(s.split())


def f1(predicted: list[str], gold: list[str]) -> float:
    """F1 of two answer sets (1.0 when both are empty).

    Example:
        >>> f1(["The Rookery"], ["the Rookery"]), f1([], []), f1(["3"], ["2"])
        (1.0, 1.0, 0.0)
    """
    p, g = {norm(x) for x in predicted}, {norm(x) for x in gold}
    if not p and not g:
        return 1.0
    tp = len(p & g)
    if tp == 0:
        return 0.0
    prec, rec = tp / len(p), tp / len(g)
    return 2 * prec * rec / (prec + rec)
