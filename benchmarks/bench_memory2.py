"""Episodic memory on epbench2 chronicles: structured F1 per question type, per operator.

For each split (dev, test) and each chronicle (``plain``: no distractors; ``heavy``: about 4.5
distractor paragraphs per event, at least 200k tokens) and each operator (``rules``,
``parser``), observe the chronicle chapter by chapter and in one call, then ask every question
with ``EpisodicWorkspace.ask`` and score F1 against epbench2's gold. Also: whether the two
observation modes give the same answers, observe throughput (tokens/s, SmolLM2 tokenizer), and
the size of ``context_for(question)`` against BM25-RAG's context (top-k chapters by lcmem's
BM25Index) per question type.

Operators of one chronicle run interleaved (rules, parser, rules, parser...) so their speed
ratio compares like with like on a busy machine. Rows go to ``--jsonl``; ``--report-only``
rebuilds the markdown from them.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_memory2.py \\
        --splits dev,test --operators rules,parser --label after
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from epbench2 import Book, f1, generate, questions, seed_for

KINDS = ["latest", "latest_asof", "places", "count", "met_both"]


class BM25Chapters:
    """BM25 over the chronicle's chapters (lcmem's BM25Index and Analyzer)."""

    def __init__(self, book: Book) -> None:
        import numpy as np

        from lcmem.indexers.analyzer import Analyzer
        from lcmem.indexers.bm25 import BM25Index

        self.texts = [book.text[s:e] for s, e in book.chapters]
        self.analyzer = Analyzer()
        self.index = BM25Index()
        self.index.add(np.arange(len(self.texts), dtype=np.int64), self.analyzer.many(self.texts))

    def top(self, question: str, k: int) -> list[str]:
        hits = self.index.search(self.analyzer(question), k)
        return [self.texts[i] for i, _ in sorted(hits)]


def observe(book: Book, operator: str, mode: str):
    from lcmem.memory import EpisodicWorkspace

    ws = EpisodicWorkspace(operator=operator)
    started = time.perf_counter()
    if mode == "chapters":
        for s, e in book.chapters:
            ws.observe(book.text[s:e], source="story", offset=s)
    else:
        ws.observe(book.text, source="story")
    return ws, time.perf_counter() - started


def books(args: argparse.Namespace) -> list[tuple[str, str, Book]]:
    out = []
    for split in args.splits.split(","):
        out.append((split, "plain", generate(args.plain_tokens, seed_for(split, 0))))
        out.append(
            (
                split,
                "heavy",
                generate(args.heavy_tokens, seed_for(split, 1), distractors=args.distractors),
            )
        )
    return out


def run(args: argparse.Namespace) -> None:
    from lcmem.llm.openai_compat import _load_tokenizer

    tok = _load_tokenizer("SmolLM2-135M-Instruct")

    def count(text: str) -> int:
        return len(tok(text)["input_ids"]) if text else 0

    operators = args.operators.split(",")
    modes = args.modes.split(",")
    for split, variant, book in books(args):
        n_tokens = count(book.text)
        qs = questions(book, args.per_type, seed=7)
        rag = BM25Chapters(book)
        rag_tokens = [count("\n\n".join(rag.top(q.text, args.k))) for q in qs]
        answers: dict[tuple[str, str], list[list[str]]] = {}
        for mode in modes:
            for op in operators:  # interleaved: rules, parser, rules, parser
                ws, seconds = observe(book, op, mode)
                preds, scores, ctx = [], [], []
                for q in qs:
                    res = ws.ask(q.text)
                    pred = res.answers if res is not None else []
                    preds.append(sorted(pred))
                    scores.append(f1(pred, q.gold))
                    if mode == "chapters":
                        ctx.append(count(ws.context_for(q.text)))
                answers[(op, mode)] = preds
                row = {
                    "label": args.label,
                    "split": split,
                    "variant": variant,
                    "operator": op,
                    "mode": mode,
                    "tokens": n_tokens,
                    "events_gold": len(book.events),
                    "distractors": book.n_distractors,
                    "events_found": len(ws.events()),
                    "seconds": seconds,
                    "tokens_per_s": n_tokens / seconds,
                    "kinds": [q.kind for q in qs],
                    "f1": scores,
                    "ctx_tokens": ctx,
                    "rag_tokens": rag_tokens,
                    "same_as_chapters": None,
                }
                if mode != "chapters" and (op, "chapters") in answers:
                    a, b = answers[(op, "chapters")], preds
                    row["same_as_chapters"] = sum(x == y for x, y in zip(a, b, strict=True)) / len(
                        a
                    )
                with args.jsonl.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(
                    f"{args.label} {split} {variant} {op:6s} {mode:8s} {n_tokens} tok "
                    f"{seconds:.1f}s ({n_tokens / seconds:.0f} tok/s) "
                    f"F1 {statistics.fmean(scores):.3f} "
                    + " ".join(f"{k}={per_kind(scores, qs, k):.2f}" for k in KINDS)
                    + (
                        f" same={row['same_as_chapters']:.3f}"
                        if row["same_as_chapters"] is not None
                        else ""
                    ),
                    flush=True,
                )


def per_kind(scores: list[float], qs: list, kind: str) -> float:
    return statistics.fmean([s for s, q in zip(scores, qs, strict=True) if q.kind == kind])


def mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def report(rows: list[dict], command: str) -> str:
    out = ["# Episodic memory on epbench2 (second generator)", ""]
    for label in dict.fromkeys(r["label"] for r in rows):
        rs = [r for r in rows if r["label"] == label]
        out += [f"## {label}", "", f"Command: `{command}`", ""]
        out.append(
            "| split | chronicle | tokens | operator | mode | F1 all | "
            + " | ".join(KINDS)
            + " | events found / gold | observe tok/s | same answers as chapters |"
        )
        out.append("|---|---|---:|---|---|---:|" + "---:|" * len(KINDS) + "---:|---:|---:|")
        for r in rs:
            per = [
                mean([s for s, k in zip(r["f1"], r["kinds"], strict=True) if k == kind])
                for kind in KINDS
            ]
            same = "" if r["same_as_chapters"] is None else f"{r['same_as_chapters']:.3f}"
            head = (
                f"| {r['split']} | {r['variant']} | {r['tokens']} | {r['operator']} | {r['mode']}"
            )
            found = f"{r['events_found']} / {r['events_gold']}"
            out.append(
                f"{head} | {mean(r['f1']):.3f} | "
                + " | ".join(f"{p:.3f}" for p in per)
                + f" | {found} | {r['tokens_per_s']:.0f} | {same} |"
            )
        out.append("")
        ctx_rows = [r for r in rs if r["ctx_tokens"]]
        if ctx_rows:
            out.append(
                "Context for the LLM: `context_for(question)` tokens / BM25-RAG tokens "
                "(top-k chapters), mean per question type (chapter-by-chapter workspace):"
            )
            out.append("")
            out.append("| split | chronicle | operator | " + " | ".join(KINDS) + " |")
            out.append("|---|---|---|" + "---:|" * len(KINDS))
            for r in ctx_rows:
                cells = []
                for kind in KINDS:
                    m = mean(
                        [c for c, k in zip(r["ctx_tokens"], r["kinds"], strict=True) if k == kind]
                    )
                    g = mean(
                        [c for c, k in zip(r["rag_tokens"], r["kinds"], strict=True) if k == kind]
                    )
                    cells.append(f"{m:.0f} / {g:.0f} = {m / g:.2f}")
                out.append(
                    f"| {r['split']} | {r['variant']} | {r['operator']} | "
                    + " | ".join(cells)
                    + " |"
                )
            out.append("")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", default="dev,test")
    ap.add_argument("--operators", default="rules,parser")
    ap.add_argument("--modes", default="chapters,one")
    ap.add_argument("--plain-tokens", type=int, default=8000)
    ap.add_argument("--heavy-tokens", type=int, default=210000)
    ap.add_argument("--distractors", type=float, default=4.5)
    ap.add_argument("--per-type", type=int, default=30)
    ap.add_argument("--k", type=int, default=8, help="chapters BM25-RAG retrieves")
    ap.add_argument("--label", default="run")
    ap.add_argument("--jsonl", type=Path, default=Path("benchmarks/results/memory2.jsonl"))
    ap.add_argument("--out", type=Path, default=None, help="write the markdown report here")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--command", default=" ".join(["python", *sys.argv]))
    args = ap.parse_args()
    if not args.report_only:
        args.jsonl.parent.mkdir(parents=True, exist_ok=True)
        run(args)
    rows = [json.loads(x) for x in args.jsonl.read_text().splitlines() if x.strip()]
    text = report(rows, args.command)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
