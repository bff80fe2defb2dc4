"""Find date phrases in text and resolve them, absolute or relative to a narrative clock.

Absolute forms: ``2021-03-05`` (optionally with ``T14:30``), ``March 5, 2021``, ``Friday,
March 5th 2021``, ``5 March 2021``, ``the 5th of March, 2021``, ``3/5/2021`` (month first
unless ``day_first``), and ``March 5`` (year taken from the clock). Relative forms, resolved
against the clock (the narrative's current time): ``yesterday``, ``today``, ``tomorrow``,
``the next day``, ``the following morning``, ``the day before``, ``that same day``,
``two days later``, ``a week earlier``, ``three months ago``, ``after a fortnight``,
``the next week``, ``last Monday``, ``the following Friday``. Vague phrases (``some time
later``, ``one day``, ``a few weeks later``) are found but reported as unresolved.

We write this with :mod:`re` rather than use dateparser: we need the exact span of each phrase,
resolution against the story's clock rather than the wall clock, and an explicit "unresolved"
outcome; dateparser's ``search_dates`` gives none of these reliably and is slow on long text:
measured on a 21 KB generated chronicle (benchmarks/results/own_versions.md), it took 35x the
CPU time of :func:`find_dates` and returned 80 phrases to its 118, without offsets.

Example:
    >>> [(m.text, m.value) for m in find_dates("On March 5, 2021 they met. Two days later, "
    ...                                         "they left.", clock="2021-01-01")]
    [('March 5, 2021', '2021-03-05'), ('Two days later', '2021-03-07')]
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
WEEKDAYS = {
    d: i
    for i, d in enumerate(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    )
}
NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14}

_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
_ORD = r"(?:st|nd|rd|th)?"
_NUM = r"(?P<n>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "iso",
        re.compile(
            r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
            r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?\b"
        ),
    ),
    ("slash", re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4})\b")),
    (
        "mdy",
        re.compile(
            rf"\b{_WEEKDAY}{_MONTH}\s+(?P<d>\d{{1,2}}){_ORD}\b(?:,?\s+(?P<y>\d{{4}})\b)?",
            re.I,
        ),
    ),
    (
        "dmy",
        re.compile(
            rf"\b{_WEEKDAY}(?:the\s+)?(?P<d>\d{{1,2}}){_ORD}\s+(?:of\s+)?{_MONTH}(?:,?\s+(?P<y>\d{{4}})\b)?",
            re.I,
        ),
    ),
    ("word", re.compile(r"\b(?P<w>yesterday|today|tomorrow)\b", re.I)),
    (
        "nextday",
        re.compile(
            r"\b(?:the\s+)?(?P<dir>next|following|previous|preceding)\s+"
            r"(?P<unit>day|morning|afternoon|evening|night|week|month|year)\b",
            re.I,
        ),
    ),
    (
        "dayafter",
        re.compile(
            r"\bthe\s+(?P<unit>day|week|month)\s+(?P<dir>after|before)\b(?!\s+\w+day)", re.I
        ),
    ),
    (
        "same",
        re.compile(r"\b(?:that|the)\s+(?:same\s+)?(?:day|morning|afternoon|evening|night)\b", re.I),
    ),
    (
        "offset",
        re.compile(
            rf"\b{_NUM}\s+(?P<unit>day|week|fortnight|month|year)s?\s+"
            r"(?P<dir>later|after(?:wards)?|afterward|on|earlier|before|ago)\b",
            re.I,
        ),
    ),
    (
        "after",
        re.compile(
            rf"\b(?P<dir>after|within)\s+{_NUM}\s+(?P<unit>day|week|fortnight|month|year)s?\b", re.I
        ),
    ),
    (
        "lastnext",
        re.compile(r"\b(?P<dir>last|next)\s+(?P<unit>week|month|year)\b", re.I),
    ),
    (
        "weekday",
        re.compile(
            r"\b(?:the\s+)?(?P<dir>last|next|following|previous|this|on)\s+"
            r"(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
            re.I,
        ),
    ),
    (
        "vague",
        re.compile(
            r"\b(?:some\s+(?:time|days|weeks|months|years)\s+(?:later|earlier|before|after)"
            r"|(?:a\s+few|several|many)\s+(?:days|weeks|months|years)\s+(?:later|earlier|before|after|ago)"
            r"|one\s+day|at\s+some\s+point|long\s+ago|once\s+upon\s+a\s+time|eventually)\b",
            re.I,
        ),
    ),
]


@dataclass(frozen=True)
class DateMatch:
    """A date phrase found in text.

    Attributes:
        start, end: character span of the phrase.
        text: the phrase as written.
        value: ISO date (or date-time) it resolves to; ``None`` if unresolved.
        kind: ``absolute``, ``relative`` or ``vague``.
    """

    start: int
    end: int
    text: str
    value: str | None
    kind: str

    @property
    def resolved(self) -> bool:
        return self.value is not None


def find_dates(
    text: str, clock: str | None = None, *, day_first: bool = False, advance: bool = True
) -> list[DateMatch]:
    """Every date phrase of ``text``, left to right, resolved against ``clock``.

    Relative phrases are resolved against ``clock`` (an ISO date or date-time; ``None`` leaves
    them unresolved); with ``advance`` each resolved phrase moves the clock for the next one.
    Of overlapping matches the longest is kept.

    Example:
        >>> [m.value for m in find_dates("yesterday", clock="2024-05-02T10:00:00")]
        ['2024-05-01']
        >>> find_dates("a few weeks later")[0].value is None
        True
    """
    raw: list[tuple[int, int, str, re.Match[str]]] = []
    for kind, pattern in _PATTERNS:
        raw += [(m.start(), -(m.end() - m.start()), kind, m) for m in pattern.finditer(text)]
    raw.sort(key=lambda r: (r[1], r[0]))  # longest first: "on Friday, May 6, 2022" is one
    kept: list[tuple[int, int, str, re.Match[str]]] = []
    for r in raw:
        if not any(r[3].start() < k[3].end() and k[3].start() < r[3].end() for k in kept):
            kept.append(r)
    kept.sort(key=lambda r: r[0])
    out: list[DateMatch] = []
    for _, _, kind, m in kept:
        value = _resolve(kind, m, clock, day_first)
        cls = "absolute" if kind in ("iso", "slash", "mdy", "dmy") else "relative"
        if kind == "vague":
            cls = "vague"
        if advance and value is not None:
            clock = value
        out.append(DateMatch(m.start(), m.end(), m.group(0), value, cls))
    return out


def parse_date(text: str, clock: str | None = None) -> str | None:
    """The first date of ``text`` as an ISO string, or ``None``.

    Example:
        >>> parse_date("5 March 2021"), parse_date("the next day", clock="2021-03-05")
        ('2021-03-05', '2021-03-06')
    """
    found = find_dates(text, clock)
    return found[0].value if found else None


def _month(name: str) -> int:
    n = name.lower().rstrip(".")
    return MONTHS.get(n) or MONTHS[n[:3]]


def _clock_date(clock: str | None) -> dt.date | None:
    if not clock:
        return None
    try:
        return dt.date.fromisoformat(clock[:10])
    except ValueError:
        return None


def _iso(d: dt.date) -> str:
    return d.isoformat()


def _resolve(kind: str, m: re.Match[str], clock: str | None, day_first: bool) -> str | None:
    g = m.groupdict()
    now = _clock_date(clock)
    try:
        if kind == "iso":
            day = dt.date(int(g["y"]), int(g["m"]), int(g["d"]))
            if g.get("H"):
                return dt.datetime(
                    day.year, day.month, day.day, int(g["H"]), int(g["M"]), int(g["S"] or 0)
                ).isoformat()
            return _iso(day)
        if kind == "slash":
            a, b = int(g["a"]), int(g["b"])
            month, dom = (b, a) if day_first else (a, b)
            return _iso(dt.date(int(g["y"]), month, dom))
        if kind in ("mdy", "dmy"):
            month = _month(g["month"])
            if g.get("y"):
                year = int(g["y"])
            elif now is not None:
                year = now.year
            else:
                return None
            return _iso(dt.date(year, month, int(g["d"])))
    except (ValueError, KeyError):
        return None
    if now is None or kind == "vague":
        return None
    if kind == "word":
        shift = {"yesterday": -1, "today": 0, "tomorrow": 1}[g["w"].lower()]
        return _iso(now + dt.timedelta(days=shift))
    if kind == "same":
        return _iso(now)
    if kind in ("nextday", "dayafter", "lastnext"):
        sign = -1 if g["dir"].lower() in ("previous", "preceding", "before", "last") else 1
        return _shift(now, g["unit"].lower(), sign)
    if kind == "after":
        raw = g["n"].lower()
        n = int(raw) if raw.isdigit() else NUMBERS[raw]
        return _shift(now, g["unit"].lower(), n)
    if kind == "offset":
        raw = g["n"].lower()
        n = int(raw) if raw.isdigit() else NUMBERS[raw]
        back = g["dir"].lower() in ("earlier", "before", "ago")
        return _shift(now, g["unit"].lower(), -n if back else n)
    if kind == "weekday":
        target = WEEKDAYS[g["wd"].lower()]
        direction = g["dir"].lower()
        delta = (target - now.weekday()) % 7
        if direction in ("last", "previous"):
            delta = -((now.weekday() - target) % 7 or 7)
        elif delta == 0 and direction != "this":
            delta = 7
        return _iso(now + dt.timedelta(days=delta))
    return None


def _shift(now: dt.date, unit: str, n: int) -> str:
    if unit in ("morning", "afternoon", "evening", "night"):
        unit = "day"
    if unit in UNIT_DAYS:
        return _iso(now + dt.timedelta(days=UNIT_DAYS[unit] * n))
    months = n * (12 if unit == "year" else 1)
    total = now.year * 12 + now.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    day = min(now.day, _days_in_month(year, month))
    return _iso(dt.date(year, month, day))


def _days_in_month(year: int, month: int) -> int:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day
