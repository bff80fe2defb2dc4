"""A fast rule-based operator: names, places and dates by pattern, one event per sentence.

For each sentence it finds date phrases (absolute, or relative to the narrative's clock, see
:mod:`lcmem.memory.dates`), places (capitalised phrases after a place preposition such as
*in*, *at*, *near*, plus every place of the growing gazetteer), people (other capitalised
names; *I*/*me* is the speaker of a chat turn) and the action (the words from the first verb).
A sentence with at least one person and a verb becomes an event. A sentence that starts with
*He*/*She*/*They* and names a place or date inherits the previous event's people.

Flashbacks (*Back on...*, *she remembered...*) keep their own date but do not move the clock.

Example:
    >>> from lcmem.memory.operator import OperatorContext
    >>> op = RuleOperator()
    >>> text = ("On March 5, 2021, Alice Moreau met Bob Li at Riverside Park. "
    ...         "Two days later, Alice travelled to Lisbon.")
    >>> ex = op.extract(text, OperatorContext(source="story"))
    >>> for e in ex.events:
    ...     print(e.actor_names(), e.location, e.time)
    ['Alice Moreau', 'Bob Li'] Riverside Park 2021-03-05
    ['Alice'] Lisbon 2021-03-07
"""

from __future__ import annotations

import re

from lcmem.memory.dates import MONTHS, WEEKDAYS, DateMatch, find_dates
from lcmem.memory.events import Actor, Event, SourceSpan, TimeStatus
from lcmem.memory.operator import Extraction, Operator, OperatorContext, sentences


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


HONORIFICS = {"dr", "mr", "mrs", "ms", "miss", "prof", "professor", "sir", "madam", "lady", "lord"}
_WORD = r"[A-Z][\w'’-]*"
_NAME = re.compile(
    rf"\b(?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?{_WORD}(?:\s+(?:(?:of|de|da|van|von|del)\s+)?{_WORD})*"
)
_PLACE_PREP = re.compile(
    r"\b(?:in|at|to|near|inside|outside|into|toward|towards|across|around|through|from|"
    r"visited|toured|reached|entered|left|on)\s+((?:the\s+)?"
    + _WORD
    + r"(?:\s+(?:of\s+(?:the\s+)?)?"
    + _WORD
    + r")*)"
)
_SPEECH = re.compile(
    r"\b(?:talked|spoke|wrote|said|gave|showed|introduced|explained|sent|lent|sold|"
    r"handed|read|sang|waved|called|replied|listened|complained|apologi[sz]ed)\s+to\s*$"
)
_FLASHBACK = re.compile(
    r"^\W*(?:back\s+(?:on|in)\b|years\s+(?:earlier|before)\b|long\s+before\b|earlier,)|"
    r"\b(?:remembered|recalled|looking\s+back|flashback|reminisced)\b",
    re.I,
)
_PRONOUN_START = re.compile(r"^\W*(?:he|she|they|both\s+of\s+them|the\s+two\s+of\s+them)\b", re.I)
_FIRST_PERSON = re.compile(r"\b(?:I|me|my|myself|we|us|our)\b|\bI['’](?:m|ve|d|ll)\b")
IRREGULAR = _wordset(
    """went met saw had took ate ran came left got made gave found spent bought sat spoke told
    wrote drove flew rode swam sang began brought caught held kept lost paid read sent slept
    stood taught thought won was were is are am be been go goes going gone live lives work works
    visit visits meet meets moved move have has do did does done say said see sees hear heard
    fell felt fought grew hid hung knew led lent lit put quit rang rose set shook shot shut
    sold sought stole struck swore threw understood woke wore adopt start started begin
    fly flies travel travels leave leaves arrive arrives return returns stay stays plan plans
    will shall'm'll"""
)
STOPWORDS = _wordset(
    """a an the and or but if then when while after before as at by for from in into of on
    onto to with without within it its this that these those there here he she they we you
    i me my our your his her their them us who whom whose which what where why how all any
    both each few more most other some such no nor not only own same so than too very can
    will just should now also yet still even ever never always often soon later earlier once
    today tomorrow yesterday meanwhile however finally eventually afterwards afterward next
    during until since because although though despite chapter part book epilogue prologue
    one two three four five six seven eight nine ten everyone everybody nobody someone
    somebody something nothing everything again back later, that's it's morning evening
    night afternoon day week month year spring summer autumn winter fall"""
)
_NOT_NAMES = STOPWORDS | set(MONTHS) | set(WEEKDAYS) | HONORIFICS


def normalize_name(name: str) -> str:
    """A name's matching key: lower case, without honorifics, leading *the* or possessive.

    Example:
        >>> normalize_name("Dr. Alice  Moreau's"), normalize_name("the Old Mill")
        ('alice moreau', 'old mill')
    """
    words = re.sub(r"['’]s$", "", name.strip()).replace(".", " ").split()
    words = [w.lower() for w in words]
    while words and (words[0] in HONORIFICS or words[0] == "the"):
        words = words[1:]
    return " ".join(words)


class RuleOperator(Operator):
    """Regular-expression operator with a growing gazetteer of places (see the module doc).

    Args:
        day_first: read ``3/5/2021`` as 3 May rather than March 5.
    """

    name = "rules"

    def __init__(self, *, day_first: bool = False) -> None:
        self.day_first = day_first

    def extract(self, text: str, context: OperatorContext) -> Extraction:
        out = Extraction(clock=context.clock)
        places = {normalize_name(p) for p in context.places}
        people = {normalize_name(p) for p in context.people}
        last_actors: list[Actor] = []
        for start, end in sentences(text):
            sent = text[start:end]
            event = self._sentence(sent, out, places, people, context, last_actors)
            if event is None:
                continue
            event.source = SourceSpan(context.source, context.offset + start, context.offset + end)
            out.events.append(event)
            last_actors = event.actors
        return out

    # -- one sentence ----------------------------------------------------------------------
    def _sentence(
        self,
        sent: str,
        out: Extraction,
        places: set[str],
        people: set[str],
        context: OperatorContext,
        last_actors: list[Actor],
    ) -> Event | None:
        flashback = bool(_FLASHBACK.search(sent))
        dates = find_dates(sent, out.clock, day_first=self.day_first, advance=False)
        taken: list[tuple[int, int]] = [(d.start, d.end) for d in dates]
        location, loc_span = self._place(sent, places, people, taken)
        if loc_span:
            taken.append(loc_span)
        actors, first_at = self._people(sent, places, people, taken, context)
        if not actors and (location or dates) and _PRONOUN_START.search(sent) and last_actors:
            actors = list(last_actors)
        verb_at = _first_verb_pos(sent, taken, after=first_at)
        time, status, time_text = self._time(dates, out, flashback)
        if not actors or verb_at is None:
            return None
        if location and normalize_name(location) not in places:
            places.add(normalize_name(location))
            out.new_places.add(location)
        return Event(
            action=_action(sent, verb_at, taken),
            actors=actors,
            location=location,
            time=time,
            time_text=time_text,
            time_status=status,
            text=sent,
            flashback=flashback,
        )

    def _time(
        self, dates: list[DateMatch], out: Extraction, flashback: bool
    ) -> tuple[str | None, TimeStatus, str]:
        """(time, status, phrase) of a sentence; moves the clock unless it is a flashback."""
        if not dates:
            return out.clock, ("inherited" if out.clock else "unresolved"), ""
        resolved = [d for d in dates if d.resolved]
        if not resolved:
            out.unresolved += [d.text for d in dates]
            return None, "unresolved", dates[0].text
        d = resolved[0]
        if not flashback:
            out.clock = resolved[-1].value
        return d.value, ("resolved" if d.kind == "absolute" else "relative"), d.text

    def _place(
        self, sent: str, places: set[str], people: set[str], taken: list[tuple[int, int]]
    ) -> tuple[str | None, tuple[int, int] | None]:
        """The sentence's place: a known place, else a capitalised phrase after a preposition."""
        best: tuple[str, tuple[int, int]] | None = None
        for m in _NAME.finditer(sent):
            phrase, s, e = _trim_name(sent, m.start(), m.end())
            if _overlaps((s, e), taken) or not phrase:
                continue
            key = normalize_name(phrase)
            if key in places:
                s0 = s - 4 if sent[max(0, s - 4) : s].lower() == "the " else s
                best = (sent[s0:e], (s0, e))
                break
        if best:
            return best
        for m in _PLACE_PREP.finditer(sent):
            s, e = m.span(1)
            phrase, s2, e2 = _trim_name(sent, s, e)
            key = normalize_name(phrase)
            if not key or _overlaps((s2, e2), taken) or key in people:
                continue
            if key.split()[0] in _NOT_NAMES:
                continue
            if m.group(0).lower().startswith("to") and _SPEECH.search(sent[: m.start() + 3]):
                continue
            return sent[s:e2], (s, e2)
        return None, None

    def _people(
        self,
        sent: str,
        places: set[str],
        people: set[str],
        taken: list[tuple[int, int]],
        context: OperatorContext,
    ) -> tuple[list[Actor], int]:
        """People named in the sentence with roles, and where the first one ends."""
        found: list[tuple[int, int, str]] = []
        for m in _NAME.finditer(sent):
            phrase, s, e = _trim_name(sent, m.start(), m.end())
            if not phrase or _overlaps((s, e), taken):
                continue
            key = normalize_name(phrase)
            if not key or key in places:
                continue
            first = key.split()[0]
            if first in _NOT_NAMES and key not in people:
                if len(key.split()) == 1:
                    continue
                # "Then Alice" -> drop the leading stopword
                phrase = phrase.split(None, 1)[1]
                s = e - len(phrase)
                if normalize_name(phrase).split()[0] in _NOT_NAMES:
                    continue
            if s == _sentence_start(sent) and key not in people and " " not in key:
                # a lone capitalised first word is a name only if followed by a verb or "and"
                rest = sent[e:].lstrip().split(" ", 1)[0].lower().strip(",")
                if not (_is_verb(rest) or rest == "and"):
                    continue
            found.append((s, s + len(phrase), phrase))
        if context.speaker:
            for m in _FIRST_PERSON.finditer(sent):
                found.append((m.start(), m.end(), context.speaker))
                break
        if not found:
            return [], 0
        found.sort()
        verb_at = _first_verb_pos(sent, taken, after=found[0][1])
        seen: set[str] = set()
        actors = []
        for s, _, name in found:
            role = "subject" if verb_at is None or s < verb_at else "object"
            if re.search(r"\bwith\s+(?:\w+\s+)?$", sent[:s]):
                role = "with"
            if name not in seen:
                seen.add(name)
                actors.append(Actor(name, role))
        return actors, found[0][1]


def _sentence_start(sent: str) -> int:
    i = 0
    while i < len(sent) and not sent[i].isalnum():
        i += 1
    return i


def _trim_name(sent: str, s: int, e: int) -> tuple[str, int, int]:
    """Drop a trailing possessive and leading *the* from a matched capitalised phrase."""
    phrase = sent[s:e]
    phrase = re.sub(r"['’]s$", "", phrase)
    return phrase, s, s + len(phrase)


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in taken)


def _is_verb(word: str) -> bool:
    w = word.lower().strip(".,;:!?\"'")
    return w in IRREGULAR or (len(w) > 3 and w.endswith("ed")) or w.endswith("'s")


_WORDS = re.compile(r"[A-Za-z][\w'’-]*")


def _first_verb_pos(sent: str, taken: list[tuple[int, int]], after: int = 0) -> int | None:
    """Start of the first verb at or after ``after`` (else anywhere), outside taken spans."""
    for lo in (after, 0):
        for m in _WORDS.finditer(sent, lo):
            w = m.group(0)
            if w[0].islower() and _is_verb(w) and not _overlaps(m.span(), taken):
                return m.start()
    return None


_TAIL = re.compile(
    r"(?:\s+(?:in|at|to|near|on|with|from|into|the|a|an|and|of|inside|outside|toward|towards"
    r"|across|around|through|visited|toured|reached|entered|left))+$"
)


def _action(sent: str, pos: int, taken: list[tuple[int, int]]) -> str:
    """Words from the verb at ``pos`` to the place, date or end (at most 8 words)."""
    stop = min([s for s, _ in taken if s > pos] + [len(sent)])
    words = re.sub(r"[,;:.!?]+", " ", sent[pos:stop]).split()
    text = " ".join(w for w in words[:8] if not (w[0].isupper() and w != "I"))
    text = _TAIL.sub("", " " + text).strip()
    return text or sent[pos:].split(" ", 1)[0]
