"""A scripted test-double LLM: whitespace tokens, canned or computed answers, every call kept."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lcmem.llm.base import LLM, Completion, Message, trim_at_stop
from lcmem.types import Chunk, Document, Hit


class ScriptedLLM(LLM):
    """Answers from ``script``: a list of replies (in call order) or ``f(messages) -> str``.

    Tokens are whitespace-separated words (a real count, so budgets can be checked).
    """

    def __init__(
        self,
        script: Sequence[str] | Callable[[Sequence[Message]], str] = (),
        context_window: int = 4096,
    ) -> None:
        self.name = "scripted"
        self.context_window = context_window
        self.script = script
        self.calls: list[list[Message]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(
        self,
        messages: Sequence[Message],
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Completion:
        self.calls.append(list(messages))
        if callable(self.script):
            text = self.script(messages)
        else:
            i = len(self.calls) - 1
            text = self.script[i] if i < len(self.script) else ""
        text = " ".join(text.split(" ")[:max_tokens]) if max_tokens else text
        text = trim_at_stop(text, stop)
        return Completion(text, self.count_messages(messages), self.count_tokens(text), 0.0)

    def prompt(self, i: int) -> str:
        """The user message of call ``i``."""
        return self.calls[i][-1]["content"]


class FakeStore:
    def __init__(self, n: int) -> None:
        self.n = n

    def chunk_count(self) -> int:
        return self.n


class FakeLibrary:
    """Stands in for :class:`lcmem.Library`: ``search`` returns chunks that share a word with
    the query (best = most shared words); ``documents``/``document_text`` as a library does."""

    def __init__(self, docs: Sequence[Document], chunks: Sequence[Chunk]) -> None:
        self.location = "fake"
        self.docs = {d.path: d for d in docs}
        self.chunks = list(chunks)
        self.store = FakeStore(len(self.chunks))
        self.searches: list[tuple[str, int]] = []

    def search(self, query: str, k: int = 10, mode: str = "hybrid", where: Any = None) -> list[Hit]:
        self.searches.append((query, k))
        words = {w.strip(".,?!").lower() for w in query.split()}
        scored = []
        for c in self.chunks:
            n = len(words & {w.strip(".,?!").lower() for w in c.text.split()})
            if n:
                scored.append((n, c))
        scored.sort(key=lambda t: -t[0])
        return [Hit(c, float(n), rank=r) for r, (n, c) in enumerate(scored[:k], start=1)]

    def find(self, text: str, limit: int = 100, where: Any = None) -> list[Hit]:
        """Exact occurrences, by path then offset, as ``Library.find`` gives them."""
        hits: list[Hit] = []
        for path in sorted(self.docs):
            doc = self.docs[path].text
            at = doc.find(text)
            while at != -1 and len(hits) < limit:
                line = doc.count("\n", 0, at) + 1
                chunk = Chunk(text, at, at + len(text), doc_path=path, line_start=line)
                hits.append(Hit(chunk, 1.0, rank=len(hits) + 1))
                at = doc.find(text, at + 1)
        return hits

    def documents(self) -> list[str]:
        return list(self.docs)

    def document_text(self, path: str) -> str:
        return self.docs[path].text


def chunks_of(doc: Document, pieces: Sequence[str]) -> list[Chunk]:
    """Chunks for the given exact substrings of ``doc``."""
    out = []
    for i, piece in enumerate(pieces):
        start = doc.text.index(piece)
        out.append(
            Chunk(
                piece, start, start + len(piece), id=i, doc_path=doc.path, line_start=1, line_end=1
            )
        )
    return out
