"""The ``conf3`` confirmation generator (``benchmarks/fusion_confirm.py``): statement picking,
forgetting, templates and page-unique queries (pure Python, no man page or model needed)."""

from __future__ import annotations

import math
import random

from benchmarks.fusion_confirm import (
    FUNCTION_WORDS,
    TASK,
    TEMPLATES,
    build_queries,
    forget,
    statements,
)
from benchmarks.fusion_tasks import split_of

PAGE = (
    "WRITE(2)            Linux Programmer's Manual            WRITE(2)\n\n"
    "DESCRIPTION\n"
    "       The call returns the number of bytes written to the file. Too short here.\n"
    "       See /usr/include/unistd.h for the prototype of this function and others.\n\n"
    "       -n, --count\n"
    "              Limit the count of records that the tool writes out at once.\n\n"
    "       Each record is flushed before the next one is read from the queue.\n"
)


def test_statements_skip_headings_short_parts_and_paths():
    assert statements(PAGE) == [
        "The call returns the number of bytes written to the file.",
        "Each record is flushed before the next one is read from the queue.",
    ]  # the option's block starts with the flag "-n,": left out


def test_statements_need_six_plain_words_and_a_final_period():
    assert statements("EVP_A EVP_B EVP_C EVP_D EVP_E EVP_F is a.\n") == []
    assert statements("the process may block until the pipe has room again\n") == []


def test_forget_keeps_order_function_words_and_drops_30_to_50_percent():
    s = "The call returns the number of bytes written to the file descriptor given."
    tokens = s.rstrip(".").split()
    content = [t for t in tokens if len(t) >= 3 and t.lower() not in FUNCTION_WORDS]
    assert len(content) == 8  # call returns number bytes written file descriptor given
    for seed in range(50):
        out = forget(s, random.Random(seed)).split()
        it = iter(tokens)
        assert all(t in it for t in out)  # a subsequence, case kept
        assert [t for t in tokens if t not in content] == [t for t in out if t not in content]
        dropped = len(content) - len([t for t in out if t in content])
        assert math.ceil(0.30 * 8) <= dropped <= math.ceil(0.50 * 8)
    assert forget(s, random.Random(7)) == forget(s, random.Random(7))


def test_forget_keeps_two_content_tokens_and_splits_identifiers():
    for seed in range(20):
        out = forget("Use malloc() then free() on it.", random.Random(seed)).split()
        assert all(t.isalnum() for t in out)  # "malloc()" -> "malloc"
        # 3 content tokens (Use, malloc, free): ceil(0.3-0.5 * 3) = 1 or 2, capped at 1
        assert len(set(out) & {"Use", "malloc", "free"}) == 2 and {"then", "on", "it"} <= set(out)


def test_templates_have_one_slot_and_mostly_new_words():
    assert len(TEMPLATES) == 6
    for t in TEMPLATES:
        assert t.count("{s}") == 1


def test_build_queries_uses_page_unique_statements_only():
    shared = "The kernel keeps one table of open file descriptions for every process."
    docs = {
        "a.2.txt": f"{shared}\n\nThe function copies at most size bytes into the buffer given.\n",
        "b.3.txt": f"{shared}\n",
        "c.7.txt": "The overview explains how signals are delivered to each waiting thread.\n",
    }
    queries, missing = build_queries(docs, seed=3)
    assert missing == 1  # b.3 holds only the shared statement
    assert [q.doc for q in queries] == ["a.2.txt", "c.7.txt"]
    for q in queries:
        assert q.task == TASK and q.qid == f"{TASK}:{q.doc}" and q.split == split_of(q.qid)
        assert "descriptions" not in q.text  # the shared statement never asked
    assert build_queries(docs, seed=3) == (queries, missing)
