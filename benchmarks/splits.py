"""The frozen dev/test split shared by the benchmarks: by a hash of an item's id.

Example:
    >>> split_of("ls.1.txt") in ("dev", "test")
    True
"""

from __future__ import annotations

import hashlib

SPLITS = ("dev", "test")


def split_of(item: str) -> str:
    """``dev`` or ``test``: even first byte of the SHA-1 of ``item`` (UTF-8) is dev. Frozen."""
    return "dev" if hashlib.sha1(item.encode()).digest()[0] % 2 == 0 else "test"
