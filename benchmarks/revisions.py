"""Import one lcmem module as it was at a git revision, beside today's, for before/after diffs.

Example (not run here: it shells out to git):
    >>> before = module_at("main~3", "lcmem/pipelines/support.py")  # doctest: +SKIP
    >>> before.check_sentence  # doctest: +SKIP
    <function check_sentence ...>
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def module_at(revision: str, relpath: str) -> ModuleType:
    """``relpath`` (a module file of this repository) as of ``revision``, imported under the
    name ``<stem>_before``; its own imports resolve to today's package."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:{relpath}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    name = f"{Path(relpath).stem}_before"
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
