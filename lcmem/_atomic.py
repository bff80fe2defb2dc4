"""Crash-safe file writes: write to a temporary name in the same folder, fsync, rename.

A reader (or a process restarted after SIGKILL) sees either the old file or the new one,
never a half-written one.

lcmem keeps these ~60 lines rather than a library: ``atomicwrites``, the one well-known
package for this, is archived by its author (deprecated; last release 1.4.1, July 2022), and no
maintained package swaps a whole folder. Python's ``os.replace`` is the atomic rename; what
is added here is the fsync order (file, then its folder) that makes the rename survive a
power cut, and the folder swap with its recovery.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.bin") as tmp:
    ...     _ = tmp.write_bytes(b"data")
    >>> (d / "x.bin").read_bytes()
    b'data'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success it replaces folder ``target``.

    The swap is two renames (old -> backup, new -> target); :func:`recover_dir` run before a
    read restores the backup if a crash fell between them. Before the rename every file and
    folder inside the new folder, and the new folder itself, is fsynced: its entries are on
    disk before its name is.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        _fsync_tree(tmp)
        backup = target.with_name(f".{target.name}.old")
        if backup.exists():
            shutil.rmtree(backup)
        if target.exists():
            os.replace(target, backup)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        shutil.rmtree(backup, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def recover_dir(target: str | Path) -> None:
    """Undo a folder swap that a crash interrupted (see :func:`atomic_dir`)."""
    target = Path(target)
    backup = target.with_name(f".{target.name}.old")
    if backup.exists() and not target.exists():
        os.replace(backup, target)
    elif backup.exists():
        shutil.rmtree(backup, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    """fsync every file under ``folder``, then each folder bottom-up, ``folder`` itself last."""
    for parent, _dirs, files in os.walk(folder, topdown=False):
        for name in files:
            _fsync_file(Path(parent, name))
        _fsync_dir(Path(parent))


def _fsync_file(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
