"""One file -> :class:`~lcmem.types.Document`: decode or parse it by kind, fill its metadata.

Offsets (chunks, PDF page starts) refer to the returned text, whose newlines are normalised
to ``"\\n"``: a ``\\r\\n`` file's offsets differ from its raw byte positions.

Example:
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "guide.md"
    >>> _ = p.write_bytes(b"# Install\\r\\n\\r\\nRun it.\\r\\n")
    >>> doc = read_document(p)
    >>> doc.text, doc.metadata["kind"], doc.metadata["title"]
    ('# Install\\n\\nRun it.\\n', 'markdown', 'Install')
"""

from __future__ import annotations

import contextlib
import itertools
import re
from pathlib import Path
from typing import Any

from lcmem.errors import LoadError
from lcmem.loaders.kinds import code_lang, file_ext, file_kind
from lcmem.loaders.text import decode, is_binary
from lcmem.types import Document

__all__ = ["file_kind", "is_binary", "read_document"]

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)
_RST_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1+\s*")
_RST_SCAN_LINES = 500


def read_document(
    path: str | Path, data: bytes | None = None, *, root: Path | None = None
) -> Document:
    """Load one file as a :class:`Document`.

    Args:
        path: the file. Its kind comes from :func:`file_kind`; an unknown kind is read as text.
        data: the file's bytes, if the caller already read them (e.g. to hash them first).
        root: the folder the file was found under; sets ``metadata["relpath"]``.

    Text, markdown, rst and code are decoded as is (UTF-8, see
    :func:`~lcmem.loaders.text.decode`); HTML becomes its visible text; a PDF its page
    texts joined by ``"\\n\\n"``, with ``metadata["pages"]`` the start offset of each page.
    Newlines are normalised to ``"\\n"`` and every offset refers to that normalised text.

    Metadata: ``kind``, ``ext``, ``title`` (HTML ``<title>``, PDF title, first markdown / rst
    heading, else the file name), ``size`` (bytes), ``mtime`` (seconds since the epoch, when the
    file exists), ``lang`` (code only), ``relpath`` (with ``root``), ``pages`` (PDF only).

    Raises:
        LoadError: the file cannot be read, is binary, or is a PDF that cannot be parsed or
            has no text.
    """
    path = Path(path).expanduser().resolve()
    name = path.name
    if data is None:
        data = _read_bytes(path)
    kind = file_kind(path) or "text"
    metadata: dict[str, Any] = {"kind": kind, "ext": file_ext(path), "title": name}
    if kind == "code":
        metadata["lang"] = code_lang(path)
    metadata["size"] = len(data)
    with contextlib.suppress(OSError):
        metadata["mtime"] = path.stat().st_mtime
    if root is not None:
        with contextlib.suppress(ValueError):
            relpath = path.relative_to(Path(root).resolve()).as_posix()
            metadata["relpath"] = name if relpath == "." else relpath

    title: str | None = None
    if kind == "pdf":
        from lcmem.loaders.pdf import extract_pdf

        pdf = extract_pdf(data, name)
        text, warnings, title = pdf.text, pdf.warnings, pdf.title
        metadata["pages"] = pdf.pages
    else:
        if is_binary(data):
            raise LoadError(
                f"{path} looks like a binary file (it has NUL or control bytes); lcmem reads "
                "text, markdown, rst, HTML, PDF and source code: leave it out or convert it"
            )
        if kind == "html":
            from lcmem.loaders.html import extract_html

            text, title, warnings = extract_html(data, name)
            metadata["text_format"] = "markdown"  # headings as "#": chunked as Markdown
        else:
            decoded = decode(data, name)
            text, warnings = decoded.text, decoded.warnings
            if decoded.encoding != "utf-8":  # guessed or from a BOM: say which
                metadata["encoding"] = decoded.encoding
            if kind == "markdown":
                title = markdown_title(text)
            elif kind == "rst":
                title = rst_title(text)
    if title:
        metadata["title"] = title
    return Document(text=text, path=str(path), metadata=metadata, warnings=warnings)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise LoadError(f"cannot read {path}: it does not exist (moved or deleted?)") from e
    except IsADirectoryError as e:
        raise LoadError(f"cannot read {path}: it is a folder; pass it to walk() instead") from e
    except PermissionError as e:
        raise LoadError(f"cannot read {path}: permission denied; check its permissions") from e
    except OSError as e:
        raise LoadError(f"cannot read {path}: {e.strerror or e}") from e


def markdown_title(text: str) -> str | None:
    """``title:`` of a YAML front matter, else the text of the first heading.

    Example:
        >>> markdown_title("```\\n# not this\\n```\\nSetup *guide*\\n===\\n")
        'Setup guide'
    """
    match = _FRONT_MATTER.match(text)
    if match:
        found = _FRONT_MATTER_TITLE.search(match.group(1))
        if found and found.group(1).strip("'\""):
            return found.group(1).strip("'\"")
        text = text[match.end() :]

    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    for token, following in itertools.pairwise(tokens):
        if token.type == "heading_open" and following.type == "inline":
            words = [
                " " if child.type in ("softbreak", "hardbreak") else child.content
                for child in following.children or []
            ]
            title = " ".join("".join(words).split())
            if title:
                return title
    return None


def rst_title(text: str) -> str | None:
    """The first reStructuredText section title (a line underlined, maybe overlined).

    Example:
        >>> rst_title(".. note:: hi\\n\\n=====\\nGuide\\n=====\\n\\nText\\n")
        'Guide'
    """
    lines = [line.rstrip() for line in text.split("\n", _RST_SCAN_LINES)[:_RST_SCAN_LINES]]
    lines.append("")
    for i in range(len(lines) - 2):
        line, under = lines[i], lines[i + 1]
        if _RST_ADORNMENT.fullmatch(line):
            # Overline + (possibly inset) title + the same underline.
            if under.strip() and lines[i + 2] == line and len(line) >= len(under.strip()):
                return under.strip()
            continue
        if (
            line
            and not line[0].isspace()
            and _RST_ADORNMENT.fullmatch(under)
            and len(under) >= len(line)
        ):
            return line
    return None
