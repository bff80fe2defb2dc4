"""Can the default model chain two facts at all? A direct probe, no retrieval, no long text.

For ``--n`` two-hop items of :mod:`longqa` (seed 0, the 4k series: only their facts are used),
the packaged SmolLM2-135M-Instruct (greedy, 1 torch thread) answers with RAG's prompt
(:func:`lcmem.pipelines.prompts.rag_messages`) from a tiny text:

- ``one_hop``: the answer fact alone, asked about its person directly (``What is the badge
  number of Lena Drecikart?``): the control, one fact, no chaining;
- ``two_facts``: the bridge fact then the answer fact, adjacent, and the two-hop question;
- ``with_distractors``: the item's five facts (bridge, answer and three distractors, as a
  retrieval step would show them), in the item's document order, and the two-hop question;
- ``chain_first``: the same five facts in :func:`lcmem.pipelines.evidence.chain_order` (the
  facts naming the question's names, then those naming the names they introduce, then the
  rest), as the pipelines now present evidence;
- ``chain_only``: only the facts that ``chain_order`` chains.

Score: the gold string in the answer (:func:`longqa.score`).

Rows go to ``benchmarks/results/two_hop_probe.jsonl`` (a rerun replaces the rows of the cases
it runs). Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_two_hop_probe.py --n 20``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

try:
    from benchmarks.longqa import TWO_HOP_TEMPLATES, load_filler, make_item, score
except ImportError:  # run as a script
    from longqa import TWO_HOP_TEMPLATES, load_filler, make_item, score  # type: ignore[no-redef]

from lcmem.pipelines.evidence import chain_order
from lcmem.pipelines.prompts import SYSTEM, rag_messages

CASES = ("one_hop", "two_facts", "with_distractors", "chain_first", "chain_only")
RESULTS = Path(__file__).resolve().parent / "results" / "two_hop_probe.jsonl"


def one_hop_question(item_question: str, answer_fact: str) -> str:
    """The direct question about the answer fact's person, from the item's template."""
    for _bridge, answer, question, _ in TWO_HOP_TEMPLATES:
        head = question.split("{e}")[0]
        if item_question.startswith(head):
            prefix, _, rest = answer.partition("{p}")
            person = answer_fact[len(prefix) :].split(rest.split("{v}")[0])[0]
            if "office" in answer:
                return f"In which city is the office of {person}?"
            if "badge" in answer:
                return f"What is the badge number of {person}?"
            return f"In which city was {person} born?"
    raise ValueError(f"no template for {item_question!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from lcmem.llm.transformers import TransformersLLM

    llm = TransformersLLM()
    filler = load_filler()
    counts = [len(ids) for ids in llm.tokenizer(filler, add_special_tokens=False)["input_ids"]]
    totals: dict[str, list[bool]] = {}
    rows = []
    for i in range(args.n):
        item = make_item(
            4096,
            "two_hop",
            i,
            seed=0,
            filler=filler,
            count_tokens=llm.count_tokens,
            filler_counts=counts,
        )
        answer = next(f for f in item.facts if f.role == "answer")
        bridge = next(f for f in item.facts if f.role == "bridge")
        ordered = [f.text for f in sorted(item.facts, key=lambda f: f.offset)]
        order, chained = chain_order(item.question, ordered)
        cases = {
            "one_hop": (answer.text, one_hop_question(item.question, answer.text)),
            "two_facts": (f"{bridge.text}\n{answer.text}", item.question),
            "with_distractors": ("\n".join(ordered), item.question),
            "chain_first": ("\n".join(ordered[i] for i in order), item.question),
            "chain_only": ("\n".join(ordered[i] for i in order[:chained]), item.question),
        }
        for name, (text, question) in cases.items():
            if name not in args.cases.split(","):
                continue
            started = time.perf_counter()
            done = llm.complete(rag_messages(text, question), max_tokens=48)
            ok = score(done.text, item.gold)
            totals.setdefault(name, []).append(ok)
            rows.append(
                {
                    "item": item.id,
                    "case": name,
                    "question": question,
                    "text": text,
                    "answer": done.text,
                    "gold": item.gold,
                    "correct": ok,
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
            print(
                f"{item.id:<20} {name:<17} {int(ok)} {done.text[:70]!r} / {item.gold}", flush=True
            )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    ran = {r["case"] for r in rows}
    old = []
    if args.results.exists():
        old = [json.loads(x) for x in args.results.read_text().splitlines() if x.strip()]
    kept = [r for r in old if r["case"] not in ran] + rows
    args.results.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    print()
    print(f"system prompt: {SYSTEM!r}")
    print("| case | n | accuracy |\n|---|---:|---:|")
    for name, oks in totals.items():
        print(f"| {name} | {len(oks)} | {sum(oks) / len(oks):.2f} |")


if __name__ == "__main__":
    main()
