"""Path safety for servers that let a client ask to index files: allowed roots only.

A :class:`PathGuard` holds the real (symlink-resolved) paths of the allowed roots. A requested
path is refused if it has a ``..`` component, a NUL byte, or if its real path is not inside a
root; a folder is refused if walking it (the same walk :meth:`lcmem.Library.index` does, which
follows symlinks) would reach any file whose real path is outside the roots.

Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> guard = PathGuard([root])
    >>> guard.check(str(root / "notes.txt")) == (root / "notes.txt").resolve()
    True
    >>> guard.check("/etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lcmem.integrations.pathguard.PathNotAllowedError: /etc/passwd is outside the allowed roots ...
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath

from lcmem.errors import ConfigError, LcmemError


class PathNotAllowedError(LcmemError, PermissionError):
    """A path lies outside the roots a server was started with (or tries to escape them)."""


class PathGuard:
    """Checks that paths stay inside allowed roots, after resolving symlinks.

    Args:
        roots: folders (or files) a client may index; each must exist.
    """

    def __init__(self, roots: Iterable[str | os.PathLike[str]]) -> None:
        resolved = []
        for root in roots:
            path = Path(os.fspath(root)).expanduser()
            if not path.exists():
                raise ConfigError(f"allowed root {path} does not exist: create it or fix the path")
            resolved.append(path.resolve(strict=True))
        self.roots: tuple[Path, ...] = tuple(resolved)

    def __bool__(self) -> bool:
        return bool(self.roots)

    def _describe(self) -> str:
        return ", ".join(str(r) for r in self.roots) or "(none)"

    def inside(self, real: Path) -> bool:
        """Whether an already resolved path is one of the roots or lies under one."""
        return any(real.is_relative_to(root) for root in self.roots)

    def check(self, requested: str) -> Path:
        """The real path of ``requested`` if it is allowed, else :class:`PathNotAllowedError`.

        Relative paths are taken relative to the first root. This checks the path itself;
        use :meth:`check_tree` for the files a folder would bring in.
        """
        if not self.roots:
            raise PathNotAllowedError(
                "indexing is disabled on this server: restart it with --allow-index ROOT"
            )
        if not isinstance(requested, str) or not requested.strip():
            raise PathNotAllowedError("empty path: give a file or folder inside the allowed roots")
        if "\x00" in requested:
            raise PathNotAllowedError("a path may not contain a NUL character")
        if ".." in PurePath(requested).parts:
            raise PathNotAllowedError(
                f"{requested} has a '..' component, which is refused: give a path inside "
                f"the allowed roots ({self._describe()}) without '..'"
            )
        path = Path(requested).expanduser()
        if not path.is_absolute():
            path = self.roots[0] / path
        # realpath resolves every symlink on the way, including a final one.
        real = Path(os.path.realpath(path))
        if not self.inside(real):
            via = f" (it leads to {real} through a symlink)" if real != path else ""
            raise PathNotAllowedError(
                f"{requested} is outside the allowed roots {self._describe()}{via}: "
                "give a path inside them, or restart the server with --allow-index for it"
            )
        return real

    def check_tree(self, real: Path, *, max_file_size: int | None = None) -> None:
        """Refuse a folder that would bring in a file outside the roots through a symlink."""
        if not real.is_dir():
            return
        from lcmem.loaders import DEFAULT_MAX_FILE_SIZE, SourceFile, walk

        limit = DEFAULT_MAX_FILE_SIZE if max_file_size is None else max_file_size
        for item in walk([real], max_file_size=limit):
            if isinstance(item, SourceFile) and not self.inside(Path(os.path.realpath(item.path))):
                raise PathNotAllowedError(
                    f"{real} holds a symlink leading outside the allowed roots (to "
                    f"{item.path}): nothing was indexed; remove the link or index a "
                    "folder without it"
                )

    def check_all(
        self, requested: Sequence[str], *, max_file_size: int | None = None
    ) -> list[Path]:
        """:meth:`check` then :meth:`check_tree` for each path; all or nothing."""
        if isinstance(requested, str):
            requested = [requested]
        if not requested:
            raise ConfigError("nothing to index: give at least one file or folder")
        reals = [self.check(p) for p in requested]
        for real in reals:
            self.check_tree(real, max_file_size=max_file_size)
        return reals
