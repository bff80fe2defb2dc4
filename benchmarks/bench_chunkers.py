"""Chunking throughput (MB/s) of lcmem against chonkie and langchain-text-splitters, one run.

Inputs (the same for every system): prose is the man section 1 pages cached by
``manpages.py`` (sorted by name, ``gcloud`` pages skipped, concatenated page by page up to
``--prose-mb``); code is the standard library's top-level modules whose names start with a-m
(``/usr/lib/python3.X/[a-m]*.py``, the same files ``bench_code_retrieval.py`` queries).

Systems, all with a 200-token budget (overlap 20 where the splitter has one):

- token windows: lcmem ``TokenChunker``; chonkie ``TokenChunker``; langchain's token splitting
  (``split_text_on_tokens``, the algorithm of its ``TokenTextSplitter`` and
  ``SentenceTransformersTokenTextSplitter``) with the tokenizer's ``encode``/``decode``;
- recursive: lcmem ``RecursiveChunker``; chonkie ``RecursiveChunker`` (no overlap option);
  langchain ``RecursiveCharacterTextSplitter`` with a token ``length_function``;
- code: lcmem ``CodeChunker`` (Python ``ast``); chonkie ``CodeChunker`` (tree-sitter through
  tree-sitter-language-pack, which downloads its grammars on first use: offline it fails and
  is shown as not runnable); langchain ``RecursiveCharacterTextSplitter.from_language(PYTHON)``;
  and ``ast.parse`` alone as a reference (the floor of any ``ast``-based chunker).

Tokenizer: every system counts in the packaged all-MiniLM-L6-v2 tokenizer (the default
embedder's): lcmem through ``HFTokenizer.default()``, chonkie and langchain through the very
same ``tokenizers.Tokenizer`` object (chonkie also with ``tokie``, its own fast re-implementation
loaded from the same ``tokenizer.json``). ``--cheap`` adds each library's default cheap counter:
lcmem ``WhitespaceTokenizer`` (200 words), chonkie ``"character"`` and langchain ``len``
(1,000 characters): different units, shown for completeness. ``--variants`` adds token and
recursive chunking of the same pages reshaped (one line per page; every ``e`` accented), lcmem
against chonkie + tokie. ``--bounds`` runs lcmem alone: each chunker against itself without
the character ceiling and minimum size of ``lcmem.chunkers.bounds`` (``-ceiling -minimum``:
the chunker's own split) and without the minimum only, interleaved.

Timing: each system runs ``--repeat`` passes over its input, the systems of a task taking turns
pass by pass (so a burst of load from other processes on the shared machine falls on all of
them alike); "cold" is each system's first pass over the input, "warm" its best later pass.
Before the first pass every system chunks other text once, untimed (the man pages after the
input; ``os.py``, ``shutil.py``, ``string.py`` for code), and the input is counted once by a
separate tokie tokenizer: one-time setup and tokie's process-wide word cache (shared by every
tokie tokenizer in the process) are then not charged to whichever system runs first. What
remains in "cold" is each library's own state (lcmem caches the pieces of non-ASCII words).
"exact" is the share of chunks whose text occurs verbatim in their document: a chunker that
decodes token ids back into text returns the tokenizer's normalized text (lowercased and
respaced by this uncased tokenizer), not a span of the document.
Wall time and CPU time (``time.process_time``, all threads of the process) are both shown: the
machine is shared, CPU time is the steadier number. Rows are printed as they finish and
appended to ``benchmarks/results/chunkers_throughput.tsv``.

Run: ``.venv/bin/python benchmarks/bench_chunkers.py`` (a few minutes; ``--prose-mb 1`` for a
quick check).
"""

from __future__ import annotations

import argparse
import ast
import gc
import os
import platform
import shlex
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

try:
    from benchmarks.machine import cpu_model, load_average
    from benchmarks.manpages import CACHE_ROOT, LOW_PRIORITY
except ImportError:  # run as a script: benchmarks/ itself is on sys.path
    from machine import cpu_model, load_average  # type: ignore[no-redef]
    from manpages import CACHE_ROOT, LOW_PRIORITY  # type: ignore[no-redef]

from lcmem.chunkers import Chunker, CodeChunker, RecursiveChunker, TokenChunker
from lcmem.tokens import HFTokenizer, WhitespaceTokenizer, default_model_path
from lcmem.types import Document

RESULTS = Path(__file__).resolve().parent / "results" / "chunkers_throughput.tsv"
BUDGET, OVERLAP, CHAR_BUDGET, CHAR_OVERLAP = 200, 20, 1000, 100

Split = Callable[[str], list[str]]


def stdlib_a_m() -> list[Path]:
    """Top-level standard library modules whose names start with a-m, sorted."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in lib.glob("*.py") if p.name[0] in "abcdefghijklm")


def stdlib_warmup() -> list[str]:
    """A few standard library modules outside a-m (the untimed warm-up for the code task)."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    return [(lib / name).read_text() for name in ("os.py", "shutil.py", "string.py")]


def prose_texts(mb: float, skip: int = 0) -> list[str]:
    """Man section 1 pages from the ``manpages.py`` cache, by name (after the first ``skip``
    pages), up to ``mb`` MB."""
    files = sorted(
        p for p in (CACHE_ROOT / "1").glob("*.txt") if not p.name.startswith(LOW_PRIORITY)
    )
    if not files:
        sys.exit("no cached man pages: run .venv/bin/python benchmarks/manpages.py first")
    out: list[str] = []
    size = 0
    for f in files[skip:]:
        text = f.read_text(encoding="utf-8", errors="replace")
        if text.strip():
            out.append(text)
            size += len(text.encode())
        if size >= mb * 1e6:
            break
    return out


@dataclass
class Row:
    task: str
    system: str
    counter: str
    chunks: int
    mean_tokens: float
    cold_wall: float
    cold_cpu: float
    warm_wall: float
    warm_cpu: float


def one_pass(split: Split, texts: list[str]) -> tuple[list[list[str]], float, float]:
    """Chunk every text once: the chunks of each text, wall and CPU seconds."""
    gc.collect()
    w, c = time.perf_counter(), time.process_time()
    out = [split(t) for t in texts]
    return out, time.perf_counter() - w, time.process_time() - c


def exact_share(texts: list[str], chunks: list[list[str]]) -> float:
    """Share of chunks whose text occurs verbatim in the text they came from (a chunker that
    decodes token ids back to text returns normalized text: lowercased, respaced)."""
    total = sum(map(len, chunks))
    return sum(c in t for t, cs in zip(texts, chunks, strict=True) for c in cs) / max(1, total)


def fill_tokie_cache(texts: list[str]) -> None:
    """Count ``texts`` once with a fresh tokie tokenizer (untimed), filling tokie's
    process-wide word cache the way a system's first pass would."""
    try:
        import tokie
    except ImportError:
        return
    counter = tokie.Tokenizer.from_json(str(default_model_path() / "tokenizer.json"))
    for text in texts:
        counter.count_tokens(text)


def run_interleaved(
    splits: list[Split], texts: list[str], repeat: int, warmup: list[str]
) -> list[tuple[list[list[str]], list[tuple[float, float]]] | Exception]:
    """``repeat`` rounds, each running one pass of every system in turn (so a burst of load
    from other processes falls on all of them alike); per system the chunks of its first pass
    and (wall, cpu) per pass, or the exception it raised.

    Every system first chunks ``warmup`` (other text, untimed): one-time setup (regexes,
    lazily built tables, the process's first memory) would otherwise be charged to whichever
    system happens to run first. tokie keeps one word cache for the whole process (every
    tokie tokenizer shares it): it is filled with the input's words before timing (see
    :func:`fill_tokie_cache`), so no system's first pass fills it for the others."""
    results: list = [None] * len(splits)
    for i, split in enumerate(splits):
        try:
            one_pass(split, warmup)
        except Exception as exc:  # a peer that fails here is a row, not a crash
            results[i] = exc
    fill_tokie_cache(texts)
    for k in range(repeat):
        for i, split in enumerate(splits):
            if isinstance(results[i], Exception):
                continue
            try:
                out, wall, cpu = one_pass(split, texts)
            except Exception as exc:  # a peer that fails here is a row, not a crash
                results[i] = exc
                continue
            if k == 0:
                results[i] = (out, [])
            results[i][1].append((wall, cpu))
    return results


def lcmem_split(chunker) -> Split:
    return lambda text: [c.text for c in chunker.chunk(Document(text=text))]


def lcmem_code_split(chunker) -> Split:
    return lambda text: [
        c.text for c in chunker.chunk(Document(text=text, metadata={"lang": "python"}))
    ]


def parse_only(text: str) -> list[str]:
    """The floor of an ``ast``-based chunker: parsing alone (no chunks), cyclic GC paused as
    lcmem's CodeChunker does."""
    gc.disable()
    try:
        ast.parse(text)
    finally:
        gc.enable()
    return []


def chonkie_split(chunker) -> Split:
    return lambda text: [c.text for c in chunker.chunk(text)]


VARIANTS: dict[str, Callable[[str], str]] = {
    "prose, no newlines": lambda text: text.replace("\n", " "),
    "prose, accented": lambda text: text.replace("e", "é"),
}
"""``--variants``: the man pages as one line each (text scraped without line breaks), and with
every ``e`` accented (a language heavy in non-ASCII letters)."""


def input_of(task: str) -> str:
    """The input a task runs on: the text between its parentheses."""
    return task[task.index("(") + 1 : task.rindex(")")]


def bare_split(make: Callable[[], Chunker]) -> Callable[[], Split]:
    """The chunker's own split, without the ceiling and minimum of lcmem.chunkers.bounds."""

    def build() -> Split:
        chunker = make()
        return lambda text: [
            c.text for c in chunker._chunk(Document(text=text, metadata={"lang": "python"}))
        ]

    return build


def ceiling_only_split(make: Callable[[], Chunker], wrap) -> Callable[[], Split]:
    """The chunker with the character ceiling but no minimum (``min_tokens = 0``)."""

    def build() -> Split:
        chunker = make()
        chunker.min_tokens = 0
        return wrap(chunker)

    return build


def systems(
    cheap: bool, variants: bool = False, bounds: bool = False
) -> dict[str, list[tuple[str, str, Callable[[], Split]]]]:
    """Per task: (system, counter, factory). Factories build lazily so a failing peer is a row."""
    hf = HFTokenizer.default()
    raw = hf._tok  # the tokenizers.Tokenizer object lcmem itself wraps: same vocabulary, rules
    tokenizer_json = str(default_model_path() / "tokenizer.json")

    def hf_len(text: str) -> int:
        return len(raw.encode(text, add_special_tokens=False).ids)

    def chonkie_tokie():
        import tokie

        return tokie.Tokenizer.from_json(tokenizer_json)

    def chonkie(kind: str, tok: Callable[[], object], t_name: str = "minilm"):
        def make() -> Split:
            import chonkie as ck

            t = tok()
            if kind == "token":
                return chonkie_split(ck.TokenChunker(t, chunk_size=size, chunk_overlap=overlap))
            if kind == "recursive":
                return chonkie_split(ck.RecursiveChunker(t, chunk_size=size))
            return chonkie_split(ck.CodeChunker(t, chunk_size=size, language="python"))

        size, overlap = (CHAR_BUDGET, CHAR_OVERLAP) if t_name == "character" else (BUDGET, OVERLAP)
        return make

    def langchain(kind: str, length: Callable[[str], int] | None):
        def make() -> Split:
            from langchain_text_splitters import Language, RecursiveCharacterTextSplitter
            from langchain_text_splitters.base import Tokenizer, split_text_on_tokens

            kw = {"length_function": length} if length else {}
            size, overlap = (BUDGET, OVERLAP) if length else (CHAR_BUDGET, CHAR_OVERLAP)
            if kind == "token":
                spec = Tokenizer(
                    chunk_overlap=OVERLAP,
                    tokens_per_chunk=BUDGET,
                    decode=raw.decode,
                    encode=lambda t: raw.encode(t, add_special_tokens=False).ids,
                )
                return lambda text: split_text_on_tokens(text=text, tokenizer=spec)
            if kind == "recursive":
                s = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap, **kw)
            else:
                s = RecursiveCharacterTextSplitter.from_language(
                    Language.PYTHON, chunk_size=size, chunk_overlap=overlap, **kw
                )
            return s.split_text

        return make

    ws = WhitespaceTokenizer()
    out: dict[str, list[tuple[str, str, Callable[[], Split]]]] = {
        "token (prose)": [
            (
                "lcmem TokenChunker",
                "minilm",
                lambda: lcmem_split(TokenChunker(BUDGET, OVERLAP, hf)),
            ),
            ("chonkie TokenChunker", "minilm", chonkie("token", lambda: raw)),
            ("chonkie TokenChunker", "minilm (tokie)", chonkie("token", chonkie_tokie)),
            ("langchain split_text_on_tokens", "minilm", langchain("token", hf_len)),
        ],
        "recursive (prose)": [
            (
                "lcmem RecursiveChunker",
                "minilm",
                lambda: lcmem_split(RecursiveChunker(BUDGET, OVERLAP, hf)),
            ),
            ("chonkie RecursiveChunker", "minilm", chonkie("recursive", lambda: raw)),
            ("chonkie RecursiveChunker", "minilm (tokie)", chonkie("recursive", chonkie_tokie)),
            ("langchain RecursiveCharacterTextSplitter", "minilm", langchain("recursive", hf_len)),
        ],
        "code (python)": [
            (
                "lcmem CodeChunker (ast)",
                "minilm",
                lambda: lcmem_code_split(CodeChunker(BUDGET, OVERLAP, hf, language="python")),
            ),
            ("chonkie CodeChunker", "minilm", chonkie("code", lambda: raw)),
            ("chonkie CodeChunker", "minilm (tokie)", chonkie("code", chonkie_tokie)),
            ("langchain from_language(PYTHON)", "minilm", langchain("code", hf_len)),
            ("(reference) ast.parse alone", "-", lambda: parse_only),
        ],
    }
    if bounds:  # the cost of lcmem.chunkers.bounds: the same chunker without it, interleaved
        for task, make, wrap in (
            ("token (prose)", lambda: TokenChunker(BUDGET, OVERLAP, hf), lcmem_split),
            ("recursive (prose)", lambda: RecursiveChunker(BUDGET, OVERLAP, hf), lcmem_split),
            (
                "code (python)",
                lambda: CodeChunker(BUDGET, OVERLAP, hf, language="python"),
                lcmem_code_split,
            ),
        ):
            name = out[task][0][0]
            out[task] = [
                out[task][0],
                (f"{name} -ceiling -minimum", "minilm", bare_split(make)),
                (f"{name} -minimum", "minilm", ceiling_only_split(make, wrap)),
            ]
    if variants:  # the same pages reshaped: robustness, lcmem against the fastest peer
        for variant in VARIANTS:
            for kind in ("token", "recursive"):
                out[f"{kind} ({variant})"] = [out[f"{kind} (prose)"][0], out[f"{kind} (prose)"][2]]
    if cheap:
        out["token (prose)"] += [
            (
                "lcmem TokenChunker",
                "whitespace",
                lambda: lcmem_split(TokenChunker(BUDGET, OVERLAP, ws)),
            ),
            (
                "chonkie TokenChunker",
                "character",
                chonkie("token", lambda: "character", "character"),
            ),
        ]
        out["recursive (prose)"] += [
            (
                "lcmem RecursiveChunker",
                "whitespace",
                lambda: lcmem_split(RecursiveChunker(BUDGET, OVERLAP, ws)),
            ),
            (
                "chonkie RecursiveChunker",
                "character",
                chonkie("recursive", lambda: "character", "character"),
            ),
            ("langchain RecursiveCharacterTextSplitter", "len", langchain("recursive", None)),
        ]
        out["code (python)"] += [
            (
                "lcmem CodeChunker (ast)",
                "whitespace",
                lambda: lcmem_code_split(CodeChunker(BUDGET, OVERLAP, ws, language="python")),
            ),
            ("chonkie CodeChunker", "character", chonkie("code", lambda: "character", "character")),
            ("langchain from_language(PYTHON)", "len", langchain("code", None)),
        ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prose-mb", type=float, default=4.0, help="MB of man pages (default 4)")
    ap.add_argument("--repeat", type=int, default=3, help="passes per system (default 3)")
    ap.add_argument("--cheap", action="store_true", help="also each library's cheap counter")
    ap.add_argument("--only", default="", help="run only tasks whose name contains this")
    ap.add_argument("--variants", action="store_true", help="also token chunking of reshaped prose")
    ap.add_argument(
        "--bounds",
        action="store_true",
        help="lcmem only: each chunker against itself without the ceiling and minimum",
    )
    args = ap.parse_args()
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])

    inputs = {"prose": prose_texts(args.prose_mb), "python": [p.read_text() for p in stdlib_a_m()]}
    warmups = {"prose": prose_texts(0.2, skip=len(inputs["prose"])), "python": stdlib_warmup()}
    for variant, reshape in VARIANTS.items():
        inputs[variant] = [reshape(t) for t in inputs["prose"]]
        warmups[variant] = [reshape(t) for t in warmups["prose"]]
    sizes = {k: sum(len(t.encode()) for t in v) / 1e6 for k, v in inputs.items()}
    print(
        f"inputs: prose {len(inputs['prose'])} man pages, {sizes['prose']:.2f} MB; python "
        f"{len(inputs['python'])} stdlib a-m modules, {sizes['python']:.2f} MB; budget {BUDGET} "
        f"tokens (overlap {OVERLAP}); {args.repeat} passes",
        flush=True,
    )
    hf = HFTokenizer.default()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new_file = not RESULTS.exists()
    rows: list[Row] = []
    header = (
        f"{'task':<28} {'system':<40} {'counter':<15} {'chunks':>7} {'tok/chunk':>9} "
        f"{'cold MB/s wall/cpu':>19} {'warm MB/s wall/cpu':>19} {'exact':>6}"
    )
    print(header, flush=True)
    with RESULTS.open("a", encoding="utf-8") as log:
        if new_file:
            log.write(
                "when\ttask\tsystem\tcounter\tchunks\tmean_tokens\tMB\tcold_wall_s\tcold_cpu_s"
                "\twarm_wall_s\twarm_cpu_s\tload\texact\n"
            )
        for task, entries in systems(args.cheap, args.variants, args.bounds).items():
            if args.only and args.only not in task:
                continue
            kind = input_of(task)
            texts, mb = inputs[kind], sizes[kind]
            built: list[tuple[str, str, Split | Exception]] = []
            for system, counter, factory in entries:
                try:
                    built.append((system, counter, factory()))
                except Exception as exc:  # a peer that cannot run here is a row, not a crash
                    built.append((system, counter, exc))
            runnable = [b for b in built if not isinstance(b[2], Exception)]
            found = dict(
                zip(
                    [id(b) for b in runnable],
                    run_interleaved([b[2] for b in runnable], texts, args.repeat, warmups[kind]),  # type: ignore[misc]
                    strict=True,
                )
            )
            for b in built:
                system, counter, split = b
                result = split if isinstance(split, Exception) else found[id(b)]
                if isinstance(result, Exception):
                    reason = f"{type(result).__name__}: {str(result).splitlines()[0][:150]}"
                    print(
                        f"{task:<28} {system:<40} {counter:<15} not runnable: {reason}", flush=True
                    )
                    log.write(
                        f"{time.strftime('%FT%T')}\t{task}\t{system}\t{counter}\t"
                        f"not runnable: {reason}\n"
                    )
                    log.flush()
                    continue
                per_text, passes = result
                chunks = [c for cs in per_text for c in cs]
                exact = exact_share(texts, per_text)
                warm = min(passes[1:], key=lambda p: p[1]) if len(passes) > 1 else passes[0]
                mean_tok = statistics.mean(hf.count_many(chunks)) if chunks else 0.0
                row = Row(task, system, counter, len(chunks), mean_tok, *passes[0], *warm)
                rows.append(row)
                print(
                    f"{task:<28} {system:<40} {counter:<15} {row.chunks:>7} {mean_tok:>9.1f} "
                    f"{mb / row.cold_wall:>9.2f}/{mb / row.cold_cpu:<9.2f} "
                    f"{mb / row.warm_wall:>9.2f}/{mb / row.warm_cpu:<9.2f} {exact:>6.1%}",
                    flush=True,
                )
                log.write(
                    f"{time.strftime('%FT%T')}\t{task}\t{system}\t{counter}\t{row.chunks}\t"
                    f"{mean_tok:.1f}\t{mb:.3f}\t{row.cold_wall:.3f}\t{row.cold_cpu:.3f}\t"
                    f"{row.warm_wall:.3f}\t{row.warm_cpu:.3f}\t{load_average()}\t{exact:.3f}\n"
                )
                log.flush()

    print("\nlcmem / fastest peer with the minilm tokenizer (warm CPU MB/s):")
    for task in dict.fromkeys(r.task for r in rows):
        mb = sizes[input_of(task)]
        here = [r for r in rows if r.task == task and r.counter.startswith("minilm")]
        mine = [r for r in here if r.system.startswith("lcmem")]
        peers = [r for r in here if not r.system.startswith("lcmem")]
        if mine and peers:
            best = min(peers, key=lambda r: r.warm_cpu)
            print(
                f"  {task:<28} lcmem {mb / mine[0].warm_cpu:.2f} vs {best.system} "
                f"[{best.counter}] {mb / best.warm_cpu:.2f}: "
                f"x{best.warm_cpu / mine[0].warm_cpu:.2f} (cold: "
                f"x{best.cold_cpu / mine[0].cold_cpu:.2f})"
            )
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, load {load_average()} (1/5/15 min) at "
        f"the end, Python {platform.python_version()}"
    )
    print(f"command: {command}")


if __name__ == "__main__":
    main()
