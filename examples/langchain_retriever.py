"""Use an lcmem library as a LangChain retriever (``pip install 'lcmem[langchain]'``).

Run (offline; index something first)::

    .venv/bin/lcmem index examples/docs --store /tmp/lcmem-demo
    .venv/bin/python examples/langchain_retriever.py --store /tmp/lcmem-demo "how do I install it"

The retriever is a regular LangChain ``Runnable``: ``invoke``, ``batch``, ``ainvoke`` and
composition with ``|`` work; each ``Document`` cites its exact span in ``metadata``.
"""

from __future__ import annotations

import argparse

from lcmem.integrations.langchain import LcmemRetriever


def main(store: str, query: str, k: int, mode: str) -> None:
    retriever = LcmemRetriever(store=store, k=k, mode=mode)
    docs = retriever.invoke(query)
    for doc in docs:
        m = doc.metadata
        print(f"{m['rank']}. {m['path']}:{m['line_start']}-{m['line_end']}  {m['context']}")
        print(f"   chars {m['start']}-{m['end']}, score {m['score']:.4f}, id {doc.id}")
        print("   " + " ".join(doc.page_content.split())[:160])
    # Composition: turn the documents into one context string for a prompt.
    as_context = retriever | (lambda docs: "\n\n".join(d.page_content for d in docs))
    print(f"\ncontext for a prompt: {len(as_context.invoke(query))} characters")
    retriever.library.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query", nargs="?", default="how do I install it")
    parser.add_argument("--store", default=".lcmem", help="library folder (default ./.lcmem)")
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25"])
    args = parser.parse_args()
    main(args.store, args.query, args.k, args.mode)
