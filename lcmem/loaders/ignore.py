"""``.gitignore`` / ``.lcmemignore`` rules, layered by folder as git applies them.

Each ignore file's patterns are relative to the folder holding it; a deeper file overrides a
shallower one. Every ``.lcmemignore`` is consulted before any ``.gitignore``, so
``!pattern`` in an ``.lcmemignore`` can bring back something git ignores. ``pathspec``
compiles the patterns (git's wildmatch rules); which pattern decides is chosen here, as git
does, one path at a time (see :meth:`IgnoreFile.check`).

Example:
    >>> from pathlib import Path
    >>> root = Path("/project")
    >>> gitignore = IgnoreFile.from_lines(["*.log", "!keep.log"], root, ".gitignore")
    >>> rules = IgnoreRules().child(gitignore)
    >>> rules.match(root / "a" / "x.log", is_dir=False).label
    '.gitignore'
    >>> rules.match(root / "keep.log", is_dir=False) is None
    True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GITIGNORE = ".gitignore"
LCMEMIGNORE = ".lcmemignore"


@dataclass(frozen=True)
class IgnoreFile:
    """The compiled patterns of one ignore file.

    Attributes:
        base: the folder its patterns are relative to.
        label: how reasons name it (``".gitignore"``, ``"docs/.lcmemignore"``...).
        spec: a ``pathspec.GitIgnoreSpec``.
        lcmem: True for an ``.lcmemignore`` (consulted before every ``.gitignore``).
    """

    base: Path
    label: str
    spec: Any
    lcmem: bool = False

    @classmethod
    def from_lines(
        cls, lines: Iterable[str], base: Path, label: str, *, lcmem: bool = False
    ) -> IgnoreFile | None:
        """Compile patterns; ``None`` if there are none. Invalid lines are dropped, as git does."""
        import pathspec

        lines = [line for line in lines if line.strip() and not line.startswith("#")]
        if not lines:
            return None
        try:
            spec = pathspec.GitIgnoreSpec.from_lines(lines)
        except ValueError:
            spec = pathspec.GitIgnoreSpec.from_lines([ln for ln in lines if _valid(ln)])
        return cls(base=base, label=label, spec=spec, lcmem=lcmem)

    @classmethod
    def load(cls, path: Path, label: str) -> IgnoreFile | None:
        """Read and compile one ignore file (raises ``OSError`` if it cannot be read)."""
        text = path.read_bytes().decode("utf-8", errors="replace")
        return cls.from_lines(text.splitlines(), path.parent, label, lcmem=path.name == LCMEMIGNORE)

    @functools.cached_property
    def _prefix(self) -> str:
        return self.base.as_posix().rstrip("/") + "/"

    def check(self, path: Path | str, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by a ``!`` pattern, None: no pattern matches.

        Git decides each path on its own patterns, folder by folder: ``!gen/`` re-includes the
        folder ``gen`` but says nothing about ``gen/a.md``. ``pathspec``'s ``check_file`` also
        lets a folder pattern match everything below the folder (its emulation of "an ignored
        folder hides its content"), which would make ``!gen/`` re-include ``gen/a.md`` too.
        The walk never enters ignored folders, so here a pattern counts only where its
        expression matches up to the end of the path itself (see :attr:`_rules`); a match that
        stops at an ancestor folder's ``/`` does not count. Only pathspec's public ``patterns``,
        ``include``, ``regex`` and ``pattern`` are read.
        """
        path = path if isinstance(path, str) else path.as_posix()
        prefix = self._prefix
        if not path.startswith(prefix) or len(path) == len(prefix):
            return None
        rel = path[len(prefix) :]
        if is_dir:
            rel += "/"
        verdict = None
        for include, regex, inside in self._rules:
            if inside:  # "dir/**": everything inside dir, not dir itself
                match = regex.search(rel)
                if match is None or match.end() == len(rel):
                    continue
            elif regex.search(rel) is None:
                continue
            verdict = include
        return verdict

    @functools.cached_property
    def _rules(self) -> list[tuple[bool, re.Pattern[str], bool]]:
        """``(include, expression, inside)`` per pattern, in order.

        pathspec compiles a pattern to an expression that also matches the paths below a
        matched folder (``gen/`` -> ``^(?:.+/)?gen/``, unanchored for ``*/``). Anchoring it at
        the end of the path (``\\Z``) keeps only the paths the pattern names itself.
        ``dir/**`` (``inside``) names what lies below ``dir/``, so it keeps the plain one.
        """
        rules = []
        for pattern in self.spec.patterns:
            if pattern.include is None or pattern.regex is None:
                continue
            inside = str(pattern.pattern).endswith("/**")
            regex = pattern.regex
            if not inside:
                regex = re.compile(f"(?:{regex.pattern})\\Z", regex.flags)
            rules.append((bool(pattern.include), regex, inside))
        return rules


def _valid(line: str) -> bool:
    import pathspec

    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class IgnoreRules:
    """The ignore files that apply in one folder, outermost first."""

    files: tuple[IgnoreFile, ...] = ()

    def child(self, *files: IgnoreFile | None) -> IgnoreRules:
        """These rules plus the ignore files of a sub-folder (``None`` entries are skipped)."""
        added = tuple(f for f in files if f is not None)
        return IgnoreRules(self.files + added) if added else self

    def match(self, path: Path, is_dir: bool) -> IgnoreFile | None:
        """The ignore file that ignores ``path``, or ``None`` if it is not ignored."""
        if not self.files:
            return None
        posix = path.as_posix()
        for lcmem in (True, False):
            for ignore_file in reversed(self.files):
                if ignore_file.lcmem is lcmem:
                    verdict = ignore_file.check(posix, is_dir)
                    if verdict is not None:
                        return ignore_file if verdict else None
        return None
