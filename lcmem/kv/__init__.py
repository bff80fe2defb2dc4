"""KV-page retrieval: read a long document once, answer many questions from the pages that matter.

The document's KV cache is cut into pages of P tokens per layer; a block of new tokens (a
prefill block, a question, a generated token) attends to the first tokens (sinks), the top-k
pages it retrieves per layer and KV head, and a local window, laid out at contiguous positions
so no relative distance exceeds the model's trained window (RetroLM, InfLLM). Pages can be
saved and loaded, and stay on disk beyond a memory budget.

Example:
    >>> import lcmem.kv
    >>> doc = lcmem.kv.read("long.txt")                  # doctest: +SKIP
    >>> answer = doc.ask("What is the pass key?")        # doctest: +SKIP
    >>> answer.text, answer.citations[0].span            # doctest: +SKIP
"""

from lcmem.kv.reader import (
    FORMAT_VERSION,
    KVSettings,
    PagedDocument,
    kv_bytes_per_token,
    model_fingerprint,
    read,
)

load = PagedDocument.load
"""``load(folder, llm)``: a document saved with :meth:`PagedDocument.save`."""

__all__ = [
    "FORMAT_VERSION",
    "KVSettings",
    "PagedDocument",
    "kv_bytes_per_token",
    "load",
    "model_fingerprint",
    "read",
]
