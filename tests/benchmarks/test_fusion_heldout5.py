"""The round-5 held-out fusion generators' pure-Python pieces (no model is loaded)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from benchmarks.fusion_heldout5 import (
    CODE_NZ_BYTES,
    PARA2_MAX_CHARS,
    PHRASES,
    WORDS,
    _renamed,
    code_queries,
    nz_modules,
    package_doc,
    para2_corpus,
    reword,
)
from benchmarks.fusion_tasks import Corpus, Query, _analyzer, split_of


def test_renamed_changes_task_and_qid_prefix_only():
    c = Corpus("passkey16384", {"doc000.txt": "x"})
    c.queries.append(Query("passkey:doc000.txt:Ann Vo", "passkey", "dev", "What is?", "doc000.txt"))
    out = _renamed(c, "passkey", "passkey16")
    q = out.queries[0]
    assert (out.name, q.task, q.qid) == ("passkey16", "passkey16", "passkey16:doc000.txt:Ann Vo")
    assert (q.split, q.text, q.doc) == ("dev", "What is?", "doc000.txt")


def test_nz_modules_are_n_to_z_deterministic_and_under_the_size_cap():
    a, b = nz_modules(), nz_modules()
    assert a == b and len(a) >= 8
    assert all("n" <= p.name[0] <= "z" for p in a)
    assert sum(p.stat().st_size for p in a) <= CODE_NZ_BYTES


def test_code_queries_strip_docstrings_and_point_at_the_function(tmp_path: Path):
    src = (
        "import os\n\n\n"
        "def alpha(x):\n"
        '    """Return the square of the given number quickly."""\n'
        "    return x * x\n\n\n"
        "def beta():\n"
        '    """Short."""\n'
        "    return 1\n\n\n"
        "def gamma():\n"
        '    """Return the square of the given number quickly."""\n'
        "    return 2\n\n\n"
        "def delta(path):\n"
        '    """Open the named file and read every line of it.\n\n    More text.\n    """\n'
        "    return open(path).readlines()\n"
    )
    f = tmp_path / "sample.py"
    f.write_text(src)
    c = code_queries(Corpus("code_nz"), [f], "code_nz")
    text = c.docs["sample.py"]
    assert '"""' not in text and "def alpha(x):" in text
    # 'Short.' is under 4 words; alpha's and gamma's sentence is shared, so dropped
    assert [q.text for q in c.queries] == ["Open the named file and read every line of it."]
    q = c.queries[0]
    assert text[q.span[0] : q.span[1]].startswith("def delta(path):")
    assert "readlines()" in text[q.span[0] : q.span[1]]
    key = q.qid.removeprefix("code_nz:")  # line numbers of the stripped file
    assert key.startswith("sample.py:") and key.endswith(":delta")
    assert q.task == "code_nz" and q.split == split_of(key)


def test_reword_rewrites_phrases_first_then_words_and_counts_unmapped():
    assert reword("tools for reading manual pages") == (
        "helpers for loading reference handbook entries",
        0,
    )
    # "foo" has no entry: dropped and counted; "GNU" maps to nothing
    assert reword("GNU compression utilities (foo)") == ("squeezing helpers", 1)
    assert reword("X11 extension protocols and auxiliary headers")[0].startswith(
        "graphical-desktop add-on wire formats and"
    )


def test_every_map_entry_rewords_instead_of_copying():
    analyze = _analyzer()
    for table in (PHRASES, WORDS):
        for key, value in table.items():
            assert not set(analyze(key)) & set(analyze(value)), (key, value)


def test_package_doc_reads_prose_files_in_order_and_cuts(tmp_path: Path):
    pkg = tmp_path / "demo"
    (pkg / "examples").mkdir(parents=True)
    (pkg / "notes.txt").write_text("Later notes about the tool.")
    (pkg / "README.md").write_text("First the readme.")
    (pkg / "examples" / "README").write_text("Then the nested readme.")
    (pkg / "data.txt").write_text("0x01 0x02 0x03 0x04 0x05 ; 1,2,3,4,5,6,7,8,9")  # not prose
    (pkg / "changelog.gz").write_bytes(gzip.compress(b"Not a documentation file."))
    (pkg / "FAQ.gz").write_bytes(gzip.compress(b"A compressed FAQ."))
    text = package_doc("demo", root=tmp_path)
    assert text.split("\n\n") == [
        "First the readme.",
        "A compressed FAQ.",
        "Then the nested readme.",
        "Later notes about the tool.",
    ]
    (pkg / "zz.txt").write_text("word " * 3000)
    assert len(package_doc("demo", root=tmp_path)) <= PARA2_MAX_CHARS
    assert package_doc("missing", root=tmp_path) == ""


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian system")
def test_para2_queries_share_at_most_one_term_with_their_target_and_are_deterministic():
    analyze = _analyzer()
    a, b = para2_corpus(), para2_corpus()
    assert [(q.qid, q.split, q.text) for q in a.queries] == [
        (q.qid, q.split, q.text) for q in b.queries
    ]
    assert len(a.queries) >= 60 and {q.split for q in a.queries} == {"dev", "test"}
    for q in a.queries:
        shared = set(analyze(q.text)) & set(analyze(a.docs[q.doc]))
        family = q.qid.split(":")[1]
        assert len(shared) == {"zero": 0, "low": 1}[family], (q.qid, shared)
        assert q.split == split_of("para2:" + q.doc.removesuffix(".txt"))
    assert len({q.text for q in a.queries}) == len(a.queries)
