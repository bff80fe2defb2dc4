"""LangChain retriever over an lcmem library (``pip install 'lcmem[langchain]'``).

Each hit becomes a ``Document`` whose ``page_content`` is the chunk text and whose metadata
holds where it comes from: ``source``/``path``, ``start``/``end`` (character offsets),
``line_start``/``line_end``, ``context`` (heading or code trail), ``score``, ``rank``,
``chunk_id`` and the chunk's own metadata (``kind``, ``lang``...). ``Document.id`` is the
chunk id.

Example:
    >>> from lcmem.integrations.langchain import LcmemRetriever
    >>> retriever = LcmemRetriever(store="./.lcmem", k=4, mode="hybrid")  # doctest: +SKIP
    >>> docs = retriever.invoke("how do I extract a tar archive?")       # doctest: +SKIP
    >>> docs[0].metadata["path"], docs[0].metadata["line_start"]         # doctest: +SKIP
    ('/srv/man/tar.txt', 311)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from lcmem.integrations import require_extra

require_extra("langchain_core", "langchain")

from langchain_core.callbacks import (  # noqa: E402
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from pydantic import ConfigDict, Field  # noqa: E402

from lcmem.errors import ConfigError  # noqa: E402
from lcmem.integrations._search import asearch, search  # noqa: E402
from lcmem.integrations.tools import hit_metadata, open_existing  # noqa: E402
from lcmem.types import Hit  # noqa: E402


class LcmemRetriever(BaseRetriever):
    """LangChain ``BaseRetriever`` returning lcmem search hits as ``Document``s.

    Give either ``library`` (an open :class:`lcmem.Library`, shared and reused) or ``store``
    (a library folder or database URL, opened once when the retriever is made). ``ainvoke``
    searches in a worker thread, so the event loop is not blocked; searches of one library
    run one at a time.

    Attributes:
        library: the library searched.
        store: where to open it from, if ``library`` is not given.
        k: number of documents returned.
        mode: ``hybrid`` (default), ``dense`` or ``bm25``.
        where: metadata filter, as for :meth:`lcmem.Library.search`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    library: Any = Field(default=None, description="an open lcmem.Library")
    store: str | Path | None = Field(default=None, description="library folder or database URL")
    k: int = Field(default=4, ge=1, description="number of documents to return")
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    where: dict[str, Any] | None = None

    def __init__(self, **data: Any) -> None:
        # Checked before pydantic runs, so the lcmem error reaches the caller unwrapped.
        if data.get("library") is None:
            if not data.get("store"):
                raise ConfigError("give LcmemRetriever a library= or a store= path")
            data["library"] = open_existing(data["store"])
        super().__init__(**data)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = search(self.library, query, k=self.k, mode=self.mode, where=self.where)
        return [hit_to_document(h) for h in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = await asearch(self.library, query, k=self.k, mode=self.mode, where=self.where)
        return [hit_to_document(h) for h in hits]


def hit_to_document(hit: Hit) -> Document:
    """One search hit as a LangChain ``Document``."""
    return Document(
        page_content=hit.chunk.text,
        metadata=hit_metadata(hit),
        id=None if hit.chunk.id is None else str(hit.chunk.id),
    )
