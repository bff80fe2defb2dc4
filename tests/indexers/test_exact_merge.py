"""Background merges of the exact index: the policy, concurrent writers and readers, and a merge
killed mid-way (a real subprocess, SIGKILL) leaving the last good state."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lcmem.errors import ConfigError
from lcmem.indexers import exact_merge
from lcmem.indexers.exact import ExactDoc, ExactIndex, to_chars
from lcmem.indexers.exact_merge import MergePolicy, merge_step, merge_until_done

MB = 1 << 20
WORDS = ["alpha", "beta", "gamma", "delta", "é😀", "aa", "a"]


def brute(texts, pattern: str) -> int:
    total = 0
    for t in texts:
        i = t.find(pattern)
        while i != -1:
            total += 1
            i = t.find(pattern, i + 1)
    return total


def random_text(rng: random.Random, n: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build(folder: Path, runs: int, per_run: int = 3, seed: int = 0) -> tuple[ExactIndex, dict]:
    """An index saved after each of ``runs`` adds (one segment each), as index runs leave it."""
    rng = random.Random(seed)
    live: dict[int, str] = {}
    index = ExactIndex(folder)
    for r in range(runs):
        docs = []
        for j in range(per_run):
            i = r * per_run + j
            live[i] = random_text(rng)
            docs.append(ExactDoc(i, f"d{i:04d}.txt", f"h{i}", live[i]))
        index.add(docs)
        index.save()
    return index, live


def check(index: ExactIndex, live: dict[int, str]) -> None:
    texts = list(live.values())
    for p in [*WORDS, "alpha beta", "a a"]:
        assert index.count(p) == brute(texts, p), p
    assert index.documents().keys() == live.keys()


# -- policy -------------------------------------------------------------------------------
def test_policy_merges_nothing_at_or_below_max_segments():
    assert MergePolicy(max_segments=8).plan([(MB, MB)] * 8) == []


def test_policy_merges_small_segments_together_not_the_big_one():
    sizes = [(500 * MB, 500 * MB)] + [(MB, MB)] * 8  # one big, eight tiny
    assert MergePolicy().plan(sizes) == list(range(1, 9))


def test_policy_size_ratio_and_max_at_once():
    # 12 tiny ones: at most max_merge_at_once of them in one merge
    assert len(MergePolicy().plan([(MB, MB)] * 12)) == 10
    # sizes doubling: the next is never more than ratio x the picked sum, so all merge
    doubling = [(2**i * 8 * MB, 2**i * 8 * MB) for i in range(9)]
    assert MergePolicy(max_merge_at_once=9).plan(doubling) == list(range(9))
    # sizes growing 10x each time: nothing is of similar size, so no merge is forced
    tenfold = [(10**i * 8 * MB, 10**i * 8 * MB) for i in range(9)]
    assert MergePolicy().plan(tenfold) == []


def test_policy_rewrites_mostly_masked_segments():
    assert MergePolicy().plan([(MB, MB), (10, 100)]) == [1]
    assert MergePolicy().plan([(MB, MB), (80, 100)]) == []


def test_policy_round_trips_through_the_manifest():
    p = MergePolicy(max_segments=4, background=False)
    assert MergePolicy.from_dict(p.to_dict()) == p
    assert p.to_dict()["policy"] == "tiered"
    with pytest.raises(ConfigError, match="unknown"):
        MergePolicy.from_dict({"max_segs": 3})
    with pytest.raises(ConfigError):
        MergePolicy(max_segments=0)


# -- merging ------------------------------------------------------------------------------
def test_merge_until_done_keeps_counts_and_deletes_inputs(tmp_path):
    index, live = build(tmp_path / "ix", runs=11)
    index.remove([0, 5])
    del live[0], live[5]
    index.save()
    check(index, live)
    reader = ExactIndex(tmp_path / "ix")  # opened before the merge: keeps the old segments
    old_folders = {s.folder for s in reader.segments}
    assert merge_until_done(tmp_path / "ix", policy=MergePolicy(max_segments=3)) >= 1
    merged = ExactIndex(tmp_path / "ix")
    assert len(merged.segments) <= 3
    check(merged, live)
    gone = [f for f in old_folders if not f.exists()]
    assert gone  # merged-away folders are deleted...
    check(reader, live)  # ...and a reader that mapped them still answers from its mapping
    hits = to_chars(reader, reader.locate("é😀", limit=5))
    assert all(live[h.doc_id][h.start : h.end] == "é😀" for h in hits)
    reader.refresh()  # and sees the merged list when it reads the state again
    assert [s.folder.name for s in reader.segments] == [s.folder.name for s in merged.segments]
    check(reader, live)


def test_a_writer_saving_during_a_merge_is_not_lost(tmp_path):
    """The writer saves between the merge's build and its swap: its new segment stays, the
    documents it replaced in the merge's inputs stay masked in the merged segment."""
    _, live = build(tmp_path / "ix", runs=6)
    writer = ExactIndex(tmp_path / "ix")

    def write_meanwhile() -> None:
        writer.add([ExactDoc(1, "d0001.txt", "new", "omega alpha alpha")])  # replaces doc 1
        writer.remove([4])
        writer.add([ExactDoc(900, "new.txt", "h", "alpha gamma")])
        writer.save()

    merged = merge_step(
        tmp_path / "ix", policy=MergePolicy(max_segments=2), on_built=write_meanwhile
    )
    assert merged
    live[1] = "omega alpha alpha"
    del live[4]
    live[900] = "alpha gamma"
    after = ExactIndex(tmp_path / "ix")
    check(after, live)
    assert after.count("omega") == 1


def test_a_writer_that_loaded_before_a_merge_saves_after_it(tmp_path):
    """The writer's list still names the merged-away segments when it saves: the merge's
    result is kept and the writer's masks reach the merged segment."""
    _, live = build(tmp_path / "ix", runs=6)
    writer = ExactIndex(tmp_path / "ix")
    assert merge_until_done(tmp_path / "ix", policy=MergePolicy(max_segments=2))
    writer.remove([2, 7])
    writer.add([ExactDoc(3, "d0003.txt", "new", "delta delta")])
    writer.save()
    del live[2], live[7]
    live[3] = "delta delta"
    check(writer, live)
    check(ExactIndex(tmp_path / "ix"), live)
    assert len(ExactIndex(tmp_path / "ix").segments) <= 3


def test_a_merge_whose_inputs_were_taken_drops_its_work(tmp_path):
    """If the inputs left the state while it built (only another merge removes segments;
    simulated by rewriting the state), the merge drops its segment and changes nothing."""
    from lcmem.indexers.exact import read_state, write_state

    folder = tmp_path / "ix"
    build(folder, runs=5)

    def take_inputs() -> None:
        state = read_state(folder, "exact")
        state["segments"] = state["segments"][1:]
        write_state(folder, state)

    before = {p.name for p in folder.iterdir() if p.is_dir()}
    assert merge_step(folder, policy=MergePolicy(max_segments=2), on_built=take_inputs) is None
    assert len(read_state(folder, "exact")["segments"]) == 4
    assert {p.name for p in folder.iterdir() if p.is_dir()} == before  # its segment dropped


def test_optimize_merges_all_and_waits_for_no_one(tmp_path):
    index, live = build(tmp_path / "ix", runs=4)
    index.remove([1])
    del live[1]
    index.optimize()
    assert len(index.segments) == 1 and not any(index.deleted)
    check(index, live)
    assert len([p for p in (tmp_path / "ix").iterdir() if p.is_dir()]) == 1


# -- a merge killed mid-way ---------------------------------------------------------------
def _merge_process(folder: Path, stall: str | None) -> subprocess.Popen:
    env = dict(os.environ)
    if stall:
        env[exact_merge.STALL_ENV] = stall
    policy = '{"max_segments": 2}'
    cmd = [sys.executable, "-m", "lcmem.indexers.exact_merge", str(folder), "--policy", policy]
    return subprocess.Popen(cmd, env=env)


@pytest.mark.parametrize("phase", ["built", "swapped"])
def test_a_merge_killed_mid_way_leaves_a_good_state(tmp_path, phase):
    """Killed after writing its segment but before the swap: the old state stands, the new
    folder is an orphan. Killed after the swap, before deleting its inputs: the new state
    stands, the inputs are orphans. Either way counts are unchanged and the next merge sweeps."""
    folder = tmp_path / "ix"
    _, live = build(folder, runs=6)
    state_before = (folder / "state.json").read_bytes()
    proc = _merge_process(folder, stall=phase)
    deadline = time.time() + 120
    while not (folder / "merge.stalled").exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ((folder / "state.json").read_bytes() == state_before) == (phase == "built")
    listed = {s.folder.name for s in ExactIndex(folder).segments}
    orphans = {p.name for p in folder.iterdir() if p.is_dir()} - listed
    assert orphans  # the merged segment never listed, or the inputs never deleted
    check(ExactIndex(folder), live)
    # the lock died with the process: the next merge runs, and sweeps the orphans
    merge_until_done(folder, policy=MergePolicy(max_segments=2), orphan_seconds=0)
    after = ExactIndex(folder)
    check(after, live)
    assert {p.name for p in folder.iterdir() if p.is_dir()} == {
        s.folder.name for s in after.segments
    }


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.8, 1.5])
def test_a_merge_killed_at_any_moment_leaves_a_good_index(tmp_path, delay):
    """SIGKILL at a few moments (importing, building, writing, swapping, deleting): whatever
    it reached, the index opens and counts as before."""
    folder = tmp_path / "ix"
    _, live = build(folder, runs=9, per_run=40)
    proc = _merge_process(folder, stall=None)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    check(ExactIndex(folder), live)
    merge_until_done(folder, policy=MergePolicy(max_segments=2), orphan_seconds=0)
    after = ExactIndex(folder)
    assert len(after.segments) <= 2
    check(after, live)


def test_a_reader_opening_while_a_merge_swaps_reads_the_state_again(tmp_path):
    """A reader read a state whose segment folder a merge then deleted: it re-reads the state
    (here: a state naming a missing folder, replaced 20 ms later by the good one)."""
    import threading

    from lcmem.errors import IndexCorruptError
    from lcmem.indexers.exact import read_state, write_state

    folder = tmp_path / "ix"
    _, live = build(folder, runs=2)
    good = read_state(folder, "exact")
    bad = {**good, "segments": [{"name": "seg-merged-gone", "deleted": []}]}
    write_state(folder, bad)
    timer = threading.Timer(0.02, write_state, args=(folder, good))
    timer.start()
    check(ExactIndex(folder), live)
    timer.join()
    write_state(folder, bad)  # a folder that never comes back: a clear error after retries
    with pytest.raises(IndexCorruptError):
        ExactIndex(folder)
