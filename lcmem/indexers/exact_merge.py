"""Merging the exact index's segments in the background, Lucene style.

Every ``lcmem index`` run adds one segment (:mod:`lcmem.indexers.exact`); a query pays two
binary searches per segment and a process opening the index maps each segment's files, so
segments are merged. The merge never blocks a reader or the next writer:

1. under ``merge.lock`` (one merger per index), read the state, choose the segments
   (:class:`MergePolicy`), and build one new segment from their live documents, written
   atomically under a name no state lists yet;
2. under ``state.lock`` (held for milliseconds), re-read the state: if a writer saved in the
   meantime its new segments are kept and the documents it masked in the merged segments are
   masked in the new one; if the inputs are gone (another merge took them), the new segment
   is dropped. Then ``state.json`` is replaced in one atomic write;
3. the inputs' folders are deleted. A reader that mapped them keeps its mapping (POSIX
   unlinks a mapped file only when it is unmapped); a reader still opening the old list
   re-reads the state (:meth:`ExactIndex._load_state`).

A merge killed at any point leaves the last good ``state.json``: before step 2 the new folder
is an orphan (swept by a later merge after ``ORPHAN_SECONDS``), after it the old folders are.

"Background" is a detached process (``python -m lcmem.indexers.exact_merge FOLDER``) that
:meth:`lcmem.Library.index` starts after its commit when the policy asks for a merge: the
index run returns at once, a CLI run exits, and the merge survives it. ``background=False``
in the policy (or ``$LCMEM_EXACT_MERGE=inline``) runs the same steps in the indexing process.

Example:
    >>> big, small = (500 << 20, 500 << 20), (1 << 20, 1 << 20)  # (live, all) bytes
    >>> MergePolicy(max_segments=2).plan([big, small, small])  # the small ones, not the big
    [1, 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from lcmem.errors import ConfigError

ORPHAN_SECONDS = 3600.0  # an unlisted segment folder this old is no writer's work in progress
STALL_ENV = "LCMEM_EXACT_MERGE_STALL"  # tests: "built" / "swapped" stop a merge there


@dataclass(frozen=True)
class MergePolicy:
    """When to merge and what (a tiered, size-ratio policy; recorded in the manifest).

    - Merge when an index has more than ``max_segments`` segments, or when a segment has more
      than ``max_deleted`` of its bytes masked (their text is dead weight until rewritten).
      8, because on the 220 MB benchmark corpus 8 segments cost a warm count ~1.5x one
      segment (0.10 vs 0.07 ms p50) and a process opening the index ~26 ms more, while a
      merge of all of it takes 1-2 minutes (``benchmarks/bench_exact_segments.py``,
      ``results/exact.md``): worth doing every 8 runs, in the background, not every run.
    - What: the smallest segments, by live bytes floored at ``floor_bytes``, in size order,
      each next one only while it is at most ``size_ratio`` times the bytes already picked,
      and at most ``max_merge_at_once``. So segments of similar size merge together and a big
      segment is never rewritten to absorb a small one: with ratio 2 every merge at least
      doubles the segment a byte lives in, so a byte is rewritten at most
      log2(library / floor) times (the tiers of Lucene's TieredMergePolicy, which merges
      segments "of approximately equal size"). Tiny segments all count as ``floor_bytes``,
      so a run of small index runs merges in one go.
    - ``background``: merge in a detached process (True) or in the indexing process.

    Example:
        >>> MergePolicy().plan([(50 << 20, 50 << 20)] * 3)  # 3 segments: nothing to do
        []
    """

    max_segments: int = 8
    size_ratio: float = 2.0
    floor_bytes: int = 4 << 20
    max_merge_at_once: int = 10
    max_deleted: float = 0.3
    background: bool = True

    def __post_init__(self) -> None:
        if self.max_segments < 1 or self.max_merge_at_once < 2 or self.size_ratio < 1:
            raise ConfigError(
                "exact merge policy needs max_segments >= 1, max_merge_at_once >= 2 and "
                f"size_ratio >= 1, got {self}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> MergePolicy:
        """The policy a manifest records (unknown keys are an error, missing ones default)."""
        data = dict(data or {})
        data.pop("policy", None)
        known = {f.name for f in fields(cls)}
        if set(data) - known:
            raise ConfigError(f"unknown exact merge settings {sorted(set(data) - known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {"policy": "tiered", **asdict(self)}

    def plan(self, sizes: Sequence[tuple[int, int]]) -> list[int]:
        """Positions of the segments to merge next, given ``(live bytes, all bytes)`` of
        each; empty if none need merging."""
        pick = {
            i
            for i, (live, total) in enumerate(sizes)
            if total and (total - live) / total > self.max_deleted
        }
        if len(sizes) > self.max_segments:
            order = sorted(range(len(sizes)), key=lambda i: (sizes[i][0], i))
            floored = [max(sizes[i][0], self.floor_bytes) for i in order]
            take, total = [order[0]], floored[0]
            for i, size in zip(order[1:], floored[1:], strict=True):
                if len(take) >= self.max_merge_at_once or size > self.size_ratio * total:
                    break
                take.append(i)
                total += size
            if len(take) > 1:
                pick.update(take)
        return sorted(pick)


def segment_sizes(index: Any) -> list[tuple[int, int]]:
    """``(live bytes, all bytes)`` of each segment of an :class:`ExactIndex`."""
    out = []
    for seg, dead in zip(index.segments, index.deleted, strict=True):
        masked = sum(int(seg.starts[seg.row_of[d] + 1] - seg.starts[seg.row_of[d]]) for d in dead)
        out.append((seg.nbytes - masked, seg.nbytes))
    return out


@contextlib.contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[bool]:
    """Hold the OS lock ``path`` (``filelock``); yields False at once if ``timeout`` is 0 and
    another process holds it. Released when the process dies, so a killed merge frees it."""
    from filelock import FileLock, Timeout

    lock = FileLock(path, timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def merge_running(folder: Path) -> bool:
    """Whether a merge (or an optimize) holds this index's merge lock right now."""
    if not (folder / "merge.lock").exists():
        return False
    with file_lock(folder / "merge.lock", timeout=0) as got:
        return not got


def merge_step(
    folder: str | Path,
    variant: str = "exact",
    policy: MergePolicy | None = None,
    *,
    everything: bool = False,
    wait: bool | float = False,
    orphan_seconds: float = ORPHAN_SECONDS,
    on_built: Callable[[], None] | None = None,
) -> list[str] | None:
    """One merge: the names of the segments merged away, or None if there was nothing to do
    (or another merge holds the lock and ``wait`` is False).

    Args:
        everything: merge every segment into one and drop every masked document (optimize).
        wait: wait for a running merge to finish instead of returning None (True), or wait
            at most this many seconds (a number).
        on_built: called after the new segment is written, before the swap (tests).
    """
    from lcmem.indexers.exact import ExactIndex, Segment, read_state, write_state

    folder = Path(folder)
    policy = policy or MergePolicy()
    timeout = -1 if wait is True else float(wait)
    with file_lock(folder / "merge.lock", timeout=timeout) as got:
        if not got or not (folder / "state.json").exists():
            return None
        snap = ExactIndex(folder, variant=variant)
        which = (
            list(range(len(snap.segments)))
            if everything and (len(snap.segments) > 1 or any(snap.deleted))
            else []
            if everything
            else policy.plan(segment_sizes(snap))
        )
        if not which:
            _sweep(folder, snap, orphan_seconds)
            return None
        names = [snap.segments[i].folder.name for i in which]
        docs = [d for i in which for d in snap.live_docs(i)]
        built = _write_merged(folder, docs)
        _stall_for_tests(folder, "built")
        if on_built is not None:
            on_built()
        with file_lock(folder / "state.lock", timeout=120):
            state = read_state(folder, variant)
            listed = {s["name"]: s for s in state["segments"]}
            if not all(n in listed for n in names):  # another merge took them: drop ours
                for b in built:
                    shutil.rmtree(folder / b, ignore_errors=True)
                return None
            # documents masked in the inputs since the snapshot (by a writer that saved
            # meanwhile) are masked in the merged segment too; masks older than the snapshot
            # were left out of it already (and may name a document live in another input)
            before = {n: snap.deleted[i] for n, i in zip(names, which, strict=True)}
            dead = {i for n in names for i in listed[n]["deleted"] if i not in before[n]}
            segs: list[dict[str, Any]] = []
            for s in state["segments"]:
                if s["name"] == names[0]:  # the merged segment takes the first input's place
                    for b in built:
                        ids = Segment(folder / b).ids.tolist()
                        segs.append({"name": b, "deleted": sorted(dead.intersection(ids))})
                elif s["name"] not in names:
                    segs.append(s)
            state["segments"] = segs
            write_state(folder, state)
        _stall_for_tests(folder, "swapped")
        for n in names:
            shutil.rmtree(folder / n, ignore_errors=True)
        _sweep(folder, None, orphan_seconds)
        return names


def _stall_for_tests(folder: Path, phase: str) -> None:
    """With ``$LCMEM_EXACT_MERGE_STALL`` set to ``phase``, say so in a file and wait to be
    killed: how the tests stop a real merge process at a known point."""
    if os.environ.get(STALL_ENV) == phase:
        (folder / "merge.stalled").touch()
        time.sleep(3600)


def _write_merged(folder: Path, docs: list[tuple[int, str, str, bytes]]) -> list[str]:
    """Write ``docs`` as new segment(s) (split past the 2 GiB segment limit); their names."""
    from lcmem.indexers import exact

    names: list[str] = []
    start = 0
    while start < len(docs):
        size, end = 0, start
        while end < len(docs) and (
            end == start or size + len(docs[end][3]) + 1 <= exact.MAX_SEGMENT_BYTES
        ):
            size += len(docs[end][3]) + 1
            end += 1
        name = f"seg-merged-{secrets.token_hex(4)}"
        exact.Segment.write(folder / name, docs[start:end])
        names.append(name)
        start = end
    return names


def _sweep(folder: Path, index: Any, orphan_seconds: float) -> None:
    """Delete segment folders (and temporary ones) no state lists, older than
    ``orphan_seconds``: left by a killed merge or writer. Called with the merge lock held."""
    from lcmem.indexers.exact import read_state

    try:
        listed = {s["name"] for s in read_state(folder, None)["segments"]}
    except Exception:  # a damaged state is the opener's to report
        return
    now = time.time()
    for child in folder.iterdir():
        if not child.is_dir() or child.name in listed:
            continue
        if not (child.name.startswith("seg-") or child.name.startswith(".seg-")):
            continue
        with contextlib.suppress(OSError):
            if now - child.stat().st_mtime >= orphan_seconds:
                shutil.rmtree(child, ignore_errors=True)


def merge_until_done(
    folder: str | Path, variant: str = "exact", policy: MergePolicy | None = None, **kw: Any
) -> int:
    """Merge as long as the policy asks (cascading merges); how many merges ran."""
    n = 0
    for _ in range(64):  # each merge removes at least one segment; this bounds a bad policy
        if merge_step(folder, variant, policy, **kw) is None:
            break
        n += 1
    return n


def describe(
    folder: Path, variant: str, policy: MergePolicy, generation: int | None = None
) -> dict[str, Any]:
    """What ``lcmem status`` shows of one exact index (read only: nothing is built or synced).

    ``generation``: the store's, to say whether the index matches it (True/False; None if the
    index predates recording it). If not, it catches up at its next use.
    """
    from lcmem.errors import IndexCorruptError
    from lcmem.indexers.exact import ExactIndex

    out: dict[str, Any] = {
        "folder": str(folder),
        "case_sensitive": variant == "exact",
        "built": (folder / "state.json").exists(),
    }
    if not out["built"]:
        return out
    try:
        index = ExactIndex(folder, variant=variant)
    except IndexCorruptError as exc:
        return {**out, "error": str(exc)}
    sizes = segment_sizes(index)
    docs = index.documents()
    out.update(
        segments=len(index.segments),
        documents=len(docs),
        masked_documents=sum(len(d) for d in index.deleted),
        text_bytes=sum(t for _, t in sizes),
        masked_bytes=sum(t - live for live, t in sizes),
        disk_bytes=sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        merge_pending=bool(policy.plan(sizes)),
        merge_running=merge_running(folder),
    )
    if generation is not None:
        out["in_step_with_store"] = (
            None if index.generation is None else index.generation == generation
        )
    return out


def spawn(folder: Path, variant: str, policy: MergePolicy) -> subprocess.Popen[bytes]:
    """Start a detached merge process (its own session: it outlives a CLI run); its output
    goes to ``FOLDER/merge.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "lcmem.indexers.exact_merge",
        str(folder),
        "--variant",
        variant,
        "--policy",
        json.dumps(policy.to_dict()),
    ]
    # the child imports the same lcmem as this process, wherever that came from
    import lcmem

    root = str(Path(lcmem.__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    with open(folder / "merge.log", "ab") as log:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env=env,
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="merge an exact index's segments (background)")
    ap.add_argument("folder", type=Path)
    ap.add_argument("--variant", default="exact")
    ap.add_argument("--policy", default="{}", help="the manifest's merge settings, as JSON")
    args = ap.parse_args(argv)
    policy = MergePolicy.from_dict(json.loads(args.policy))
    t0 = time.perf_counter()
    # a few seconds' patience: `lcmem status` probes the lock for an instant
    n = merge_until_done(args.folder, args.variant, policy, wait=5.0)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    print(f"{stamp} {args.variant}: {n} merge(s) in {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
