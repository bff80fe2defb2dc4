"""What a query's own words say about how to fuse: quoted phrases and identifier-like tokens.

People who quote words, or type an identifier (``parse_header``, ``HTTPServer``, ``os.path``),
an error code (``E1234``, ``0x80070005``) or a number, expect the exact words to be found. Such a
query gets the BM25 side of a hybrid search weighted up by ``Fusion.boost``.

Example:
    >>> hints = query_hints('where is "max retries" set for parse_header in v2.1?')
    >>> hints.quoted, hints.identifiers
    (['max retries'], ['parse_header', 'v2.1'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lcmem.indexers.fusion import Fusion

_QUOTED = re.compile(r'"([^"]+)"|\u201c([^\u201d]+)\u201d|`([^`]+)`')
_TOKEN = re.compile(r"[\w.:/#$@-]*\w")
_IDENTIFIER = re.compile(
    r"""
    .*\d                       # holds a digit: a number, a code, a version (E1234, v2.1, 404)
    | .*_                      # snake_case, __init__
    | .*[a-z][A-Z]             # camelCase, parseHeader
    | .*[A-Z]{2,}[a-z]         # HTTPServer
    | [A-Z][A-Z0-9]{2,}$       # ENOENT, SIGTERM (all capitals, 3+ characters)
    | .*\w(?:\.|::|/|\#)\w     # os.path, std::vector, a/b, Class#method
    | --?\w                    # --flag, -x
    """,
    re.VERBOSE,
)


@dataclass
class QueryHints:
    """Quoted phrases and identifier-like tokens found in a query."""

    quoted: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.quoted or self.identifiers)


def query_hints(text: str) -> QueryHints:
    """Quoted phrases (``"..."``, curly quotes, backticks) and identifier-like tokens.

    Example:
        >>> bool(query_hints("What is the pass key for Marisa Veltran?"))
        False
        >>> query_hints("SIGTERM handling in std::thread").identifiers
        ['SIGTERM', 'std::thread']
    """
    quoted = [next(g for g in m.groups() if g is not None).strip() for m in _QUOTED.finditer(text)]
    identifiers = []
    for token in _TOKEN.findall(text):
        if _IDENTIFIER.match(token) and token not in identifiers:
            identifiers.append(token)
    return QueryHints([q for q in quoted if q], identifiers)


def fusion_weights(fusion: Fusion, text: str | None) -> tuple[tuple[float, float], QueryHints]:
    """``(dense, sparse)`` weights for ``text`` under ``fusion``: its weights, with the sparse
    one multiplied by ``fusion.boost`` when the query has hints, rescaled to sum to 1.

    Example:
        >>> from lcmem.indexers.fusion import Fusion
        >>> fusion_weights(Fusion("zscore", dense=0.5, boost=3.0), "errno ENOENT")[0]
        (0.25, 0.75)
    """
    dense, sparse = fusion.weights()
    hints = query_hints(text) if text else QueryHints()
    if hints and fusion.boost != 1.0:
        sparse *= fusion.boost
        total = dense + sparse
        if total > 0:
            dense, sparse = dense / total, sparse / total
    return (dense, sparse), hints
