"""LlamaIndex retriever over an lcmem library (``pip install 'lcmem[llamaindex]'``).

Each hit becomes a ``NodeWithScore`` around a ``TextNode`` whose id is the chunk id, whose
``start_char_idx``/``end_char_idx`` are the chunk's exact span in its document, whose source
relationship is the document path, and whose metadata holds ``path``, ``line_start``,
``line_end``, ``context``, ``score``, ``chunk_id`` and the chunk's own metadata. Retrieval needs
no LLM, no tokenizer download and no network.

Example:
    >>> from lcmem.integrations.llamaindex import LcmemRetriever
    >>> retriever = LcmemRetriever(store="./.lcmem", k=4)                # doctest: +SKIP
    >>> nodes = retriever.retrieve("how do I extract a tar archive?")   # doctest: +SKIP
    >>> nodes[0].node.metadata["path"], nodes[0].node.start_char_idx     # doctest: +SKIP
    ('/srv/man/tar.txt', 13541)
"""

from __future__ import annotations

import os
from typing import Any, Literal

from lcmem.integrations import require_extra

require_extra("llama_index.core", "llamaindex")

from llama_index.core.retrievers import BaseRetriever  # noqa: E402
from llama_index.core.schema import (  # noqa: E402
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)

from lcmem.errors import ConfigError  # noqa: E402
from lcmem.integrations._search import asearch, search  # noqa: E402
from lcmem.integrations.tools import hit_metadata, open_existing  # noqa: E402
from lcmem.types import Hit  # noqa: E402

# Bookkeeping fields kept out of the text an LLM or an embedder sees through
# ``node.get_content(metadata_mode=...)``; ``path``, ``line_*`` and ``context`` stay in.
_HIDDEN_KEYS = ["start", "end", "score", "rank", "chunk_id", "size", "mtime", "source"]


class LcmemRetriever(BaseRetriever):
    """LlamaIndex ``BaseRetriever`` returning lcmem search hits as ``NodeWithScore``.

    ``aretrieve`` searches in a worker thread, so the event loop is not blocked; searches of
    one library run one at a time.

    Args:
        library: an open :class:`lcmem.Library` (shared and reused), or
        store: a library folder or database URL, opened once here.
        similarity_top_k: number of nodes returned (LlamaIndex's name; default 4).
        k: the same, lcmem's name; give one or the other.
        mode: ``hybrid`` (default), ``dense`` or ``bm25``.
        where: metadata filter, as for :meth:`lcmem.Library.search`.
        **kwargs: passed to LlamaIndex's ``BaseRetriever`` (``callback_manager``, ``verbose``).
    """

    def __init__(
        self,
        library: Any = None,
        *,
        store: str | os.PathLike[str] | None = None,
        similarity_top_k: int | None = None,
        k: int | None = None,
        mode: Literal["hybrid", "dense", "bm25"] = "hybrid",
        where: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if similarity_top_k is not None and k is not None and similarity_top_k != k:
            raise ConfigError(
                f"similarity_top_k={similarity_top_k} and k={k} disagree: give one of them"
            )
        k = similarity_top_k if similarity_top_k is not None else k if k is not None else 4
        if library is None:
            if store is None:
                raise ConfigError("give LcmemRetriever a library or a store= path")
            library = open_existing(store)
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        if mode not in ("hybrid", "dense", "bm25"):
            raise ConfigError(f"mode must be hybrid, dense or bm25, got {mode!r}")
        self.library = library
        self.similarity_top_k = k
        self.mode = mode
        self.where = where
        super().__init__(**kwargs)

    @property
    def k(self) -> int:
        """Number of nodes returned (the same as ``similarity_top_k``)."""
        return self.similarity_top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = search(
            self.library,
            query_bundle.query_str,
            k=self.similarity_top_k,
            mode=self.mode,
            where=self.where,
        )
        return [hit_to_node(h) for h in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = await asearch(
            self.library,
            query_bundle.query_str,
            k=self.similarity_top_k,
            mode=self.mode,
            where=self.where,
        )
        return [hit_to_node(h) for h in hits]


def hit_to_node(hit: Hit) -> NodeWithScore:
    """One search hit as a LlamaIndex ``NodeWithScore``."""
    c = hit.chunk
    metadata = hit_metadata(hit)
    node = TextNode(
        id_=str(c.id),
        text=c.text,
        metadata=metadata,
        start_char_idx=c.start,
        end_char_idx=c.end,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=hit.path)},
        excluded_embed_metadata_keys=[k for k in _HIDDEN_KEYS if k in metadata],
        excluded_llm_metadata_keys=[k for k in _HIDDEN_KEYS if k in metadata],
    )
    return NodeWithScore(node=node, score=float(hit.score))
