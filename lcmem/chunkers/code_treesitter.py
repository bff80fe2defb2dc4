"""Tree-sitter side of the code chunker: grammars from PyPI, members, definitions, names.

Grammars come from the PyPI packages ``tree-sitter-javascript``, ``tree-sitter-typescript``,
``tree-sitter-go``, ``tree-sitter-rust``, ``tree-sitter-java``, ``tree-sitter-c`` and
``tree-sitter-cpp`` (with ``tree-sitter`` itself); they are imported on first use and a missing
one makes :func:`parse` return ``None`` (the chunker then falls back). Nothing is downloaded.

A node's members are found the same way for every language: its named children (comments
aside) that begin a line; a child that does not begin a line but spans several lines (a
function's ``{ ... }`` body, an ``else`` clause) is looked into for members of its own. What
counts as a definition, and its name, comes from a small table per language.

Example:
    >>> parsed = parse("function f() {\\n  return 1;\\n}\\n", "javascript")
    >>> syntax, root, error = parsed
    >>> [(m.cut, m.defn.word, m.defn.name) for m in syntax.members(root)]
    [(0, 'function', 'f')]
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from lcmem.chunkers.code_syntax import Definition, Lines, Member, Syntax

__all__ = ["GRAMMARS", "available_languages", "parse"]

GRAMMARS: dict[str, tuple[str, str]] = {
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}
"""Language name -> (module, function returning the grammar)."""

_ERROR_SHARE = 0.5
"""A tree whose top-level ERROR nodes cover more than this share of the text did not parse."""

_C_COMMENTS = ("//", "/*", "*", "@")

# node type -> (word, container); "function" becomes "method" inside a class.
_JS_DEFS = {
    "class_declaration": ("class", True),
    "abstract_class_declaration": ("class", True),
    "class": ("class", True),
    "interface_declaration": ("interface", True),
    "enum_declaration": ("enum", True),
    "internal_module": ("namespace", True),
    "module": ("namespace", True),
    "function_declaration": ("function", False),
    "generator_function_declaration": ("function", False),
    "function_signature": ("function", False),
    "method_definition": ("method", False),
    "method_signature": ("method", False),
    "abstract_method_signature": ("method", False),
    "type_alias_declaration": ("type", False),
}
_DEFS: dict[str, dict[str, tuple[str, bool]]] = {
    "javascript": _JS_DEFS,
    "typescript": _JS_DEFS,
    "tsx": _JS_DEFS,
    "go": {
        "function_declaration": ("func", False),
        "method_declaration": ("method", False),
        "type_declaration": ("type", True),
    },
    "rust": {
        "function_item": ("fn", False),
        "function_signature_item": ("fn", False),
        "impl_item": ("impl", True),
        "trait_item": ("trait", True),
        "struct_item": ("struct", True),
        "enum_item": ("enum", True),
        "union_item": ("union", True),
        "mod_item": ("mod", True),
        "macro_definition": ("macro", False),
    },
    "java": {
        "class_declaration": ("class", True),
        "interface_declaration": ("interface", True),
        "enum_declaration": ("enum", True),
        "record_declaration": ("record", True),
        "annotation_type_declaration": ("@interface", True),
        "method_declaration": ("method", False),
        "constructor_declaration": ("constructor", False),
        "compact_constructor_declaration": ("constructor", False),
    },
    "c": {
        "function_definition": ("function", False),
        "struct_specifier": ("struct", True),
        "union_specifier": ("union", True),
        "enum_specifier": ("enum", True),
    },
}
_DEFS["cpp"] = {
    **_DEFS["c"],
    "class_specifier": ("class", True),
    "namespace_definition": ("namespace", True),
}
_NOT_CLASSES = {"namespace", "mod"}  # containers whose functions are not methods
_WRAPPERS = {
    # nodes that wrap a definition: export, declare, template<...>, typedef struct {...} X;
    "export_statement",
    "ambient_declaration",
    "template_declaration",
    "declaration",
    "type_definition",
    "lexical_declaration",
    "variable_declaration",
}
_FUNCTION_VALUES = {"arrow_function", "function_expression", "function", "generator_function"}
_NEEDS_BODY = {"struct_specifier", "union_specifier", "enum_specifier", "class_specifier"}
_SPACES = re.compile(r"\s+")


@cache
def _language(lang: str) -> Any:
    """The tree-sitter Language for ``lang``, or ``None`` if its grammar is not installed."""
    spec = GRAMMARS.get(lang)
    if spec is None:
        return None
    try:
        import importlib

        import tree_sitter

        module = importlib.import_module(spec[0])
        return tree_sitter.Language(getattr(module, spec[1])())
    except (ImportError, AttributeError, ValueError, TypeError):
        return None


def available_languages() -> list[str]:
    """Languages whose grammar is installed.

    Example:
        >>> set(available_languages()) <= set(GRAMMARS)
        True
    """
    return [lang for lang in GRAMMARS if _language(lang) is not None]


def parse(text: str, lang: str) -> tuple[TreeSitterSyntax, Any, str | None] | None:
    """``(syntax, root node, parse error or None)``, or ``None`` if no grammar for ``lang``."""
    language = _language(lang)
    if language is None:
        return None
    import tree_sitter

    data = text.encode("utf-8", "surrogatepass")
    tree = tree_sitter.Parser(language).parse(data)
    root = tree.root_node
    syntax = TreeSitterSyntax(text, lang)
    error = None
    if root.has_error:
        bad = _bad_bytes(root, 0)
        if bad > _ERROR_SHARE * max(1, len(data)):
            error = f"tree-sitter {lang}: syntax errors cover {100 * bad // len(data)}% of it"
    return syntax, root, error


def _bad_bytes(node: Any, depth: int) -> int:
    """Bytes of ``node`` in error: an ERROR node counts in full, less the well-formed
    multi-line units it holds (tree-sitter often wraps a whole region, functions and all, in
    one ERROR node because of one macro trick) and less what is fine inside its children;
    other nodes count the errors inside them. Looks 4 levels deep, no more."""
    if not node.has_error:
        return 0
    size = node.end_byte - node.start_byte
    if depth >= 4:
        return size if node.type == "ERROR" else 0
    flawed = [c for c in node.children if c.has_error]
    inner = sum(_bad_bytes(c, depth + 1) for c in flawed)
    if node.type != "ERROR":
        return inner
    good = sum(
        c.end_byte - c.start_byte
        for c in node.named_children
        if not c.has_error and c.end_point[0] > c.start_point[0]
    )
    return max(0, size - good - sum(c.end_byte - c.start_byte for c in flawed) + inner)


class TreeSitterSyntax(Syntax):
    """:class:`Syntax` over a tree-sitter tree; converts UTF-8 byte positions to characters."""

    def __init__(self, text: str, lang: str) -> None:
        self.text = text
        self.lang = lang
        self.defs = _DEFS[lang]
        self.sep = "::" if lang in ("rust", "cpp") else "."
        prefixes = _C_COMMENTS + (("#[", "#![") if lang == "rust" else ())
        self.lines = Lines(text, re.compile(r"\n"), prefixes)
        self._ascii = text.isascii()

    # -- positions --------------------------------------------------------------------------

    def _col(self, row: int, col: int) -> int:
        """Character column of byte column ``col`` on line ``row``."""
        if self._ascii or col == 0:
            return col
        start = self.lines.start_of(row)
        line = self.text[start : start + col]  # at least ``col`` bytes' worth of characters
        if line.isascii():
            return col
        return len(line.encode("utf-8", "surrogatepass")[:col].decode("utf-8", "ignore"))

    def _begins_line(self, node: Any) -> bool:
        row, col = node.start_point
        if col == 0:
            return True
        start = self.lines.start_of(row)
        return not self.text[start : start + self._col(row, col)].strip()

    # -- members ----------------------------------------------------------------------------

    def members(self, node: Any) -> list[Member]:
        defn, inner = self._resolve(node)
        if defn is not None:
            # A definition's members are those of its body: decorators, modifiers, template
            # parameters and the signature stay in its header.
            body = inner.child_by_field_name("body")
            if body is not None:
                node = body
        out: list[Member] = []
        todo = list(reversed(node.named_children))
        while todo:
            c = todo.pop()
            if "comment" in c.type:
                continue
            if self._begins_line(c):
                row = c.start_point[0]
                out.append(Member(self.lines.widen(row), c, self._resolve(c)[0]))
            elif c.end_point[0] > c.start_point[0]:
                todo += reversed(c.named_children)  # look inside a multi-line inline child
        return out

    def _resolve(self, node: Any) -> tuple[Definition | None, Any]:
        """What ``node`` defines (or ``None``), and the node holding that definition's body
        (``node`` itself, or the declaration an ``export``/``template``/``const`` wraps)."""
        kind = self.defs.get(node.type)
        if kind is None:
            return self._wrapped(node)
        word, container = kind
        if node.type in _NEEDS_BODY and node.child_by_field_name("body") is None:
            return None, node  # a use of the type (``struct node *n``), not its definition
        name = self._name(node)
        if node.type == "impl_item":
            trait = node.child_by_field_name("trait")
            if trait is not None:
                word = f"impl {_clean(trait.text)} for"
        if node.type == "method_declaration" and self.lang == "go":
            receiver = _go_receiver(node)
            if receiver:
                name = f"{receiver}.{name}"
        defn = Definition(word, name or "<anonymous>", container, word not in _NOT_CLASSES)
        return defn, node

    def _wrapped(self, node: Any) -> tuple[Definition | None, Any]:
        """The definition inside an ``export``/``template``/``typedef``/``const f = () =>``."""
        if node.type not in _WRAPPERS:
            return None, node
        if node.type in ("lexical_declaration", "variable_declaration"):
            declarators = [c for c in node.named_children if c.type == "variable_declarator"]
            if len(declarators) != 1:
                return None, node
            value = declarators[0].child_by_field_name("value")
            if value is None or value.type not in (*_FUNCTION_VALUES, "class"):
                return None, node
            name = self._name(declarators[0]) or "<anonymous>"
            if value.type == "class":
                return Definition("class", name, True), value
            return Definition("function", name), value
        inner = node.child_by_field_name("declaration")
        candidates = [inner] if inner is not None else node.named_children
        for c in candidates:
            if c.type in self.defs or c.type in _WRAPPERS:
                found, holder = self._resolve(c)
                if found is not None:
                    if node.type == "type_definition" and found.name == "<anonymous>":
                        alias = node.child_by_field_name("declarator")
                        if alias is not None:
                            found = Definition(found.word, _clean(alias.text), found.container)
                    return found, holder
        return None, node

    def _name(self, node: Any) -> str:
        name = node.child_by_field_name("name")
        if name is not None:
            return _clean(name.text)
        if node.type == "impl_item":
            typ = node.child_by_field_name("type")
            return _clean(typ.text) if typ is not None else ""
        if node.type == "type_declaration":
            specs = [c for c in node.named_children if c.type in ("type_spec", "type_alias")]
            return ", ".join(self._name(s) for s in specs)
        declarator = node.child_by_field_name("declarator")
        depth = 0
        while declarator is not None and depth < 20:  # C: int *(*f)(int) and friends
            if declarator.type in (
                "identifier",
                "field_identifier",
                "qualified_identifier",
                "destructor_name",
                "operator_name",
                "type_identifier",
            ):
                return _clean(declarator.text)
            nxt = declarator.child_by_field_name("declarator")
            if nxt is None:
                named = [c for c in declarator.named_children if "identifier" in c.type]
                nxt = named[0] if named else None
            declarator = nxt
            depth += 1
        return ""


def _go_receiver(node: Any) -> str:
    receiver = node.child_by_field_name("receiver")
    if receiver is None:
        return ""
    for param in receiver.named_children:
        typ = param.child_by_field_name("type")
        if typ is not None:
            return _clean(typ.text).lstrip("*")
    return ""


def _clean(raw: bytes | None) -> str:
    """A node's text as a short one-line name."""
    if not raw:
        return ""
    name = _SPACES.sub(" ", raw.decode("utf-8", "replace")).strip()
    return name if len(name) <= 80 else name[:77] + "..."
