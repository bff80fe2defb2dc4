"""The examples in the chunkers' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.extras import needs_mark

MODULES = [
    "lcmem.chunkers",
    "lcmem.chunkers.base",
    "lcmem.chunkers.sentences",
    "lcmem.chunkers.text",
    "lcmem.chunkers.markdown",
    "lcmem.chunkers.auto",
    "lcmem.chunkers.code",
    "lcmem.chunkers.code_syntax",
    "lcmem.chunkers.code_units",
    pytest.param(
        "lcmem.chunkers.code_treesitter",
        marks=needs_mark("tree_sitter", "tree_sitter_javascript", extra="code"),
    ),
    "lcmem.tokens",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
