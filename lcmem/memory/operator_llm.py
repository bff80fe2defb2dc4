"""An operator that asks an LLM for the events of a text, as JSON checked against a schema.

Works with any lcmem LLM backend (the packaged SmolLM2, a local Hugging Face model, an
OpenAI-compatible server). The text is read in pieces of about ``piece_chars`` characters cut
at sentence ends. Each reply must be a JSON object that validates against :data:`SCHEMA`
(checked with ``jsonschema``); a malformed reply is retried with the validation error shown to
the model, and after ``retries`` failures the piece is reported in ``Extraction.errors`` and
nothing of it is added. Dates the model copies from the text are resolved like the rule-based
operator's (see :mod:`lcmem.memory.dates`), against the narrative's clock.

Example:
    >>> from lcmem.llm import load_llm
    >>> op = LLMOperator(load_llm("http://localhost:8000/v1#qwen2.5-7b"))  # doctest: +SKIP
    >>> op.extract("On 5 May 2021 Ann met Bo in Oslo.", OperatorContext())  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lcmem.memory.dates import find_dates
from lcmem.memory.events import Actor, Event, SourceSpan, TimeStatus
from lcmem.memory.operator import Extraction, Operator, OperatorContext, sentences

if TYPE_CHECKING:
    from lcmem.llm.base import LLM, Message

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["actors", "action"],
                "properties": {
                    "actors": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "role": {"type": "string"},
                            },
                        },
                    },
                    "action": {"type": "string", "minLength": 1},
                    "location": {"type": ["string", "null"]},
                    "time": {"type": ["string", "null"]},
                    "quote": {"type": ["string", "null"]},
                    "flashback": {"type": "boolean"},
                },
            },
        }
    },
}

INSTRUCTIONS = """Extract every event of the text: who (people, with roles), did what (a short \
verb phrase), where (a place name from the text, or null), when (the date phrase exactly as \
written in the text, or null), and quote (the sentence it comes from, copied exactly). Set \
"flashback": true if the event happened before the story's present. Use "I" for the speaker.
Reply with JSON only, like:
{"events": [{"actors": [{"name": "Ann Lee", "role": "subject"}], "action": "had lunch", \
"location": "the Old Mill", "time": "March 5, 2021", "quote": "On March 5, 2021, Ann Lee had \
lunch at the Old Mill.", "flashback": false}]}
If the text has no events, reply {"events": []}."""


class LLMOperator(Operator):
    """Event extraction by an LLM with schema validation and retries (see the module doc).

    Args:
        llm: any lcmem LLM.
        retries: extra attempts after a malformed reply.
        piece_chars: characters of text per request.
        max_tokens: most tokens per reply.
    """

    name = "llm"

    def __init__(
        self, llm: LLM, *, retries: int = 2, piece_chars: int = 1500, max_tokens: int = 512
    ) -> None:
        self.llm = llm
        self.retries = retries
        self.piece_chars = piece_chars
        self.max_tokens = max_tokens
        self.calls = 0

    def extract(self, text: str, context: OperatorContext) -> Extraction:
        out = Extraction(clock=context.clock)
        for start, end in _pieces(text, self.piece_chars):
            piece = text[start:end]
            data, errors = self._ask(piece)
            if data is None:
                out.errors.append(
                    f"the LLM gave no valid JSON for characters {start}-{end} after "
                    f"{self.retries + 1} tries: {errors[-1]}"
                )
                continue
            if errors:
                out.warnings.append(f"LLM reply fixed after {len(errors)} retries")
            for item in data["events"]:
                event = self._event(item, piece, start, context, out)
                if event is not None:
                    out.events.append(event)
        return out

    def _ask(self, piece: str) -> tuple[dict[str, Any] | None, list[str]]:
        from lcmem.llm.base import assistant, system, user

        messages: list[Message] = [system(INSTRUCTIONS), user(f"Text:\n{piece}\n\nJSON:")]
        errors: list[str] = []
        for _ in range(self.retries + 1):
            self.calls += 1
            try:
                reply = self.llm.generate(messages, max_tokens=self.max_tokens)
            except Exception as exc:  # a backend failure is reported, not raised
                errors.append(f"LLM call failed: {exc}")
                continue
            data, error = parse_reply(reply)
            if data is not None:
                return data, errors
            errors.append(error)
            messages = [
                *messages,
                assistant(reply[:2000]),
                user(f"That is not valid: {error}. Reply with the JSON object only."),
            ]
        return None, errors

    def _event(
        self,
        item: dict[str, Any],
        piece: str,
        offset: int,
        context: OperatorContext,
        out: Extraction,
    ) -> Event | None:
        actors = []
        for a in item["actors"]:
            name = a["name"].strip()
            if name.lower() in ("i", "me") and context.speaker:
                name = context.speaker
            actors.append(Actor(name, a.get("role") or "subject"))
        cues = [a.name for a in actors] + [item.get("location") or "", item.get("time") or ""]
        span = _locate(piece, item.get("quote") or "", cues)
        time_text = (item.get("time") or "").strip()
        time = out.clock
        status: TimeStatus = "inherited" if out.clock else "unresolved"
        if time_text:
            found = find_dates(time_text, out.clock)
            resolved = [d for d in found if d.resolved]
            if resolved:
                time = resolved[0].value
                status = "resolved" if resolved[0].kind == "absolute" else "relative"
                if not item.get("flashback"):
                    out.clock = time
            else:
                time, status = None, "unresolved"
                out.unresolved.append(time_text)
        location = item.get("location")
        if location and location.lower() in ("null", "none", "unknown", ""):
            location = None
        if location:
            out.new_places.add(location)
        return Event(
            action=item["action"].strip(),
            actors=actors,
            location=location,
            time=time,
            time_text=time_text,
            time_status=status,
            source=SourceSpan(
                context.source, context.offset + offset + span[0], context.offset + offset + span[1]
            ),
            text=piece[span[0] : span[1]],
            flashback=bool(item.get("flashback")),
        )


def parse_reply(reply: str) -> tuple[dict[str, Any] | None, str]:
    """The JSON object in ``reply`` if it validates against :data:`SCHEMA`, else an error.

    Example:
        >>> parse_reply('Sure: {"events": []}')
        ({'events': []}, '')
        >>> parse_reply('{"events": [{"action": "ran"}]}')[1]
        "events.0: 'actors' is a required property"
    """
    import jsonschema

    start = reply.find("{")
    if start < 0:
        return None, "no JSON object in the reply"
    try:
        data, _ = json.JSONDecoder().raw_decode(reply[start:])
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg} at character {exc.pos})"
    validator = jsonschema.Draft202012Validator(SCHEMA)
    error = next(iter(validator.iter_errors(data)), None)
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        return None, f"{where + ': ' if where else ''}{error.message}"
    return data, ""


def _pieces(text: str, size: int) -> list[tuple[int, int]]:
    """Spans of at most about ``size`` characters, cut at sentence ends."""
    out: list[tuple[int, int]] = []
    start = end = None
    for s, e in sentences(text):
        if start is None:
            start = s
        elif e - start > size:
            out.append((start, end))  # type: ignore[arg-type]
            start = s
        end = e
    if start is not None:
        out.append((start, end))  # type: ignore[arg-type]
    return out


def _locate(piece: str, quote: str, cues: list[str]) -> tuple[int, int]:
    """Span of the quoted sentence in ``piece``; else of the sentence with the most cues
    (actor names, place, date phrase); else the whole piece."""
    quote = quote.strip()
    if quote:
        i = piece.find(quote)
        if i >= 0:
            return i, i + len(quote)
    spans = list(sentences(piece)) or [(0, len(piece))]
    lowered = [piece[s:e].lower() for s, e in spans]
    scores = [sum(1 for c in cues if c and c.lower() in text) for text in lowered]
    best = max(range(len(spans)), key=lambda i: scores[i])
    return spans[best] if scores[best] else (0, len(piece))
