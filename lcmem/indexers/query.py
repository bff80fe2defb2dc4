"""What a query's own words say about how to fuse: quoted phrases, identifiers and names.

People who quote words, type an identifier (``parse_header``, ``HTTPServer``, ``os.path``),
an error code (``E1234``, ``0x80070005``), a number or a name (a capitalised word inside a
sentence: ``Marisa Veltran``, ``Lisbon``) expect the exact words to be found. Such a query gets
the BM25 side of a hybrid search weighted up by ``Fusion.boost``.

Example:
    >>> hints = query_hints('where is "max retries" set for parse_header in v2.1?')
    >>> hints.quoted, hints.identifiers
    (['max retries'], ['parse_header', 'v2.1'])
    >>> query_hints("What is the pass key for Marisa Veltran?").names
    ['Marisa', 'Veltran']
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
# A name: a capitalised word (not all capitals: those are identifiers above) that does not
# start the query or a sentence. "What", "The", "I" at the start do not count.
_UP, _LOW = "A-Z\u00c0-\u00de", "a-z\u00df-\u00ff"
_NAME = re.compile(rf"[{_UP}](?:[{_LOW}]+|['-][{_UP}][{_LOW}]+)(?:['-][{_UP}{_LOW}]+)*")
_WORD = re.compile(r"\S+")


@dataclass
class QueryHints:
    """Quoted phrases, identifier-like tokens and names found in a query."""

    quoted: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.quoted or self.identifiers or self.names)


def query_hints(text: str) -> QueryHints:
    """Quoted phrases (``"..."``, curly quotes, backticks), identifier-like tokens and names.

    Example:
        >>> bool(query_hints("how do I list the files of a folder?"))
        False
        >>> query_hints("SIGTERM handling in std::thread").identifiers
        ['SIGTERM', 'std::thread']
        >>> query_hints("Which city painted its gate red? Lisbon or Porto").names
        ['Porto']
    """
    quoted = [next(g for g in m.groups() if g is not None).strip() for m in _QUOTED.finditer(text)]
    identifiers = []
    for token in _TOKEN.findall(text):
        if _IDENTIFIER.match(token) and token not in identifiers:
            identifiers.append(token)
    names = []
    previous = ""
    for m in _WORD.finditer(text):
        word = m.group().strip("\"'`()[]{}\u201c\u201d,;.!?:")
        sentence_start = not previous or previous[-1] in ".!?:"
        if not sentence_start and _NAME.fullmatch(word) and word not in names:
            names.append(word)
        previous = m.group()
    return QueryHints([q for q in quoted if q], identifiers, names)


def fusion_weights(fusion: Fusion, text: str | None) -> tuple[tuple[float, float], QueryHints]:
    """``(dense, sparse)`` weights for ``text`` under ``fusion``: its weights, with the sparse
    one multiplied by ``fusion.boost`` when the query has hints (quotes, identifiers, names),
    rescaled to sum to 1.

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
