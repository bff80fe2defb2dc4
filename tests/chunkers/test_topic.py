"""TopicChunker: segmentation steps, chunk invariants, sizes, and real man pages (slow)."""

from __future__ import annotations

import random
import re
import shutil
import tracemalloc
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lcmem.chunkers import TopicChunker, topic
from lcmem.chunkers.sentences import ABBREVIATIONS
from lcmem.chunkers.topic import choose_boundaries, coherence_scores, depth_scores, smooth
from lcmem.embedders.base import Embedder
from lcmem.errors import ConfigError
from lcmem.tokens import WhitespaceTokenizer
from lcmem.types import Document
from tests.chunkers.checks import HashEmbedder, check_chunks
from tests.conftest import man_text

WS = WhitespaceTokenizer()

TOPICS = {
    "cooking": "onion garlic butter pan simmer sauce pepper salt oven bake flour dough",
    "astronomy": "star planet orbit telescope galaxy comet nebula moon solar light year",
    "sailing": "boat sail wind mast hull keel anchor harbour tide rope deck crew",
    "finance": "bank loan interest rate bond stock market price debt credit fund tax",
}


def topical_text(plan: list[tuple[str, int]], seed: int = 0) -> tuple[str, list[int]]:
    """Sentences drawn from each topic's vocabulary, one paragraph per topic run; the text and
    the character offsets where each topic after the first starts."""
    rng = random.Random(seed)
    paras, joins, at = [], [], 0
    for k, (name, n) in enumerate(plan):
        words = TOPICS[name].split()
        sentences = [" ".join(rng.choices(words, k=8)).capitalize() + "." for _ in range(n)]
        para = " ".join(sentences)
        if k:
            joins.append(at)
        paras.append(para)
        at += len(para) + 2
    return "\n\n".join(paras), joins


def chunker(size: int = 200, overlap: int = 0, **kw) -> TopicChunker:
    return TopicChunker(size, overlap, WS, HashEmbedder(), **kw)


# -- the scoring steps -----------------------------------------------------------------------


@pytest.mark.parametrize("block", [3, 2048])
@pytest.mark.parametrize("weighting", ["linear", "mean"])
def test_coherence_matches_direct_window_sums(block, weighting, monkeypatch):
    monkeypatch.setattr(topic, "_BLOCK", block)
    rng = np.random.default_rng(0)
    v = rng.normal(size=(40, 8)).astype(np.float32)
    for window in (1, 3, 7, 50):
        weights = np.arange(window, 0, -1.0) if weighting == "linear" else np.ones(window)
        got = coherence_scores(v, window, weighting)
        want = []
        for g in range(1, len(v)):
            before = v[max(0, g - window) : g][::-1]  # nearest first
            after = v[g : g + window]
            left = (before * weights[: len(before), None]).sum(axis=0)
            right = (after * weights[: len(after), None]).sum(axis=0)
            want.append(left @ right / np.linalg.norm(left) / np.linalg.norm(right))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert coherence_scores(v[:1], 3).shape == (0,)
    with pytest.raises(ConfigError, match="weighting"):
        coherence_scores(v, 3, "gaussian")  # type: ignore[arg-type]


def test_smooth_matches_a_direct_moving_average():
    s = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])
    want = [np.mean(s[max(0, i - 2) : i + 3]) for i in range(len(s))]
    np.testing.assert_allclose(smooth(s, 2), want)
    np.testing.assert_array_equal(smooth(s, 0), s)


def _depth_by_climbing(s: list[float]) -> list[float]:
    """TextTiling's definition, climbing from every gap (quadratic; the reference)."""
    out = []
    for i, x in enumerate(s):
        j = i
        while j > 0 and s[j - 1] >= s[j]:
            j -= 1
        k = i
        while k < len(s) - 1 and s[k + 1] >= s[k]:
            k += 1
        out.append((s[j] - x) + (s[k] - x))
    return out


@settings(max_examples=200, derandomize=True)
@given(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.8, 1.0]), max_size=30))
def test_depth_scores_equal_the_climbing_definition(s):
    np.testing.assert_allclose(depth_scores(np.array(s)), _depth_by_climbing(s))


def test_boundaries_respect_min_tokens_and_count():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(2, 60))
        scores = rng.random(n - 1)
        tokens = rng.integers(0, 20, size=n).tolist()
        pos = np.concatenate([[0], np.cumsum(tokens)])
        starts = choose_boundaries(scores, depth_scores(scores), tokens, min_tokens=25)
        sizes = np.diff([0, *(int(pos[i]) for i in starts), int(pos[-1])])
        assert len(sizes) == 1 or all(sizes >= 25), (starts, sizes)
        for want in (1, 2, 5, n + 3):
            got = choose_boundaries(
                scores, depth_scores(scores), tokens, min_tokens=25, n_segments=want
            )
            assert len(got) == min(want, n) - 1
            assert got == sorted(set(got)) and all(0 < g < n for g in got)


# -- the chunker with a bag-of-words test embedder ----------------------------------------------


def test_finds_the_topic_changes():
    plan = [("cooking", 6), ("astronomy", 7), ("sailing", 5), ("finance", 6)]
    text, joins = topical_text(plan)
    ch = chunker(400, window=3)
    assert ch.segment(text) == joins
    assert ch.segment(text, n_segments=4) == joins
    chunks = check_chunks(ch, text)
    assert [c.metadata["topic"] for c in chunks] == [0, 1, 2, 3]
    assert [c.start for c in chunks[1:]] == joins


def test_topic_changes_inside_a_paragraph_and_across_hard_wrapped_lines():
    text, joins = topical_text([("cooking", 6), ("finance", 6)])
    flat = text.replace("\n\n", " ")
    # hard-wrap at 60 columns: single line breaks are not boundaries, sentences still are
    wrapped = re.sub(r"(.{1,60})(?: |$)", lambda m: m.group(1) + "\n", flat).rstrip("\n")
    assert len(wrapped) == len(flat)
    for t in (flat, wrapped):
        (start,) = chunker(400).segment(t)
        assert abs(start - (joins[0] - 1)) <= 1


def test_n_segments_is_honoured():
    text, _ = topical_text([("cooking", 10), ("astronomy", 10)])
    assert len(chunker().units(text)) == 20
    for n in (1, 2, 3, 7, 20, 30):
        chunks = check_chunks(chunker(1000, n_segments=n), text)
        assert sorted({c.metadata["topic"] for c in chunks}) == list(range(min(n, 20)))
    with pytest.raises(ConfigError, match="n_segments"):
        chunker(n_segments=0)


def test_long_topics_are_split_within_the_budget():
    text, joins = topical_text([("cooking", 30), ("sailing", 30)])
    for kw in ({"max_segment_tokens": 40}, {}):
        size = 40 if kw else 25
        chunks = check_chunks(chunker(200 if kw else size, n_segments=2, **kw), text)
        assert all(c.token_count <= size for c in chunks)
        topics = [c.metadata["topic"] for c in chunks]
        assert topics == sorted(topics) and set(topics) == {0, 1}
        assert joins[0] in [c.start for c in chunks]
        # cut at sentence ends: every chunk ends a sentence
        assert all(c.text.endswith(".") for c in chunks)


def test_budget_is_capped_by_the_embedders_window():
    emb = HashEmbedder()
    emb.max_tokens = 30
    assert TopicChunker(500, 0, WS, emb).budget == 30
    assert TopicChunker(500, 0, WS, emb, max_segment_tokens=12).budget == 12
    assert TopicChunker(20, 0, WS, emb).budget == 20


def test_overlap_stays_inside_a_topic():
    text, joins = topical_text([("astronomy", 20), ("finance", 20)])
    chunks = check_chunks(chunker(40, 12, n_segments=2), text)
    for a, b in pairwise(chunks):
        if a.metadata["topic"] == b.metadata["topic"]:
            assert b.start < a.end, "chunks of one topic share a sentence"
        else:
            assert a.end < b.start == joins[0]


def test_min_segment_tokens_is_honoured():
    text, _ = topical_text([("cooking", 2), ("astronomy", 2), ("sailing", 9), ("finance", 1)])
    chunks = chunker(400, min_segment_tokens=30, window=1).chunk(text)
    per_topic: dict[int, int] = {}
    for c in chunks:
        per_topic[c.metadata["topic"]] = per_topic.get(c.metadata["topic"], 0) + c.token_count
    assert len(per_topic) >= 2
    assert min(per_topic.values()) >= 30


def test_embeds_once_in_a_batch_and_loads_no_model_until_used():
    text, _ = topical_text([("cooking", 5), ("sailing", 5)])
    emb = HashEmbedder()
    TopicChunker(100, 0, WS, emb).chunk(text)
    assert emb.calls == [10]
    assert TopicChunker(100)._embedder is None


def test_many_documents_in_one_stream_give_the_same_chunks():
    texts = [
        topical_text([("cooking", 6), ("sailing", 5), ("finance", 7)], seed=1)[0],
        "One sentence only.",
        "",
        topical_text([("astronomy", 8), ("cooking", 4)], seed=2)[0],
    ]
    emb = HashEmbedder()
    c = TopicChunker(40, 5, WS, emb)
    many = c.chunk_many([Document(text=t, path=f"/d{i}") for i, t in enumerate(texts)])
    assert emb.calls == [sum(len(c.units(t)) for t in texts if len(c.units(t)) >= 2)]
    for i, (text, got) in enumerate(zip(texts, many, strict=True)):
        alone = c.chunk(Document(text=text, path=f"/d{i}"))
        assert [(x.start, x.end, x.metadata) for x in got] == [
            (x.start, x.end, x.metadata) for x in alone
        ]
        assert all(x.doc_path == f"/d{i}" for x in got)
        check_chunks(c, Document(text=text, path=f"/d{i}"), got)
    assert c.segment_many(texts, n_segments=2) == [c.segment(t, 2) for t in texts]


def test_config_records_the_settings():
    cfg = chunker(128, 8, window=4, smoothing=2, min_segment_tokens=10, threshold=0.3).config()
    assert cfg | {} == {
        **cfg,
        "name": "topic",
        "chunk_size": 128,
        "overlap": 8,
        "tokenizer": "whitespace",
        "embedder": "test-hash-bow",
        "window": 4,
        "smoothing": 2,
        "min_segment_tokens": 10,
        "threshold": 0.3,
    }
    assert chunker(window=2).config() != chunker(window=3).config()


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"window": 0}, "window"),
        ({"weighting": "max"}, "weighting"),
        ({"smoothing": -1}, "smoothing"),
        ({"min_segment_tokens": -1}, "min_segment_tokens"),
        ({"max_segment_tokens": 0}, "max_segment_tokens"),
        ({"threshold": "high"}, "threshold"),
    ],
)
def test_bad_settings_raise_config_errors(kw, word):
    with pytest.raises(ConfigError, match=word):
        chunker(**kw)


@pytest.mark.parametrize("text", ["", "  \n\n ", "One sentence only.", "x"])
def test_tiny_documents(text):
    chunks = check_chunks(chunker(10), text)
    assert [c.metadata["topic"] for c in chunks] == [0] * len(chunks)
    assert chunker(10).segment(text) == []


def test_no_quadratic_memory_on_20000_sentences():
    """Linear by design: the peak memory of segmenting 20,000 sentences stays below a tenth of
    one ``n x n`` float32 similarity matrix (1.6 GB)."""
    rng = random.Random(3)
    words = " ".join(TOPICS.values()).split()
    text = " ".join(" ".join(rng.choices(words, k=6)).capitalize() + "." for _ in range(20_000))
    ch = chunker(200, window=3)
    tracemalloc.start()
    try:
        starts = ch.segment(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(ch.units(text)) == 20_000
    assert peak < 20_000**2 * 4 / 10, peak  # about 60 MB here
    assert starts == sorted(starts)


# -- the real packaged embedder ---------------------------------------------------------------


def _man_paragraphs(name: str) -> list[str]:
    """Prose paragraphs of a man page (at least 12 words, whitespace collapsed)."""
    blocks = re.split(r"\n\s*\n", man_text(name))
    paras = [" ".join(b.split()) for b in blocks]
    return [p for p in paras if len(p.split()) >= 12]


@pytest.fixture(scope="module")
def three_pages() -> tuple[str, list[int], list[int]]:
    """Ten prose paragraphs each of the tar, ssh and grep man pages, joined: the text, the
    offsets of the two joins, and every paragraph's offset."""
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    parts = []
    for name in ("tar", "ssh", "grep"):
        paras = _man_paragraphs(name)
        if len(paras) < 12:
            pytest.skip(f"the {name} manual page is not installed")
        parts.append(paras[1:11])
    paras = [p for part in parts for p in part]
    starts, at = [], 0
    for p in paras:
        starts.append(at)
        at += len(p) + 2
    return "\n\n".join(paras), [starts[10], starts[20]], starts


def _nearest_paragraph(starts: list[int], offset: int) -> int:
    return min(range(len(starts)), key=lambda i: abs(starts[i] - offset))


class _Memo(Embedder):
    """The real packaged embedder, remembering vectors already computed (the tests chunk the
    same texts several times; the vectors are the model's own)."""

    def __init__(self) -> None:
        from lcmem.embedders.sentence import SentenceEmbedder

        self.inner = SentenceEmbedder()
        self.name = self.inner.name
        self.seen: dict[str, np.ndarray] = {}

    @property
    def max_tokens(self) -> int:  # type: ignore[override]
        return self.inner.max_tokens

    def embed(self, texts, kind="document", progress=None):
        todo = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if todo:
            self.seen.update(zip(todo, self.inner.embed(todo), strict=True))
        return np.stack([self.seen[t] for t in texts])


@pytest.fixture(scope="module")
def memo() -> _Memo:
    return _Memo()


@pytest.fixture(scope="module")
def real(memo) -> TopicChunker:
    return TopicChunker(200, embedder=memo)


@pytest.mark.slow
def test_man_pages_joined_are_split_near_the_joins(three_pages, real):
    text, joins, starts = three_pages
    known = real.segment(text, n_segments=3)
    assert len(known) == 2
    for got, want in zip(known, joins, strict=True):
        assert abs(_nearest_paragraph(starts, got) - starts.index(want)) <= 1, (got, want)
    found = real.segment(text)
    assert len(found) <= 8
    for want in joins:
        assert any(abs(_nearest_paragraph(starts, b) - starts.index(want)) <= 1 for b in found)
    chunks = check_chunks(real, Document(text=text, path="three.txt"))
    assert len({c.metadata["topic"] for c in chunks}) == len(found) + 1


@pytest.mark.slow
def test_real_sizes_and_segment_counts(three_pages, memo):
    text, _, _ = three_pages
    emb = memo
    for n in (2, 5):
        chunks = TopicChunker(200, embedder=emb, n_segments=n).chunk(text)
        assert len({c.metadata["topic"] for c in chunks}) == n
    small = TopicChunker(200, 10, embedder=emb, max_segment_tokens=48)
    assert all(c.token_count <= 48 for c in check_chunks(small, text))
    assert TopicChunker(1000, embedder=emb).budget == emb.max_tokens == 256
    assert TopicChunker(1000).budget == 256  # the default embedder's window


@pytest.mark.slow
def test_a_1600_sentence_document(three_pages, real):
    """Runs over 1,600 sentences (linear by design: no ``n x n`` matrix is ever built, see
    ``test_no_quadratic_memory_on_20000_sentences``); chunks keep every invariant."""
    text, _, _ = three_pages
    words = [re.sub(r"\W+", "", w) for w in text.split()]
    words = [w for w in words if len(w) > 1 and w.isalpha() and w.lower() not in ABBREVIATIONS]
    rng = random.Random(5)
    sentences, pages = [], []
    for k in range(1600):
        start = rng.randrange(len(words) - 10)
        sentences.append(" ".join(words[start : start + rng.randint(4, 10)]).capitalize() + ".")
        if k % 40 == 39:
            pages.append(" ".join(sentences))
            sentences = []
    doc = "\n\n".join(pages)
    units = real.units(doc)
    assert len(units) == 1600
    chunks = check_chunks(real, doc)
    topics = [c.metadata["topic"] for c in chunks]
    assert topics == sorted(topics) and topics[-1] >= 1


class _Boom(TopicChunker):
    """A topic chunker that fails on any document containing BOOM (a test double)."""

    def _chunk(self, doc):
        if "BOOM" in doc.text:
            raise RuntimeError("boom")
        return super()._chunk(doc)

    def _chunk_many(self, docs):
        if any("BOOM" in d.text for d in docs):
            raise RuntimeError("boom")
        return super()._chunk_many(docs)


def test_library_chunks_documents_together_and_isolates_a_failure(tmp_path):
    import lcmem

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        text, _ = topical_text([("cooking", 5), ("sailing", 5)], seed=i)
        (docs / f"d{i}.txt").write_text(text)
    (docs / "bad.txt").write_text("BOOM. " + topical_text([("finance", 4)])[0])
    emb = HashEmbedder()
    with lcmem.open(tmp_path / "lib", embedder=emb, chunker=_Boom(60, 0, WS, emb)) as lib:
        report = lib.index([docs])
        assert sorted(p.rsplit("/", 1)[-1] for p in report.added) == ["d0.txt", "d1.txt", "d2.txt"]
        assert [p.rsplit("/", 1)[-1] for p, _ in report.errors] == ["bad.txt"]
        assert "chunking failed" in report.errors[0][1]
        assert lib.search("simmer the sauce", k=1, mode="bm25")
    emb2 = HashEmbedder()
    with lcmem.open(tmp_path / "lib2", embedder=emb2, chunker=TopicChunker(60, 0, WS, emb2)) as lib:
        lib.index([docs])
    # sentences of the four documents in one call, then the chunks in another
    assert emb2.calls[0] > 30 and len(emb2.calls) == 2
