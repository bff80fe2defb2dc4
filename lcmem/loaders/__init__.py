"""Loaders: files and folders -> :class:`~lcmem.types.Document`.

:func:`walk` lists what to read (honouring ``.gitignore`` / ``.lcmemignore``, skipping binary,
hidden, oversized and unsupported files) and :func:`read_document` reads one file.

Example:
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "notes.txt").write_text("hello")
    >>> [read_document(f.path).text for f in walk([d]) if isinstance(f, SourceFile)]
    ['hello']
"""

from lcmem.loaders.kinds import CODE_LANGUAGES, code_lang, file_kind
from lcmem.loaders.readers import read_document
from lcmem.loaders.text import decode_text, is_binary
from lcmem.loaders.walk import DEFAULT_MAX_FILE_SIZE, Skipped, SourceFile, walk

__all__ = [
    "CODE_LANGUAGES",
    "DEFAULT_MAX_FILE_SIZE",
    "Skipped",
    "SourceFile",
    "code_lang",
    "decode_text",
    "file_kind",
    "is_binary",
    "read_document",
    "walk",
]
