"""Attacks on the allowed-roots check: '..', absolute paths, symlinks leading outside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lcmem.errors import ConfigError, LcmemError
from lcmem.integrations.pathguard import PathGuard, PathNotAllowedError


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """An allowed root with an ordinary file, and a secret folder beside it."""
    root = tmp_path / "allowed"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("allowed text\n")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("password=hunter2\n")
    return {"root": root, "secret": secret}


def test_paths_inside_the_root_are_allowed(tree):
    guard = PathGuard([tree["root"]])
    real_root = tree["root"].resolve()
    assert guard.check(str(tree["root"] / "docs" / "a.txt")) == real_root / "docs" / "a.txt"
    assert guard.check("docs") == real_root / "docs"  # relative: from the first root
    assert guard.check(str(tree["root"])) == real_root
    assert guard.check_all([str(tree["root"])]) == [real_root]


@pytest.mark.parametrize(
    "attack",
    [
        "../secret/key.txt",  # relative escape
        "docs/../../secret/key.txt",  # escape in the middle
        "{root}/docs/../docs/a.txt",  # '..' that stays inside is refused too
        "{root}/../secret/key.txt",
    ],
)
def test_dotdot_is_refused(tree, attack):
    guard = PathGuard([tree["root"]])
    with pytest.raises(PathNotAllowedError, match=r"'\.\.'"):
        guard.check(attack.format(root=tree["root"]))


@pytest.mark.parametrize("attack", ["/etc/passwd", "/", "{secret}", "{secret}/key.txt", "~"])
def test_absolute_paths_outside_are_refused(tree, attack):
    guard = PathGuard([tree["root"]])
    with pytest.raises(PathNotAllowedError, match="outside the allowed roots"):
        guard.check(attack.format(secret=tree["secret"]))


def test_a_prefix_sibling_is_not_inside(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs-private").mkdir()
    guard = PathGuard([tmp_path / "docs"])
    with pytest.raises(PathNotAllowedError):
        guard.check(str(tmp_path / "docs-private"))


def test_symlink_named_directly_is_refused(tree):
    link = tree["root"] / "docs" / "innocent.txt"
    os.symlink(tree["secret"] / "key.txt", link)
    guard = PathGuard([tree["root"]])
    with pytest.raises(PathNotAllowedError, match="through a symlink"):
        guard.check(str(link))
    dir_link = tree["root"] / "more"
    os.symlink(tree["secret"], dir_link)
    with pytest.raises(PathNotAllowedError):
        guard.check(str(dir_link / "key.txt"))


def test_folder_holding_a_symlink_to_outside_is_refused(tree):
    os.symlink(tree["secret"] / "key.txt", tree["root"] / "docs" / "b.txt")
    guard = PathGuard([tree["root"]])
    real = guard.check(str(tree["root"] / "docs"))  # the folder itself is inside...
    with pytest.raises(PathNotAllowedError, match="symlink leading outside"):
        guard.check_tree(real)  # ...but walking it would read the secret
    with pytest.raises(PathNotAllowedError):
        guard.check_all([str(tree["root"])])


def test_symlinked_folder_reaching_outside_through_an_inside_link_is_refused(tree):
    # allowed/a/hop -> allowed/b (inside), allowed/b/out -> secret (outside)
    (tree["root"] / "a").mkdir()
    (tree["root"] / "b").mkdir()
    os.symlink(tree["root"] / "b", tree["root"] / "a" / "hop")
    os.symlink(tree["secret"], tree["root"] / "b" / "out")
    guard = PathGuard([tree["root"]])
    with pytest.raises(PathNotAllowedError):
        guard.check_all([str(tree["root"] / "a")])


def test_symlink_staying_inside_is_fine(tree):
    os.symlink(tree["root"] / "docs" / "a.txt", tree["root"] / "alias.txt")
    guard = PathGuard([tree["root"]])
    guard.check_all([str(tree["root"]), str(tree["root"] / "alias.txt")])


def test_other_bad_input(tree):
    guard = PathGuard([tree["root"]])
    for bad in ("", "   ", "docs/a\x00.txt"):
        with pytest.raises(PathNotAllowedError):
            guard.check(bad)
    with pytest.raises(ConfigError):
        guard.check_all([])
    with pytest.raises(PathNotAllowedError, match="--allow-index"):
        PathGuard([]).check(str(tree["root"]))
    with pytest.raises(ConfigError, match="does not exist"):
        PathGuard([tree["root"] / "nope"])
    assert issubclass(PathNotAllowedError, LcmemError)
