"""Tests of lcmem.loaders.readers (and the text / HTML / PDF helpers) on real files."""

from __future__ import annotations

import codecs
import io
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lcmem.errors import LoadError
from lcmem.loaders import decode_text, file_kind, is_binary, read_document
from lcmem.loaders.readers import markdown_title, rst_title
from tests.loaders.pdfgen import make_pdf


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))
    return path


# --- kinds and binary sniffing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.txt", "text"),
        ("a.text", "text"),
        ("a.md", "markdown"),
        ("a.markdown", "markdown"),
        ("a.rst", "rst"),
        ("a.html", "html"),
        ("a.HTM", "html"),
        ("a.pdf", "pdf"),
        ("a.py", "code"),
        ("a.tsx", "code"),
        ("a.cfg", "code"),
        ("README", "text"),
        ("Dockerfile", "text"),
        ("changelog", "text"),
        ("a.xyz", None),
        ("noext", None),
        (".bashrc", None),
    ],
)
def test_file_kind(name: str, kind: str | None) -> None:
    assert file_kind(Path(name)) == kind


def test_is_binary() -> None:
    assert not is_binary(b"")
    assert not is_binary(b"plain text\twith tabs\r\n")
    assert not is_binary("naïve café".encode("latin-1"))
    assert not is_binary("text".encode("utf-16"))  # BOM, NULs are part of the encoding
    assert is_binary(b"abc\x00def")
    assert is_binary(bytes(range(1, 32)) * 4)
    assert not is_binary(b"a" * 8192 + b"\x00")  # only the first 8 KiB are looked at


# --- decoding -------------------------------------------------------------------------------


def test_utf8_bom_and_newlines_are_normalised(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", codecs.BOM_UTF8 + b"one\r\ntwo\rthree\n")
    doc = read_document(path)
    assert doc.text == "one\ntwo\nthree\n"
    assert doc.warnings == []


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path / "w.txt", "héllo\r\nworld".encode("utf-16"))
    assert read_document(path).text == "héllo\nworld"


def test_cp1252_file_is_decoded_and_the_guess_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "old.txt", "café naïve – ok".encode("cp1252"))
    doc = read_document(path)
    assert doc.text == "café naïve – ok"
    assert len(doc.warnings) == 1
    assert "old.txt is not valid UTF-8" in doc.warnings[0]
    assert "decoded as cp1252 (guessed)" in doc.warnings[0]
    assert doc.metadata["encoding"] == "cp1252"


def test_legacy_cyrillic_and_cjk_are_detected() -> None:
    ru = "Привет, как дела? Всё хорошо. Сегодня мы идём в парк, а завтра поедем на дачу."
    assert decode_text(ru.encode("cp1251"), "ru.txt")[0] == ru
    cjk = Path(sys.base_prefix) / "lib/python3.11/test/cjkencodings"
    if not (cjk / "big5.txt").exists():
        pytest.skip("CPython's test/cjkencodings is not installed")
    text, warnings = decode_text((cjk / "big5.txt").read_bytes(), "big5.txt")
    assert text == (cjk / "big5-utf8.txt").read_text(encoding="utf-8")
    assert "decoded as big5" in warnings[0]


def test_damaged_utf8_keeps_utf8_with_replacements(tmp_path: Path) -> None:
    data = "naïve café ".encode() + b"\xff" + " déjà vu".encode()
    text, warnings = decode_text(data, "m.txt")
    assert text == "naïve café \ufffd déjà vu"  # not cp1252 mojibake ("naÃ¯ve")
    assert "1 replacement character(s)" in warnings[0]
    path = write(tmp_path / "m.txt", data)
    assert "encoding" not in read_document(path).metadata  # UTF-8, the default


def test_genuine_replacement_characters_are_not_counted() -> None:
    text, warnings = decode_text("ok \ufffd".encode() + b" \xff", "m.txt")
    assert text == "ok \ufffd \ufffd"
    assert "1 replacement character(s)" in warnings[0]


@given(st.one_of(st.binary(max_size=200), st.text(max_size=100).map(str.encode)))
def test_decode_never_fails_and_warns_exactly_on_invalid_utf8(data: bytes) -> None:
    text, warnings = decode_text(data, "x")
    assert "\r" not in text
    try:
        strict = data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError:
        assert len(warnings) == 1
    else:
        if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            assert warnings == []
            assert text == strict.replace("\r\n", "\n").replace("\r", "\n")


# --- documents and metadata -----------------------------------------------------------------


def test_code_document_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "pkg" / "mod.py", "def f():\n    return 1\n")
    doc = read_document(path, root=tmp_path)
    assert doc.path == str(path.resolve())
    assert doc.text == "def f():\n    return 1\n"
    assert doc.metadata == {
        "kind": "code",
        "ext": ".py",
        "lang": "python",
        "title": "mod.py",
        "size": 22,
        "mtime": path.stat().st_mtime,
        "relpath": "pkg/mod.py",
    }


def test_unknown_extension_is_read_as_text(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "server.log", "started\n"))
    assert doc.text == "started\n"
    assert doc.metadata["kind"] == "text" and doc.metadata["ext"] == ".log"


def test_given_bytes_are_used_instead_of_reading(tmp_path: Path) -> None:
    path = tmp_path / "virtual.md"  # does not exist on disk
    doc = read_document(path, b"# Virtual\n\nbody")
    assert doc.text == "# Virtual\n\nbody"
    assert doc.metadata["title"] == "Virtual"
    assert doc.metadata["size"] == 15
    assert "mtime" not in doc.metadata


def test_missing_file_raises_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="does not exist"):
        read_document(tmp_path / "gone.md")


def test_folder_raises_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="is a folder"):
        read_document(tmp_path)


def test_binary_content_raises_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="binary file"):
        read_document(write(tmp_path / "x.txt", b"\x00\x01\x02\x03"))


# --- titles ---------------------------------------------------------------------------------


def test_markdown_title_from_heading_front_matter_or_name(tmp_path: Path) -> None:
    assert (
        read_document(write(tmp_path / "a.md", "Intro\n\n## Set *up* `x`\n")).metadata["title"]
        == "Set up x"
    )
    front = "---\ntitle: 'From front matter'\ntags: [a]\n---\n# Heading\n"
    assert read_document(write(tmp_path / "b.md", front)).metadata["title"] == "From front matter"
    assert read_document(write(tmp_path / "c.md", "no heading\n")).metadata["title"] == "c.md"
    assert markdown_title("```\n# code comment\n```\n") is None
    assert markdown_title("---\nauthor: x\n---\nTitle\n=====\n") == "Title"


def test_rst_title(tmp_path: Path) -> None:
    text = ".. meta::\n   :x: y\n\n============\n User Guide\n============\n\nBody\n"
    assert read_document(write(tmp_path / "g.rst", text)).metadata["title"] == "User Guide"
    assert rst_title("Section\n-------\n") == "Section"
    assert rst_title("Too long title\n---\n") is None
    assert rst_title("plain text only\n") is None


# --- HTML -----------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><title>  The   Page </title>
<style>body { color: red }</style>
<script>var hidden = "not visible";</script></head>
<body>
<!-- a comment -->
<h1>Main   heading</h1>
<p>First <b>bold</b>
   paragraph &amp; more.</p>
<div hidden>secret</div>
<ul><li>one</li><li>two</li></ul>
<pre>  indented
    code</pre>
<p>line<br>break</p>
<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>
<noscript>enable js</noscript>
<script>document.write("nope")</script>
</body></html>
"""


def test_html_visible_text_structure_and_title(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "page.html", PAGE))
    assert doc.text == (
        "# Main heading\n\n"
        "First bold paragraph & more.\n\n"
        "one\ntwo\n\n"
        "```\n  indented\n    code\n```\n\n"
        "line\nbreak\n\n"
        "a b\nc d"
    )
    assert doc.metadata["title"] == "The Page"
    assert doc.metadata["kind"] == "html" and doc.metadata["text_format"] == "markdown"
    for invisible in ("not visible", "color", "comment", "secret", "enable js", "nope"):
        assert invisible not in doc.text


SITE = """<html><head><title>Docs</title></head><body>
<header role="banner"><a href="/">Home</a> | <a href="/blog">Blog</a> |
<a href="/login">Login</a></header>
<nav><ul><li><a href="/a">All posts</a></li></ul></nav>
<div role="navigation">Previous | Next</div>
<main><h1>Install</h1><p>Run the installer.</p>
<h2>From source</h2><p>Clone the repository and build it with make.</p>
<aside>Related: other tools</aside></main>
<div id="cookie-banner">We use cookies. Accept?</div>
<footer>Cookie policy | Terms</footer>
</body></html>"""


def test_html_drops_page_furniture_and_chunks_with_heading_trails(tmp_path: Path) -> None:
    from lcmem.chunkers.auto import AutoChunker

    doc = read_document(write(tmp_path / "site.html", SITE))
    assert doc.text == (
        "# Install\n\nRun the installer.\n\n"
        "## From source\n\nClone the repository and build it with make."
    )
    chunks = AutoChunker(chunk_size=12, chunk_overlap=0).chunk(doc)
    source = next(c for c in chunks if "Clone" in c.text)
    assert "From source" in source.context and "Install" in source.context
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_html_without_title_uses_file_name(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "frag.htm", "<p>Just text</p>"))
    assert doc.text == "Just text"
    assert doc.metadata["title"] == "frag.htm"


def test_html_declared_charset_is_used_when_not_utf8(tmp_path: Path) -> None:
    html = '<meta charset="windows-1252"><p>café – ok</p>'.encode("cp1252")
    doc = read_document(write(tmp_path / "old.html", html))
    assert doc.text == "café – ok"
    assert doc.warnings == []


# --- PDF ------------------------------------------------------------------------------------


def test_pdf_pages_text_and_offsets(tmp_path: Path) -> None:
    data = make_pdf([["Hello world", "second line"], [], ["Page three (end)"]], title="Report")
    doc = read_document(write(tmp_path / "r.pdf", data))
    pages = doc.metadata["pages"]
    assert len(pages) == 3
    assert doc.text.startswith("Hello world\nsecond line")
    assert doc.text[pages[2] :].startswith("Page three (end)")
    assert doc.text[pages[1] - 2 : pages[1]] == "\n\n"
    assert doc.metadata["title"] == "Report"
    assert doc.metadata["kind"] == "pdf"
    assert doc.warnings == []


def test_pdf_from_given_bytes_without_title_uses_name(tmp_path: Path) -> None:
    doc = read_document(tmp_path / "mem.pdf", make_pdf([["Only page"]]))
    assert doc.text.strip() == "Only page"
    assert doc.metadata["pages"] == [0]
    assert doc.metadata["title"] == "mem.pdf"


def test_damaged_pdf_raises_load_error(tmp_path: Path) -> None:
    truncated = make_pdf([["Hello"]])[:150]
    with pytest.raises(LoadError, match=r"cannot parse PDF bad\.pdf: .+; the file may be damaged"):
        read_document(write(tmp_path / "bad.pdf", truncated))
    with pytest.raises(LoadError, match="cannot parse PDF"):
        read_document(write(tmp_path / "junk.pdf", b"this is not a pdf at all"))


def test_pdf_without_text_raises_load_error(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(LoadError, match=r"no text found in PDF blank\.pdf .*OCR"):
        read_document(write(tmp_path / "blank.pdf", buffer.getvalue()))


def _encrypted(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Classified text"]]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_password_protected_pdf_raises_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="protected by a password"):
        read_document(write(tmp_path / "locked.pdf", _encrypted("secret")))


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "nocopy.pdf", _encrypted("")))
    assert doc.text.strip() == "Classified text"
