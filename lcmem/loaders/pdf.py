"""PDF -> text with pypdf: page texts joined by a blank line, and where each page starts.

Why pypdf: a pure-Python wheel under the BSD licence, so the core install needs no compiler and
no native library on any platform; PyMuPDF is faster but AGPL-licensed, and pdfminer.six /
pdfplumber add weight for layout analysis lcmem does not use. No speed comparison has been
measured here: PDF parsing has not shown up as a cost in the index benchmarks, where
embedding dominates.

Example:
    >>> from pathlib import Path
    >>> extract_pdf(b"not a pdf", "x.pdf")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lcmem.errors.LoadError: cannot parse PDF x.pdf: ...; the file may be damaged or encrypted
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass, field

from lcmem.errors import LoadError
from lcmem.loaders.text import normalize_newlines

PAGE_SEPARATOR = "\n\n"
_MAX_WARNINGS = 5


@dataclass
class PdfText:
    """What :func:`extract_pdf` found.

    Attributes:
        text: the page texts joined with ``"\\n\\n"`` (newlines normalised).
        pages: start offset of each page in ``text`` (one per page, empty pages included).
        title: the PDF's own title metadata, if any.
        warnings: problems pypdf reported, or pages that could not be read.
    """

    text: str
    pages: list[int]
    title: str | None = None
    warnings: list[str] = field(default_factory=list)


class _LogCollector(logging.Handler):
    """Collects this thread's pypdf log warnings (they also stay off the terminal)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            message = record.getMessage()
            if message not in self.messages:
                self.messages.append(message)


def extract_pdf(data: bytes, name: str) -> PdfText:
    """Extract the text of a PDF given as bytes; ``name`` is used in messages.

    Raises:
        LoadError: the PDF cannot be parsed, is password-protected, or has no text layer.
    """
    from pypdf import PdfReader

    collector = _LogCollector()
    logger = logging.getLogger("pypdf")
    logger.addHandler(collector)
    try:
        texts, title, page_warnings = _read(PdfReader, data, name)
    finally:
        logger.removeHandler(collector)

    parts: list[str] = []
    pages: list[int] = []
    offset = 0
    for i, page_text in enumerate(texts):
        if i:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        pages.append(offset)
        parts.append(page_text)
        offset += len(page_text)
    text = "".join(parts)
    if not text.strip():
        raise LoadError(
            f"no text found in PDF {name} ({len(texts)} page(s)): it may hold only scanned "
            "images; run OCR on it first (e.g. `ocrmypdf in.pdf out.pdf`) and index the result"
        )
    warnings = page_warnings + [f"{name}: {m}" for m in collector.messages[:_MAX_WARNINGS]]
    if len(collector.messages) > _MAX_WARNINGS:
        warnings.append(f"{name}: {len(collector.messages) - _MAX_WARNINGS} more pypdf warnings")
    return PdfText(text=text, pages=pages, title=title, warnings=warnings)


def _read(reader_cls: type, data: bytes, name: str) -> tuple[list[str], str | None, list[str]]:
    # pypdf parses untrusted input and can raise nearly anything on a damaged file
    # (PdfReadError, ValueError, KeyError, RecursionError...), hence the broad excepts.
    try:
        reader = reader_cls(io.BytesIO(data))
        if reader.is_encrypted:
            _decrypt(reader, name)
        pages = list(reader.pages)
        title = _title(reader)
    except LoadError:
        raise
    except Exception as e:
        raise LoadError(
            f"cannot parse PDF {name}: {_reason(e)}; the file may be damaged or encrypted"
        ) from e

    texts: list[str] = []
    warnings: list[str] = []
    for number, page in enumerate(pages, start=1):
        try:
            texts.append(normalize_newlines(page.extract_text() or ""))
        except Exception as e:
            texts.append("")
            warnings.append(f"{name}: page {number} could not be read ({_reason(e)}); skipped")
    return texts, title, warnings


def _decrypt(reader: object, name: str) -> None:
    """Open a PDF encrypted with an empty user password (common: "no copy" protection)."""
    try:
        ok = reader.decrypt("")  # type: ignore[attr-defined]
    except Exception as e:
        raise LoadError(
            f"cannot decrypt PDF {name}: {_reason(e)}; decrypt it first "
            "(e.g. `qpdf --decrypt in.pdf out.pdf`) or install `cryptography` for AES PDFs"
        ) from e
    if not ok:
        raise LoadError(
            f"PDF {name} is protected by a password; decrypt it first "
            "(e.g. `qpdf --password=PASSWORD --decrypt in.pdf out.pdf`) and index the copy"
        )


def _title(reader: object) -> str | None:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = meta.title if meta is not None else None
    except Exception:  # a damaged info dictionary must not cost the whole document
        return None
    return (str(title).strip() or None) if title else None


def _reason(e: BaseException) -> str:
    text = str(e).strip()
    return text or type(e).__name__
