"""Held-out fusion task of round 4 (issue 16): the Python language reference, asked two ways.

Written and committed before any fusion setting of round 4 was tried. Text none of the other
generators uses: the topics of the Python language reference as shipped in the standard
library (``pydoc_data.topics``: the ``help("if")`` pages: statements, expressions, data model,
lexical analysis), each topic one document as it is (the distractors are the other topics,
all on neighbouring subjects). ``fusion_tasks.py`` uses man section 1, Debian READMEs, stdlib
docstrings and stdlib code; ``fusion_heldout.py`` uses man sections 5 and 8.

Task ``ref`` (Acc@1 over documents), up to two queries per topic, each from a different real
sentence (8-35 words, found in no other topic), in one of two shapes unlike ``conf``'s:

- a question: the sentence's words in order with about 45 % of its non-stopwords dropped,
  wrapped in framing words of another family than ``conf``'s (``According to the Python docs,
  ... - what section covers this?``, ``Does the spec say anything about how ...?``). Some of
  the framing words (``python``, ``section``, ``language``) are common in this corpus,
  so they are not only words no chunk holds.
- keywords: about half of the sentence's non-stopwords, in shuffled order, after a short
  prefix (``python reference: ...``, ``spec lookup - ...``): no word order to lean on.

Splits: ``split_of`` of ``fusion_tasks`` on ``ref:<topic>`` (both queries of a topic in the
same split). Everything depends only on the seed and the Python installed.

Example:
    >>> _keywords("the iterator is created for the result of the expression", random.Random(2))
    'iterator result created'
"""

from __future__ import annotations

import random
import re

try:
    from benchmarks.fusion_tasks import Corpus, Query, split_of
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from fusion_tasks import Corpus, Query, split_of  # type: ignore[no-redef]

MIN_CHARS = 800
SEED = 47
PER_TOPIC = 2

_QUESTIONS = (
    "According to the Python docs, {c} - what section covers this?",
    "Does the spec say anything about how {c}?",
    "Quick check on the language rules: {c}. Which topic?",
    "Need the bit of the Python reference where {c}",
    "Somewhere it says {c}; where exactly?",
)
_PREFIXES = ("python reference: {k}", "spec lookup - {k}", "{k} (language reference)")
_STOP = set(
    """a an the of to in on for and or is are be by it its this that with as at from
    not no if when which can will may must should than then there these those""".split()  # noqa: SIM905
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"])")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_'-]*")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _sentences(text: str) -> list[str]:
    """Prose sentences of a topic: 8-35 words, mostly letters, ending in a period."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        if para.startswith("   ") or "::=" in para:  # grammar and code blocks
            continue
        for s in _SENTENCE.split(" ".join(para.split())):
            words = s.split()
            letters = sum(c.isalpha() for c in s)
            if 8 <= len(words) <= 35 and s.endswith(".") and letters >= 0.7 * len(s):
                out.append(s)
    return out


def _drop(sentence: str, rng: random.Random, share: float = 0.45) -> str:
    """The sentence's words in order, lower-cased, about ``share`` of the non-stopwords
    dropped (at least one kept)."""
    words = [w.lower() for w in _WORD.findall(sentence)]
    content = [i for i, w in enumerate(words) if w not in _STOP]
    drop = set(rng.sample(content, k=min(len(content) - 1, round(share * len(content)))))
    return " ".join(w for i, w in enumerate(words) if i not in drop)


def _keywords(sentence: str, rng: random.Random) -> str:
    """About half of the sentence's non-stopwords (at least two), shuffled."""
    words = [w.lower() for w in _WORD.findall(sentence)]
    content = list(dict.fromkeys(w for w in words if w not in _STOP))
    kept = rng.sample(content, k=max(min(2, len(content)), round(0.5 * len(content))))
    return " ".join(kept)


def ref_corpus(seed: int = SEED) -> Corpus:
    """The ``ref`` task (see the module docstring)."""
    from pydoc_data.topics import topics

    rng = random.Random(f"fusion-heldout4-{seed}")
    corpus = Corpus("ref")
    pages = {k: v for k, v in sorted(topics.items()) if len(v) >= MIN_CHARS}
    normed = {k: _norm(v) for k, v in pages.items()}
    for name, text in pages.items():
        doc = f"{name}.txt"
        corpus.docs[doc] = text
        others = [t for n, t in normed.items() if n != name]
        unique = [s for s in _sentences(text) if not any(_norm(s) in t for t in others)]
        if not unique:
            skipped = corpus.notes.get("ref_no_unique_sentence", 0)
            corpus.notes["ref_no_unique_sentence"] = skipped + 1
            continue
        split = split_of(f"ref:{name}")
        for n, s in enumerate(rng.sample(unique, k=min(PER_TOPIC, len(unique)))):
            if rng.random() < 0.5:
                q = rng.choice(_QUESTIONS).format(c=_drop(s, rng))
            else:
                q = rng.choice(_PREFIXES).format(k=_keywords(s, rng))
            corpus.queries.append(Query(f"ref:{doc}:{n}", "ref", split, q, doc))
    corpus.notes["ref_topics"] = len(corpus.docs)
    return corpus


if __name__ == "__main__":
    c = ref_corpus()
    print(len(c.docs), "topics", sum(len(t) for t in c.docs.values()), "chars", c.notes)
    for q in c.queries[:16]:
        print(q.split, q.doc, "|", q.text)
    for sp in ("dev", "test"):
        print("ref", sp, sum(q.split == sp for q in c.queries))
