"""Where is the fact a kv answer rests on? (issue 21: kv cited pages without the answer)

For ``longqa`` items (4,096 tokens, the split's seed), the ``kv`` pipeline's document is read
and asked as in ``bench_answers.py`` (default ``KVSettings``, 96 answer tokens, the LLM's
default generation settings), and every page the answer attended to is kept
(``PagedDocument.ask(citations=None)``: retrieved pages by votes, then the local window, then
the sinks, each widened to whole sentences). Each row records the model's text and those
pages with their votes, so citation choices can be compared offline on the same answers
(``--report``): the most-voted pages (kv before issue 21's round 3) against
:func:`lcmem.pipelines.support.cite_supporting`.

Run (dev only, for diagnosis):
``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/kv_citation_diagnose.py --split dev --n 3``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

try:
    from benchmarks.bench_answers import SPLITS
    from benchmarks.bench_pipelines import ANSWER_TOKENS, load_rows
    from benchmarks.longqa import KINDS, load_filler, make_item, score
except ImportError:  # run as a script
    from bench_answers import SPLITS  # type: ignore[no-redef]
    from bench_pipelines import ANSWER_TOKENS, load_rows  # type: ignore[no-redef]
    from longqa import KINDS, load_filler, make_item, score  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "kv-citations-{split}.jsonl"


def run(args: argparse.Namespace) -> None:
    import torch

    from lcmem.llm.transformers import TransformersLLM
    from lcmem.pipelines import get_pipeline
    from lcmem.types import Document

    torch.set_num_threads(1)
    done = {r["item"] for r in load_rows(args.results)}
    llm = TransformersLLM()
    pipe = get_pipeline("kv", llm, max_tokens=ANSWER_TOKENS)
    filler = load_filler()
    counts = [len(ids) for ids in llm.tokenizer(filler, add_special_tokens=False)["input_ids"]]
    seed = SPLITS[args.split]
    for index in range(args.first, args.first + args.n):
        for kind in args.kinds.split(","):
            item = make_item(
                4096,
                kind,
                index,
                seed=seed,
                filler=filler,
                count_tokens=llm.count_tokens,
                filler_counts=counts,
            )
            if item.id in done:
                continue
            started = time.perf_counter()
            doc = pipe._documents([Document(text=item.text, path=f"{item.id}.txt")], [])
            answer = doc.ask(item.question, max_tokens=ANSWER_TOKENS, citations=None)
            row: dict[str, Any] = {
                "split": args.split,
                "item": item.id,
                "kind": kind,
                "index": index,
                "question": item.question,
                "gold": item.gold,
                "facts": [f.text for f in item.facts],
                "model_text": answer.text,
                "pages": [
                    {
                        "text": h.chunk.text,
                        "page": h.chunk.metadata["page"],
                        "votes": h.chunk.metadata["votes"],
                        "start": h.chunk.start,
                    }
                    for h in answer.citations
                ],
                "seconds": round(time.perf_counter() - started, 1),
            }
            with args.results.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            print(
                f"{item.id} {int(score(answer.text, item.gold))} {row['seconds']}s "
                f"{answer.text[:80]!r} / {item.gold}",
                flush=True,
            )


def report(rows: list[dict[str, Any]], limit: int = 3) -> str:
    """Per answer: the support check's outcome with the most-voted ``limit`` pages cited
    (before) and with :func:`cite_supporting`'s choice (after)."""
    from lcmem.pipelines.support import check_answer, cite_supporting
    from lcmem.types import Chunk, Hit

    out = [
        "| item | model acc | gold on a voted page | before: origin, shown acc "
        "| after: chosen, origin, shown acc | gold on a cited page (after) |",
        "|---|---:|---:|---|---|---:|",
    ]
    totals = {"model": 0, "fb_before": 0, "shown_before": 0, "fb_after": 0, "shown_after": 0}
    for r in rows:
        hits = [
            Hit(
                Chunk(p["text"], p["start"], p["start"] + len(p["text"]), doc_path="d"),
                float(p["votes"]),
                rank=i + 1,
            )
            for i, p in enumerate(r["pages"])
        ]
        q, text, gold = r["question"], r["model_text"], r["gold"]
        before = check_answer(q, text, hits[:limit])
        cited, how = cite_supporting(q, text, hits, limit)
        after = check_answer(q, text, cited)
        model = score(text, gold)
        totals["model"] += model
        totals["fb_before"] += before.origin != "model"
        totals["fb_after"] += after.origin != "model"
        totals["shown_before"] += score(before.text, gold)
        totals["shown_after"] += score(after.text, gold)
        out.append(
            f"| {r['item']} | {int(model)} "
            f"| {int(any(gold in h.chunk.text for h in hits[:limit]))} "
            f"| {before.origin}, {int(score(before.text, gold))} "
            f"| {how['chosen']}, {after.origin}, {int(score(after.text, gold))} "
            f"| {int(any(gold in h.chunk.text for h in cited))} |"
        )
    n = len(rows)
    out.append(
        f"\nn={n}: model acc {totals['model']}/{n}; fell back before {totals['fb_before']}/{n}, "
        f"after {totals['fb_after']}/{n}; shown acc before {totals['shown_before']}/{n}, "
        f"after {totals['shown_after']}/{n}"
    )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="dev")
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--first", type=int, default=0, help="first item index")
    parser.add_argument("--kinds", default=",".join(KINDS), help="question kinds, comma-separated")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    args.results = args.results or Path(str(RESULTS).format(split=args.split))
    if not args.report:
        run(args)
    print(report(load_rows(args.results)))


if __name__ == "__main__":
    main()
