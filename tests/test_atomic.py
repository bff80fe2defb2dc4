"""Crash-safe writes: the order of fsyncs and renames that makes a swap survive a power cut."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lcmem import _atomic
from lcmem._atomic import atomic_dir, atomic_path, recover_dir


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record every fsync (of a file or a folder) and every rename, in order."""
    seen: list[tuple[str, str]] = []
    real_file, real_dir, real_replace = _atomic._fsync_file, _atomic._fsync_dir, os.replace

    def fsync_file(path: Path) -> None:
        seen.append(("fsync", str(path)))
        real_file(path)

    def fsync_dir(path: Path) -> None:
        seen.append(("fsync", str(path)))
        real_dir(path)

    def replace(src: str | Path, dst: str | Path) -> None:
        seen.append(("rename", f"{src} -> {dst}"))
        real_replace(src, dst)

    monkeypatch.setattr(_atomic, "_fsync_file", fsync_file)
    monkeypatch.setattr(_atomic, "_fsync_dir", fsync_dir)
    monkeypatch.setattr(_atomic.os, "replace", replace)
    return seen


def test_atomic_dir_fsyncs_the_new_folder_before_the_rename(tmp_path, calls):
    target = tmp_path / "index"
    with atomic_dir(target) as tmp:
        (tmp / "a.bin").write_bytes(b"a")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.bin").write_bytes(b"b")
    assert (target / "sub" / "b.bin").read_bytes() == b"b"
    order = [what for what, _ in calls]
    renamed = order.index("rename")
    synced = {path for what, path in calls[:renamed] if what == "fsync"}
    assert {str(tmp / "a.bin"), str(tmp / "sub" / "b.bin"), str(tmp / "sub"), str(tmp)} <= synced
    # The folder itself after what it holds, and the parent after the rename.
    assert calls.index(("fsync", str(tmp))) > calls.index(("fsync", str(tmp / "sub")))
    assert calls[-1] == ("fsync", str(tmp_path))


def test_atomic_dir_replaces_and_recovers(tmp_path):
    target = tmp_path / "index"
    with atomic_dir(target) as tmp:
        (tmp / "v").write_text("1")
    with atomic_dir(target) as tmp:
        (tmp / "v").write_text("2")
    assert (target / "v").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]  # no temporary left

    # A crash between the two renames: only the backup exists.
    os.replace(target, tmp_path / ".index.old")
    recover_dir(target)
    assert (target / "v").read_text() == "2"


def test_atomic_path_fsyncs_before_the_rename(tmp_path, calls):
    with atomic_path(tmp_path / "x.bin") as tmp:
        tmp.write_bytes(b"data")
    assert calls[0] == ("fsync", str(tmp)) and calls[1][0] == "rename"
    assert calls[2] == ("fsync", str(tmp_path))


def test_a_failed_write_keeps_the_old_folder(tmp_path):
    target = tmp_path / "index"
    with atomic_dir(target) as tmp:
        (tmp / "v").write_text("good")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "v").write_text("half")
        raise RuntimeError("crash while writing")
    assert (target / "v").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
