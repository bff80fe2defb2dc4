"""Readable answers (issue 21): generation settings old vs new, and answers supported or marked.

Claim: the repeated-sentence stop (and any penalty chosen on dev) removes repeated sentences
from answers without costing accuracy, and the support check says how often a pipeline's
answer is not backed by its citations (then lcmem shows the best evidence sentence instead).

Data: :mod:`longqa` items (made-up facts hidden in man section 1 text, as in
``bench_pipelines.py``), split by seed and frozen before any tuning:

- ``dev`` = seed 0: the series the pipelines were developed on (``bench_pipelines.py``);
- ``test`` = seed 1: never run before this benchmark.

For each item, each method (``rag``, ``rtr``, ``coa``, ``kv`` with their defaults, 96 answer
tokens; ``coa`` and ``kv`` read the item's document directly, ``rag`` and ``rtr`` search its
library) is asked once per setting of :data:`SETTINGS`, interleaved (A B A B) in one process
with one loaded model: only ``llm.generation`` changes between the runs. Each row keeps the model's
own answer and the texts of the citations, so the support check
(:func:`lcmem.pipelines.support.check_answer`) is applied at report time and the table shows:

- ``model acc``: the gold string in the model's answer (case-insensitive);
- ``repeats``: answers with a sentence that repeats an earlier one;
- ``extractive``: answers the support check replaces by the best evidence sentence;
- ``shown acc``: the gold string in what ``lcmem ask`` prints (model answer or evidence).

Run (1 torch thread; rows go to ``results/answers-<split>.jsonl``, a rerun resumes):
``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_answers.py --split dev --n 2``
and ``--report`` to print the table of the rows already there.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    from benchmarks.bench_pipelines import ANSWER_TOKENS, WORK, item_library, load_rows
    from benchmarks.longqa import KINDS, load_filler, make_item, score
    from benchmarks.machine import cpu_model, load_average
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from bench_pipelines import ANSWER_TOKENS, WORK, item_library, load_rows  # type: ignore
    from longqa import KINDS, load_filler, make_item, score  # type: ignore[no-redef]
    from machine import cpu_model, load_average  # type: ignore[no-redef]

from lcmem.llm.repetition import OFF, SENTENCES_ONLY, GenerationSettings, first_repeat

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "answers-{split}.jsonl"
SPLITS = {"dev": 0, "test": 1}
"""Split -> longqa seed (frozen: dev is what the pipelines were built on, test is new)."""
METHODS = ("rag", "rtr", "coa", "kv")
SETTINGS: dict[str, GenerationSettings] = {
    "old": OFF,
    "stop": GenerationSettings(stop_repeated_sentence=True),
    "stop+pen": GenerationSettings(
        repetition_penalty=1.2, no_repeat_ngram_size=4, stop_repeated_sentence=True
    ),
    "r2": SENTENCES_ONLY,
    "r3": GenerationSettings(),
}
"""The settings compared: ``old`` = lcmem before issue 21; candidates for SmolLM2's default.
Round 3: ``r2`` = lcmem after round 2 (sentence stop only, rag one search, kv cites its most
voted pages); ``r3`` = the repeated-span stop too, rag's second hop, kv cites the pages its
answer rests on (:data:`PIPELINE_OPTIONS`)."""
PIPELINE_OPTIONS: dict[str, dict[str, dict[str, Any]]] = {
    "r2": {"rag": {"hops": 1}, "kv": {"cite": "votes"}},
    "r3": {"rag": {"hops": 2}, "kv": {"cite": "answer"}},
}
"""Pipeline options of a setting, per method (the others run at their defaults)."""


def run(args: argparse.Namespace, seed: int, settings: Sequence[str]) -> None:
    import torch

    from lcmem.embedders.sentence import SentenceEmbedder
    from lcmem.llm.transformers import TransformersLLM
    from lcmem.pipelines import get_pipeline
    from lcmem.types import Document

    torch.set_num_threads(1)  # see bench_pipelines.py: 1 thread on this shared machine
    done = {
        (r["split"], r["item"], r["method"], r["setting"])
        for r in load_rows(args.results)
        if not r.get("error")
    }
    llm = TransformersLLM()
    embedder = SentenceEmbedder()
    pipes = {
        (m, s): get_pipeline(
            m, llm, max_tokens=ANSWER_TOKENS, **PIPELINE_OPTIONS.get(s, {}).get(m, {})
        )
        for m in args.methods
        for s in settings
    }
    shared: dict[str, Any] = {}
    for (m, _), pipe in pipes.items():
        if m == "kv":  # one read of each document for every setting (same paging settings)
            pipe._read = shared
    filler = load_filler()
    counts = [len(ids) for ids in llm.tokenizer(filler, add_special_tokens=False)["input_ids"]]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    for index in range(args.first, args.n):
        for length in args.lengths:
            for kind in args.kinds:
                item_id = f"{length}-{kind}-{index}-s{seed}"
                todo = [
                    (m, s)
                    for m in args.methods
                    for s in settings
                    if (args.split, item_id, m, s) not in done
                ]
                if not todo:
                    continue
                item = make_item(
                    length,
                    kind,
                    index,
                    seed=seed,
                    filler=filler,
                    count_tokens=llm.count_tokens,
                    filler_counts=counts,
                )
                lib = None
                if any(m in ("rag", "rtr") for m, _ in todo):
                    lib, _ = item_library(item, embedder, args.work)
                for method, setting in todo:  # settings innermost: A B A B
                    llm.generation = SETTINGS[setting]
                    started, cpu = time.perf_counter(), time.process_time()
                    error = ""
                    try:
                        if method in ("coa", "kv"):
                            doc = Document(text=item.text, path=f"{item.id}.txt")
                            answer = pipes[method, setting].ask(item.question, documents=[doc])
                        else:
                            answer = pipes[method, setting].ask(item.question, library=lib)
                    except Exception as e:  # recorded, shown in the table
                        answer, error = None, f"{type(e).__name__}: {e}"
                    model_text = ""
                    if answer is not None:
                        model_text = getattr(answer, "model_text", "") or answer.text
                    row = {
                        "split": args.split,
                        "seed": seed,
                        "item": item.id,
                        "length": length,
                        "kind": kind,
                        "index": index,
                        "method": method,
                        "setting": setting,
                        "generation": SETTINGS[setting].to_dict(),
                        "question": item.question,
                        "gold": item.gold,
                        "model_text": model_text,
                        "citations": [h.chunk.text for h in answer.citations] if answer else [],
                        "completion_tokens": answer.trace.completion_tokens if answer else 0,
                        "cpu_seconds": round(time.process_time() - cpu, 2),
                        "seconds": round(time.perf_counter() - started, 2),
                        "error": error,
                    }
                    with args.results.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(row) + "\n")
                    print(
                        f"{item.id:<22} {method:<4} {setting:<9} "
                        f"{int(score(model_text, item.gold))} {row['seconds']:>7.1f}s  "
                        f"{model_text[:70]!r} / {item.gold}" + (f" ERROR {error}" if error else ""),
                        flush=True,
                    )
                if lib is not None:
                    lib.close()


def judged(row: dict[str, Any]) -> dict[str, Any]:
    """The row's scores: model answer, repeats, support check, shown answer."""
    from lcmem.pipelines.support import check_answer
    from lcmem.types import Chunk, Hit

    hits = [
        Hit(Chunk(text, 0, len(text), doc_path="c"), 1.0, rank=i + 1)
        for i, text in enumerate(row["citations"])
    ]
    check = check_answer(row["question"], row["model_text"], hits)
    return {
        "model": score(row["model_text"], row["gold"]),
        "repeats": first_repeat(row["model_text"], final=True) is not None,
        "extractive": check.origin != "model",
        "shown": score(check.text, row["gold"]),
        "tokens": row["completion_tokens"],
    }


def table(rows: Sequence[dict[str, Any]], settings: Sequence[str]) -> str:
    cells: dict[tuple[int, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if not r["error"]:
            cells[(r["length"], r["kind"], r["method"], r["setting"])].append(judged(r))
    out = [
        "| length | questions | method | setting | n | model acc | repeats | extractive "
        "| shown acc | answer tokens |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for length in sorted({k[0] for k in cells}):
        for kind in KINDS:
            for method in METHODS:
                for setting in settings:
                    js = cells.get((length, kind, method, setting))
                    if not js:
                        continue
                    n = len(js)

                    def count(key: str, js: list[dict[str, Any]] = js) -> int:
                        return sum(bool(j[key]) for j in js)

                    tokens = statistics.mean(j["tokens"] for j in js)
                    out.append(
                        f"| {length} | {kind} | {method} | {setting} | {n} "
                        f"| {count('model')}/{n} | {count('repeats')}/{n} "
                        f"| {count('extractive')}/{n} | {count('shown')}/{n} | {tokens:.0f} |"
                    )
    return "\n".join(out)


def pooled(rows: Sequence[dict[str, Any]], settings: Sequence[str]) -> str:
    """Per method and setting, all lengths and kinds pooled."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if not r["error"]:
            by[(r["method"], r["setting"])].append(judged(r))
    out = [
        "| method | setting | n | model acc | repeats | extractive (share) | shown acc |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for method in METHODS:
        for setting in settings:
            js = by.get((method, setting))
            if not js:
                continue
            n = len(js)
            ext = sum(j["extractive"] for j in js)
            out.append(
                f"| {method} | {setting} | {n} | {sum(j['model'] for j in js)}/{n} "
                f"| {sum(j['repeats'] for j in js)}/{n} | {ext}/{n} ({ext / n:.2f}) "
                f"| {sum(j['shown'] for j in js)}/{n} |"
            )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="dev")
    parser.add_argument("--lengths", default="4096")
    parser.add_argument("--n", type=int, default=2, help="questions per (length, kind)")
    parser.add_argument("--first", type=int, default=0, help="first question index asked")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--settings", default="old,stop")
    parser.add_argument("--results", type=Path, default=None, help=f"default {RESULTS}")
    parser.add_argument("--work", type=Path, default=WORK, help="per-item libraries")
    parser.add_argument("--report", action="store_true", help="only print the tables")
    args = parser.parse_args()
    args.results = args.results or Path(str(RESULTS).format(split=args.split))
    args.lengths = [int(x) for x in args.lengths.split(",")]
    args.methods = [m for m in args.methods.split(",") if m]
    args.kinds = [k for k in args.kinds.split(",") if k]
    settings = [s for s in args.settings.split(",") if s]
    bad = [x for x in args.methods if x not in METHODS] + [s for s in settings if s not in SETTINGS]
    if bad:
        parser.error(f"unknown method or setting {bad}: {METHODS}, {sorted(SETTINGS)}")
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    load_start = load_average()
    started = time.perf_counter()
    if not args.report:
        run(args, SPLITS[args.split], settings)
    rows = [
        r
        for r in load_rows(args.results)
        if r["split"] == args.split
        and r["length"] in args.lengths
        and r["kind"] in args.kinds
        and r["method"] in args.methods
        and r["setting"] in settings
        and r["index"] < args.n
    ]
    latest = {(r["item"], r["method"], r["setting"]): r for r in rows}
    rows = list(latest.values())
    print(f"\nReadable answers, split {args.split} (seed {SPLITS[args.split]}), n={args.n}/kind")
    print(table(rows, settings))
    print()
    print(pooled(rows, settings))
    print(
        f"\nmachine: {cpu_model()}, {os.cpu_count()} cores, load average {load_start} at "
        f"start, {load_average()} at end; wall time {time.perf_counter() - started:.0f} s"
    )
    print(f"command: {command}")


if __name__ == "__main__":
    main()
