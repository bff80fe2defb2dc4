"""Errors a user can cause. Each message says what happened and what to do.

The CLI prints ``str(error)`` on one line, without a traceback, and exits with the error's
``exit_code``: 1 for most errors, 4 for a library that cannot be used (:class:`StoreError`,
:class:`IndexCorruptError`, :class:`EmbedderMismatchError`, :class:`EmptyLibraryError`), 5 for
a missing model, a missing optional package or a failing LLM server (:class:`ModelNotFoundError`,
:class:`MissingExtraError`, :class:`LLMError`).
Exit code 2 stays click's, for usage errors (see :mod:`lcmem.cli_common`).

Example:
    >>> try:
    ...     raise EmptyQueryError("the query is empty: pass some words to search for")
    ... except LcmemError as e:
    ...     print(e)
    the query is empty: pass some words to search for
"""

from __future__ import annotations


class LcmemError(Exception):
    """Base class of every error lcmem raises on purpose."""

    #: The CLI's exit code for this error family (2 is click's, for usage errors).
    exit_code = 1


class ConfigError(LcmemError, ValueError):
    """A setting has a wrong value; the message names the setting and the accepted values."""


class PathNotFoundError(LcmemError, FileNotFoundError):
    """A path given to index or open does not exist."""


class LoadError(LcmemError):
    """One file could not be read or parsed (the index run reports it and goes on)."""


class EmptyQueryError(LcmemError, ValueError):
    """A search or question was empty."""


class ModelNotFoundError(LcmemError):
    """A model is not installed; the message names the package or path to install."""

    exit_code = 5


class MissingExtraError(LcmemError, ImportError):
    """An optional package is not installed; the message names the extra that brings it
    (``pip install 'lcmem[EXTRA]'``). Raised by :func:`lcmem._extras.require`.

    Attributes:
        module: the top-level module that is missing (``torch``, ``tree_sitter``...).
        extra: the extra that installs it (``llm``, ``code``...).
    """

    exit_code = 5

    def __init__(self, message: str, *, module: str = "", extra: str = "") -> None:
        super().__init__(message)
        self.module = module
        self.extra = extra


class EmbedderMismatchError(LcmemError):
    """A library was built with another embedder (name or dimension) than the one asked for."""

    exit_code = 4


class StoreError(LcmemError):
    """The library's database cannot be opened or is not an lcmem library."""

    exit_code = 4


class IndexCorruptError(LcmemError):
    """An index file on disk is damaged or of another format version."""

    exit_code = 4


class EmptyLibraryError(LcmemError):
    """A question was asked of a library that holds no documents yet."""

    exit_code = 4


class LLMError(LcmemError):
    """A language-model server failed or refused a request; the message says what to change."""

    exit_code = 5


class LLMConnectionError(LLMError, ConnectionError):
    """The LLM server could not be reached (nothing listening, DNS, TLS, connection reset)."""


class LLMTimeoutError(LLMError, TimeoutError):
    """The LLM server did not answer within the configured timeout."""


class LLMAuthError(LLMError, PermissionError):
    """The LLM server refused the API key (HTTP 401 or 403)."""


class LLMNotFoundError(LLMError, ModelNotFoundError):
    """The LLM server does not know the model or the URL path (HTTP 404)."""


class LLMContextError(LLMError, ConfigError):
    """The prompt plus the answer asked for do not fit in the model's context window."""
