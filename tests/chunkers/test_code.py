"""CodeChunker: syntactic units from Python's ast and tree-sitter grammars, on real code and
on random and adversarial text."""

from __future__ import annotations

import inspect
import json.decoder
import logging
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lcmem.chunkers.code as code_module
from lcmem.chunkers import CodeChunker, RecursiveChunker
from lcmem.chunkers.code_treesitter import GRAMMARS, available_languages
from lcmem.tokens import HFTokenizer, WhitespaceTokenizer
from lcmem.types import Document
from tests.chunkers.checks import check_chunks, check_packed
from tests.extras import needs_mark

CODE = needs_mark("tree_sitter", *sorted({m for m, _ in GRAMMARS.values()}), extra="code")
"""On the tests of tree-sitter languages: without lcmem[code] they are chunked by lines."""

WS = WhitespaceTokenizer()
HF = HFTokenizer.default()


def chunk(src: str, lang: str, size: int = 200, overlap: int = 0, tok=WS, path="<string>"):
    chunker = CodeChunker(size, overlap, tok)
    doc = Document(text=src, path=path, metadata={"kind": "code", "lang": lang})
    return check_chunks(chunker, doc), doc


def by_symbol(chunks):
    """Symbol -> the first chunk that holds it."""
    out = {}
    for c in chunks:
        for s in c.metadata["symbols"]:
            out.setdefault(s, c)
    return out


# -- Python ----------------------------------------------------------------------------------

DECORATED = textwrap.dedent('''\
    """Shapes and their registry."""

    import functools
    from dataclasses import dataclass

    REGISTRY = {}


    # Registers a shape class under its name.
    def register(cls):
        REGISTRY[cls.__name__] = cls
        return cls


    @register
    @dataclass
    class Circle:
        """A circle of radius r."""

        r: float = 1.0
        unit: str = "cm"

        class Meta:
            """Nested options."""

            ordering = ["r"]

            def describe(self):
                return "meta of circle"

        # The area, cached.
        @functools.cached_property
        def area(self) -> float:
            return 3.14159 * self.r * self.r

        async def refresh(self, source):
            self.r = await source.read()
            return self


    def unrelated():
        return None
    ''')


def test_python_units_contexts_and_symbols():
    chunks, _ = chunk(DECORATED, "python", size=30, path="/src/shapes.py")
    found = by_symbol(chunks)
    assert chunks[0].context == "shapes.py"
    assert chunks[0].text.startswith('"""Shapes and their registry."""')
    assert "REGISTRY = {}" in chunks[0].text and "def register" not in chunks[0].text
    assert chunks[0].metadata["symbols"] == [] and "symbol" not in chunks[0].metadata
    # a comment directly above a definition stays with it
    assert found["register"].text.startswith("# Registers a shape class")
    # the class header: decorators, class line, docstring and fields, no methods
    header = found["Circle"]
    assert header.context == "shapes.py > class Circle"
    assert header.text.startswith("@register\n@dataclass\nclass Circle:")
    assert '"""A circle of radius r."""' in header.text and 'unit: str = "cm"' in header.text
    assert "def area" not in header.text and header.metadata["symbol"] == "Circle"
    # a method keeps the comment and decorator above it (here merged with class Meta)
    assert "# The area, cached.\n    @functools.cached_property\n    def area" in (
        found["Circle.area"].text
    )
    assert found["Circle.area"].context == "shapes.py > class Circle"
    assert found["unrelated"].context == "shapes.py > def unrelated"
    # a smaller budget: one chunk per method, nested class split too
    found = by_symbol(chunk(DECORATED, "python", size=12, path="/src/shapes.py")[0])
    area = found["Circle.area"]
    assert area.context == "shapes.py > class Circle > def area"
    assert area.text.startswith("# The area, cached.\n    @functools.cached_property\n")
    assert area.metadata == {"symbols": ["Circle.area"], "symbol": "Circle.area"}
    refresh = found["Circle.refresh"]
    assert refresh.context == "shapes.py > class Circle > async def refresh"
    describe = found["Circle.Meta.describe"]
    assert describe.context == "shapes.py > class Circle > class Meta > def describe"
    assert found["Circle.Meta"].text.startswith("class Meta:")
    # methods never share a chunk with the next top-level function
    assert found["unrelated"].metadata["symbols"] == ["unrelated"]


def test_small_units_merge_up_to_the_budget_but_not_across_a_split_class():
    src = "def a():\n    return 1\n\n\ndef b():\n    return 2\n\n\ndef c():\n    return 3\n"
    chunks, _ = chunk(src, "python", size=10)
    assert [c.metadata["symbols"] for c in chunks] == [["a", "b"], ["c"]]
    assert chunks[0].context == ""  # the common prefix of "def a" and "def b"
    chunks, _ = chunk(DECORATED, "python", size=40)  # class Circle does not fit whole
    assert "Circle" in by_symbol(chunks) and "unrelated" in by_symbol(chunks)
    for c in chunks:
        classes = {s.split(".")[0] for s in c.metadata["symbols"] if "." in s}
        tops = {s for s in c.metadata["symbols"] if "." not in s}
        if classes:  # methods of Circle are never merged with top-level functions
            assert not (tops - classes), c.metadata["symbols"]


def test_a_short_class_header_is_not_merged_with_its_methods():
    # class A does not fit whole: its 5-token header is under the minimum (24 // 4) and would
    # fit with the next chunk, which shares its context "class A"; but the header and the
    # methods are two parts (sections) of the class, so the minimum-size merge keeps them apart
    methods = "".join(f"\n    def m{i}(self):\n        return {i}\n" for i in range(7))
    src = "class A:\n    x = 1\n" + methods
    chunks, _ = chunk(src, "python", size=24)
    assert WS.count(src[chunks[0].start : chunks[1].end]) <= 24
    assert chunks[0].text == "class A:\n    x = 1"
    assert chunks[0].metadata["short"] is True
    assert chunks[1].context == "class A" and chunks[1].text.startswith("def m0")
    assert chunks[0].section != chunks[1].section


def test_short_leftovers_of_one_function_merge_across_contexts():
    # a split function's pieces all belong to its body, whatever their context trail
    body = "".join(f"    x{i} = {i}\n" for i in range(9))
    src = f"def f():\n{body}    def inner():\n        return 1\n    return inner\n"
    chunks, doc = chunk(src, "python", size=24)
    check_packed(CodeChunker(24, 0, WS), doc.text, chunks)
    assert len({c.section for c in chunks}) == 1


def test_whole_class_that_fits_is_one_chunk_with_all_its_symbols():
    src = "class A:\n    x = 1\n\n    def f(self):\n        return 2\n\n    def g(self):\n"
    src += "        return 3\n"
    chunks, _ = chunk(src, "python", size=200)
    assert len(chunks) == 1
    assert chunks[0].context == "class A"
    assert chunks[0].metadata["symbols"] == ["A", "A.f", "A.g"]


def test_python_stdlib_textwrap():
    src = inspect.getsource(textwrap)
    for tok, size in ((WS, 80), (HF, 120)):
        chunks, _ = chunk(src, "python", size=size, tok=tok, path="/lib/textwrap.py")
        found = by_symbol(chunks)
        for name in ("TextWrapper", "TextWrapper._split", "TextWrapper.wrap", "dedent", "fill"):
            assert name in found, name
        wrap = found["TextWrapper._split"]
        assert wrap.context == "textwrap.py > class TextWrapper > def _split"
        assert wrap.text.startswith("def _split(self, text):")
        assert found["TextWrapper"].text.startswith("class TextWrapper:")
        assert all("parse_error" not in c.metadata for c in chunks)


def test_oversize_function_is_split_at_statements():
    src = inspect.getsource(json.decoder)
    chunks, _ = chunk(src, "python", size=60, path="decoder.py")
    parts = [c for c in chunks if c.context == "decoder.py > def py_scanstring"]
    assert len(parts) >= 3
    assert parts[0].text.startswith("def py_scanstring(")
    assert all(c.metadata["symbol"] == "py_scanstring" for c in parts)
    lines = src.splitlines()
    starts = {ln.strip() for ln in lines}
    for c in parts:
        first = c.text.split("\n")[0].strip()
        assert first in starts  # every part begins at the start of a line of the source
        # ...and at a statement: never inside an expression continued from the line above
        assert not first.startswith((")", "]", "}", "+", "and ", "or ")), first
    # the nested blocks of a long loop are split too, but each part is a whole line run
    assert any(c.text.startswith(("if ", "while ", "try:", "#")) for c in parts[1:])


def test_deeply_nested_functions():
    depth = 120
    src = "".join("    " * i + f"def f{i}(x):\n" for i in range(depth))
    src += "    " * depth + "return x\n"
    chunks, doc = chunk(src, "python", size=20)
    if "parse_error" in chunks[0].metadata:  # too deep for the parser: chunked by lines
        assert doc.warnings
    else:
        assert chunks[0].metadata["symbol"] == "f0"
    shallow = "".join("    " * i + f"def f{i}(x):\n" for i in range(30)) + "    " * 30 + "pass\n"
    chunks, _ = chunk(shallow, "python", size=6)
    # f28 (with f29 inside) fits whole: 5 tokens
    assert chunks[-1].text.startswith("def f28(x):") and "def f29(x):" in chunks[-1].text
    assert chunks[-1].context.endswith("def f27 > def f28")
    assert chunks[-1].metadata["symbol"] == ".".join(f"f{i}" for i in range(29))


def test_non_ascii_python_and_crlf_and_tabs():
    src = (
        "# -*- coding: utf-8 -*-\r\nΑΒΓ = 'αβγ 🦛'\r\n\r\n\r\n"
        "def ünïcode(ß):\r\n\t# emoji 👩‍👩‍👧 in a comment\r\n\treturn ß * 2\r\n\r\n\r\n"
        "class Ωmega:\r\n\tdef 方法(self):\r\n\t\treturn '你好'\r\n"
    )
    chunks, _ = chunk(src, "python", size=5)
    found = by_symbol(chunks)
    assert found["ünïcode"].text.startswith("def ünïcode(ß):")
    assert found["Ωmega.方法"].context == "class Ωmega > def 方法"
    assert found["Ωmega.方法"].text.startswith("def 方法(self):")


def test_syntax_error_falls_back_to_lines_with_a_warning():
    src = "def ok():\n    return 1\n\n\ndef broken(:\n    pass\n" + "x = 1\n" * 30
    chunks, doc = chunk(src, "python", size=10)
    assert chunks and all(c.metadata["parse_error"].startswith("SyntaxError") for c in chunks)
    assert all(c.metadata["symbols"] == [] for c in chunks)
    assert len(doc.warnings) == 1  # chunked twice by check_chunks, warned once
    assert "did not parse" in doc.warnings[0] and "line 5" in doc.warnings[0]
    null, doc = chunk("x = 1\0\n", "python")
    assert null[0].metadata["parse_error"] and doc.warnings


def test_template_file_that_does_not_parse():
    src = "{% for item in items %}\ndef {{ item.name }}():\n    return {{ item.value }}\n"
    src += "{% endfor %}\n"
    chunks, doc = chunk(src, "python", size=8)
    assert all("parse_error" in c.metadata for c in chunks) and doc.warnings
    assert "".join("".join(c.text.split()) for c in chunks) == "".join(src.split())


# -- tree-sitter languages ------------------------------------------------------------------

SNIPPETS = {
    "javascript": (
        textwrap.dedent("""\
        import fs from "fs";

        // Parser reads tokens.
        class Parser extends Base {
          /** Feed a chunk of text. */
          feed(chunk) {
            this.buf += chunk;
            return this;
          }

          close() {
            return this.buf.trim();
          }
        }

        export function main(argv) {
          const p = new Parser();
          return p.feed(argv[0]).close();
        }

        const helper = (x) => {
          return x * 2;
        };
        """),
        {
            "Parser.feed": ("class Parser > method feed", "/** Feed a chunk of text. */"),
            "main": ("function main", "export function main(argv)"),
            "helper": ("function helper", "const helper = (x) =>"),
            "Parser": ("class Parser", "// Parser reads tokens.\nclass Parser extends Base {"),
        },
    ),
    "typescript": (
        textwrap.dedent("""\
        interface Shape {
          area(): number;
          name: string;
        }

        @sealed
        export class Circle implements Shape {
          name = "circle";
          constructor(private r: number) {}

          area(): number {
            return Math.PI * this.r ** 2;
          }
        }

        namespace Geo {
          export function dist(a: number, b: number): number {
            return Math.abs(a - b);
          }
        }
        """),
        {
            "Circle": ("class Circle", "@sealed\nexport class Circle implements Shape {"),
            "Circle.area": ("class Circle > method area", "area(): number {"),
            "Geo.dist": ("namespace Geo > function dist", "export function dist("),
        },
    ),
    "go": (
        textwrap.dedent("""\
        package main

        import "fmt"

        // Buffer holds bytes.
        type Buffer struct {
        \tdata []byte
        \tsize int
        }

        // Write appends p.
        func (b *Buffer) Write(p []byte) int {
        \tb.data = append(b.data, p...)
        \treturn len(p)
        }

        func main() {
        \tb := &Buffer{}
        \tfmt.Println(b.Write([]byte("hi")))
        }
        """),
        {
            "Buffer": ("type Buffer", "// Buffer holds bytes.\ntype Buffer struct {"),
            "Buffer.Write": ("method Buffer.Write", "// Write appends p.\nfunc (b *Buffer)"),
            "main": ("func main", "func main() {"),
        },
    ),
    "rust": (
        textwrap.dedent("""\
        use std::fmt;

        /// A point.
        #[derive(Debug)]
        struct Point {
            x: i32,
            y: i32,
        }

        impl Point {
            /// Make one.
            fn new(x: i32, y: i32) -> Self {
                Point { x, y }
            }
        }

        impl fmt::Display for Point {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "({}, {})", self.x, self.y)
            }
        }
        """),
        {
            "Point": ("struct Point", "/// A point.\n#[derive(Debug)]\nstruct Point {"),
            "Point::new": ("impl Point > fn new", "/// Make one.\n    fn new("),
            "Point::fmt": ("impl fmt::Display for Point > fn fmt", "fn fmt(&self"),
        },
    ),
    "java": (
        textwrap.dedent("""\
        package a;

        import java.util.List;

        /** A stack. */
        public class Stack<T> {
            private final List<T> items;

            /** Push one. */
            @Override
            public void push(T item) {
                items.add(item);
            }

            public T pop() {
                return items.remove(items.size() - 1);
            }
        }
        """),
        {
            "Stack": ("class Stack", "/** A stack. */\npublic class Stack<T> {"),
            "Stack.push": ("class Stack > method push", "/** Push one. */\n    @Override"),
            "Stack.pop": ("class Stack > method pop", "public T pop() {"),
        },
    ),
    "c": (
        textwrap.dedent("""\
        #include <stdio.h>

        /* A node of the list. */
        struct node {
            int value;
            struct node *next;
        };

        typedef struct { int x; int y; } pair;

        static int *find(struct node *n, int v) {
            while (n) {
                if (n->value == v) return &n->value;
                n = n->next;
            }
            return NULL;
        }
        """),
        {
            "node": ("struct node", "/* A node of the list. */\nstruct node {"),
            "pair": ("struct pair", "typedef struct"),
            "find": ("function find", "static int *find("),
        },
    ),
    "cpp": (
        textwrap.dedent("""\
        #include <vector>

        namespace geo {

        // A shape.
        class Shape {
         public:
          double area() const {
            return width * height;
          }
          double width, height;
        };

        template <typename T>
        T twice(T x) {
          return x * 2;
        }

        }  // namespace geo
        """),
        {
            "geo::Shape": ("namespace geo > class Shape", "// A shape.\nclass Shape {"),
            "geo::Shape::area": ("namespace geo > class Shape", "double area()"),
            "geo::twice": ("namespace geo > function twice", "template <typename T>\nT twice"),
        },
    ),
}


@CODE
def test_every_issue_language_has_a_grammar_installed():
    assert {"javascript", "typescript", "go", "rust", "java", "c", "cpp"} <= set(
        available_languages()
    )
    assert set(available_languages()) == set(GRAMMARS)


@CODE
@pytest.mark.parametrize("lang", SNIPPETS)
def test_tree_sitter_snippets(lang):
    src, expected = SNIPPETS[lang]
    chunks, doc = chunk(src, lang, size=14)
    assert not doc.warnings
    found = by_symbol(chunks)
    for symbol, (context, start) in expected.items():
        assert symbol in found, (symbol, sorted(found))
        c = found[symbol]
        assert c.context.startswith(context), (symbol, c.context)
        assert c.text.startswith(start), (symbol, c.text)
    assert all("parse_error" not in c.metadata for c in chunks)
    check_chunks(CodeChunker(40, 4, HF), Document(text=src, metadata={"lang": lang}))


@CODE
def test_tree_sitter_byte_offsets_become_character_offsets():
    src = (
        "// ünïcödé 🦛 and 你好 before anything\nconst s = 'ß🦛';\n\n"
        "function 名前(x) {\n  return '👩‍👩‍👧' + x;\n}\n\n"
        "class Ωmega {\n  m() { return 'é'; }\n}\n"
    )
    chunks, _ = chunk(src, "javascript", size=6)
    found = by_symbol(chunks)
    assert found["名前"].text.startswith("function 名前(x) {")
    assert found["Ωmega"].text.startswith("class Ωmega {")
    go = "package p\n\n// 🦛🦛🦛 héllo\nfunc Größe() int {\n\treturn 1\n}\n"
    chunks, _ = chunk(go, "go", size=10)
    assert by_symbol(chunks)["Größe"].text.startswith("// 🦛🦛🦛 héllo\nfunc Größe() int {")


@CODE
def test_oversize_tree_sitter_function_is_split_at_statements():
    body = "".join(f"  const v{i} = compute({i}, 'x');\n" for i in range(40))
    src = f"function big(a) {{\n{body}  if (a) {{\n{body}  }}\n  return a;\n}}\n"
    chunks, _ = chunk(src, "javascript", size=30)
    assert len(chunks) > 5
    assert all(c.context == "function big" and c.metadata["symbol"] == "big" for c in chunks)
    assert chunks[0].text.startswith("function big(a) {")
    for c in chunks:
        assert c.text.startswith(("function", "const", "if", "return", "}")), c.text[:30]


def test_minified_javascript_one_huge_line():
    src = "var a=function(){return 1},b=function(n){for(var i=0;i<n;i++){a()}};" * 400
    chunks, _ = chunk(src, "javascript", size=50, tok=HF)
    assert len(chunks) > 10
    assert all(c.token_count <= 50 for c in chunks)


@CODE
def test_mostly_broken_tree_sitter_input_falls_back_with_a_warning():
    template = "{% for x in xs %}\nint {{ x }}() {\n  return {{ x.v }};\n}\n{% endfor %}\n" * 3
    prose = "This is just some prose. It isn't code, really; it has words.\nAnd more.\n" * 5
    for src, lang in ((template, "c"), (prose, "javascript")):
        chunks, doc = chunk(src, lang, size=10)
        assert chunks and all("syntax errors cover" in c.metadata["parse_error"] for c in chunks)
        assert len(doc.warnings) == 1 and f"{lang} code did not parse" in doc.warnings[0]
    # a small error inside a good file keeps the syntactic chunks
    good = SNIPPETS["javascript"][0] + "\nfunction oops( {\n"
    chunks, doc = chunk(good, "javascript", size=14)
    assert not doc.warnings and "Parser.feed" in by_symbol(chunks)


def test_missing_grammar_falls_back_with_one_notice(caplog):
    code_module._warned.discard("kotlin")
    src = "fun main() {\n    println(1)\n}\n\n\nfun other() {\n    println(2)\n}\n"
    chunker = CodeChunker(6, 0, WS)
    doc = Document(text=src, metadata={"lang": "kotlin"})
    with caplog.at_level(logging.WARNING, logger="lcmem.chunkers.code"):
        got = check_chunks(chunker, doc)
        check_chunks(chunker, Document(text=src, metadata={"lang": "kotlin"}))
    notices = [r for r in caplog.records if "kotlin" in r.getMessage()]
    assert len(notices) == 1
    expected = RecursiveChunker.for_code(6, 0, WS).chunk(doc)
    assert [(c.start, c.end) for c in got] == [(c.start, c.end) for c in expected]


def test_language_from_argument_path_or_metadata():
    src = "func main() {\n\tprintln(1)\n}\n"
    assert CodeChunker(language="golang").language_of(Document(text=src)) == "go"
    assert CodeChunker().language_of(Document(text=src, path="/x/main.go")) == "go"
    assert CodeChunker().language_of(Document(text=src, metadata={"lang": "ts"})) == "typescript"
    cfg = CodeChunker(50, 0, WS, language="go").config()
    assert cfg["name"] == "code" and cfg["language"] == "go" and cfg["tokenizer"] == "whitespace"


@CODE
def test_go_chunks_carry_their_symbol():
    src = "func main() {\n\tprintln(1)\n}\n"
    chunks = CodeChunker(50, 0, WS, language="go").chunk(src)
    assert chunks[0].metadata["symbol"] == "main"


# -- properties on random and adversarial code --------------------------------------------

PY_LINES = [
    "x = 1",
    "import os",
    "# comment with emoji 🎉",
    "@decorator",
    "@decorator(arg=[1, 2])",
    "def f(a, b=2):",
    "async def g():",
    "class K(Base):",
    "return a",
    "if a:",
    "else:",
    "for i in range(3):",
    "try:",
    "except ValueError as e:",
    "finally:",
    "with open(p) as fh:",
    "'''docstring'''",
    "s = 'straße 你好'",
    "ünï = ß = 0",
    "pass",
    "",
    "y = (1,",
    "     2)",
    "\tz = 3",
    "match v:",
    "case 1:",
    "lambda: (yield)",
]


@st.composite
def python_like(draw):
    """Lines of Python at random indents: sometimes valid, often not."""
    lines = draw(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(PY_LINES)), max_size=60))
    return "\n".join("    " * depth + line for depth, line in lines) + draw(
        st.sampled_from(["", "\n", "\n\n"])
    )


@st.composite
def valid_python(draw, depth=0):
    """A syntactically valid module of nested classes, functions and statements."""
    out = []
    for _ in range(draw(st.integers(1, 5 if depth < 3 else 2))):
        kind = draw(st.sampled_from(["stmt", "def", "class", "comment"] if depth < 4 else ["stmt"]))
        pad = "    " * depth
        if kind == "stmt":
            out.append(pad + draw(st.sampled_from(["x = 1", "y = 'é🦛'", "pass", "print(x)"])))
        elif kind == "comment":
            out.append(
                pad
                + "# "
                + draw(
                    st.text(
                        st.characters(blacklist_categories=["Cc", "Cs", "Zl", "Zp"]), max_size=10
                    )
                )
            )
        else:
            if draw(st.booleans()):
                out.append(pad + "@deco")
            head = "def f(a):" if kind == "def" else "class C:"
            out.append(pad + head)
            out.append(draw(valid_python(depth + 1)))
        if draw(st.booleans()):
            out.append("")
    return "\n".join(out)


JS_PARTS = [
    "function f(a) {",
    "class A extends B {",
    "m(x) {",
    "return x;",
    "}",
    "{",
    "const g = (y) => {",
    "// comment 🦛",
    "/* block */",
    "let s = 'ünï 你好';",
    "if (a) {",
    "} else {",
    "export default class {",
    "@decorator",
    "`template ${x}`",
    "",
]

TOKS = {"whitespace": WS, "hf": HF}
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("tok", TOKS)
@SETTINGS
@given(src=st.one_of(python_like(), valid_python()), size=st.integers(1, 60))
def test_python_properties(tok, src, size):
    chunker = CodeChunker(size, size // 5, TOKS[tok], language="python")
    check_chunks(chunker, Document(text=src))


@SETTINGS
@given(src=valid_python(), size=st.integers(1, 60))
def test_python_chunks_of_one_section_never_fit_together(src, size):
    # a whitespace-additive tokenizer: the counts of neighbours add up, so packing is exact
    # (code that does not parse is chunked by lines, where only short chunks merge)
    chunker = CodeChunker(size, 0, WS, language="python")
    chunks = check_chunks(chunker, Document(text=src))
    if not any("parse_error" in c.metadata for c in chunks):
        check_packed(chunker, src, chunks)


@CODE
@SETTINGS
@given(
    lines=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(JS_PARTS)), max_size=50),
    size=st.integers(1, 60),
    lang=st.sampled_from(sorted(GRAMMARS)),
)
def test_tree_sitter_chunks_of_one_section_never_fit_together(lines, size, lang):
    src = "\n".join("  " * d + part for d, part in lines)
    chunker = CodeChunker(size, 0, WS, language=lang)
    chunks = check_chunks(chunker, Document(text=src))
    if not any("parse_error" in c.metadata for c in chunks):
        check_packed(chunker, src, chunks)


@pytest.mark.parametrize("tok", TOKS)
@SETTINGS
@given(
    lines=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(JS_PARTS)), max_size=50),
    size=st.integers(1, 60),
    lang=st.sampled_from(sorted(GRAMMARS)),
)
def test_tree_sitter_properties(tok, lines, size, lang):
    src = "\n".join("  " * d + part for d, part in lines)
    chunker = CodeChunker(size, size // 5, TOKS[tok], language=lang)
    check_chunks(chunker, Document(text=src))


@SETTINGS
@given(data=st.binary(max_size=300), lang=st.sampled_from(["python", "javascript", "c"]))
def test_random_bytes_decoded(data, lang):
    text = data.decode("utf-8", "replace")
    check_chunks(CodeChunker(8, 2, WS, language=lang), Document(text=text))


@pytest.mark.parametrize("lang", ["python", *sorted(GRAMMARS)])
@pytest.mark.parametrize(
    "src",
    [
        "((((((((((" * 50,
        "}" * 300 + "{" * 300,
        "\t\t\t\n" * 200,
        "é" * 5000,
        "def f():\n" + "    x = 1\n" * 500,
    ],
    ids=["open-parens", "unbalanced-braces", "tabs", "one-long-word", "long-body"],
)
def test_adversarial_code(lang, src):
    chunks = check_chunks(CodeChunker(32, 4, HF, language=lang), Document(text=src))
    assert bool(chunks) == bool(src.strip())


# -- end to end ------------------------------------------------------------------------------


@pytest.mark.slow
def test_library_reports_parse_warnings_and_filters_by_symbol(tmp_path):
    import lcmem

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "shapes.py").write_text(DECORATED)
    (docs / "broken.py").write_text("def broken(:\n    pass\n")
    lib = lcmem.open(tmp_path / "store", chunker="auto", chunk_size=40)
    try:
        report = lib.index([docs])
        assert any(
            path.endswith("broken.py") and "did not parse" in msg for path, msg in report.warnings
        )
        assert not report.errors
        hits = lib.search("area of a circle", k=5, mode="bm25", where={"symbol": "Circle.area"})
        assert hits and all(h.chunk.metadata["symbol"] == "Circle.area" for h in hits)
        assert hits[0].chunk.context == "shapes.py > class Circle > def area"
    finally:
        lib.close()


class _PrefixTokenizer(WhitespaceTokenizer):
    """A test double whose counts are not additive: every text costs one extra token (like
    a tokenizer that adds a start marker), so estimates from whole-text offsets run low."""

    name = "prefix"

    def count(self, text: str) -> int:
        n = super().count(text)
        return n + 1 if n else 0


def test_chunks_are_recounted_with_the_real_tokenizer():
    src = inspect.getsource(textwrap)
    chunker = CodeChunker(40, 0, _PrefixTokenizer(), language="python")
    chunks = check_chunks(chunker, Document(text=src))
    assert all(c.token_count <= 40 for c in chunks)
    assert by_symbol(chunks)["TextWrapper._split"].context == "class TextWrapper > def _split"
