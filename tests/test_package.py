"""Packaging conventions: one version, a type marker, the licence the metadata names."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import lcmem

ROOT = Path(__file__).resolve().parents[1]


def test_version_has_one_source():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert lcmem.__version__ == version("lcmem") == pyproject["project"]["version"]
    assert '__version__ = "' not in (ROOT / "lcmem" / "__init__.py").read_text()


def test_py_typed_marker_is_shipped():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert (ROOT / "lcmem" / "py.typed").is_file()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["lcmem"]
    assert "Typing :: Typed" in pyproject["project"]["classifiers"]


def test_license_file_matches_metadata():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert pyproject["project"]["license-files"] == ["LICENSE"]
