"""Use an lcmem library as a LlamaIndex retriever (``pip install 'lcmem[llamaindex]'``).

Run (offline; index something first)::

    .venv/bin/lcmem index examples/docs --store /tmp/lcmem-demo
    .venv/bin/python examples/llamaindex_retriever.py --store /tmp/lcmem-demo "how do I install it"

Each ``NodeWithScore`` wraps a ``TextNode`` whose id is the lcmem chunk id and whose
``start_char_idx``/``end_char_idx`` are its exact span; no LLM and no network are needed.
"""

from __future__ import annotations

import argparse

from llama_index.core.schema import MetadataMode

from lcmem.integrations.llamaindex import LcmemRetriever


def main(store: str, query: str, k: int, mode: str) -> None:
    retriever = LcmemRetriever(store=store, k=k, mode=mode)
    for i, scored in enumerate(retriever.retrieve(query), 1):
        node = scored.node
        m = node.metadata
        print(f"{i}. {m['path']}:{m['line_start']}-{m['line_end']}  score {scored.score:.4f}")
        print(f"   node {node.node_id}, chars {node.start_char_idx}-{node.end_char_idx}")
        print("   " + " ".join(node.text.split())[:160])
        if i == 1:  # what an LLM would see: citation metadata, then the text
            shown = node.get_content(metadata_mode=MetadataMode.LLM)
            print("\n   as an LLM sees it:\n   " + shown[:300].replace("\n", "\n   ") + "\n")
    retriever.library.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query", nargs="?", default="how do I install it")
    parser.add_argument("--store", default=".lcmem", help="library folder (default ./.lcmem)")
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25"])
    args = parser.parse_args()
    main(args.store, args.query, args.k, args.mode)
