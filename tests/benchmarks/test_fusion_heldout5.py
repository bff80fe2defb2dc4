"""The round-5 held-out fusion generators' pure-Python pieces (no model is loaded)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.fusion_heldout5 import CODE_NZ_BYTES, _renamed, code_queries, nz_modules
from benchmarks.fusion_tasks import Corpus, Query, split_of


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
