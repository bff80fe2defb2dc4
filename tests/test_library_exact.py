"""Library.count/find over the exact index: real library, real embedder, real man pages.

Index -> count/find equal to a brute-force scan of the stored texts -> change, delete and add
files (one new segment, old versions masked) -> reopen -> optimize -> lose the index files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import lcmem
from lcmem.embedders.sentence import SentenceEmbedder
from lcmem.errors import EmptyQueryError
from tests.conftest import man_text

pytestmark = pytest.mark.slow

PATTERNS = ["the", "file", "--", "-r", "é😀", "pattern", "FILE", "a\nb", "Ünïcode 😀 text", "zzzq"]


def brute(lib: lcmem.Library, pattern: str, fold: bool = False) -> int:
    total = 0
    for path in lib.documents():
        text = lib.document_text(path)
        if fold:
            text, pattern = text.lower(), pattern.lower()
        i = text.find(pattern)
        while i != -1:
            total += 1
            i = text.find(pattern, i + 1)
    return total


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


@pytest.fixture
def setup(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "grep.txt").write_text(man_text("grep"))
    (docs / "ls.txt").write_text(man_text("ls")[:3000])
    (docs / "notes.md").write_text("# Notes\n\nÜnïcode 😀 text, é😀 and a\nb.\n\nThe FILE.\n")
    lib = lcmem.open(tmp_path / "store", embedder=embedder)
    lib.index([docs])
    yield lib, docs, tmp_path
    lib.close()


def test_count_and_find_match_brute_force(setup):
    lib, _docs, _ = setup
    for p in PATTERNS:
        assert lib.count(p) == brute(lib, p), p
        hits = lib.find(p, limit=10_000)
        assert len(hits) == brute(lib, p)
        for h in hits:
            assert lib.document_text(h.path)[h.chunk.start : h.chunk.end] == p
            assert h.chunk.text == p
            assert h.chunk.line_start == lib.document_text(h.path).count("\n", 0, h.chunk.start) + 1
    # document order: by path, then offset
    hits = lib.find("the", limit=10_000)
    keys = [(h.path, h.chunk.start) for h in hits]
    assert keys == sorted(keys)
    assert [h.rank for h in lib.find("the", limit=3)] == [1, 2, 3]
    with pytest.raises(EmptyQueryError):
        lib.count("")
    assert lib.count("x" * 1_000_000) == 0


def test_where_ignore_case_and_whitespace(setup):
    lib, _docs, _ = setup
    only_md = {"path": "*.md"}
    assert lib.count("FILE", where=only_md) == 1
    assert {Path(h.path).name for h in lib.find("FILE", where=only_md)} == {"notes.md"}
    assert lib.count("the", where={"path": "*.nothing"}) == 0
    assert lib.count("file", ignore_case=True) == brute(lib, "file", fold=True)
    assert "fold" in lib.manifest["exact"]["variants"]
    hit = lib.find("THE file", ignore_case=True, where=only_md)[0]
    assert hit.chunk.text == "The FILE"  # the document's own casing
    assert lib.count("a b", normalize_whitespace=True) >= 1
    assert lib.count("a b") == brute(lib, "a b")
    hit = lib.find("a  b.", normalize_whitespace=True, where=only_md)[0]
    assert hit.chunk.text == "a\nb."


def test_incremental_update_delete_reopen_optimize(setup, embedder):
    lib, docs, tmp = setup
    ix = lib._exact()
    assert len(ix.segments) == 1
    (docs / "notes.md").write_text("# Notes\n\nnothing unicode here; the end\n")
    (docs / "grep.txt").unlink()
    (docs / "new.txt").write_text("a new file about the grep pattern\n")
    report = lib.index([docs])
    assert report.removed and report.updated and report.added
    ix = lib._exact()
    assert len(ix.segments) == 2  # one new segment for the run
    assert sum(len(d) for d in ix.deleted) == 2  # old notes.md and grep.txt masked
    for p in PATTERNS:
        assert lib.count(p) == brute(lib, p), p
    lib.close()
    again = lcmem.open(tmp / "store", embedder=embedder)
    for p in PATTERNS:
        assert again.count(p) == brute(again, p), p
    again.optimize()
    ix = again._exact()
    assert len(ix.segments) == 1 and not any(ix.deleted)
    assert len(ix) == len(again.documents())
    for p in PATTERNS:
        assert again.count(p) == brute(again, p), p
    again.close()
    # the exact index is derived data: lost or damaged, it is rebuilt from the store
    shutil.rmtree(tmp / "store" / "exact")
    third = lcmem.open(tmp / "store", embedder=embedder)
    assert third.count("the") == brute(third, "the")
    (tmp / "store" / "exact" / "state.json").write_text("garbage")
    fourth = lcmem.open(tmp / "store", embedder=embedder)
    assert fourth.count("the") == brute(fourth, "the")
    third.close()
    fourth.close()


def test_quote_verifier_looks_quotes_up_in_the_whole_library(setup):
    from lcmem.pipelines.quotes import verify_quotes

    lib, _docs, _ = setup
    path = next(p for p in lib.documents() if p.endswith("grep.txt"))
    chunks = [h.chunk for h in lib.find("grep", limit=1000) if h.path == path]
    first = lib.search("grep", k=50, mode="bm25", where={"path": "*grep.txt"})
    shown = min((h.chunk for h in first), key=lambda c: c.start)
    text = lib.document_text(path)
    b = shown.end
    quote = text[b - 40 : b + 40].strip()  # crosses the end of the passage shown
    assert chunks and quote not in shown.text
    alone = verify_quotes([quote], [shown])
    assert alone.dropped == [quote]  # chunk by chunk it cannot be found
    check = verify_quotes([quote], [shown], library=lib)
    assert check.dropped == []
    hit = check.verified[0]
    assert hit.path == path and hit.chunk.metadata["method"] == "exact"
    assert text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
    assert quote in hit.chunk.text
    assert hit.chunk.line_start == text.count("\n", 0, hit.chunk.start) + 1
    # where narrows the lookup: outside it the quote is not in the library
    assert verify_quotes([quote], [shown], library=lib, where={"path": "*.md"}).dropped


def test_hybrid_search_keeps_quoted_phrases_verbatim(setup):
    lib, _docs, _ = setup
    hits = lib.search('"regular expression" matching lines', k=5)
    assert hits and all("regular expression" in h.chunk.text for h in hits)
    plain = lib.search("regular expression matching lines", k=20)
    assert any("regular expression" not in h.chunk.text for h in plain)  # the filter did work
    assert lib.search('"no such phrase anywhere" lines', k=5) == []
    assert lib.search('"regular expression"', k=5, mode="bm25")  # other modes: unchanged


def test_index_runs_past_the_policy_merge_in_the_background(setup, embedder):
    """Each index run adds a segment; past max_segments the run starts a detached merge and
    returns; the merge leaves at most max_segments and the same answers; status shows it."""
    lib, docs, tmp = setup
    assert lib.manifest["exact"]["merge"]["policy"] == "tiered"  # recorded at creation
    lib.manifest["exact"]["merge"]["max_segments"] = 2
    lib.store.set_meta("manifest", lib.manifest)
    for k in range(3):
        (docs / f"run{k}.txt").write_text(f"run {k}: the grep pattern é😀 again\n")
        lib.index([docs])
    assert lib._exact_merges, "no background merge was started"
    for proc in lib._exact_merges:
        assert proc.wait(timeout=300) == 0
    x = lib.status()["exact"]
    assert x["merge_policy"]["max_segments"] == 2 and x["merge_policy"]["recorded"]
    info = x["variants"]["exact"]
    assert info["segments"] <= 2 and not info["merge_running"] and not info["merge_pending"]
    assert info["documents"] == len(lib.documents()) and info["in_step_with_store"]
    assert info["disk_bytes"] > info["text_bytes"] > 0 and info["case_sensitive"]
    lib.close()
    again = lcmem.open(tmp / "store", embedder=embedder)
    assert len(again._exact().segments) <= 2
    for p in PATTERNS:
        assert again.count(p) == brute(again, p), p
    again.close()


def test_status_counts_masked_documents_and_the_fold_index(setup):
    lib, docs, _ = setup
    (docs / "notes.md").write_text("changed\n")
    lib.index([docs])
    lib.count("GREP", ignore_case=True)  # builds the case-insensitive index
    x = lib.status()["exact"]["variants"]
    assert x["exact"]["masked_documents"] == 1 and x["exact"]["masked_bytes"] > 0
    assert x["fold"]["case_sensitive"] is False and x["fold"]["documents"] == 3


def test_a_new_process_skips_the_store_comparison_when_the_generation_matches(
    setup, embedder, monkeypatch
):
    """The exact index records the store generation it matches: opening the library again
    (as each `lcmem grep` does) counts without reading every document's hash from the store;
    after the store changes it compares again."""
    lib, docs, tmp = setup
    lib.close()
    again = lcmem.open(tmp / "store", embedder=embedder)

    def no_scan():
        raise AssertionError("the store was scanned although nothing changed")

    want = brute(again, "the")
    monkeypatch.setattr(again.store, "all_documents", no_scan)
    assert again.count("the") == want
    monkeypatch.undo()
    (docs / "later.txt").write_text("the later file\n")
    again.index([docs])
    again.close()
    third = lcmem.open(tmp / "store", embedder=embedder)
    monkeypatch.setattr(third.store, "all_documents", no_scan)
    assert third.count("later file") == 1  # the index run recorded the new generation
    third.close()


def test_bad_patterns_through_the_library(setup):
    from lcmem.errors import ConfigError

    lib, _docs, _ = setup
    with pytest.raises(ConfigError, match="not bytes"):
        lib.count(b"grep")  # type: ignore[arg-type]
    with pytest.raises(EmptyQueryError, match="only whitespace"):
        lib.count("  \n", normalize_whitespace=True)
    assert lib.find("x" * 100_000) == []
