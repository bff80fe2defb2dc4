"""Doctest collection of the package: modules whose extra is not installed are not collected
(a core install; see tests/extras.py). ``make test`` and CI install every extra."""

from __future__ import annotations

import importlib.util
import os

_NEEDS = {
    "lcmem/chunkers/code_treesitter.py": "tree_sitter_javascript",
    "lcmem/embedders/rope.py": "torch",
    "lcmem/kv/cache.py": "torch",
    "lcmem/integrations/langchain.py": "langchain_core",
    "lcmem/integrations/llamaindex.py": "llama_index",
    "lcmem/integrations/mcp_server.py": "mcp",
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


collect_ignore = (
    []
    if os.environ.get("LCMEM_ALL_EXTRAS") == "1"
    else [path for path, module in _NEEDS.items() if not _installed(module)]
)
