"""Griffe extension for the API reference: read ``Example:`` as an examples section.

lcmem's docstrings head their doctests ``Example:``; griffe's Google-style parser knows the
plural ``Examples:`` as the section whose ``>>>`` lines are code, and renders the singular as
an admonition of Markdown, where ``[1, 2]`` output reads as a link. The docstrings stay as
they are (pytest runs them as doctests); the reference sees the plural.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` section headers to ``Examples:`` before docstrings are parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
