"""Bytes -> text: binary sniffing, decoding (UTF-8, BOMs, replacement fallback), newlines.

Example:
    >>> is_binary(b"hello\\n"), is_binary(b"\\x89PNG\\r\\n\\x1a\\n\\x00\\x00")
    (False, True)
    >>> decode_text(b"caf\\xc3\\xa9\\r\\n", "a.txt")
    ('café\\n', [])
"""

from __future__ import annotations

import codecs

SNIFF_BYTES = 8192
"""How much of a file's start :func:`is_binary` looks at."""

# Bytes that are not control characters, plus the controls ordinary text uses (\a \b \t \n
# \v \f \r ESC). Deleting them from a sample leaves only the "odd" control bytes.
_TEXT_BYTES = bytes(b for b in range(256) if (b >= 32 and b != 127) or b in b"\a\b\t\n\v\f\r\x1b")
_CONTROL_RATIO = 0.10
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def is_binary(data: bytes) -> bool:
    """Whether ``data`` looks like a binary file: a NUL byte, or more than 10% control bytes,
    in the first 8 KiB (UTF-16/32 text with a byte-order mark is text).

    Example:
        >>> is_binary(b""), is_binary("naïve".encode("latin-1")), is_binary(b"a\\x00b")
        (False, False, True)
    """
    sample = data[:SNIFF_BYTES]
    if not sample:
        return False
    if sample.startswith(_UTF32_BOMS + _UTF16_BOMS):
        return False
    if b"\x00" in sample:
        return True
    controls = len(sample.translate(None, _TEXT_BYTES))
    return controls / len(sample) > _CONTROL_RATIO


def normalize_newlines(text: str) -> str:
    """Turn ``\\r\\n`` and lone ``\\r`` into ``\\n``.

    Example:
        >>> normalize_newlines("a\\r\\nb\\rc\\n")
        'a\\nb\\nc\\n'
    """
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_text(data: bytes, name: str) -> tuple[str, list[str]]:
    """Decode ``data`` as UTF-8 (a BOM is dropped; UTF-16/32 with a BOM are honoured).

    Invalid bytes become U+FFFD and a warning naming ``name`` says how many were needed.
    Newlines are normalised with :func:`normalize_newlines`.

    Returns:
        ``(text, warnings)``.

    Example:
        >>> text, warnings = decode_text("café".encode("latin-1"), "old.txt")
        >>> text, len(warnings)
        ('caf�', 1)
    """
    warnings: list[str] = []
    if data.startswith(_UTF32_BOMS):
        text = data.decode("utf-32", errors="replace")
    elif data.startswith(_UTF16_BOMS):
        text = data.decode("utf-16", errors="replace")
    else:
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            text = data.decode("utf-8", errors="replace")
            # U+FFFD already present in the file was encoded as EF BF BD; don't count it.
            replaced = text.count("\ufffd") - data.count("\ufffd".encode())
            warnings.append(
                f"{name} is not valid UTF-8 (first bad byte at offset {e.start}): "
                f"{replaced} replacement character(s) U+FFFD were inserted; "
                "re-save the file as UTF-8 to keep its exact text"
            )
    return normalize_newlines(text), warnings
