"""`lcmem ask`: output shapes with a scripted model, errors as one line and a non-zero exit."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

import lcmem
from lcmem.cli import REPLACED_NOTE, cli, main
from lcmem.pipelines import PIPELINES, Answer, Pipeline
from tests.pipelines.scripted import ScriptedLLM

FACTS = (
    "The town of Elmsford sits on the river Wend. It has a small market.\n\n"
    "The Elmsford bridge was built in 1887 by the engineer Clara Voss.\n\n"
    "Every spring the town holds a cheese fair.\n"
)


def run_main(*args: str) -> tuple[int, str, str]:
    """Run the console entry point as a user would; (exit code, stdout, stderr)."""
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, out.getvalue().decode(), err.getvalue().decode()


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "elmsford.txt"
    path.write_text(FACTS)
    return path


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    def script(messages):
        prompt = messages[-1]["content"]
        if prompt.startswith("Evidence so far:"):  # a Chain-of-Agents worker
            segment = prompt.split("\n\nText:\n", 1)[1].split("\n\nQuestion:", 1)[0]
            return "Clara Voss built the Elmsford bridge." if "Voss" in segment else "NONE"
        return "Clara Voss built it."

    llm = ScriptedLLM(script)
    monkeypatch.setattr("lcmem.llm.load_llm", lambda spec=None: llm)
    return llm


def test_ask_json_shape(doc: Path, scripted: ScriptedLLM):
    result = CliRunner().invoke(
        cli, ["ask", "Who built the bridge?", "--doc", str(doc), "-p", "coa", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["question"] == "Who built the bridge?" and data["pipeline"] == "coa"
    assert data["answer"] == "Clara Voss built it."
    [cite] = data["citations"]
    assert {"rank", "score", "path", "start", "end", "line_start", "line_end", "text"} <= set(cite)
    assert FACTS[cite["start"] : cite["end"]] == cite["text"] and "Clara Voss" in cite["text"]
    assert cite["path"] == str(doc.resolve())
    trace = data["trace"]
    assert trace["llm_calls"] == len(scripted.calls) >= 2
    assert trace["prompt_tokens"] > 0
    assert {"name", "prompt", "output", "prompt_tokens", "seconds", "detail"} <= set(
        trace["steps"][-1]
    )


def test_ask_prints_answer_then_sources(doc: Path, scripted: ScriptedLLM):
    result = CliRunner().invoke(
        cli,
        ["ask", "Who built the bridge?", "--doc", str(doc), "--pipeline", "coa", "--budget", "12"],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Clara Voss built it."
    assert "sources:" in lines
    assert any("elmsford.txt:3-3" in line and "Clara Voss" in line for line in lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message", "exit_code"),
    [
        (["ask", "  ", "--doc", "{doc}"], "question is empty", 1),
        (["ask", "why?", "--store", "{tmp}/nowhere"], "no library", 4),
        (["ask", "why?", "--doc", "{tmp}/missing.txt"], "no such file", 1),
        (["ask", "why?", "--doc", "{doc}", "--llm", "{tmp}/no-model"], "no such model", 5),
        (["ask", "why?", "-l", "{tmp}/empty"], "is empty", 4),
        (
            ["ask", "why?", "--doc", "{doc}", "-p", "coa", "--llm", "http://127.0.0.1:{port}/v1"],
            "",
            5,
        ),
    ],
)
def test_ask_errors_are_one_line_and_exit_non_zero(
    tmp_path: Path, doc: Path, args, message, exit_code
):
    lcmem.open(tmp_path / "empty").close()  # a library with nothing in it
    fill = {"doc": str(doc), "tmp": str(tmp_path), "port": str(free_port())}
    code, out, err = run_main(*[a.format(**fill) for a in args])
    assert code == exit_code
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert message in err


def test_ask_a_budget_beyond_the_window_is_one_line(doc: Path, scripted: ScriptedLLM):
    code, out, err = run_main("ask", "why?", "--doc", str(doc), "-p", "coa", "--budget", "99999")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("error: ") and "--budget" in err
    assert scripted.calls == []


def word_stream(
    monkeypatch: pytest.MonkeyPatch, llm: ScriptedLLM, reply: str | None = None
) -> list[str]:
    """Make the scripted LLM stream word by word, answering ``reply`` where it answered
    "Clara Voss built it."; the pieces streamed."""
    streamed: list[str] = []
    if reply is not None:
        script = llm.script
        llm.script = lambda m: reply if script(m) == "Clara Voss built it." else script(m)

    def stream(self, messages, max_tokens=256, stop=None, temperature=0.0, seed=None):
        text = self.complete(messages, max_tokens, stop).text
        for i, word in enumerate(text.split(" ")):
            piece = word if i == 0 else " " + word
            streamed.append(piece)
            yield piece

    monkeypatch.setattr(ScriptedLLM, "stream", stream)
    return streamed


@pytest.mark.parametrize("pipeline", ["rag", "rtr", "coa"])
def test_ask_streams_a_supported_answer_once_on_a_terminal(
    doc: Path, scripted: ScriptedLLM, monkeypatch: pytest.MonkeyPatch, pipeline: str
):
    streamed = word_stream(monkeypatch, scripted)
    monkeypatch.setattr("lcmem.cli._is_terminal", lambda: True)
    result = CliRunner().invoke(cli, ["ask", "Who built it?", "--doc", str(doc), "-p", pipeline])
    assert result.exit_code == 0, result.output
    assert streamed == ["Clara", " Voss", " built", " it."]
    assert result.stdout.count("Clara Voss built it.") == 1
    assert result.stdout.splitlines()[0] == "Clara Voss built it."
    assert REPLACED_NOTE not in result.stderr


@pytest.mark.parametrize("pipeline", ["rag", "rtr", "coa"])
def test_ask_streams_then_says_when_the_check_replaced_the_answer(
    doc: Path, scripted: ScriptedLLM, monkeypatch: pytest.MonkeyPatch, pipeline: str
):
    # The answer is streamed as the model writes it; the support check runs after it and
    # finds "Anna Berg" and 1990 in no source: the note goes to stderr, the evidence to stdout.
    streamed = word_stream(monkeypatch, scripted, "Anna Berg built it in 1990.")
    monkeypatch.setattr("lcmem.cli._is_terminal", lambda: True)
    result = CliRunner().invoke(
        cli, ["ask", "Who built the bridge?", "--doc", str(doc), "-p", pipeline]
    )
    assert result.exit_code == 0, result.output
    assert "".join(streamed) == "Anna Berg built it in 1990."
    lines = result.stdout.splitlines()
    assert lines[0] == "Anna Berg built it in 1990."
    assert (
        lines[1]
        == "From the sources: The Elmsford bridge was built in 1887 by the engineer Clara Voss."
    )
    assert result.stderr.strip() == REPLACED_NOTE
    as_json = CliRunner().invoke(
        cli, ["ask", "Who built the bridge?", "--doc", str(doc), "-p", pipeline, "--json"]
    )
    data = json.loads(as_json.stdout)  # --json never streams, on a terminal neither
    assert data["origin"] == "extractive" and data["model_text"] == "Anna Berg built it in 1990."
    assert data["answer"] == lines[1]


def test_ask_piped_prints_only_the_checked_answer(
    doc: Path, scripted: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
):
    streamed = word_stream(monkeypatch, scripted, "Anna Berg built it in 1990.")
    monkeypatch.setattr("lcmem.cli._is_terminal", lambda: False)
    result = CliRunner().invoke(cli, ["ask", "Who built the bridge?", "--doc", str(doc)])
    assert result.exit_code == 0, result.output
    assert streamed == [] and "Anna Berg" not in result.output
    assert result.stdout.startswith("From the sources: The Elmsford bridge was built in 1887")


class EchoPipeline(Pipeline):
    """Stands in for a pipeline the CLI knows only by name (kv, memory)."""

    name = "echo"

    def __init__(self, llm, *, max_tokens: int = 8) -> None:
        super().__init__(llm)
        self.max_tokens = max_tokens

    def ask(self, question, *, library=None, documents=None) -> Answer:
        paths = [d.path for d in documents or []]
        return Answer(f"{question} / {self.max_tokens} / {len(paths)} doc")


def test_other_pipelines_are_dispatched_by_name(
    doc: Path, scripted: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(PIPELINES, "kv", "tests.test_cli_ask:EchoPipeline")
    result = CliRunner().invoke(
        cli, ["ask", "q?", "--doc", str(doc), "-p", "kv", "--max-tokens", "5", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answer"] == "q? / 5 / 1 doc"
    code, out, err = run_main("ask", "q?", "--doc", str(doc), "-p", "kv", "-k", "3")
    assert code != 0 and out == "" and "does not take" in err and "k" in err
