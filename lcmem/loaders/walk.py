"""Files and folders -> files to read (:class:`SourceFile`) and paths left out (:class:`Skipped`).

Folders are walked in sorted order, honouring ``.gitignore`` and ``.lcmemignore`` files at
every level (and, inside a git repository, those of the given folder's parents up to the
repository root, plus ``.git/info/exclude``). Ignored and excluded folders are reported once
and not descended into. Symlinks are followed, but a folder already on the current path (a
symlink loop) or already walked is not entered twice, and a file reached twice is read once.

Example:
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.md").write_text("# A"); _ = (d / "b.png").write_bytes(b"\\x89PNG\\x00")
    >>> [(type(x).__name__, x.path.name) for x in walk([d])]
    [('SourceFile', 'a.md'), ('Skipped', 'b.png')]
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lcmem.loaders.ignore import GITIGNORE, LCMEMIGNORE, IgnoreFile, IgnoreRules
from lcmem.loaders.kinds import file_ext, file_kind
from lcmem.loaders.text import SNIFF_BYTES, is_binary

DEFAULT_MAX_FILE_SIZE = 10 * 2**20
#: Folders (or files) never walked, whatever the options.
ALWAYS_SKIPPED = frozenset({".git", ".lcmem", ".venv", "node_modules", "__pycache__"})


@dataclass
class SourceFile:
    """A file to read.

    Attributes:
        path: absolute, symlinks resolved.
        root: the (absolute, resolved) path given to :func:`walk` that led here.
        size: in bytes, when walked.
        mtime_ns: modification time, when walked.
    """

    path: Path
    root: Path
    size: int
    mtime_ns: int


@dataclass
class Skipped:
    """A path left out, with why.

    Attributes:
        path: the path as walked (absolute; a symlink is named, not its target).
        reason: short human text, e.g. ``"ignored by .gitignore"``, ``"binary file"``.
        error: True for problems the user should see as errors (unreadable, missing path);
            False for expected skips (ignored, hidden, binary...).
    """

    path: Path
    reason: str
    error: bool = False


WalkItem = SourceFile | Skipped


def walk(
    paths: Iterable[str | Path] | str | Path,
    *,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    extensions: Collection[str] | None = None,
    include_hidden: bool = False,
    use_gitignore: bool = True,
) -> Iterator[WalkItem]:
    """Yield every file under ``paths`` to read, and every path skipped with its reason.

    Args:
        paths: files and folders, walked in the given order (a single path is accepted too).
            A file given directly is taken whatever its extension, as long as it is text.
        max_file_size: larger files are skipped (``0`` or less: no limit).
        extensions: only take files with these extensions (``".md"`` or ``"md"``), including
            ones lcmem does not know, which are read as text; ``None``: every supported kind.
        include_hidden: also walk dot-files and dot-folders (never ``.git``, ``.lcmem``...).
        use_gitignore: honour ``.gitignore`` files (``.lcmemignore`` files always are).
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    walker = _Walker(
        max_file_size=max_file_size if max_file_size and max_file_size > 0 else None,
        extensions=_normalise_extensions(extensions),
        include_hidden=include_hidden,
        use_gitignore=use_gitignore,
    )
    for path in paths:
        yield from walker.walk_root(Path(path).expanduser())


def _normalise_extensions(extensions: Collection[str] | None) -> frozenset[str] | None:
    if extensions is None:
        return None
    return frozenset(
        e.lower() if not e or e.startswith(".") else f".{e.lower()}" for e in extensions
    )


def format_size(n: int) -> str:
    """``10485760`` -> ``"10 MiB"``.

    Example:
        >>> format_size(10 * 2**20), format_size(1536), format_size(12)
        ('10 MiB', '1.5 KiB', '12 B')
    """
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{round(size, 2):g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _stat_problem(e: OSError, *, opening: bool = False) -> tuple[str, bool]:
    """Skip reason and error flag for a failed stat, listing or (``opening``) open."""
    if isinstance(e, FileNotFoundError):
        return ("vanished during the walk", True) if opening else ("broken symlink", False)
    if e.errno == errno.ELOOP:
        return "symlink loop", False
    if isinstance(e, PermissionError):
        return "permission denied", True
    return f"cannot read: {e.strerror or e}", True


class _Walker:
    """State of one :func:`walk` call: options, folders and files already seen."""

    def __init__(
        self,
        *,
        max_file_size: int | None,
        extensions: frozenset[str] | None,
        include_hidden: bool,
        use_gitignore: bool,
    ) -> None:
        self.max_file_size = max_file_size
        self.extensions = extensions
        self.include_hidden = include_hidden
        self.use_gitignore = use_gitignore
        self.seen_dirs: dict[tuple[int, int], Path] = {}
        self.seen_files: dict[Path, Path] = {}

    def walk_root(self, given: Path) -> Iterator[WalkItem]:
        absolute = Path(os.path.abspath(given))
        if not os.path.lexists(absolute):
            yield Skipped(absolute, "does not exist", error=True)
            return
        try:
            st = absolute.stat()
        except OSError as e:
            reason, _ = _stat_problem(e)
            yield Skipped(absolute, reason, error=True)
            return
        root = absolute.resolve()
        if stat.S_ISDIR(st.st_mode):
            yield from self._dir(root, root, root, self._outer_rules(root), set(), st)
        elif stat.S_ISREG(st.st_mode):
            yield from self._file(root, root, root, st, explicit=True)
        else:
            yield Skipped(absolute, "not a regular file", error=True)

    def _outer_rules(self, root: Path) -> IgnoreRules:
        """Ignore files above ``root`` inside its git repository (none outside a repository)."""
        repo = next((p for p in (root, *root.parents) if (p / ".git").exists()), None)
        if repo is None:
            return IgnoreRules()
        names = ([GITIGNORE] if self.use_gitignore else []) + [LCMEMIGNORE]
        candidates = [repo / ".git" / "info" / "exclude"] if self.use_gitignore else []
        for folder in reversed(root.parents):
            if folder == repo or repo in folder.parents:
                candidates += [folder / name for name in names]
        files: list[IgnoreFile | None] = []
        for candidate in candidates:
            try:
                if candidate.is_file():
                    label = str(candidate)
                    loaded = IgnoreFile.load(candidate, label)
                    if loaded is not None and candidate.name == "exclude":
                        loaded = IgnoreFile(repo, label, loaded.spec)
                    files.append(loaded)
            except OSError:
                continue  # an unreadable ignore file outside the walked folder: not ours
        # Only paths below ``root`` are checked against these, and a pattern that matches only
        # an ancestor folder does not count (see IgnoreFile.check): a folder named explicitly
        # is walked even if the repository ignores it, e.g. with ``data/``.
        return IgnoreRules().child(*files)

    def _dir(
        self,
        folder: Path,
        real: Path,
        root: Path,
        rules: IgnoreRules,
        ancestors: set[tuple[int, int]],
        st: os.stat_result,
    ) -> Iterator[WalkItem]:
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            yield Skipped(folder, "symlink loop")
            return
        if key in self.seen_dirs:
            yield Skipped(folder, f"already included (same folder as {self.seen_dirs[key]})")
            return
        self.seen_dirs[key] = folder
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda entry: entry.name)
        except OSError as e:
            reason, error = _stat_problem(e)
            yield Skipped(folder, reason, error=error)
            return

        names = {entry.name: entry for entry in entries}
        own: list[IgnoreFile | None] = []
        for name in (GITIGNORE, LCMEMIGNORE):
            entry = names.get(name)
            if entry is None or (name == GITIGNORE and not self.use_gitignore):
                continue
            ignore_path = Path(entry.path)
            try:
                if entry.is_file():
                    label = ignore_path.relative_to(root).as_posix()
                    own.append(IgnoreFile.load(ignore_path, label))
            except OSError as e:
                reason, _ = _stat_problem(e)
                yield Skipped(ignore_path, f"cannot read ignore file: {reason}", error=True)
        rules = rules.child(*own)

        ancestors.add(key)
        try:
            for entry in entries:
                yield from self._entry(entry, real, root, rules, ancestors)
        finally:
            ancestors.discard(key)

    def _entry(
        self,
        entry: os.DirEntry[str],
        real_parent: Path,
        root: Path,
        rules: IgnoreRules,
        ancestors: set[tuple[int, int]],
    ) -> Iterator[WalkItem]:
        name = entry.name
        if name in (GITIGNORE, LCMEMIGNORE):
            return  # walk configuration, not content
        path = Path(entry.path)
        try:
            st = entry.stat()  # follows symlinks
        except OSError as e:
            reason, error = _stat_problem(e)
            yield Skipped(path, reason, error=error)
            return
        is_dir = stat.S_ISDIR(st.st_mode)
        if name in ALWAYS_SKIPPED:
            yield Skipped(path, f"always skipped ({name}{'/' if is_dir else ''})")
            return
        if name.startswith(".") and not self.include_hidden:
            yield Skipped(path, "hidden folder" if is_dir else "hidden file")
            return
        ignored_by = rules.match(path, is_dir)
        if ignored_by is not None:
            yield Skipped(path, f"ignored by {ignored_by.label}")
        else:
            # The real path, without resolving every component again (realpath is costly).
            real = Path(os.path.realpath(path)) if entry.is_symlink() else real_parent / name
            if is_dir:
                yield from self._dir(path, real, root, rules, ancestors, st)
            elif stat.S_ISREG(st.st_mode):
                yield from self._file(path, real, root, st, explicit=False)
            else:
                yield Skipped(path, "not a regular file (device, socket or pipe)")

    def _file(
        self, path: Path, real: Path, root: Path, st: os.stat_result, *, explicit: bool
    ) -> Iterator[WalkItem]:
        kind = file_kind(path)
        if not explicit:
            ext = file_ext(path)
            if self.extensions is not None:
                if ext not in self.extensions:
                    yield Skipped(path, f"extension {ext or '(none)'} not selected (--ext)")
                    return
            elif kind is None:
                yield Skipped(path, f"unsupported file type {ext or '(no extension)'}")
                return
        if self.max_file_size is not None and st.st_size > self.max_file_size:
            limit = format_size(self.max_file_size)
            yield Skipped(path, f"larger than {limit} (--max-file-size)")
            return
        if real in self.seen_files:
            yield Skipped(path, f"already included (same file as {self.seen_files[real]})")
            return
        try:
            with open(path, "rb") as f:
                head = f.read(SNIFF_BYTES)
        except OSError as e:
            reason, error = _stat_problem(e, opening=True)
            yield Skipped(path, reason, error=error)
            return
        if kind != "pdf" and is_binary(head):
            yield Skipped(path, "binary file")
            return
        self.seen_files[real] = path
        yield SourceFile(path=real, root=root, size=st.st_size, mtime_ns=st.st_mtime_ns)
