"""Held-out fusion tasks of round 3 (issue 16): real sentences of man sections 5 and 8.

Written and committed before any fusion setting of round 3 was tried, by a template family
unlike the other generators', on text none of them uses (``fusion_tasks.py`` uses man section
1, Debian READMEs, stdlib docstrings and stdlib code). It plays no part in choosing a setting.

The corpus: pages of man sections 5 (file formats) and 8 (administration commands), in a
seeded order, those of 2,500-12,000 rendered characters, each page one document as it is (no
inserted text: the distractors are the other pages, many of them on neighbouring subjects).
Two tasks, one query of each per page at most, both scored Acc@1 over documents:

- ``conf`` (a question about a real sentence): a sentence of the page (8-30 words, found in
  no other page) is reduced to its words, about 40 % of its non-stopwords dropped at random,
  and wrapped in a question whose words are mostly not in the sentence (``Where is it
  explained that ...?``, ``which manual says ...``). The question words a chunk does not hold
  are the shape that hurt the round-2 default on the ``fact`` task.
- ``quote`` (a quoted span): ``Which page says "<4-6 consecutive words>"?`` with a span of a
  real sentence that occurs (lower-cased, whitespace collapsed) in this page only.

Splits: ``split_of`` of ``fusion_tasks`` on ``<task>:<page>``. Everything depends only on the
seed and the man pages installed on the machine.

Example:
    >>> _drop_words("the daemon reads its configuration from this file", random.Random(1))
    'the daemon its from this file'
"""

from __future__ import annotations

import random
import re

try:
    from benchmarks.fusion_tasks import Corpus, Query, split_of
    from benchmarks.manpages import render_pages, split_paragraphs
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from fusion_tasks import Corpus, Query, split_of  # type: ignore[no-redef]
    from manpages import render_pages, split_paragraphs  # type: ignore[no-redef]

CONF_PAGES = 70  # pages kept (sections 5 and 8 together)
MIN_CHARS, MAX_CHARS = 2_500, 12_000
SEED = 31

_QUESTIONS = (
    "Where is it explained that {c}?",
    "Which manual says {c}",
    "I remember reading that {c} - which page was that?",
    "looking for the documentation stating {c}",
    "In what reference is it written that {c}?",
    "Find me the part mentioning that {c}",
)
_STOP = set(
    """a an the of to in on for and or is are be by it its this that with as at from
    not no if when which can will may must should than then there these those""".split()  # noqa: SIM905
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _sentences(page: str) -> list[str]:
    """Prose sentences of a rendered page: 8-30 words, mostly letters, ending in a period."""
    out = []
    for para in split_paragraphs(page, 8):
        for s in _SENTENCE.split(para):
            words = s.split()
            letters = sum(c.isalpha() for c in s)
            if 8 <= len(words) <= 30 and s.endswith(".") and letters >= 0.75 * len(s):
                out.append(s)
    return out


def _drop_words(sentence: str, rng: random.Random) -> str:
    """The sentence's words (letters only), lower-cased, with about 40 % of the non-stopwords
    dropped (at least one kept)."""
    words = [w.lower() for w in _WORD.findall(sentence)]
    content = [i for i, w in enumerate(words) if w not in _STOP]
    drop = set(rng.sample(content, k=min(len(content) - 1, round(0.4 * len(content)))))
    return " ".join(w for i, w in enumerate(words) if i not in drop)


def conf_corpus(n_pages: int = CONF_PAGES, seed: int = SEED, skip: int = 0) -> Corpus:
    """The ``conf`` and ``quote`` tasks (see the module docstring).

    ``skip`` > 0 passes over the first ``skip`` pages that qualify (same seeded order, same
    length rule) and keeps the ``n_pages`` after them (``fusion_replicate.py``'s replication
    blocks); 0 is the frozen task.
    """
    rng = random.Random(f"fusion-heldout-{seed}")
    pages: dict[str, str] = {}
    passed: set[str] = set()
    order = [(p, "5") for p in render_pages(400, "5", seed)]
    order += [(p, "8") for p in render_pages(400, "8", seed)]
    random.Random(seed).shuffle(order)
    for path, _section in order:
        text = path.read_text(encoding="utf-8")
        if MIN_CHARS <= len(text) <= MAX_CHARS and path.stem not in pages.keys() | passed:
            if len(passed) < skip:
                passed.add(path.stem)
            else:
                pages[path.stem] = text
        if len(pages) >= n_pages:
            break
    corpus = Corpus("conf")
    normed = {name: _norm(text) for name, text in pages.items()}
    for name, text in sorted(pages.items()):
        doc = f"{name}.txt"
        corpus.docs[doc] = text
        others = [t for n, t in normed.items() if n != name]
        unique = [s for s in _sentences(text) if not any(_norm(s) in t for t in others)]
        if not unique:
            skipped = corpus.notes.get("conf_no_unique_sentence", 0)
            corpus.notes["conf_no_unique_sentence"] = skipped + 1
            continue
        s = rng.choice(unique)
        q = rng.choice(_QUESTIONS).format(c=_drop_words(s, rng))
        key = f"conf:{doc}"
        corpus.queries.append(Query(key, "conf", split_of(key), q, doc))
        # a quoted span of another sentence, found in this page only
        s2 = rng.choice(unique)
        words = s2.rstrip(".").split()
        n = rng.randint(4, 6)
        starts = list(range(0, max(len(words) - n, 0) + 1))
        rng.shuffle(starts)
        for start in starts:
            span = " ".join(words[start : start + n]).strip(",;:()")
            clean = not set(span) & set('()"[]')
            if clean and len(span.split()) >= 4 and not any(_norm(span) in t for t in others):
                key = f"quote:{doc}"
                text_q = f'Which page says "{span}"?'
                corpus.queries.append(Query(key, "quote", split_of(key), text_q, doc))
                break
    corpus.notes["conf_pages"] = len(corpus.docs)
    return corpus


if __name__ == "__main__":
    c = conf_corpus()
    print(len(c.docs), "pages", sum(len(t) for t in c.docs.values()), "chars", c.notes)
    for q in c.queries[:16]:
        print(q.task, q.split, q.doc, "|", q.text)
    for task in ("conf", "quote"):
        for sp in ("dev", "test"):
            print(task, sp, sum(q.task == task and q.split == sp for q in c.queries))
