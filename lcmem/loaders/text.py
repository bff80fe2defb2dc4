"""Bytes -> text: binary sniffing, decoding (UTF-8, BOMs, detected legacy charsets), newlines.

Example:
    >>> is_binary(b"hello\\n"), is_binary(b"\\x89PNG\\r\\n\\x1a\\n\\x00\\x00")
    (False, True)
    >>> decode_text(b"caf\\xc3\\xa9\\r\\n", "a.txt")
    ('café\\n', [])
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

SNIFF_BYTES = 8192
"""How much of a file's start :func:`is_binary` looks at."""

# Bytes that are not control characters, plus the controls ordinary text uses (\a \b \t \n
# \v \f \r ESC). Deleting them from a sample leaves only the "odd" control bytes.
_TEXT_BYTES = bytes(b for b in range(256) if (b >= 32 and b != 127) or b in b"\a\b\t\n\v\f\r\x1b")
_CONTROL_RATIO = 0.10
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# cp1252 wins over charset-normalizer's best guess unless its "chaos" (mess ratio) is worse by
# more than this. Legacy files are mostly Western (browsers default to windows-1252 for the
# same reason), and on short texts charset-normalizer ties dozens of code pages at chaos 0 and
# picks e.g. cp1006 for "café". Chosen on the dev split of benchmarks/bench_charset.py:
# western files right 60% -> 99%, Cyrillic and CJK unchanged.
_CP1252_SLACK = 0.1


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
    """``(text, warnings)`` of :func:`decode`."""
    decoded = decode(data, name)
    return decoded.text, decoded.warnings


@dataclass(frozen=True)
class Decoded:
    """Text decoded from bytes, the charset used and what the reader should know."""

    text: str
    encoding: str
    warnings: list[str]


def decode(data: bytes, name: str) -> Decoded:
    """Decode ``data``: UTF-8 (a BOM is dropped; UTF-16/32 with a BOM are honoured), else the
    charset that charset-normalizer detects (cp1252 when it fits about as well).

    A file that is not UTF-8 gets a warning naming ``name``, the charset guessed and what to do.
    When no charset fits, invalid bytes become U+FFFD and the warning says how many.
    Newlines are normalised with :func:`normalize_newlines`.

    Example:
        >>> decoded = decode("café naïve – ok".encode("cp1252"), "old.txt")
        >>> decoded.text, decoded.encoding
        ('café naïve – ok', 'cp1252')
        >>> print(decoded.warnings[0])  # doctest: +ELLIPSIS
        old.txt is not valid UTF-8 (first bad byte at offset 3): decoded as cp1252 (guessed)...
    """
    warnings: list[str] = []
    encoding = "utf-8"
    if data.startswith(_UTF32_BOMS):
        text, encoding = data.decode("utf-32", errors="replace"), "utf-32"
    elif data.startswith(_UTF16_BOMS):
        text, encoding = data.decode("utf-16", errors="replace"), "utf-16"
    else:
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            where = f"{name} is not valid UTF-8 (first bad byte at offset {e.start})"
            replaced = data.decode("utf-8", errors="replace")
            # U+FFFD already present in the file was encoded as EF BF BD; don't count it.
            bad = replaced.count("\ufffd") - data.count("\ufffd".encode())
            valid = sum(ord(c) > 127 for c in data.decode("utf-8", errors="ignore"))
            # At least as many valid multi-byte UTF-8 characters as bad bytes: a damaged UTF-8
            # file, which a legacy code page would turn into mojibake everywhere (legacy CJK
            # bytes form a few valid UTF-8 pairs by chance, among many bad ones).
            charset = None if valid >= bad else guess_charset(data)
            if charset is not None:
                text, encoding = data.decode(charset), charset
                warnings.append(
                    f"{where}: decoded as {charset} (guessed); if the text looks wrong, "
                    "re-save the file as UTF-8"
                )
            else:
                text = replaced
                warnings.append(
                    f"{where}: {bad} replacement character(s) U+FFFD were inserted; re-save "
                    "the file as UTF-8 to keep its exact text"
                )
    return Decoded(normalize_newlines(text), encoding, warnings)


def guess_charset(data: bytes) -> str | None:
    """The charset ``data`` (not UTF-8) is most likely in, or ``None`` if none decodes it.

    charset-normalizer ranks the code pages that decode ``data`` by how messy the result
    looks; cp1252 is preferred when it is within a small margin of the best (see
    ``_CP1252_SLACK``).

    Example:
        >>> guess_charset("Grüße aus Köln".encode("latin-1"))
        'cp1252'
        >>> ru = "Привет, как дела? Всё хорошо. Сегодня мы идём в парк, а завтра поедем на дачу."
        >>> guess_charset(ru.encode("koi8-r"))
        'koi8_r'
    """
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        pass  # bytes cp1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D): not cp1252
    else:
        western = next((m for m in matches if m.encoding == "cp1252"), None)
        if western is None:
            western = from_bytes(data, cp_isolation=["cp1252"]).best()
        if best is None or (western is not None and western.chaos <= best.chaos + _CP1252_SLACK):
            return "cp1252"
    return best.encoding if best is not None else None
