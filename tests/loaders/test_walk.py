"""Tests of lcmem.loaders.walk on real folders built in tmp_path."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lcmem.loaders import Skipped, SourceFile, walk
from lcmem.loaders.walk import format_size

walk_module = importlib.import_module("lcmem.loaders.walk")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def write(path: Path, content: str | bytes = "text\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def run(*paths: Path | str, **options) -> tuple[list[str], dict[str, Skipped], Path]:
    """Walk; return taken files relative to the first path, skips by relative path."""
    base = Path(paths[0]).resolve()
    base = base if base.is_dir() else base.parent
    items = list(walk(list(paths), **options))
    taken = [x.path.relative_to(base).as_posix() for x in items if isinstance(x, SourceFile)]
    skipped = {
        os.path.relpath(x.path, base).replace(os.sep, "/"): x
        for x in items
        if isinstance(x, Skipped)
    }
    return taken, skipped, base


def reasons(skipped: dict[str, Skipped]) -> dict[str, str]:
    return {path: s.reason for path, s in skipped.items()}


# --- ignore files -------------------------------------------------------------------------


@pytest.fixture
def ignore_tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write(root / ".gitignore", "# comment\n*.txt\n!keep.txt\nbuild/\nsecret.md\n")
    write(root / "a.md")
    write(root / "notes.txt")  # ignored by *.txt
    write(root / "keep.txt")  # re-included by !keep.txt
    write(root / "build" / "out.md")  # inside an ignored folder
    write(root / "build" / "more" / "deep.md")
    write(root / "secret.md")  # ignored at the top
    write(root / "sub" / ".gitignore", "!secret.md\n/top.md\n")
    write(root / "sub" / "secret.md")  # re-included by the deeper .gitignore
    write(root / "sub" / "top.md")  # anchored pattern: only sub/top.md
    write(root / "sub" / "deep" / "top.md")
    write(root / "sub" / "deep" / ".lcmemignore", "*.py\n")
    write(root / "sub" / "deep" / "code.py", "x = 1\n")
    write(root / "sub" / "code.py", "y = 2\n")  # not under the .lcmemignore
    return root


def test_nested_gitignore_and_lcmemignore(ignore_tree: Path) -> None:
    taken, skipped, _ = run(ignore_tree)
    assert taken == [
        "a.md",
        "keep.txt",
        "sub/code.py",
        "sub/deep/top.md",
        "sub/secret.md",
    ]
    assert reasons(skipped) == {
        "build": "ignored by .gitignore",
        "notes.txt": "ignored by .gitignore",
        "secret.md": "ignored by .gitignore",
        "sub/deep/code.py": "ignored by sub/deep/.lcmemignore",
        "sub/top.md": "ignored by sub/.gitignore",
    }
    assert not any(s.error for s in skipped.values())


def test_ignored_folder_reported_once_not_each_file(ignore_tree: Path) -> None:
    _, skipped, _ = run(ignore_tree)
    assert [p for p in skipped if p.startswith("build")] == ["build"]


def test_use_gitignore_false_keeps_lcmemignore(ignore_tree: Path) -> None:
    taken, skipped, _ = run(ignore_tree, use_gitignore=False)
    assert {"notes.txt", "secret.md", "build/out.md", "build/more/deep.md", "sub/top.md"} <= set(
        taken
    )
    assert reasons(skipped) == {"sub/deep/code.py": "ignored by sub/deep/.lcmemignore"}


def test_lcmemignore_negation_overrides_gitignore(tmp_path: Path) -> None:
    write(tmp_path / ".gitignore", "generated/\n*.md\n")
    write(tmp_path / ".lcmemignore", "!generated/\n!api.md\n")
    write(tmp_path / "generated" / "api.md")
    write(tmp_path / "generated" / "other.md")
    taken, skipped, _ = run(tmp_path)
    assert taken == ["generated/api.md"]
    assert reasons(skipped) == {"generated/other.md": "ignored by .gitignore"}


def test_parent_gitignore_inside_git_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git" / "info").mkdir(parents=True)
    write(repo / ".git" / "info" / "exclude", "*.bak.md\n")
    write(repo / ".gitignore", "docs/private.md\ndrafts/\n")
    write(repo / "docs" / "public.md")
    write(repo / "docs" / "private.md")
    write(repo / "docs" / "old.bak.md")
    write(repo / "docs" / "drafts" / "d.md")
    taken, skipped, _ = run(repo / "docs")
    assert taken == ["public.md"]
    assert reasons(skipped) == {
        "private.md": f"ignored by {repo / '.gitignore'}",
        "drafts": f"ignored by {repo / '.gitignore'}",
        "old.bak.md": f"ignored by {repo / '.git' / 'info' / 'exclude'}",
    }
    # A folder named explicitly is walked even though the repository ignores it.
    taken, _, _ = run(repo / "docs" / "drafts")
    assert taken == ["d.md"]


def test_parent_gitignore_not_used_outside_a_repository(tmp_path: Path) -> None:
    write(tmp_path / ".gitignore", "*.md\n")
    write(tmp_path / "docs" / "a.md")
    taken, _, _ = run(tmp_path / "docs")
    assert taken == ["a.md"]


def test_invalid_ignore_lines_are_dropped(tmp_path: Path) -> None:
    write(tmp_path / ".gitignore", "!\n\\\n*.log.md\n")
    write(tmp_path / "a.md")
    write(tmp_path / "x.log.md")
    taken, skipped, _ = run(tmp_path)
    assert taken == ["a.md"]
    assert reasons(skipped) == {"x.log.md": "ignored by .gitignore"}


def test_folder_negation_does_not_reinclude_its_content(tmp_path: Path) -> None:
    write(tmp_path / ".gitignore", "*.md\n")
    write(tmp_path / "sub" / ".gitignore", "!gen/\n")
    write(tmp_path / "sub" / "gen" / "a.md")
    taken, skipped, _ = run(tmp_path)
    assert taken == []
    assert reasons(skipped) == {"sub/gen/a.md": "ignored by .gitignore"}


def test_double_star_content_pattern_allows_negation_inside(tmp_path: Path) -> None:
    write(tmp_path / ".gitignore", "out/**\n!out/keep.md\n")
    write(tmp_path / "out" / "keep.md")
    write(tmp_path / "out" / "drop.md")
    write(tmp_path / "out" / "inner" / "x.md")
    taken, skipped, _ = run(tmp_path)
    assert taken == ["out/keep.md"]
    assert set(skipped) == {"out/drop.md", "out/inner"}


GIT_TREE = {
    ".gitignore": "*.log.md\nbuild/\n/top.md\ndocs/*\n!docs/api/\nout/**\n!out/keep.md\n"
    "a/**/z.md\n*.tmp.md\n!important.tmp.md\n",
    "top.md": "",
    "x/top.md": "",
    "err.log.md": "",
    "x/y/err.log.md": "",
    "build/b.md": "",
    "x/build/b.md": "",
    "docs/readme.md": "",
    "docs/api/ref.md": "",
    "docs/api/deep/more.md": "",
    "out/keep.md": "",
    "out/drop.md": "",
    "a/z.md": "",
    "a/b/c/z.md": "",
    "a/b/c/y.md": "",
    "scratch.tmp.md": "",
    "important.tmp.md": "",
    "sub/.gitignore": "!*.log.md\n/local.md\nnested/\n",
    "sub/keep.log.md": "",
    "sub/local.md": "",
    "sub/deeper/local.md": "",
    "sub/nested/n.md": "",
    "sub/ok.md": "",
}


# Patterns pathspec compiles to unanchored regular expressions ("*/": every folder).
GIT_TREE_UNANCHORED = {
    ".gitignore": "*/\n!keep/\n",
    "top.md": "",
    "a/b/f.md": "",
    "keep/k.md": "",
    "keep/inner/i.md": "",
    "sub/.gitignore": "",
}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize(
    ("tree", "present"),
    [
        (GIT_TREE, ["sub/keep.log.md", "docs/api/deep/more.md"]),
        (GIT_TREE_UNANCHORED, ["top.md", "keep/k.md"]),
    ],
    ids=["tree", "unanchored"],
)
def test_gitignore_semantics_match_git(tmp_path: Path, tree: dict, present: list) -> None:
    """The files walk() takes are exactly those git reports as untracked and not ignored."""
    for name, content in tree.items():
        write(tmp_path / name, content)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=env)
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.split()
    expected = sorted(p for p in listed if not p.endswith(".gitignore"))
    taken, _, _ = run(tmp_path)
    assert sorted(taken) == expected
    assert all(p in taken for p in present)  # non-trivial


# --- hidden, excluded, unsupported ----------------------------------------------------------


def test_hidden_and_always_skipped(tmp_path: Path) -> None:
    write(tmp_path / "a.md")
    write(tmp_path / ".hidden.md")
    write(tmp_path / ".config" / "c.md")
    write(tmp_path / ".git" / "HEAD.md")
    write(tmp_path / "node_modules" / "pkg" / "readme.md")
    write(tmp_path / "src" / "__pycache__" / "m.py")
    write(tmp_path / ".venv" / "lib.py")
    write(tmp_path / ".lcmem" / "x.md")
    taken, skipped, _ = run(tmp_path)
    assert taken == ["a.md"]
    assert reasons(skipped) == {
        ".config": "hidden folder",
        ".git": "always skipped (.git/)",
        ".hidden.md": "hidden file",
        ".lcmem": "always skipped (.lcmem/)",
        ".venv": "always skipped (.venv/)",
        "node_modules": "always skipped (node_modules/)",
        "src/__pycache__": "always skipped (__pycache__/)",
    }

    taken, skipped, _ = run(tmp_path, include_hidden=True)
    assert taken == [".config/c.md", ".hidden.md", "a.md"]
    assert {p for p in skipped} == {".git", ".lcmem", ".venv", "node_modules", "src/__pycache__"}


def test_supported_kinds_and_unsupported_extension(tmp_path: Path) -> None:
    for name in ["a.py", "b.ts", "c.rst", "d.html", "e.yaml", "README", "Makefile", "f.TXT"]:
        write(tmp_path / name)
    write(tmp_path / "data.xyz")
    write(tmp_path / "noext")
    taken, skipped, _ = run(tmp_path)
    assert taken == ["Makefile", "README", "a.py", "b.ts", "c.rst", "d.html", "e.yaml", "f.TXT"]
    assert reasons(skipped) == {
        "data.xyz": "unsupported file type .xyz",
        "noext": "unsupported file type (no extension)",
    }


def test_extensions_filter_selects_and_adds_kinds(tmp_path: Path) -> None:
    write(tmp_path / "a.md")
    write(tmp_path / "b.py")
    write(tmp_path / "server.LOG", "started\n")
    taken, skipped, _ = run(tmp_path, extensions=["md", ".log"])
    assert taken == ["a.md", "server.LOG"]
    assert reasons(skipped) == {"b.py": "extension .py not selected (--ext)"}


def test_file_given_directly_is_taken_whatever_its_extension(tmp_path: Path) -> None:
    text = write(tmp_path / "server.log", "plain text\n")
    blob = write(tmp_path / "blob.dat", b"\x00\x01\x02binary")
    items = list(walk([text, str(blob)]))
    assert isinstance(items[0], SourceFile)
    assert items[0].path == text.resolve() and items[0].root == text.resolve()
    assert items[0].size == len("plain text\n")
    assert items[0].mtime_ns == text.stat().st_mtime_ns
    assert items[1] == Skipped(blob.resolve(), "binary file")


def test_single_path_argument_is_accepted(tmp_path: Path) -> None:
    write(tmp_path / "a.md")
    assert [x.path.name for x in walk(str(tmp_path))] == ["a.md"]


# --- binary, size ---------------------------------------------------------------------------


def test_binary_files_are_skipped_but_pdf_is_not(tmp_path: Path) -> None:
    write(tmp_path / "fake.txt", b"GIF89a\x00\x00\x01\x02" * 10)
    write(tmp_path / "controls.md", bytes(range(1, 32)) * 10)
    write(tmp_path / "doc.pdf", b"%PDF-1.4\n\x00\x01\x02\xff binary body")
    write(tmp_path / "latin.txt", "café naïve".encode("latin-1"))  # odd bytes, still text
    taken, skipped, _ = run(tmp_path)
    assert taken == ["doc.pdf", "latin.txt"]
    assert reasons(skipped) == {"controls.md": "binary file", "fake.txt": "binary file"}


def test_max_file_size(tmp_path: Path) -> None:
    write(tmp_path / "big.md", "x" * 101)
    write(tmp_path / "small.md", "x" * 100)
    taken, skipped, _ = run(tmp_path, max_file_size=100)
    assert taken == ["small.md"]
    assert reasons(skipped) == {"big.md": "larger than 100 B (--max-file-size)"}
    assert not skipped["big.md"].error
    taken, _, _ = run(tmp_path, max_file_size=0)
    assert taken == ["big.md", "small.md"]


def test_format_size() -> None:
    assert format_size(10 * 2**20) == "10 MiB"
    assert format_size(1536) == "1.5 KiB"
    assert format_size(3 * 2**30) == "3 GiB"


# --- symlinks -------------------------------------------------------------------------------


def test_symlink_loop_to_parent_is_not_followed(tmp_path: Path) -> None:
    write(tmp_path / "a" / "doc.md")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "a" / "up").symlink_to(tmp_path, target_is_directory=True)
    taken, skipped, _ = run(tmp_path)
    assert taken == ["a/doc.md"]
    assert reasons(skipped) == {"a/loop": "symlink loop", "a/up": "symlink loop"}


def test_self_referencing_symlink(tmp_path: Path) -> None:
    (tmp_path / "self.md").symlink_to(tmp_path / "self.md")
    _, skipped, _ = run(tmp_path)
    assert reasons(skipped) == {"self.md": "symlink loop"}


def test_broken_symlink(tmp_path: Path) -> None:
    write(tmp_path / "ok.md")
    (tmp_path / "dangling.md").symlink_to(tmp_path / "missing.md")
    taken, skipped, _ = run(tmp_path)
    assert taken == ["ok.md"]
    assert skipped["dangling.md"] == Skipped(tmp_path / "dangling.md", "broken symlink")
    # Named directly, it is an error the user should see.
    (item,) = walk([tmp_path / "dangling.md"])
    assert item == Skipped(tmp_path / "dangling.md", "broken symlink", error=True)


def test_symlinks_are_followed_and_deduplicated(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "real.md")
    root = tmp_path / "root"
    write(root / "docs" / "a.md")
    (root / "linked.md").symlink_to(outside)
    (root / "mirror").symlink_to(root / "docs", target_is_directory=True)
    items = list(walk([root]))
    files = [x for x in items if isinstance(x, SourceFile)]
    assert [f.path for f in files] == [(root / "docs" / "a.md").resolve(), outside.resolve()]
    assert all(f.root == root.resolve() for f in files)
    (skip,) = [x for x in items if isinstance(x, Skipped)]
    assert skip.path == root / "mirror"
    assert skip.reason.startswith("already included (same folder as ")


def test_overlapping_roots_yield_each_file_once(tmp_path: Path) -> None:
    write(tmp_path / "a.md")
    write(tmp_path / "sub" / "b.md")
    items = list(walk([tmp_path, tmp_path / "a.md", tmp_path / "sub"]))
    assert [x.path.name for x in items if isinstance(x, SourceFile)] == ["a.md", "b.md"]
    skips = [x for x in items if isinstance(x, Skipped)]
    assert [s.reason.split(" (")[0] for s in skips] == ["already included", "already included"]
    assert not any(s.error for s in skips)


# --- errors ---------------------------------------------------------------------------------


def test_missing_path_is_an_error_and_the_walk_goes_on(tmp_path: Path) -> None:
    write(tmp_path / "a.md")
    items = list(walk([tmp_path / "nope", tmp_path]))
    assert items[0] == Skipped(tmp_path / "nope", "does not exist", error=True)
    assert isinstance(items[1], SourceFile)


@pytest.mark.skipif(IS_ROOT, reason="root can read a chmod 000 file")
def test_unreadable_file_and_folder_chmod(tmp_path: Path) -> None:
    write(tmp_path / "a.md")
    locked = write(tmp_path / "locked.md")
    locked_dir = tmp_path / "locked_dir"
    write(locked_dir / "x.md")
    write(tmp_path / "z.md")
    locked.chmod(0)
    locked_dir.chmod(0)
    try:
        taken, skipped, _ = run(tmp_path)
    finally:
        locked.chmod(0o644)
        locked_dir.chmod(0o755)
    assert taken == ["a.md", "z.md"]
    assert skipped == {
        "locked.md": Skipped(locked, "permission denied", error=True),
        "locked_dir": Skipped(locked_dir, "permission denied", error=True),
    }


def test_unreadable_file_and_folder_simulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same as the chmod test, but works as root too: open/scandir fail for chosen paths."""
    write(tmp_path / "a.md")
    locked = write(tmp_path / "locked.md")
    locked_dir = tmp_path / "locked_dir"
    write(locked_dir / "x.md")
    write(tmp_path / "z.md")
    real_open, real_scandir = open, os.scandir

    def fake_open(path, *args, **kwargs):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def fake_scandir(path):
        if Path(path) == locked_dir:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(walk_module, "open", fake_open, raising=False)
    monkeypatch.setattr(walk_module.os, "scandir", fake_scandir)
    taken, skipped, _ = run(tmp_path)
    assert taken == ["a.md", "z.md"]
    assert skipped == {
        "locked.md": Skipped(locked, "permission denied", error=True),
        "locked_dir": Skipped(locked_dir, "permission denied", error=True),
    }


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_skipped_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.md")
    write(tmp_path / "b.md")
    taken, skipped, _ = run(tmp_path)
    assert taken == ["b.md"]
    assert skipped["pipe.md"].reason.startswith("not a regular file")


def test_folder_named_like_a_file_is_walked(tmp_path: Path) -> None:
    write(tmp_path / "weird.md" / "inner.md")
    taken, _, _ = run(tmp_path)
    assert taken == ["weird.md/inner.md"]


# --- order ----------------------------------------------------------------------------------


def test_order_is_sorted_and_deterministic(tmp_path: Path) -> None:
    for name in ["c.md", "a.md", "b/z.md", "b/a.md", "B.md", "a0/x.md"]:
        write(tmp_path / name)
    first, _, _ = run(tmp_path)
    assert first == ["B.md", "a.md", "a0/x.md", "b/a.md", "b/z.md", "c.md"]
    assert run(tmp_path)[0] == first
