"""The integrations stay optional: lcmem imports without them, a missing one names its extra."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from lcmem.integrations import MissingExtraError


def test_importing_lcmem_imports_no_integration_package():
    code = (
        "import sys, lcmem, lcmem.integrations, lcmem.integrations.tools, lcmem.cli\n"
        "heavy = [m for m in ('mcp', 'langchain_core', 'llama_index', 'torch', 'uvicorn') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "module, package, extra",
    [
        ("lcmem.integrations.langchain", "langchain_core", "langchain"),
        ("lcmem.integrations.llamaindex", "llama_index", "llamaindex"),
        ("lcmem.integrations.mcp_server", "mcp", "mcp"),
    ],
)
def test_missing_package_names_the_extra(monkeypatch, module, package, extra):
    for name in list(sys.modules):
        if name == package or name.startswith(package + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(MissingExtraError, match=rf"pip install 'lcmem\[{extra}\]'"):
        importlib.import_module(module)
    monkeypatch.delitem(sys.modules, module, raising=False)
