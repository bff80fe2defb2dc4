"""A small client showing lcmem's Python API."""

import lcmem


def build_library(folder: str, store: str = ".lcmem") -> lcmem.Library:
    """Open a library and index a folder into it, printing the report."""
    lib = lcmem.open(store)
    report = lib.index([folder])
    print(report.summary())
    return lib


def print_hits(lib: lcmem.Library, query: str, k: int = 5) -> None:
    """Search and print each hit with its file and line range."""
    for hit in lib.search(query, k=k):
        chunk = hit.chunk
        print(f"{hit.rank}. {hit.path}:{chunk.line_start}-{chunk.line_end} {chunk.context}")
