"""The examples in the chunkers' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

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
    "lcmem.chunkers.code_treesitter",
    "lcmem.tokens",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
