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
    lcmem.integrations.MissingExtraError: ... pip install 'lcmem[mcp]'
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from lcmem.errors import LcmemError


class MissingExtraError(LcmemError, ImportError):
    """An optional package is not installed; the message names the extra that brings it."""


def require_extra(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``lcmem[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if top != module and importlib.util.find_spec(top) is not None:
            raise MissingExtraError(
                f"the installed {top} has no {module} (another major version?): "
                f"pip install -U 'lcmem[{extra}]'"
            ) from exc
        raise MissingExtraError(
            f"{top} is not installed (needed by this lcmem integration): "
            f"pip install 'lcmem[{extra}]'"
        ) from exc
