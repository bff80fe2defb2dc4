"""A 5 MB file that is one word (a hex dump without spaces) indexes into bounded chunks
(issue 14, item 4), end to end through ``Library.index`` with the real default embedder."""

from __future__ import annotations

import random

import pytest

import lcmem

pytestmark = pytest.mark.slow


def test_five_megabyte_word_indexes_into_bounded_chunks(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    rng = random.Random(0)
    blob = "".join(rng.choices("0123456789abcdef", k=5_000_000))
    (docs / "dump.txt").write_text(blob)
    (docs / "note.txt").write_text("The pass key for Ada Moreau is 48213.")
    with lcmem.open(tmp_path / "store") as lib:
        report = lib.index([docs])
        assert report.ok and sorted(p.rsplit("/", 1)[-1] for p in report.added) == [
            "dump.txt",
            "note.txt",
        ]
        ceiling = lib.chunker.max_chars
        assert ceiling == 3200
        rows = [row for batch in lib.store.iter_chunk_texts() for row in batch]
        assert len(rows) >= 5_000_000 // ceiling
        texts = [row[2] for row in rows]  # (id, context, text, embed_hash)
        assert max(len(t) for t in texts) <= ceiling
        assert report.truncated == []
        hits = lib.search("pass key for Ada Moreau", k=1, mode="bm25")
        assert hits[0].chunk.text.startswith("The pass key")
        dense = lib.search("a hexadecimal dump", k=3, mode="dense")
        assert all(len(h.chunk.text) <= ceiling for h in dense)
