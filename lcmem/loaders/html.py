"""HTML -> the page's visible content as Markdown-shaped text, and the page title.

Headings become ATX headings (``<h2>Install</h2>`` -> ``## Install``) and ``<pre>`` blocks
fenced code, so the Markdown chunker gives each hit its heading trail
(``metadata["text_format"] = "markdown"``). Page furniture is left out: ``<nav>``,
``<aside>``, ``<footer>``, elements with an ARIA landmark role of navigation, banner,
contentinfo, search or complementary, and cookie banners (an ``id`` or ``class`` naming
"cookie"). The Document's text is this rendering: chunk spans are exact in it, not in the HTML
file.

Why not trafilatura or html-to-markdown (tried on the 238 HTML pages under /usr/share/doc):
html-to-markdown kept table-layout navigation (libxslt's pages) and every link URL;
trafilatura dropped it but flattened ``<pre>`` blocks of those pages into one table row, leaked
hidden and ``<noscript>`` text on short pages, took 0.1-0.8 s per page and brings ten
packages. HTML5 landmarks cover the navigation of current pages at no cost.

BeautifulSoup (``html.parser``) parses; the tree walk below turns it into text. We walk it
ourselves rather than call ``get_text()`` because ``get_text`` keeps the source's layout
whitespace and loses block boundaries (``<p>a</p><p>b</p>`` -> ``"ab"``).

Example:
    >>> html = (b"<title>T</title><nav>Home | Blog</nav><h2>Hi</h2><p>Hello <b>big</b>\\n world"
    ...         b"</p><script>x()</script><p>Bye</p><footer>Cookie policy</footer>")
    >>> text, title, warnings = extract_html(html, "page.html")
    >>> text, title
    ('## Hi\\n\\nHello big world\\n\\nBye', 'T')
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from lcmem.loaders.text import decode_text

_DROPPED = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "title",
        "svg",
        "canvas",
        "iframe",
        "object",
    }
)
_PARAGRAPH = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "ul", "ol", "dl",
        "table", "section", "article", "header", "footer", "nav", "aside", "main", "figure",
        "form", "fieldset", "details", "address", "hr",
    }
)  # fmt: skip
_LINE = frozenset(
    {"div", "li", "tr", "dt", "dd", "caption", "figcaption", "summary", "legend", "option"}
)
_CELL = frozenset({"td", "th"})
_PRE = frozenset({"pre", "textarea", "listing", "plaintext"})
_SPACES = re.compile(r"\s+")
_FURNITURE = frozenset({"nav", "aside", "footer"})
_FURNITURE_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
_HEADINGS = {f"h{n}": "#" * n + " " for n in range(1, 7)}


class _TextBuilder:
    """Collects text pieces; block boundaries become pending newlines, merged when adjacent."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pending = 0

    def _last_char(self) -> str:
        return self.parts[-1][-1] if self.parts else ""

    def text(self, s: str, pre: bool) -> None:
        if not pre:
            s = _SPACES.sub(" ", s)
            if self.pending or self._last_char() in ("", "\n", " "):
                s = s.lstrip(" ")
        if not s:
            return
        self._flush()
        self.parts.append(s)

    def block(self, newlines: int) -> None:
        self.pending = max(self.pending, newlines)

    def line_break(self) -> None:
        if self.parts:
            self._flush()
            self.parts.append("\n")

    def _flush(self) -> None:
        if self.pending and self.parts:
            self.parts[-1] = self.parts[-1].rstrip(" ")
            self.parts.append("\n" * self.pending)
        self.pending = 0

    def result(self) -> str:
        text = "\n".join(line.rstrip() for line in "".join(self.parts).split("\n"))
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _decode_html(data: bytes, name: str) -> tuple[str, list[str]]:
    """UTF-8 first; if that fails and the page declares another charset, use it."""
    text, warnings = decode_text(data, name)
    if warnings:
        from bs4.dammit import EncodingDetector

        declared = EncodingDetector.find_declared_encoding(data, is_html=True)
        try:
            if declared and codecs.lookup(declared).name != "utf-8":
                return decode_text(data.decode(declared).encode("utf-8"), name)
        except (LookupError, UnicodeDecodeError):
            pass
    return text, warnings


def _render(soup: Any) -> str:
    """Visible text of a parsed page (iterative walk: deep nesting cannot overflow the stack)."""
    from bs4 import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

    invisible = (Comment, Declaration, Doctype, ProcessingInstruction)
    out = _TextBuilder()
    # Stack items: (node, inside <pre>) to visit, or an int: the newlines closing a block,
    # or None: the separator after a table cell.
    stack: list[Any] = [(soup, False)]
    while stack:
        item = stack.pop()
        if item is None:
            out.text(" ", pre=False)
            continue
        if isinstance(item, int):
            out.block(item)
            continue
        if isinstance(item, str):  # the closing fence of a <pre>
            out.text(item, pre=True)
            continue
        node, pre = item
        if isinstance(node, NavigableString):
            if not isinstance(node, invisible):
                out.text(str(node), pre)
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name in _DROPPED or node.has_attr("hidden") or _is_furniture(node):
            continue
        if name == "br":
            out.line_break()
            continue
        breaks = 2 if name in _PARAGRAPH else 1 if name in _LINE else 0
        if breaks:
            out.block(breaks)
            stack.append(breaks)
        elif name in _CELL:
            stack.append(None)
        if name in _HEADINGS and not pre:
            out.text(_HEADINGS[name], pre=True)
        elif name == "pre" and not pre:
            out.text("```\n", pre=True)
            stack.append("\n```")
        inner_pre = pre or name in _PRE
        stack.extend((child, inner_pre) for child in reversed(node.contents))
    return out.result()


def _is_furniture(tag: Any) -> bool:
    """Navigation, page header/footer, sidebars and cookie banners (not the content)."""
    if tag.name in _FURNITURE or tag.get("role") in _FURNITURE_ROLES:
        return True
    classes = tag.get("class") or []
    marks = " ".join([tag.get("id") or "", *classes]).lower()
    return "cookie" in marks


def extract_html(data: bytes, name: str) -> tuple[str, str | None, list[str]]:
    """Visible content of an HTML page, its ``<title>``, and decode warnings.

    Paragraph-level elements are separated by a blank line, ``<div>``/``<li>``/``<tr>`` by a
    newline, ``<pre>`` keeps its whitespace (fenced), headings get ``#`` marks; other
    whitespace collapses to single spaces. Scripts, styles and page furniture are left out.
    """
    from bs4 import BeautifulSoup

    text, warnings = _decode_html(data, name)
    soup = BeautifulSoup(text, "html.parser")
    title = None
    if soup.title is not None:
        title = _SPACES.sub(" ", soup.title.get_text()).strip() or None
    return _render(soup), title, warnings
