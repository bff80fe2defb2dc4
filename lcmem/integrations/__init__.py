"""lcmem for agents: an MCP server, LangChain and LlamaIndex retrievers (optional extras).

Each integration lives in its own module and needs its extra::

    pip install 'lcmem[mcp]'         # lcmem serve --mcp   (lcmem.integrations.mcp_server)
    pip install 'lcmem[langchain]'   # lcmem.integrations.langchain.LcmemRetriever
    pip install 'lcmem[llamaindex]'  # lcmem.integrations.llamaindex.LcmemRetriever

``import lcmem`` imports none of them; a missing package raises :class:`MissingExtraError`
naming the extra to install.

Example:
    >>> require_extra("json", "mcp").__name__
    'json'
    >>> require_extra("surely_not_installed_pkg", "mcp")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lcmem.errors.MissingExtraError: ... pip install 'lcmem[mcp]'
"""

from __future__ import annotations

from types import ModuleType

from lcmem._extras import require
from lcmem.errors import MissingExtraError

__all__ = ["MissingExtraError", "require_extra"]


def require_extra(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``lcmem[extra]``
    (:func:`lcmem._extras.require`, the one helper every optional import goes through)."""
    return require(module, extra=extra)
