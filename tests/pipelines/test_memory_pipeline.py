import pytest

from lcmem.errors import ConfigError, EmptyQueryError
from lcmem.llm.base import LLM, Completion
from lcmem.memory import EpisodicWorkspace
from lcmem.pipelines.base import get_pipeline
from lcmem.pipelines.memory import NOTHING, MemoryPipeline
from lcmem.stores.sql import SQLStore
from lcmem.types import Document

DIARY = Document(
    "Chapter 1\n\nOn 2 May 2022, Ann Lee met Bo Kim at the Old Mill.\n\n"
    "Chapter 2\n\nThree days later, Ann flew to Oslo. It was windy.\n",
    path="diary.txt",
)


class Echo(LLM):
    """Test double: answers with a fixed text and keeps the prompts."""

    name, context_window = "echo", 2048

    def __init__(self, reply="Oslo"):
        self.reply, self.prompts = reply, []

    def complete(self, messages, max_tokens=256, stop=None, temperature=0.0, seed=None):
        self.prompts.append(messages)
        return Completion(self.reply, self.count_messages(messages), 1, 0.0)

    def count_tokens(self, text):
        return len(text.split())


def test_structured_question_is_answered_from_the_graph_with_exact_citations():
    llm = Echo()
    answer = MemoryPipeline(llm).ask("Where was Ann Lee on May 6, 2022?", documents=[DIARY])
    assert answer.text == "On 2022-05-06 Ann Lee was at Oslo."
    assert llm.prompts == []  # no LLM call needed
    (hit,) = answer.citations
    assert hit.path == "diary.txt"
    assert DIARY.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
    assert hit.chunk.text == "Three days later, Ann flew to Oslo."
    assert hit.chunk.line_start == hit.chunk.line_end == 7
    assert [s.name for s in answer.trace.steps] == ["observe", "memory lookup"]


def test_other_questions_go_to_the_llm_with_the_memory_context():
    llm = Echo("They met at the Old Mill.")
    answer = MemoryPipeline(llm).ask("What did Ann and Bo do?", documents=[DIARY])
    assert answer.text == "They met at the Old Mill."
    prompt = llm.prompts[0][-1]["content"]
    assert "Ann Lee met Bo Kim" in prompt and "2022-05-02 the Old Mill" in prompt
    assert "It was windy" not in prompt  # the memory, not the raw text
    assert answer.citations and answer.citations[0].chunk.text.startswith("On 2 May 2022")
    assert answer.trace.llm_calls == 1 and answer.trace.prompt_tokens > 0


def test_llm_mode_with_and_without_hint():
    llm = Echo()
    MemoryPipeline(llm, mode="llm", hint=False).ask("Where is Ann now?", documents=[DIARY])
    MemoryPipeline(llm, mode="llm").ask("Where is Ann now?", documents=[DIARY])
    assert "Memory lookup" not in llm.prompts[0][-1]["content"]
    assert "Memory lookup: Ann Lee was last at Oslo" in llm.prompts[1][-1]["content"]


def test_nothing_known_says_so_without_calling_the_llm():
    llm = Echo()
    answer = MemoryPipeline(llm).ask("What is the capital of Peru?", documents=[DIARY])
    assert answer.text == NOTHING and llm.prompts == []


def test_errors():
    with pytest.raises(EmptyQueryError):
        MemoryPipeline(Echo()).ask("  ", documents=[DIARY])
    with pytest.raises(ConfigError, match="library, documents or a workspace"):
        MemoryPipeline(Echo()).ask("Where is Ann now?")
    with pytest.raises(ConfigError, match="mode"):
        MemoryPipeline(Echo(), mode="magic")


class TinyLibrary:
    """Test double with what the pipeline uses of a Library: its store and documents."""

    def __init__(self, url):
        self.store = SQLStore(url)

    def documents(self):
        return [DIARY.path]

    def document_text(self, path):
        return DIARY.text


def test_library_documents_are_observed_once_into_its_database(tmp_path):
    lib = TinyLibrary(f"sqlite:///{tmp_path / 'lcmem.db'}")
    pipe = get_pipeline("memory", Echo())
    assert isinstance(pipe, MemoryPipeline)
    assert pipe.ask("Where is Ann now?", library=lib).text.startswith("Ann Lee was last at Oslo")
    again = MemoryPipeline(Echo()).ask("Where is Ann now?", library=lib)
    assert again.trace.steps[0].detail["events"] == 0  # already observed: nothing added
    assert len(EpisodicWorkspace(lib).events()) == 2


@pytest.mark.slow
def test_packaged_llm_answers_from_memory():
    from lcmem.llm import load_llm

    pipe = MemoryPipeline(load_llm(), mode="llm", max_tokens=24)
    answer = pipe.ask("Where is Ann now?", documents=[DIARY])
    assert answer.text.strip()
    assert answer.trace.llm_calls == 1 and answer.trace.prompt_tokens > 0
    assert answer.citations[0].path == "diary.txt"


def test_cli_options_k_budget_and_streaming():
    llm = Echo("Oslo")
    pieces = []
    pipe = get_pipeline("memory", llm, k=1, budget=8, max_tokens=8)
    pipe.on_text = pieces.append
    answer = pipe.ask("What did Ann and Bo do?", documents=[DIARY])
    assert pieces == ["Oslo"] and answer.text == "Oslo"
    context = llm.prompts[0][-1]["content"].split("Memory:\n", 1)[1].split("\n\n")[0]
    assert 0 < len(context.split()) <= 8
    pieces.clear()
    pipe.ask("Where is Ann now?", documents=[DIARY])
    assert pieces == ["Ann Lee was last at Oslo (since 2022-05-05)."]
    with pytest.raises(ConfigError):
        MemoryPipeline(llm, k=0)
