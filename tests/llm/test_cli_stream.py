"""`lcmem ask` on a terminal with the real packaged model behind llama.cpp's server: the
answer streams piece by piece, and when the support check replaces it the output says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from lcmem.cli import REPLACED_NOTE, cli

FACTS = (
    "The town of Elmsford sits on the river Wend. It has a small market and two schools.\n\n"
    "The Elmsford bridge was built in 1887 by the engineer Clara Voss. "
    "It is made of red sandstone.\n\n"
    "Every spring the town holds a cheese fair. Visitors come from nearby villages.\n"
)


def ask(server: Any, doc: Path, question: str, *extra: str) -> Any:
    args = ["ask", question, "--doc", str(doc), "--llm", server.base_url, *extra]
    return CliRunner().invoke(cli, args)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "origin"),
    [
        ("Who built the Elmsford bridge?", "model"),
        # SmolLM2 answers "... a popular destination for food and drinks, with many visitors
        # buying cheese.": not in the text, so the check shows the market's sentence instead
        ("What do visitors buy at the market?", "extractive"),
    ],
)
def test_real_answer_streams_and_a_replaced_one_is_marked(
    llama_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, question: str, origin: str
) -> None:
    monkeypatch.setenv("LCMEM_API_KEY", llama_server.api_key)
    doc = tmp_path / "elmsford.txt"
    doc.write_text(FACTS)
    checked = ask(llama_server, doc, question, "--json")  # never streamed
    assert checked.exit_code == 0, checked.output
    data = json.loads(checked.stdout)
    assert data["origin"] == origin  # greedy decoding: the same answer every run

    pieces: list[str] = []
    echo = click.echo

    def counting_echo(message: Any = None, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("nl") is False:
            pieces.append(str(message))
        echo(message, *args, **kwargs)

    monkeypatch.setattr(click, "echo", counting_echo)
    monkeypatch.setattr("lcmem.cli._is_terminal", lambda: True)
    shown = ask(llama_server, doc, question)
    assert shown.exit_code == 0, shown.output
    assert len(pieces) > 1 and "".join(pieces) == data["model_text"]
    if data["origin"] == "model":
        assert shown.stdout.startswith(data["model_text"] + "\n\nsources:")
        assert REPLACED_NOTE not in shown.stderr
    else:
        assert shown.stdout.startswith(f"{data['model_text']}\n{data['answer']}\n\nsources:")
        assert shown.stderr.strip() == REPLACED_NOTE
