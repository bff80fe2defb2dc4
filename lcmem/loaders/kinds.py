"""Which files lcmem reads, and as what: the file kind and, for source code, its language.

Example:
    >>> from pathlib import Path
    >>> file_kind(Path("notes.md")), file_kind(Path("app.py")), file_kind(Path("photo.jpg"))
    ('markdown', 'code', None)
    >>> code_lang(Path("main.rs"))
    'rust'
"""

from __future__ import annotations

from pathlib import PurePath

TEXT_EXTENSIONS = frozenset({".txt", ".text"})
MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd"})
RST_EXTENSIONS = frozenset({".rst", ".rest"})
HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})
PDF_EXTENSIONS = frozenset({".pdf"})

#: Source-code extension -> language name (the names tree-sitter grammars commonly use).
CODE_LANGUAGES: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".scala": "scala",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".swift": "swift",
    ".sh": "bash",
    ".bash": "bash",
    ".zsh": "bash",
    ".lua": "lua",
    ".sql": "sql",
    ".r": "r",
    ".pl": "perl",
    ".pm": "perl",
    ".dart": "dart",
    ".ex": "elixir",
    ".exs": "elixir",
    ".erl": "erlang",
    ".hs": "haskell",
    ".ml": "ocaml",
    ".jl": "julia",
    ".zig": "zig",
    ".css": "css",
    ".scss": "scss",
    ".vue": "vue",
    ".svelte": "svelte",
    ".proto": "proto",
    ".tf": "hcl",
    ".ps1": "powershell",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".json": "json",
    ".ini": "ini",
    ".cfg": "ini",
    ".xml": "xml",
    ".tex": "latex",
}

#: Extension-less file names read as plain text (compared case-insensitively).
TEXT_NAMES = frozenset(
    name.lower()
    for name in (
        "README",
        "LICENSE",
        "LICENCE",
        "COPYING",
        "NOTICE",
        "AUTHORS",
        "CONTRIBUTORS",
        "CONTRIBUTING",
        "CHANGELOG",
        "CHANGES",
        "HISTORY",
        "NEWS",
        "INSTALL",
        "TODO",
        "CODEOWNERS",
        "Makefile",
        "GNUmakefile",
        "Dockerfile",
        "Containerfile",
        "Jenkinsfile",
        "Vagrantfile",
        "Gemfile",
        "Rakefile",
        "Procfile",
    )
)


def file_ext(path: PurePath) -> str:
    """The lower-cased extension with its dot, ``""`` if none (``.bashrc`` has none)."""
    return path.suffix.lower()


def file_kind(path: PurePath) -> str | None:
    """``"text" | "markdown" | "rst" | "html" | "pdf" | "code"``, or ``None`` if unsupported.

    Example:
        >>> file_kind(PurePath("README")), file_kind(PurePath("a/b/Guide.RST"))
        ('text', 'rst')
    """
    ext = file_ext(path)
    if ext in CODE_LANGUAGES:
        return "code"
    if ext in MARKDOWN_EXTENSIONS:
        return "markdown"
    if ext in TEXT_EXTENSIONS:
        return "text"
    if ext in RST_EXTENSIONS:
        return "rst"
    if ext in HTML_EXTENSIONS:
        return "html"
    if ext in PDF_EXTENSIONS:
        return "pdf"
    if not ext and path.name.lower() in TEXT_NAMES:
        return "text"
    return None


def code_lang(path: PurePath) -> str | None:
    """The language of a source file by extension, ``None`` if it is not code."""
    return CODE_LANGUAGES.get(file_ext(path))
