"""Passkey retrieval and cost of KV-page retrieval (lcmem.kv) against full attention and
sinks + local window only (the StreamingLLM baseline), with the packaged SmolLM2-135M-Instruct.

Design ("read once, ask many"): per length, ``--docs`` documents of filler text, each holding
``--keys`` pass keys for different names at evenly spread depths (0-100%). Each document is
prefilled once per prefill kind, then asked one question per name:

- ``kv``: KV-page prefill (sinks + top-k pages + window per block), question retrieves pages.
- ``streaming``: the same prefill, the question attends to sinks + local window only.
- ``full``: full attention (exact; only where the input fits the model's 8k window).

Rows go to ``benchmarks/results/kv.jsonl`` as they finish (resumable: finished
(length, doc, method) groups are skipped); the table goes to ``benchmarks/results/kv.md``.

    .venv/bin/python benchmarks/bench_kv.py --lengths 4096,8192 --methods full,streaming,kv
    .venv/bin/python benchmarks/bench_kv.py --report      # rebuild kv.md from kv.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from machine import cpu_model, load_average  # noqa: E402

from lcmem.kv import KVSettings, PagedDocument, kv_bytes_per_token  # noqa: E402
from lcmem.types import Document  # noqa: E402

RESULTS = ROOT / "results"
NAMES = [
    "Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas",
    "Keiko", "Liam", "Mira", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sven", "Tara",
]  # fmt: skip
INTRO = (
    "There is important information hidden inside a lot of irrelevant text. Find it and "
    "memorize it. I will quiz you about the important information there.\n\n"
)
FILLER = (
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
)
KV_SETTINGS = {"page_size": 64, "sinks": 128, "window": 2048, "top_k": 32, "block": 512}
KV_QUESTION = {"window": 256, "question_top_k": 4}  # question-time retrieval (tuned at 16k)


NOTES = [
    "## Notes",
    "",
    "- What was run (the full plan did not fit the shared machine, load average 4-14 on 2 "
    "cores): 4k and 32k: 2 documents x 10 keys (20 questions per method); 8k and 16k: 1 "
    "document x 10 keys (10 questions per method); 64k was not run. Full attention at 4k and "
    "8k only. Small samples: one question is 5-10 points.",
    "- The default model confuses the 10 names: with full attention it often answers the key "
    "of the next needle after the asked one, so its 4k ceiling is low. With a single key per "
    "document it would be higher, but that needs one prefill per trial.",
    "- Question-time scoring history on the same saved pages (no re-prefill, which is what "
    "saving makes cheap): Quest's min/max bound with window 2048 and top_k 32 gave kv 2/10 at "
    "32k (streaming 2/10); attention mass with position-free (un-rotated) dot products gave "
    "1/10 at 16k; attention mass with queries rotated 1024 positions ahead, window 256 and "
    "top_k 4 (the settings above) gave 5/10 at 16k and 5/10 on the first 32k document. The "
    "first two 4k kv prefill rows belong to an earlier run whose answers (old question "
    "settings) were replaced.",
    "- RSS growth is the peak resident memory during the prefill minus the resident memory "
    "before it (kv pages on disk beyond a 64 MiB budget). Only the first prefill of a process "
    "is a clean reading (16k: 471 MB, 32k: 496 MB while the pages grow from 686 to 1376 MB); "
    "later prefills in the same process reuse freed memory and read near 0.",
    "- TTFT of a saved document = load + question block + first token; re-prefill = the "
    "measured prefill time of that document + the same first token.",
]


def needle(name: str, key: str) -> str:
    return f"The pass key of {name} is {key}. Remember it. {key} is the pass key of {name}. "


def build(tokenizer, tokens: int, keys: int, seed: int) -> tuple[str, list[dict]]:
    """A filler text of about ``tokens`` tokens with ``keys`` needles at spread depths."""
    rng = random.Random(seed)
    names = NAMES[:keys]
    rng.shuffle(names)
    per_filler = len(tokenizer(FILLER, add_special_tokens=False)["input_ids"])
    per_needle = len(tokenizer(needle("Alice", "12345"), add_special_tokens=False)["input_ids"])
    n_fill = max(1, (tokens - 80 - keys * per_needle) // per_filler)
    at = {round(i * n_fill / max(1, keys - 1)) if keys > 1 else 0: i for i in range(keys)}
    parts, facts = [INTRO], []
    for f in range(n_fill + 1):
        if f in at:
            i = at[f]
            key = str(rng.randint(10000, 99999))
            facts.append({"name": names[i], "key": key, "depth": round(f / n_fill, 3)})
            parts.append(needle(names[i], key))
        if f < n_fill:
            parts.append(FILLER)
    return "".join(parts), facts


class PeakRSS:
    """Samples the process's resident memory every 50 ms (Linux /proc)."""

    def __init__(self) -> None:
        self.peak = self.base = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def emit(row: dict, out: Path) -> None:
    row = {**row, "load": load_average(), "time": time.strftime("%H:%M:%S")}
    print(json.dumps(row), flush=True)
    with out.open("a") as fh:
        fh.write(json.dumps(row) + "\n")


def done_groups(out: Path) -> set[tuple]:
    seen: dict[tuple, int] = {}
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            if r.get("kind") == "answer":
                g = (r["length"], r["doc"], r["method"])
                seen[g] = seen.get(g, 0) + 1
    return {g for g, n in seen.items()}


def ask(doc: PagedDocument, fact: dict) -> dict:
    name = fact["name"]
    ans = doc.ask(
        f"What is the pass key of {name}?",
        instruction="",
        answer_prefix=f"The pass key of {name} is",
        max_tokens=6,
        citations=1,
    )
    detail = ans.trace.steps[0].detail
    return {
        "answer": ans.text,
        "correct": fact["key"] in ans.text,
        "seconds": round(ans.trace.seconds, 2),
        "first_token_seconds": round(detail["first_token_seconds"], 2),
        "context_tokens": detail["context_tokens"],
        "cited_depth": (ans.citations[0].chunk.start / len(doc.documents[0].text))
        if ans.citations and isinstance(ans.citations[0].chunk.metadata.get("page"), int)
        else None,
    }


def run(args: argparse.Namespace) -> None:
    from lcmem.llm.transformers import TransformersLLM

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    llm = TransformersLLM()
    tok = llm.tokenizer
    window = llm.context_window
    finished = done_groups(out)
    emit({"kind": "machine", "cpu": cpu_model(), "bytes_per_token": kv_bytes_per_token(llm)}, out)
    for length in args.lengths:
        for d in range(args.docs):
            methods = [m for m in args.methods if (length, d, m) not in finished]
            if length > window and "full" in methods:
                methods.remove("full")
            if not methods:
                continue
            text, facts = build(tok, length - 128, args.keys, seed=1000 * length + d)
            source = Document(text=text, path=f"passkey-{length}-{d}.txt")
            kinds = []
            if "full" in methods:
                kinds.append(("full", KVSettings.full(block=512), ["full"]))
            paged = [m for m in methods if m in ("kv", "streaming")]
            if paged:
                kv = KVSettings(memory_budget=args.memory_budget, **KV_SETTINGS)
                kinds.append(("kv", kv, paged))
            for kind, settings, group in kinds:
                folder = Path(args.doc_cache) / f"{kind}-{length}-{d}-{source.hash[:12]}"
                if kind == "kv" and (folder / "meta.json").is_file():
                    doc = PagedDocument.load(folder, llm, memory_budget=args.memory_budget)
                    print(f"loaded the saved pages of {folder} (no prefill)", flush=True)
                else:
                    with PeakRSS() as mem:
                        doc = PagedDocument.read(
                            llm, source, settings, folder=folder if kind == "kv" else None
                        )
                    if kind == "kv":
                        doc.save(folder)
                    emit(
                        {
                            "kind": "prefill",
                            "prefill": kind,
                            "length": length,
                            "doc": d,
                            "tokens": doc.tokens,
                            "seconds": round(doc.read_seconds, 1),
                            "tokens_per_s": round(doc.tokens / doc.read_seconds, 1),
                            "rss_peak_mb": round(mem.peak / 2**20),
                            "rss_growth_mb": round((mem.peak - mem.base) / 2**20),
                            "kv_on_disk": not doc.store.resident,
                            "kv_mb": round(doc.store.shape.kv_bytes / 2**20),
                        },
                        out,
                    )
                for method in group:
                    view = (
                        doc.configure(question_top_k=0)
                        if method == "streaming"
                        else doc.configure(**KV_QUESTION)
                        if method == "kv"
                        else doc
                    )
                    for fact in facts:
                        row = {"kind": "answer", "length": length, "doc": d, "method": method}
                        emit({**row, **fact, **ask(view, fact)}, out)
                if kind == "kv" and length in args.ttft_lengths:
                    ttft(llm, folder, doc, facts[len(facts) // 2], length, out)
                del doc
    report(out, Path(args.md))


def ttft(llm, folder: Path, doc: PagedDocument, fact: dict, length: int, out: Path) -> None:
    """Time to first token of a question on the saved document vs re-prefilling it."""
    started = time.perf_counter()
    loaded = PagedDocument.load(folder, llm).configure(**KV_QUESTION)
    load_s = time.perf_counter() - started
    res = ask(loaded, fact)
    saved_ttft = load_s + res["first_token_seconds"]
    reprefill_ttft = doc.read_seconds + res["first_token_seconds"]
    emit(
        {
            "kind": "ttft",
            "length": length,
            "tokens": doc.tokens,
            "load_seconds": round(load_s, 2),
            "saved_ttft_s": round(saved_ttft, 2),
            "reprefill_ttft_s": round(reprefill_ttft, 1),
            "speedup": round(reprefill_ttft / saved_ttft, 1),
            "correct": res["correct"],
        },
        out,
    )


def report(out: Path, md: Path) -> None:
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    answers = [r for r in rows if r["kind"] == "answer"]
    lengths = sorted({r["length"] for r in answers})
    methods = ["full", "streaming", "kv"]
    lines = [
        "# KV-page retrieval (lcmem.kv) — passkey retrieval and cost",
        "",
        "Model: packaged SmolLM2-135M-Instruct (8192-token trained window), CPU, float32.",
        f"KV-page prefill settings: {KV_SETTINGS} (laid-out context <= "
        f"{128 + 32 * 64 + 2048 + 64 + 512} tokens). Question-time retrieval for `kv`: "
        f"{KV_QUESTION}, pages scored by the attention mass of every question token "
        "(queries rotated 1024 positions ahead of the keys). These question settings were "
        "tuned on the 16k document (so 16k is not held out; 8k and 32k are).",
        "",
        "Design (read once, ask many): per length, filler documents each holding 10 pass keys "
        "for 10 different names at evenly spread depths 0-100%; every document is prefilled "
        "once per prefill kind and asked one question per name (`What is the pass key of "
        "NAME?`, answer prefix `The pass key of NAME is`, greedy, 6 tokens; correct when the "
        "5-digit key appears). `full` = full attention (exact layout, only within the 8k "
        "window). `kv` = KV-page prefill and KV-page question. `streaming` = sinks + local "
        "window only at question time, on the same KV-page prefill (so its prefill saw "
        "retrieved pages too; a strict StreamingLLM prefill would see sinks + window only). "
        "At 4k the prefill retrieves every candidate page, so the `kv` prefill equals full "
        "attention there and only the question's retrieval differs.",
        "",
        "Commands: see `.venv/bin/python benchmarks/bench_kv.py --help`; rows in kv.jsonl.",
        "",
        "## Passkey accuracy (correct / asked)",
        "",
        "| length | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for n in lengths:
        cells = []
        for m in methods:
            rs = [r for r in answers if r["length"] == n and r["method"] == m]
            ok = sum(r["correct"] for r in rs)
            cells.append(f"{ok}/{len(rs)} ({100 * ok / len(rs):.0f}%)" if rs else "—")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    pre = [r for r in rows if r["kind"] == "prefill"]
    if pre:
        lines += [
            "",
            "## Prefill cost",
            "",
            "| length | prefill | tokens | seconds | tokens/s | peak RSS MB | RSS growth MB |"
            " KV MB | KV on disk | load avg |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in pre:
            lines.append(
                f"| {r['length']} | {r['prefill']} | {r['tokens']} | {r['seconds']} | "
                f"{r['tokens_per_s']} | {r['rss_peak_mb']} | {r['rss_growth_mb']} | "
                f"{r['kv_mb']} | {r['kv_on_disk']} | {r['load']} |"
            )
    tt = [r for r in rows if r["kind"] == "ttft"]
    if tt:
        lines += [
            "",
            "## Second question: saved document vs re-prefilling",
            "",
            "| length | load s | TTFT saved s | TTFT re-prefill s | speedup | correct |",
            "|---|---|---|---|---|---|",
        ]
        for r in tt:
            lines.append(
                f"| {r['length']} | {r['load_seconds']} | {r['saved_ttft_s']} | "
                f"{r['reprefill_ttft_s']} | {r['speedup']}x | {r['correct']} |"
            )
    mach = [r for r in rows if r["kind"] == "machine"]
    if mach:
        b = mach[-1]["bytes_per_token"]
        lines += [
            "",
            "## Physical bound",
            "",
            f"KV bytes per token (30 layers x 3 KV heads x 64 dims x K+V): {b} in float32, "
            f"{b // 2} in float16. 1M tokens need {b * 2**20 / 2**30:.1f} GiB on disk in "
            f"float32, {b * 2**20 / 2**31:.1f} GiB in float16.",
            "",
            f"Machine: {mach[-1]['cpu']}, 2 cores, shared with other jobs (load average per row "
            "in kv.jsonl).",
        ]
    lines += ["", *NOTES]
    md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="4096,8192,16384,32768,65536")
    ap.add_argument("--methods", default="full,streaming,kv")
    ap.add_argument("--docs", type=int, default=2)
    ap.add_argument("--keys", type=int, default=10)
    ap.add_argument("--ttft-lengths", default="32768")
    ap.add_argument("--memory-budget", type=int, default=64 * 2**20)
    ap.add_argument("--out", default=str(RESULTS / "kv.jsonl"))
    ap.add_argument(
        "--doc-cache",
        default=os.path.join(tempfile.gettempdir(), "lcmem-kv-bench"),
        help="saved KV-page documents, reused by later runs (prefill once)",
    )
    ap.add_argument("--md", default=str(RESULTS / "kv.md"))
    ap.add_argument("--report", action="store_true", help="only rebuild the table")
    args = ap.parse_args()
    args.lengths = [int(x) for x in args.lengths.split(",")]
    args.ttft_lengths = [int(x) for x in args.ttft_lengths.split(",") if x]
    args.methods = args.methods.split(",")
    if args.report:
        report(Path(args.out), Path(args.md))
    else:
        run(args)


if __name__ == "__main__":
    main()
