"""The round-5 replication tasks (``benchmarks/fusion_replicate.py``): page ranges, renaming,
splits, and the frozen generators' defaults left as they were (no model is loaded)."""

from __future__ import annotations

import gzip
import inspect
import json
from dataclasses import asdict
from itertools import pairwise
from pathlib import Path

import pytest

from benchmarks import fusion_heldout, fusion_tasks, manpages
from benchmarks.fusion_replicate import (
    CONF_BLOCKS,
    CORPORA,
    MAN_BLOCKS,
    conf_r_corpus,
    man_r_corpus,
    renamed,
)
from benchmarks.fusion_tasks import Corpus, Query, split_of

CACHE = Path(__file__).resolve().parents[2] / "benchmarks" / ".work" / "fusion"


def test_new_arguments_default_to_the_frozen_tasks():
    assert inspect.signature(manpages.render_pages).parameters["start"].default == 0
    assert inspect.signature(fusion_tasks.man_corpus).parameters["start"].default == 0
    assert inspect.signature(fusion_heldout.conf_corpus).parameters["skip"].default == 0
    assert fusion_tasks.MAN_PAGES == 150 and fusion_heldout.CONF_PAGES == 70


def test_render_pages_start_takes_the_pages_after_the_prefix(monkeypatch):
    order = [Path(f"p{i}.1.gz") for i in range(10)]
    monkeypatch.setattr(manpages, "ordered_pages", lambda section, seed: list(order))
    monkeypatch.setattr(manpages, "_cached", lambda path, section: path)
    assert manpages.render_pages(3, "1", 0, workers=1) == order[:3]
    assert manpages.render_pages(3, "1", 0, workers=1, start=3) == order[3:6]
    assert manpages.render_pages(5, "1", 0, workers=1, start=8) == order[8:]


def test_man_blocks_draw_disjoint_page_ranges_after_the_original(monkeypatch):
    calls = []

    def fake_render(n, section, seed, workers=None, start=0):
        calls.append((n, section, seed, start))
        return []

    monkeypatch.setattr(fusion_tasks, "render_pages", fake_render)
    fusion_tasks.man_corpus()
    for b in range(1, MAN_BLOCKS + 1):
        man_r_corpus(b)
    assert calls[0] == (150, "1", 0, 0)  # the frozen task
    ranges = [range(start, start + n) for n, _, _, start in calls]
    assert all(a.stop == b.start for a, b in pairwise(ranges))
    assert {(section, seed) for _, section, seed, _ in calls} == {("1", 0)}


def _fake_pages(tmp_path: Path, lengths: list[int]) -> list[Path]:
    out = []
    for i, n in enumerate(lengths):
        p = tmp_path / f"page{i:03d}.5.txt"
        # sentences unique to the page (its number in words), prose of 8-30 words
        sentence = f"The daemon number {i} reads option{i} from its own file at start. "
        p.write_text((sentence * (n // len(sentence) + 1))[:n], encoding="utf-8")
        out.append(p)
    return out


def test_conf_skip_keeps_the_qualifying_pages_after_the_first_ones(monkeypatch, tmp_path):
    lengths = [3_000 if i % 3 else 1_000 for i in range(60)]  # every third too short
    pages = _fake_pages(tmp_path, lengths)
    monkeypatch.setattr(
        fusion_heldout, "render_pages", lambda n, section, seed: pages if section == "5" else []
    )
    first = fusion_heldout.conf_corpus(10)
    second = fusion_heldout.conf_corpus(10, skip=10)
    third = fusion_heldout.conf_corpus(10, skip=20)
    docs = [set(c.docs) for c in (first, second, third)]
    assert [len(d) for d in docs] == [10, 10, 10]
    assert not (docs[0] & docs[1] or docs[0] & docs[2] or docs[1] & docs[2])
    both = fusion_heldout.conf_corpus(20)  # skip=10 takes exactly the next qualifying pages
    assert set(both.docs) == docs[0] | docs[1]
    assert all(len(t) >= fusion_heldout.MIN_CHARS for c in (first, second) for t in c.docs.values())


def test_renamed_renames_tasks_and_ids_and_keeps_splits():
    c = Corpus("man", {"ls.1.txt": "x", "cp.1.txt": "y"})
    c.queries += [
        Query("man:ls.1.txt", "man", split_of("ls.1.txt"), "list", "ls.1.txt"),
        Query("para:ls.1.txt", "para", split_of("ls.1.txt"), "enumerate", "ls.1.txt"),
        Query("conf:cp.1.txt", "conf", split_of("conf:cp.1.txt"), "q", "cp.1.txt"),
        Query("quote:cp.1.txt", "quote", split_of("quote:cp.1.txt"), "q2", "cp.1.txt"),
    ]
    before = [(q.split, q.text, q.doc) for q in c.queries]
    out = renamed(c, "man_r9")
    assert out.name == "man_r9"
    assert [q.qid for q in out.queries] == [
        "man_r:ls.1.txt",
        "para_r:ls.1.txt",
        "conf_r:cp.1.txt",
        "quote_r:cp.1.txt",
    ]
    assert [q.task for q in out.queries] == ["man_r", "para_r", "conf_r", "quote_r"]
    assert [(q.split, q.text, q.doc) for q in out.queries] == before
    assert split_of("ls.1") == split_of("ls.1") == "test"  # fusion_tasks' doctest value


def test_blocks_are_registered_and_bounded():
    assert sorted(CORPORA) == sorted(
        [f"man_r{b}" for b in range(1, MAN_BLOCKS + 1)]
        + [f"conf_r{b}" for b in range(1, CONF_BLOCKS + 1)]
    )
    with pytest.raises(ValueError):
        man_r_corpus(0)  # block 0 is the frozen task itself
    with pytest.raises(ValueError):
        conf_r_corpus(CONF_BLOCKS + 1)


def _cached_queries(name: str) -> list[dict] | None:
    path = CACHE / f"{name}.json.gz"
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)["queries"]


@pytest.mark.slow  # renders up to ~1,500 man pages on a fresh checkout (cached afterwards)
@pytest.mark.parametrize("name", ["man", "conf"])
def test_frozen_generators_still_give_the_cached_queries(name):
    cached = _cached_queries(name)
    if cached is None:
        pytest.skip(f"no cached {name}.json.gz (benchmarks/fusion_cache.py)")
    corpus = fusion_tasks.man_corpus() if name == "man" else fusion_heldout.conf_corpus()
    assert [asdict(q) for q in corpus.queries] == cached


@pytest.mark.slow  # renders the pages (cached afterwards)
def test_replication_blocks_use_no_original_page_and_are_deterministic():
    seen = set(fusion_tasks.man_corpus().docs) | set(fusion_heldout.conf_corpus().docs)
    for name, make in CORPORA.items():
        a, b = make(), make()
        assert [asdict(q) for q in a.queries] == [asdict(q) for q in b.queries], name
        assert not set(a.docs) & seen, name
        seen |= set(a.docs)
        for q in a.queries:
            key = q.doc if q.task in ("man_r", "para_r") else f"{q.task[:-2]}:{q.doc}"
            assert q.split == split_of(key)
