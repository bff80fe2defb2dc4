import json

from click.testing import CliRunner

from lcmem.cli_memory import memory

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
