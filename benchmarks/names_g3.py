"""Generator ``g3`` of the exact-name task (issue 22): written apart from ``g1``/``g2`` and frozen
(committed) before any run on it, so choosing a BM25 or packing fix on it is not choosing on
data already seen.

What differs from ``g1``/``g2`` (``bench_short_chunks.name_docs``):

- **Names.** Other first and last names (none shared with ``g1``/``g2``), some hyphenated or
  with a particle (``Ruth van Dalen``, ``Ines-Marie Okoro``).
- **Sentence shapes.** The secret (a locker combination ``NN-NN-NN``) comes in one of three
  shapes, drawn per document: ``The locker combination of {name} is {n}.``, ``{name} was
  given locker combination {n} last spring.``, ``Locker combination for {name}: {n}.``. The
  query is keyword style: ``locker combination {name}``.
- **Where.** The secret is put at the end of a line *inside* a man-page paragraph (glued to
  the page's own text, so it lands in an ordinary full chunk), not between paragraphs.
- **Distractors (three, each its own paragraph between two paragraphs):** (a) a person with
  the same *last* name and another first name, with a locker combination in one of the three
  shapes; (b) the target's full name in a sentence about something else (``{name} signed the
  visitor log at noon.``, one of three shapes); (c) the words of the secret without a name
  (``Locker combinations are changed every quarter.``, one of two shapes).

Distractors (b) and (c) are the short standalone fragments that share query words with the
query, the case BM25's length norm favours.

Documents: about ``tokens`` tokens of man pages (all cached section-1 pages from ``start``,
shuffled by the batch's seed ``names-g3-b{batch}``, reused if they run out), ids
``g3-b{batch}-{i}``, split into dev and test by ``bench_short_chunks.split_of`` (the frozen
rule). In a batch, targets are all different and no target is another document's distractor.

Example:
    >>> from lcmem.tokens import WhitespaceTokenizer
    >>> d = g3_docs(2, 0, 300, WhitespaceTokenizer(), 0)[0]  # doctest: +SKIP
    >>> d["query"].startswith("locker combination")           # doctest: +SKIP
    True
"""

from __future__ import annotations

import random
import re

FIRST3 = [
    "Amara",
    "Bastien",
    "Cosima",
    "Desmond",
    "Eero",
    "Fenna",
    "Gideon",
    "Halima",
    "Ines-Marie",
    "Joaquim",
    "Kalani",
    "Leopold",
    "Marisol",
    "Nikolai",
    "Oona",
    "Pradeep",
    "Quentin",
    "Rosalind",
    "Sven",
    "Tamsin",
]
LAST3 = [
    "Achterberg",
    "Balogun",
    "Carvalho",
    "van Dalen",
    "Eriksen",
    "Fontaine",
    "Goldberg",
    "Horvath",
    "Iwasaki",
    "Jablonski",
    "Kristiansen",
    "Lombardi",
    "Okoro",
    "Papadopoulos",
    "Quispe",
    "Rahman",
    "Szabo",
    "Thorvaldsen",
    "Umarov",
    "Villanueva",
]
SECRET = [
    "The locker combination of {name} is {n}.",
    "{name} was given locker combination {n} last spring.",
    "Locker combination for {name}: {n}.",
]
QUERY = "locker combination {name}"
SAME_NAME = [
    "{name} signed the visitor log at noon.",
    "A parcel for {name} is waiting at the front desk.",
    "{name} will present the quarterly figures on Friday.",
]
SAME_WORDS = [
    "Locker combinations are changed every quarter.",
    "Ask the front desk if you forget a locker combination.",
]


def _combination(rng: random.Random) -> str:
    return "-".join(f"{rng.randrange(10, 100)}" for _ in range(3))


def g3_docs(n_docs: int, start: int, tokens: int, tok, batch: int = 0) -> list[dict]:
    """``n_docs`` documents ``{"id", "text", "query", "secret"}`` (``secret``: the character
    offset of the target's combination)."""
    from bench_short_chunks import man_texts

    rng = random.Random(f"names-g3-b{batch}")
    pages = man_texts(start, 4000)
    rng.shuffle(pages)
    pages = pages * (1 + n_docs * tokens // max(1, sum(len(t) // 6 for _, t in pages)))
    people = [f"{f} {last}" for f in FIRST3 for last in LAST3]
    rng.shuffle(people)
    targets, others = people[:n_docs], people[n_docs:]
    docs, p = [], 0
    for i in range(n_docs):
        parts, total = [], 0
        while total < tokens and p < len(pages):
            parts.append(pages[p][1])
            total += tok.count(pages[p][1])
            p += 1
        body = "\n\n".join(parts)
        target = targets[i]
        last = target.split(" ", 1)[1]
        other = rng.choice([x for x in others if x.split(" ", 1)[1] == last])
        secret = _combination(rng)
        # the secret: at the end of a line inside a paragraph (a "\n" not next to another "\n")
        inner = [m.start() for m in re.finditer(r"(?<=\S)\n(?=[^\S\n]*\S)", body)]
        at = rng.choice(inner)
        said = " " + rng.choice(SECRET).format(name=target, n=secret)
        text = body[:at] + said + body[at:]
        pos = at + said.index(secret)
        # three distractors, each a paragraph of its own, after the secret is placed
        lines = [
            rng.choice(SECRET).format(name=other, n=_combination(rng)),
            rng.choice(SAME_NAME).format(name=target),
            rng.choice(SAME_WORDS),
        ]
        breaks = [m.end() for m in re.finditer(r"\n\n", text)]
        for where, line in sorted(zip(rng.sample(breaks, 3), lines, strict=True), reverse=True):
            text = text[:where] + line + "\n\n" + text[where:]
            if where <= pos:
                pos += len(line) + 2
        assert text[pos : pos + len(secret)] == secret
        docs.append(
            {
                "id": f"g3-b{batch}-{i}",
                "text": text,
                "query": QUERY.format(name=target),
                "secret": pos,
            }
        )
    return docs
