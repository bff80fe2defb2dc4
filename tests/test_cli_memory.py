import json

from click.testing import CliRunner

from lcmem.cli import run as run_cli
from lcmem.cli_memory import memory
from tests.loaders.pdfgen import make_pdf

STORY = (
    "Chapter 1\n\nOn 2 May 2022, Ann Lee met Bo Kim at the Old Mill.\n\n"
    "Chapter 2\n\nThree days later, Ann flew to Oslo. Some time later, Bo sailed to Bergen.\n"
)


def run(*args):
    return CliRunner().invoke(memory, list(args), catch_exceptions=True)


def test_add_ask_show(tmp_path):
    story = tmp_path / "story.txt"
    story.write_text(STORY)
    store = str(tmp_path / "lib")
    result = run("add", str(story), "--store", store)
    assert result.exit_code == 0, result.output
    assert "3 events" in result.output
    assert "unresolved dates: 'Some time later'" in result.output
    again = run("add", str(story), "--store", store)
    assert "already observed" in again.output

    result = run("ask", "Where was Ann Lee on May 10, 2022?", "--store", store)
    assert result.exit_code == 0
    assert result.output.startswith("On 2022-05-10 Ann Lee was at Oslo.")
    assert "Three days later, Ann flew to Oslo." in result.output

    result = run("ask", "Who was at the Old Mill on 2 May 2022?", "--store", store, "--json")
    data = json.loads(result.output)
    assert "Ann Lee, Bo Kim" in data["answer"]
    assert data["events"][0]["source"]["start"] == STORY.index("On 2 May")

    result = run("show", "Ann", "--store", store)
    assert result.exit_code == 0
    assert "Ann Lee" in result.output and "2022-05-05" in result.output
    assert "latest location: Oslo" in result.output

    result = run("show", "Bo Kim", "--store", store, "--json")
    (entity,) = json.loads(result.output)
    assert [e["time"] for e in entity["events"]] == ["2022-05-02", None]


def test_chat_turns(tmp_path):
    store = str(tmp_path / "lib")
    r = run("add", "--text", "I moved to Berlin yesterday.", "--at", "2024-05-02T10:00",
            "--store", store)  # fmt: skip
    assert r.exit_code == 0 and "1 events" in r.output
    r = run("ask", "Where was I on May 20, 2024?", "--store", store)
    assert r.output.startswith("On 2024-05-20 user was at Berlin.")


def test_errors_are_one_line(tmp_path):
    store = str(tmp_path / "none")
    r = run("ask", "Where is Ann now?", "--store", store)
    assert r.exit_code != 0 and "no memory at" in str(r.exception)
    story = tmp_path / "s.txt"
    story.write_text(STORY)
    run("add", str(story), "--store", store)
    r = run("show", "Nobody", "--store", store)
    assert r.exit_code != 0 and "no person or place called 'Nobody'" in str(r.exception)
    r = run("add", str(tmp_path / "missing.txt"), "--store", store)
    assert r.exit_code != 0 and "does not exist" in str(r.exception)
    r = run("add", "--store", store)
    assert r.exit_code == 2 and "PATH" in r.output
    r = run("ask", "What is the capital of Peru?", "--store", store, "--no-llm")
    assert r.output.startswith("The memory holds nothing")


def test_add_reads_files_as_index_does(tmp_path, capsys):
    """Folders honour .gitignore, HTML and PDF give their text, the size limit applies."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / ".gitignore").write_text("private/\n")
    (notes / "private").mkdir()
    (notes / "private" / "diary.txt").write_text("On 3 June 2021, Eve Stone met Tom Park.\n")
    (notes / "trip.html").write_text(
        "<html><head><title>Trip</title><script>var x = 'On 4 June 2021';</script></head>"
        "<body><p>On 1 May 2023, Ann Lee flew to Lisbon.</p></body></html>"
    )
    (notes / "report.pdf").write_bytes(make_pdf([["On 7 July 2020, Bo Kim sailed to Bergen."]]))
    (notes / "big.txt").write_text("On 2 May 2022, Cy Moss met Di Ray. " * 200)
    (notes / "tool.py").write_text("# On 2 May 2022, nobody met anybody.\nx = 1\n")
    store = str(tmp_path / "lib")

    code = run_cli(
        ["memory", "add", str(notes), "--store", store, "--max-file-size", "4k", "--json"]
    )
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    by_name = {row["source"].rsplit("/", 1)[-1]: row for row in rows}
    assert sorted(by_name) == ["report.pdf", "trip.html"]  # ignored, too big, code: left out
    assert by_name["trip.html"]["events"] == 1 and by_name["report.pdf"]["events"] == 1

    run_cli(["memory", "ask", "Where was Bo Kim on 8 July 2020?", "--store", store])
    assert "Bergen" in capsys.readouterr().out
    run_cli(["memory", "show", "Ann Lee", "--store", store, "--json"])
    (ann,) = json.loads(capsys.readouterr().out)
    assert [e["text"] for e in ann["events"]] == ["On 1 May 2023, Ann Lee flew to Lisbon."]


def test_add_reports_unreadable_files_and_goes_on(tmp_path, capsys):
    story = tmp_path / "story.txt"
    story.write_text(STORY)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really a pdf")
    store = str(tmp_path / "lib")
    code = run_cli(["memory", "add", str(story), str(broken), "--store", store])
    captured = capsys.readouterr()
    assert code == 3  # finished, but a file could not be read
    assert "story.txt: 3 events" in captured.out and "broken.pdf: not read" in captured.out
    assert "error: " in captured.err and "broken.pdf" in captured.err


def test_exit_codes_and_json_errors(tmp_path, capsys):
    store = str(tmp_path / "none")
    assert run_cli(["memory", "ask", "Where is Ann now?", "--store", store]) == 4  # no library
    assert capsys.readouterr().err.startswith("error: no memory at")

    assert run_cli(["memory", "add", str(tmp_path / "missing.txt"), "--store", store]) == 1
    assert run_cli(["memory", "add", "--store", store]) == 2  # usage error, as click has it
    capsys.readouterr()

    assert run_cli(["memory", "show", "Ann", "--store", store, "--json"]) == 4
    captured = capsys.readouterr()
    assert captured.out == ""
    error = json.loads(captured.err)["error"]
    assert error["type"] == "StoreError" and error["exit_code"] == 4
    assert "no memory at" in error["message"]

    assert run_cli(["memory", "add", "--store", store, "--json", "--no-such-flag"]) == 2
    error = json.loads(capsys.readouterr().err)["error"]
    assert error["exit_code"] == 2 and "--no-such-flag" in error["message"]
