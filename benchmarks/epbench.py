"""A seeded, EpBench-like generator: a chronicle of events told as narrative chapters.

The chronicle is a list of events (date, place, 1-3 characters, action). Chapters tell them in
varied sentence templates and date formats: absolute (``March 5, 2021``, ``5 March 2021``,
``2021-03-05``, ``the 5th of March, 2021``, ``Friday, March 5, 2021``, ``03/05/2021``),
relative to the previous chapter (``The next day``, ``three days later``, ``A week later``,
``the following Monday``, ``That same day``), flashbacks (``Back on ...``) told out of order,
and a few vague dates (``Some time later``) that cannot be resolved. Characters are named in
full, by first name, or by title and surname. Filler sentences carry no names.

Questions of each type come with exact gold answers computed from the chronicle:
``where_was`` (place of X's latest event on or before T), ``who_at`` (people of events at P on
T), ``latest``, ``timeline`` (``day@place`` items), ``when_at`` (days X was at P),
``met_both`` and ``count``. ``n_match`` is the number of events matching the question's cues,
for EpBench-style grouping (0 = the right answer is "none").

Example:
    >>> book = generate(tokens=2000, seed=1)
    >>> len(book.events) > 10, book.text.startswith("Chapter 1")
    (True, True)
    >>> qs = questions(book, per_type=3, seed=1)
    >>> sorted({q.kind for q in qs})[:3]
    ['count', 'latest', 'met_both']
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

FIRST = [
    "Alice",
    "Bruno",
    "Carla",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Keiko",
    "Lucas",
    "Mira",
    "Nikolai",
    "Olga",
    "Pavel",
    "Quentin",
    "Rosa",
    "Samir",
    "Tomas",
    "Ulla",
    "Viktor",
    "Wanda",
    "Xavier",
    "Yara",
    "Zoran",
]
LAST = [
    "Moreau",
    "Lindqvist",
    "Okafor",
    "Haddad",
    "Castillo",
    "Novak",
    "Brennan",
    "Takeda",
    "Ferreira",
    "Kowalski",
    "Duarte",
    "Ivanova",
    "Petrakis",
    "Sorensen",
    "Abara",
    "Whitlock",
    "Nakamura",
    "Vasquez",
    "Olsen",
    "Marchetti",
    "Ruiz",
    "Achterberg",
    "Delacroix",
    "Mbeki",
    "Halvorsen",
    "Quiroga",
]
PLACES = [
    "Riverside Park", "the Old Mill", "the Harbor Market", "Lisbon", "the Museum of Modern Art",
    "the Blue Lantern", "Porto", "the Central Library", "Greenwich Pier", "the Botanical Garden",
    "Saint Anne's Chapel", "the Grand Hotel", "Maple Street Station", "the Royal Theatre",
    "Lake Vessel", "the Copper Kettle", "Northgate Stadium", "the Observatory", "Kingsbridge",
    "the Silver Arcade", "Willow Creek", "the Lighthouse", "Ashford Hall", "the Glass Pavilion",
]  # fmt: skip
ACTIONS = [
    ("attended a poetry reading", "at"), ("had dinner", "at"), ("went hiking", "near"),
    ("watched a play", "at"), ("played chess", "in"), ("painted a mural", "in"),
    ("rehearsed for a concert", "at"), ("signed a contract", "at"), ("celebrated a birthday", "at"),
    ("argued about money", "in"), ("took photographs", "at"), ("ran a workshop", "at"),
    ("sold old books", "at"), ("repaired a bicycle", "near"), ("gave a lecture", "at"),
    ("planted tulips", "in"), ("studied old maps", "at"), ("danced until midnight", "at"),
]  # fmt: skip
FILLER = [
    "The weather was mild and the streets were quiet.",
    "It rained a little in the afternoon, but nobody seemed to mind.",
    "A cold wind came down from the hills.",
    "The conversation drifted from music to politics and back again.",
    "There was bread, cheese and a bottle of cheap wine.",
    "Nothing about the day seemed remarkable at the time.",
    "The light was fading by the time everything was finished.",
    "Somewhere a dog barked, and a radio played an old song.",
    "The tea had gone cold long before anyone noticed.",
    "It was the kind of day that nobody would remember clearly later.",
    "A few tourists wandered past, looking at their maps.",
    "The clocks in the square disagreed about the hour, as usual.",
    "Everyone agreed that the coffee was terrible.",
    "The smell of fresh paint lingered for hours.",
    "A letter arrived, but it was not opened until much later.",
]
NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
]
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass
class Character:
    first: str
    last: str
    title: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class ChronEvent:
    """One event of the chronicle (the ground truth)."""

    day: str
    place: str
    characters: list[str]
    action: str
    flashback: bool = False
    vague: bool = False
    chapter: int = 0


@dataclass
class Book:
    """A generated story: its text, chapters (start, end offsets) and chronicle."""

    text: str
    events: list[ChronEvent]
    characters: list[Character]
    places: list[str]
    chapters: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Question:
    kind: str
    text: str
    gold: list[str]
    n_match: int
    args: dict[str, str]


def _fmt_abs(d: dt.date, rng: random.Random) -> str:
    month = d.strftime("%B")
    ordinal = {1: "st", 2: "nd", 3: "rd"}.get(d.day if d.day < 20 else d.day % 10, "th")
    return rng.choice(
        [
            f"{month} {d.day}, {d.year}",
            f"{d.day} {month} {d.year}",
            d.isoformat(),
            f"the {d.day}{ordinal} of {month}, {d.year}",
            f"{WEEKDAY_NAMES[d.weekday()]}, {month} {d.day}, {d.year}",
            f"{d.month:02d}/{d.day:02d}/{d.year}",
        ]
    )


def _fmt_rel(delta: int, d: dt.date, rng: random.Random) -> str:
    options = []
    if delta == 0:
        options = ["that same day", "that same evening"]
    elif delta == 1:
        options = ["the next day", "the following day", "a day later", "the next morning"]
    elif delta == 7:
        options = ["a week later", "one week later"]
    elif delta == 14:
        options = ["two weeks later", "a fortnight later"]
    elif delta < 11:
        options = [f"{NUMBER_WORDS[delta]} days later", f"{delta} days later"]
    else:
        options = [f"{delta} days later"]
    if 2 <= delta <= 6:
        options.append(f"the following {WEEKDAY_NAMES[d.weekday()]}")
    return rng.choice(options)


def _actors(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def generate(tokens: int = 20000, seed: int = 0, *, n_characters: int = 16) -> Book:
    """A story of about ``tokens`` tokens (about 0.75 words per token).

    ``n_characters`` characters and ``len(PLACES)`` places; the same seed gives the same book.
    """
    rng = random.Random(seed)
    chars = [
        Character(f, la, rng.choice(["Dr.", "Ms.", "Mr."]))
        for f, la in zip(
            rng.sample(FIRST, n_characters), rng.sample(LAST, n_characters), strict=True
        )
    ]
    places = list(PLACES)
    weights = [1.0 / (i + 1) ** 0.5 for i in range(len(places))]
    rng.shuffle(places)
    day = dt.date(2021, 1, 4) + dt.timedelta(days=rng.randrange(400))
    busy: dict[str, set[str]] = {}
    seen_chars: set[str] = set()
    seen_places: set[str] = set()
    events: list[ChronEvent] = []
    parts: list[str] = []
    chapters: list[tuple[int, int]] = []
    offset = 0
    words = 0
    prev_day = None
    need_absolute = True
    budget_words = int(tokens * 0.75)
    first_day = day
    while words < budget_words:
        flashback = prev_day is not None and rng.random() < 0.07 and (day - first_day).days > 30
        k = rng.choices([1, 2, 3], weights=[0.45, 0.4, 0.15])[0]
        if flashback:
            when = first_day + dt.timedelta(days=rng.randrange((day - first_day).days - 1))
        else:
            delta = rng.choices([0, 1, 2, 3, 4, 5, 7, 9, 14], [2, 6, 4, 4, 3, 2, 2, 1, 1])[0]
            when = day + dt.timedelta(days=delta) if prev_day is not None else day
        free = [c for c in chars if when.isoformat() not in busy.get(c.name, set())]
        if len(free) < k:
            day = when + dt.timedelta(days=1)
            continue
        people = rng.sample(free, k)
        place = rng.choices(places, weights=weights)[0]
        action, prep = rng.choice(ACTIONS)
        vague = not flashback and prev_day is not None and rng.random() < 0.02
        # -- date phrase
        absolute = True
        if flashback:
            date_phrase = _fmt_abs(when, rng)
        elif vague:
            date_phrase, absolute = "some time later", False
        elif need_absolute or rng.random() < 0.5 or (when - day).days > 20:
            date_phrase = _fmt_abs(when, rng)
        else:
            date_phrase, absolute = _fmt_rel((when - day).days, when, rng), False
        names = []
        for c in people:
            if c.name not in seen_chars:
                names.append(c.name)
                seen_chars.add(c.name)
            else:
                names.append(rng.choices([c.name, c.first, f"{c.title} {c.last}"], [5, 4, 2])[0])
        shown_place = place
        sentence = _event_sentence(
            rng, names, action, prep, shown_place, date_phrase, absolute, flashback,
            place in seen_places,
        )  # fmt: skip
        seen_places.add(place)
        for c in people:
            busy.setdefault(c.name, set()).add(when.isoformat())
        events.append(
            ChronEvent(
                when.isoformat(), place, [c.name for c in people], action, flashback, vague,
                len(chapters) + 1,
            )
        )  # fmt: skip
        heading = f"Chapter {len(chapters) + 1}"
        filler = " ".join(rng.sample(FILLER, rng.randint(2, 4)))
        body = f"{heading}\n\n{sentence} {filler}\n\n"
        chapters.append((offset, offset + len(body)))
        parts.append(body)
        offset += len(body)
        words += len(body.split())
        if not flashback:
            prev_day, day = day, when
            need_absolute = vague
    return Book("".join(parts), events, chars, places, chapters)


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def _event_sentence(
    rng: random.Random,
    names: list[str],
    action: str,
    prep: str,
    place: str,
    date: str,
    absolute: bool,
    flashback: bool,
    place_known: bool,
) -> str:
    who = _actors(names)
    on = f"on {date}" if absolute else date
    if flashback:
        cue = rng.choice(["Back on", "Earlier, on"])
        return f"{cue} {date}, {who} {action} {prep} {place}."
    templates = [
        f"{_cap(on)}, {who} {action} {prep} {place}.",
        f"{who} {action} {prep} {place} {on}.",
        f"It was {date} when {who} {action} {prep} {place}.",
    ]
    if len(names) >= 2:
        templates.append(f"{_cap(on)}, {names[0]} met {_actors(names[1:])} at {place}.")
    if place_known:
        templates.append(f"{_cap(place)} was where {who} {action}, {on}.")
    return rng.choice(templates)


# -- gold answers ---------------------------------------------------------------------------
def _by_char(book: Book) -> dict[str, list[ChronEvent]]:
    out: dict[str, list[ChronEvent]] = {}
    for e in sorted(book.events, key=lambda e: e.day):
        for c in e.characters:
            out.setdefault(c, []).append(e)
    return out


def gold_where(book: Book, who: str, day: str) -> tuple[list[str], int]:
    evs = [e for e in _by_char(book).get(who, []) if e.day <= day]
    if not evs:
        return [], 0
    last = evs[-1].day
    hits = [e for e in evs if e.day == last]
    return sorted({e.place for e in hits}), len([e for e in evs if e.day == day])


def gold_who_at(book: Book, place: str, day: str) -> tuple[list[str], int]:
    evs = [e for e in book.events if e.place == place and e.day == day]
    return sorted({c for e in evs for c in e.characters}), len(evs)


def gold_latest(book: Book, who: str) -> tuple[list[str], int]:
    evs = _by_char(book).get(who, [])
    last = evs[-1].day
    return sorted({e.place for e in evs if e.day == last}), 1


def gold_timeline(book: Book, who: str) -> tuple[list[str], int]:
    evs = _by_char(book).get(who, [])
    return sorted({f"{e.day}@{e.place}" for e in evs}), len(evs)


def gold_when_at(book: Book, who: str, place: str) -> tuple[list[str], int]:
    evs = [e for e in _by_char(book).get(who, []) if e.place == place]
    return sorted({e.day for e in evs}), len(evs)


def gold_met_both(book: Book, a: str, b: str) -> tuple[list[str], int]:
    pa = {c for e in _by_char(book).get(a, []) for c in e.characters}
    pb = {c for e in _by_char(book).get(b, []) for c in e.characters}
    both = sorted((pa & pb) - {a, b})
    n = len(
        [e for e in book.events if set(e.characters) & set(both) and ({a, b} & set(e.characters))]
    )
    return both, n


def gold_count(book: Book, who: str, place: str) -> tuple[list[str], int]:
    n = len([e for e in _by_char(book).get(who, []) if e.place == place])
    return [str(n)], n


def _long(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d.strftime('%B')} {d.day}, {d.year}"


def questions(book: Book, per_type: int = 20, seed: int = 0) -> list[Question]:
    """``per_type`` questions of each type, with gold answers; about a fifth expect "none"."""
    rng = random.Random(seed)
    names = [c.name for c in book.characters if _by_char(book).get(c.name)]
    days = sorted({e.day for e in book.events})
    lo, hi = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
    out: list[Question] = []

    def rand_day() -> str:
        return (lo + dt.timedelta(days=rng.randrange((hi - lo).days + 1))).isoformat()

    for _ in range(per_type):
        who = rng.choice(names)
        first = _by_char(book)[who][0].day
        day = (
            (dt.date.fromisoformat(first) - dt.timedelta(days=rng.randint(1, 30))).isoformat()
            if rng.random() < 0.15
            else rng.choice([rand_day(), rng.choice(_by_char(book)[who]).day])
        )
        gold, n = gold_where(book, who, day)
        out.append(Question("where_was", f"Where was {who} on {_long(day)}?", gold, n,
                            {"person": who, "time": day}))  # fmt: skip
        ev = rng.choice(book.events)
        place, day = ev.place, ev.day if rng.random() < 0.7 else rand_day()
        gold, n = gold_who_at(book, place, day)
        out.append(Question("who_at", f"Who was at {place} on {_long(day)}?", gold, n,
                            {"place": place, "time": day}))  # fmt: skip
        gold, n = gold_latest(book, who)
        out.append(Question("latest", f"Where is {who} now?", gold, n, {"person": who}))
        gold, n = gold_timeline(book, who)
        out.append(Question("timeline", f"Timeline of {who}", gold, n, {"name": who}))
        place = rng.choice(book.places)
        gold, n = gold_when_at(book, who, place)
        out.append(Question("when_at", f"When was {who} at {place}?", gold, n,
                            {"person": who, "place": place}))  # fmt: skip
        a, b = rng.sample(names, 2)
        gold, n = gold_met_both(book, a, b)
        out.append(Question("met_both", f"Who met both {a} and {b}?", gold, n, {"a": a, "b": b}))
        gold, n = gold_count(book, who, place)
        out.append(Question("count", f"How many times was {who} at {place}?", gold, n,
                            {"person": who, "place": place}))  # fmt: skip
    return sorted(out, key=lambda q: q.kind)


def f1(predicted: list[str], gold: list[str]) -> float:
    """F1 of two answer sets after normalising names; 1.0 when both are empty.

    Example:
        >>> f1(["the Old Mill"], ["Old Mill"]), f1([], []), f1(["a"], [])
        (1.0, 1.0, 0.0)
    """
    from lcmem.memory.operator_rules import normalize_name

    p = {normalize_name(x) for x in predicted}
    g = {normalize_name(x) for x in gold}
    if not p and not g:
        return 1.0
    if not p or not g:
        return 0.0
    tp = len(p & g)
    if tp == 0:
        return 0.0
    prec, rec = tp / len(p), tp / len(g)
    return 2 * prec * rec / (prec + rec)


def match_group(n: int) -> str:
    """EpBench-style bucket of the number of matching events."""
    return "0" if n == 0 else "1" if n == 1 else "2" if n == 2 else "3-5" if n <= 5 else "6+"
