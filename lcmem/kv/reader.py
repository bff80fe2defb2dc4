"""Read a long document once into KV pages, then answer many questions from the pages that matter.

:meth:`PagedDocument.read` runs a chunked prefill: the chat template's head and the document's
tokens go through the model block by block, each block attending to the sinks, the top-k pages
retrieved for it and a local window (see :mod:`lcmem.kv.cache`). :meth:`PagedDocument.ask`
sends the question as one block that retrieves pages per layer and KV head, generates greedily,
and cites the retrieved pages as exact character spans of the document.
:meth:`PagedDocument.save` / :meth:`PagedDocument.load` keep the pages on disk, so a saved
document answers new questions without reading it again.

Example:
    >>> from lcmem.llm.transformers import TransformersLLM
    >>> text = "The pass key is 4711. " * 2000
    >>> doc = PagedDocument.read(TransformersLLM(), text)  # doctest: +SKIP
    >>> doc.ask("What is the pass key?").text              # doctest: +SKIP
    'The pass key is 4711.'
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lcmem._atomic import atomic_path
from lcmem._extras import require
from lcmem.errors import ConfigError, EmptyQueryError, IndexCorruptError, PathNotFoundError
from lcmem.kv.attention import Layout, Rotary, activate, check_supported
from lcmem.kv.cache import AskRun, PrefillRun
from lcmem.kv.pages import DTYPES, PageStore, Shape
from lcmem.llm.base import trim_at_stop
from lcmem.llm.repetition import GenerationSettings, logits_processors
from lcmem.pipelines.base import Answer, Step, Trace
from lcmem.types import Chunk, Document, Hit, content_hash

FORMAT_VERSION = 1
"""Version of the saved-document format; another version refuses to load."""

DEFAULT_INSTRUCTION = "Answer the question using the text above."
_MARK = "\x00LCMEM_DOCUMENT\x00"
_SEPARATOR = "\n\n"
_META = "meta.json"


@dataclass(frozen=True)
class KVSettings:
    """How a document is paged and which pages a block attends to.

    Attributes:
        page_size: tokens per page.
        sinks: initial tokens always attended (a multiple of ``page_size``).
        window: recent tokens always attended; ``None`` attends to everything (full attention).
        top_k: pages retrieved per layer and KV head; ``None`` retrieves all, 0 none
            (sinks + window only, as StreamingLLM).
        question_top_k: pages the question retrieves (default, -1: ``top_k``).
        question_scoring: ``"mass"`` (each question token's attention mass per page, exact,
            reads the layer's keys once per question) or ``"bound"`` (Quest's bound from the
            page representatives, reads nothing).
        block: tokens per prefill step (a multiple of ``page_size``).
        kv_dtype: ``"float32"`` (exact) or ``"float16"`` (half the bytes) for stored pages.
        memory_budget: bytes of keys + values kept in RAM; a larger document's pages stay on
            disk and are read page by page. ``None``: always in RAM.
        disk_budget: bytes the pages may take on disk (default: the free space there).
    """

    page_size: int = 64
    sinks: int = 128
    window: int | None = 2048
    top_k: int | None = 32
    question_top_k: int | None = -1
    question_scoring: str = "mass"
    block: int = 512
    kv_dtype: str = "float32"
    memory_budget: int | None = 512 * 2**20
    disk_budget: int | None = None

    @classmethod
    def full(cls, **kw: Any) -> KVSettings:
        """Full attention: every page, every token (exact, but bounded by the model window)."""
        return cls(window=None, top_k=None, question_top_k=None, **kw)

    @classmethod
    def streaming(cls, **kw: Any) -> KVSettings:
        """Sinks + local window only (the StreamingLLM baseline)."""
        return cls(top_k=0, question_top_k=0, **kw)

    @property
    def layout(self) -> Layout:
        return Layout(self.page_size, self.sinks, self.window, self.top_k)

    @property
    def ask_top_k(self) -> int | None:
        return self.top_k if self.question_top_k == -1 else self.question_top_k

    def check(self, context_window: int) -> None:
        """Raise :class:`ConfigError` for settings that cannot work."""
        p = self.page_size
        if p < 1 or self.sinks % p or self.block % p or self.block < p:
            raise ConfigError(
                f"sinks ({self.sinks}) and block ({self.block}) must be multiples of page_size "
                f"({p}), and block at least one page"
            )
        if self.question_scoring not in ("mass", "bound"):
            raise ConfigError(
                f"question_scoring must be 'mass' or 'bound', not {self.question_scoring!r}"
            )
        if self.kv_dtype not in DTYPES:
            raise ConfigError(f"kv_dtype must be one of {', '.join(DTYPES)}, not {self.kv_dtype}")
        for k in (self.top_k, self.ask_top_k):
            if k is not None and k < 0:
                raise ConfigError(f"top_k must be 0 or more (or None for all), got {k}")
        ks = [k for k in (self.top_k, self.ask_top_k) if k is not None]
        if self.window is not None and ks:
            longest = self.sinks + max(ks) * p + self.window + p + self.block
            if longest > context_window:
                raise ConfigError(
                    f"sinks + top_k * page_size + window + block = {longest} tokens exceed the "
                    f"model's window of {context_window}: lower top_k, window or block"
                )


@dataclass
class _Parts:
    """Token stream of one read: template head, then each document (separated)."""

    ids: np.ndarray  # int32 [N]
    doc: np.ndarray  # int32 [N], document index of the token, -1 for template/separators
    starts: np.ndarray  # int64 [N], character offsets in their document
    ends: np.ndarray


class PagedDocument:
    """One or more documents read into KV pages; ask it questions with :meth:`ask`.

    Build one with :meth:`read` (or :func:`lcmem.kv.read`) or :meth:`load`.
    """

    def __init__(
        self,
        llm: Any,
        documents: list[Document],
        parts: _Parts,
        store: PageStore,
        settings: KVSettings,
        fingerprint: str,
        read_seconds: float = 0.0,
    ) -> None:
        self.llm = llm
        self.documents = documents
        self.parts = parts
        self.store = store
        self.settings = settings
        self.fingerprint = fingerprint
        self.read_seconds = read_seconds

    # -- reading -------------------------------------------------------------------------
    @classmethod
    def read(
        cls,
        llm: Any,
        documents: str | Document | Sequence[Document],
        settings: KVSettings | None = None,
        *,
        folder: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> PagedDocument:
        """Prefill ``documents`` (a text, a Document or several) into pages.

        Args:
            llm: a :class:`~lcmem.llm.transformers.TransformersLLM` (its ``.model`` is hooked).
            documents: what to read; several documents are read as one stream.
            settings: paging and retrieval settings (default :class:`KVSettings`).
            folder: where on-disk pages are written (default: a temporary folder); pass the
                folder you will :meth:`save` to, to avoid a copy.
            progress: called with ``(tokens_done, tokens_total)`` after each block.

        Raises:
            ConfigError: the model cannot be hooked, bad settings, or the pages would not fit
                the disk budget (checked before any prefill).
        """
        settings = settings or KVSettings()
        model, tokenizer = _model_of(llm)
        check_supported(model)
        settings.check(int(getattr(model.config, "max_position_embeddings", 8192)))
        docs = _as_documents(documents)
        parts = _tokenize(tokenizer, docs)
        n = len(parts.ids)
        shape = _shape(model.config, n, settings)
        on_disk = settings.memory_budget is not None and shape.kv_bytes > settings.memory_budget
        if on_disk:
            _check_disk(shape, settings, folder)
        store = PageStore.create(
            shape.layers,
            shape.heads,
            n,
            shape.head_dim,
            settings.page_size,
            settings.kv_dtype,
            settings.memory_budget,
            folder,
        )
        started = time.perf_counter()
        rotary = Rotary(model)
        groups = model.config.num_attention_heads // shape.heads
        with _lock_of(llm), _inference():
            import torch

            for s in range(0, n, settings.block):
                e = min(n, s + settings.block)
                ids = torch.from_numpy(parts.ids[s:e].astype(np.int64))[None]
                run = PrefillRun(store, settings.layout, rotary, s, groups)
                with activate(model, run):
                    model.model(input_ids=ids, position_ids=torch.zeros_like(ids), use_cache=False)
                if progress:
                    progress(e, n)
        seconds = time.perf_counter() - started
        return cls(llm, docs, parts, store, settings, model_fingerprint(llm), seconds)

    def configure(self, **overrides: Any) -> PagedDocument:
        """The same pages with other retrieval settings (``top_k``, ``question_top_k``, ``window``).

        Example:
            >>> streaming = doc.configure(question_top_k=0)   # doctest: +SKIP
        """
        paging = {"page_size", "sinks", "kv_dtype", "block"} & set(overrides)
        if paging:
            raise ConfigError(f"{', '.join(sorted(paging))} cannot change after reading")
        settings = replace(self.settings, **overrides)
        return PagedDocument(
            self.llm,
            self.documents,
            self.parts,
            self.store,
            settings,
            self.fingerprint,
            self.read_seconds,
        )

    @property
    def tokens(self) -> int:
        """Tokens read (template head, documents and separators)."""
        return len(self.parts.ids)

    # -- asking --------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        max_tokens: int = 64,
        instruction: str = DEFAULT_INSTRUCTION,
        answer_prefix: str = "",
        stop: Sequence[str] | None = None,
        citations: int | None = 3,
        on_text: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer ``question`` from the pages; cite the ``citations`` most retrieved pages.

        Args:
            question: what to ask.
            max_tokens: most tokens generated.
            instruction: put between the document and the question.
            answer_prefix: text the answer is forced to start with (not part of the answer).
            stop: strings that end the answer.
            citations: pages cited (most retrieved first); ``None``: every page the answer
                attended to (retrieved pages by votes, then the local window, then the sinks),
                each widened to whole sentences, for the caller to choose from
                (:func:`lcmem.pipelines.support.cite_supporting`).
            on_text: called with each piece of the answer as it is generated; the pieces join
                to the answer's text (a repeated sentence is held back, as in
                :class:`~lcmem.llm.repetition.SentenceGate`).

        Example:
            >>> doc.ask("What is the pass key?", answer_prefix="The pass key is")  # doctest: +SKIP
        """
        if not isinstance(question, str) or not question.strip():
            raise EmptyQueryError("the question is empty: ask something about the document")
        started = time.perf_counter()
        tail = self._tail_ids(question, instruction, answer_prefix)
        tok = self.llm.tokenizer
        pieces = None
        if on_text is not None:
            pieces = _Pieces(tok, stop, _generation(self.llm), on_text)
        run, out_ids, first_token = self._generate(tail, max_tokens, pieces)
        text = trim_at_stop(tok.decode(out_ids, skip_special_tokens=True), stop).strip()
        text = _generation(self.llm).cut(text)
        seconds = time.perf_counter() - started
        hits = self._citations(run, citations)
        trace = Trace()
        trace.add(
            Step(
                "kv answer",
                prompt=[{"role": "user", "content": question}],
                output=text,
                prompt_tokens=len(tail),
                completion_tokens=len(out_ids),
                seconds=seconds,
                detail={
                    "document_tokens": self.tokens,
                    "context_tokens": run.context_tokens,
                    "pages_retrieved": len(run.votes),
                    "first_token_seconds": first_token,
                },
            )
        )
        return Answer(text=text, citations=hits, trace=trace)

    def logits(self, question_ids: Sequence[int]) -> Any:
        """Logits ``[T, vocab]`` of tokens appended after the document (no generation)."""
        import torch

        model = self.llm.model
        ids = torch.tensor([list(question_ids)], dtype=torch.long)
        run = self._ask_run()
        with _lock_of(self.llm), _inference(), activate(model, run):
            hidden = model.model(
                input_ids=ids, position_ids=torch.zeros_like(ids), use_cache=False
            ).last_hidden_state
            return model.lm_head(hidden)[0]

    def _ask_run(self) -> AskRun:
        model = self.llm.model
        groups = model.config.num_attention_heads // self.store.shape.heads
        return AskRun(
            self.store,
            self.settings.layout,
            Rotary(model),
            self.tokens,
            groups,
            self.settings.ask_top_k,
            exact=self.settings.question_scoring == "mass",
        )

    def _generate(
        self, tail: list[int], max_tokens: int, pieces: _Pieces | None = None
    ) -> tuple[AskRun, list[int], float]:
        import torch

        model = self.llm.model
        tok = self.llm.tokenizer
        stops = _stop_ids(tok, model)
        run = self._ask_run()
        settings = _generation(self.llm)
        processors = logits_processors(settings, prompt_len=0)  # they see generated ids only
        out: list[int] = []
        started = time.perf_counter()
        first = 0.0
        with _lock_of(self.llm), _inference(), activate(model, run):
            ids = torch.tensor([tail], dtype=torch.long)
            for _ in range(max_tokens):
                hidden = model.model(
                    input_ids=ids, position_ids=torch.zeros_like(ids), use_cache=False
                ).last_hidden_state
                logits = model.lm_head(hidden[:, -1])
                for process in processors:
                    logits = process(torch.tensor([out], dtype=torch.long), logits)
                nxt = int(logits.argmax(-1))
                if not out:
                    first = time.perf_counter() - started
                if nxt in stops:
                    break
                out.append(nxt)
                if pieces is not None:
                    pieces.push(out)
                if settings.repeat_at(tok.decode(out)) is not None:
                    break
                ids = torch.tensor([[nxt]], dtype=torch.long)
        if pieces is not None:
            pieces.finish(out)
        return run, out, first

    def _tail_ids(self, question: str, instruction: str, answer_prefix: str) -> list[int]:
        tok = self.llm.tokenizer
        _, tail = _template(tok)
        body = f"{instruction}\nQuestion: {question.strip()}" if instruction else question.strip()
        text = tail.replace("{question}", body) + answer_prefix
        return list(tok(text, add_special_tokens=False)["input_ids"])

    def _citations(self, run: AskRun, limit: int | None) -> list[Hit]:
        p = self.settings.page_size
        ranked = run.retrieved()
        if not ranked:  # nothing retrieved: the whole input was in view
            return [
                _hit(d, 0, len(d.text), rank + 1, 1.0, {"page": "all"})
                for rank, d in enumerate(self.documents)
            ]
        total = max(1, sum(v for _, v in ranked))
        if limit is None:  # every attended page: retrieved, then the window, then the sinks
            layout = self.settings.layout
            always = [
                *range(layout.window_start(self.tokens) // p, -(-self.tokens // p)),
                *range(min(self.settings.sinks, self.tokens) // p),
            ]
            seen = {page for page, _ in ranked}
            ranked = ranked + [(q, 0) for q in always if q not in seen]
        hits: list[Hit] = []
        for page, votes in ranked:
            if limit is not None and len(hits) >= limit:
                break
            sl = slice(page * p, min(self.tokens, page * p + p))
            for d in np.unique(self.parts.doc[sl]):
                if d < 0:
                    continue
                sel = self.parts.doc[sl] == d
                start = int(self.parts.starts[sl][sel].min())
                end = int(self.parts.ends[sl][sel].max())
                if limit is None:
                    start, end = _whole_sentences(self.documents[d].text, start, end)
                meta = {"page": int(page), "votes": int(votes)}
                hits.append(_hit(self.documents[d], start, end, len(hits) + 1, votes / total, meta))
        return hits if limit is None else hits[:limit]

    # -- persistence ---------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the pages and everything needed to answer into ``folder``.

        ``meta.json`` is written last, so a folder without it is an interrupted save.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _META).unlink(missing_ok=True)
        self.store.save(folder)
        np.save(folder / "ids.npy", self.parts.ids)
        np.save(folder / "doc.npy", self.parts.doc)
        np.save(folder / "starts.npy", self.parts.starts)
        np.save(folder / "ends.npy", self.parts.ends)
        docs = [{"path": d.path, "text": d.text, "metadata": d.metadata} for d in self.documents]
        with atomic_path(folder / "documents.json") as tmp:
            tmp.write_text(json.dumps(docs), encoding="utf-8")
        meta = {
            "format": FORMAT_VERSION,
            "model": getattr(self.llm, "name", ""),
            "fingerprint": self.fingerprint,
            "shape": asdict(self.store.shape),
            "settings": asdict(self.settings),
            "read_seconds": self.read_seconds,
        }
        with atomic_path(folder / _META) as tmp:
            tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return folder

    @classmethod
    def load(
        cls,
        folder: str | Path,
        llm: Any,
        *,
        memory_budget: int | None = -1,
        **overrides: Any,
    ) -> PagedDocument:
        """A document saved by :meth:`save`; no prefill happens.

        Args:
            folder: the saved folder.
            llm: the same model it was read with.
            memory_budget: bytes of pages kept in RAM (default: as saved).
            overrides: retrieval settings to change (``top_k``, ``window``...; not the paging).

        Raises:
            PathNotFoundError: no saved document there.
            IndexCorruptError: saved by another format version.
            ConfigError: saved with another model.
        """
        folder = Path(folder)
        if not (folder / _META).is_file():
            raise PathNotFoundError(f"no saved KV document in {folder}: read and save one first")
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            raise IndexCorruptError(
                f"{folder} holds KV pages of format {meta.get('format')}, this lcmem reads "
                f"format {FORMAT_VERSION}: delete the folder and read the document again"
            )
        fp = model_fingerprint(llm)
        if meta.get("fingerprint") != fp:
            raise ConfigError(
                f"{folder} was read with model {meta.get('model')!r}, not "
                f"{getattr(llm, 'name', llm)!r} (the model fingerprints differ): load it with "
                "that model, or read the document again with this one"
            )
        check_supported(llm.model)
        saved = KVSettings(**meta["settings"])
        paging = {"page_size", "sinks", "kv_dtype", "block"} & set(overrides)
        if paging:
            raise ConfigError(f"{', '.join(sorted(paging))} cannot change after reading")
        budget = saved.memory_budget if memory_budget == -1 else memory_budget
        settings = replace(saved, memory_budget=budget, **overrides)
        shape = Shape(**meta["shape"])
        store = PageStore.open(folder, shape, budget)
        parts = _Parts(
            np.load(folder / "ids.npy"),
            np.load(folder / "doc.npy"),
            np.load(folder / "starts.npy"),
            np.load(folder / "ends.npy"),
        )
        docs = [
            Document(text=d["text"], path=d["path"], metadata=d.get("metadata") or {})
            for d in json.loads((folder / "documents.json").read_text(encoding="utf-8"))
        ]
        return cls(llm, docs, parts, store, settings, fp, float(meta.get("read_seconds", 0)))

    def __repr__(self) -> str:
        where = "RAM" if self.store.resident else str(self.store.folder)
        return f"PagedDocument({self.tokens} tokens, {self.store.shape.pages} pages, {where})"


# -- helpers ------------------------------------------------------------------------------
def _model_of(llm: Any) -> tuple[Any, Any]:
    require("torch", "transformers", extra="llm")
    model = getattr(llm, "model", None)
    tokenizer = getattr(llm, "tokenizer", None)
    if model is None or tokenizer is None or not hasattr(model, "config"):
        raise ConfigError(
            "KV-page retrieval needs an in-process transformers model "
            "(lcmem.llm.transformers.TransformersLLM): an HTTP endpoint has no KV cache to page"
        )
    return model, tokenizer


def _lock_of(llm: Any) -> Any:
    lock = getattr(llm, "_lock", None)
    return lock if lock is not None else threading.Lock()


def _inference() -> Any:
    import torch

    return torch.inference_mode()


def _as_documents(documents: str | Document | Sequence[Document]) -> list[Document]:
    if isinstance(documents, str):
        docs = [Document(text=documents)]
    elif isinstance(documents, Document):
        docs = [documents]
    else:
        docs = list(documents)
    if not docs or not any(d.text.strip() for d in docs):
        raise ConfigError("nothing to read: the document is empty")
    return docs


def _template(tokenizer: Any) -> tuple[str, str]:
    """The chat prompt split around the document: (head, tail with ``{question}``)."""
    if getattr(tokenizer, "chat_template", None):
        content = f"{_MARK}{_SEPARATOR}{{question}}"
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
        )
        head, _, tail = text.partition(_MARK)
        return head, tail
    return "", f"{_SEPARATOR}{{question}}\nAnswer:"


def _tokenize(tokenizer: Any, docs: list[Document]) -> _Parts:
    head, _ = _template(tokenizer)
    ids: list[np.ndarray] = []
    doc: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []

    def add(text: str, index: int, offsets: bool) -> None:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=offsets)
        tid = np.asarray(enc["input_ids"], dtype=np.int32)
        ids.append(tid)
        doc.append(np.full(len(tid), index, np.int32))
        if offsets:
            off = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
        else:
            off = np.full((len(tid), 2), -1, np.int64)
        starts.append(off[:, 0])
        ends.append(off[:, 1])

    if head:
        add(head, -1, False)
    for i, d in enumerate(docs):
        if i:
            add(_SEPARATOR, -1, False)
        add(d.text, i, True)
    return _Parts(
        np.concatenate(ids), np.concatenate(doc), np.concatenate(starts), np.concatenate(ends)
    )


def _shape(config: Any, tokens: int, settings: KVSettings) -> Shape:
    heads = int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return Shape(
        int(config.num_hidden_layers),
        heads,
        tokens,
        int(head_dim),
        settings.page_size,
        settings.kv_dtype,
    )


def kv_bytes_per_token(llm: Any, kv_dtype: str = "float32") -> int:
    """Bytes of keys + values one token takes, all layers (the physical bound of paging).

    Example:
        >>> kv_bytes_per_token(TransformersLLM())            # doctest: +SKIP
        46080
    """
    model, _ = _model_of(llm)
    return _shape(model.config, 1, KVSettings(kv_dtype=kv_dtype)).bytes_per_token


def _check_disk(shape: Shape, settings: KVSettings, folder: str | Path | None) -> None:
    import tempfile

    where = Path(folder) if folder else Path(tempfile.gettempdir())
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    budget = settings.disk_budget
    if budget is None:
        budget = shutil.disk_usage(probe).free
    need = shape.kv_bytes
    if need > budget:
        raise ConfigError(
            f"the input has {shape.tokens} tokens whose KV pages need {need / 2**30:.2f} GiB but "
            f"the disk budget at {probe} is {budget / 2**30:.2f} GiB: free space, raise "
            "disk_budget, use kv_dtype='float16', or read a shorter input"
        )


def _stop_ids(tokenizer: Any, model: Any) -> set[int]:
    ids: set[int] = set()
    for src in (getattr(model, "generation_config", None), tokenizer):
        eos = getattr(src, "eos_token_id", None)
        if isinstance(eos, int):
            ids.add(eos)
        elif eos:
            ids.update(int(e) for e in eos)
    for name in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>"):
        tid = tokenizer.convert_tokens_to_ids(name) if name in tokenizer.get_vocab() else None
        if isinstance(tid, int):
            ids.add(tid)
    return ids


_FINGERPRINTS: dict[int, str] = {}


def model_fingerprint(llm: Any) -> str:
    """Identifies a model's weights and tokenizer, so pages are never used with another model."""
    model, tokenizer = _model_of(llm)
    cached = _FINGERPRINTS.get(id(model))
    if cached:
        return cached
    import torch

    cfg = {
        k: v
        for k, v in model.config.to_dict().items()
        if not k.startswith("_") and k not in ("transformers_version", "dtype", "torch_dtype")
    }
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode())
    with torch.no_grad():
        emb = model.get_input_embeddings().weight
        h.update(np.asarray(emb[:64].double().sum(dim=1).cpu()).tobytes())
        last = next(iter(model.model.layers[-1].parameters()))
        h.update(np.asarray(last.double().sum().cpu()).tobytes())
    h.update(str(len(tokenizer)).encode())
    h.update(content_hash(tokenizer.decode(list(range(min(len(tokenizer), 512))))).encode())
    _FINGERPRINTS[id(model)] = h.hexdigest()[:32]
    return _FINGERPRINTS[id(model)]


def _hit(doc: Document, start: int, end: int, rank: int, score: float, meta: dict) -> Hit:
    text = doc.text[start:end]
    line_start = doc.text.count("\n", 0, start) + 1
    chunk = Chunk(
        text=text,
        start=start,
        end=end,
        context=f"page {meta.get('page')}",
        metadata=meta,
        doc_path=doc.path,
        line_start=line_start,
        line_end=line_start + text.count("\n"),
    )
    return Hit(chunk=chunk, score=float(score), rank=rank, scores={"kv_votes": float(score)})


_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s|\n\s*\n")
_WIDEN = 400  # most characters a page is widened by on each side


def _whole_sentences(text: str, start: int, end: int) -> tuple[int, int]:
    """``start``/``end`` of a page widened to the sentences it cuts (at most :data:`_WIDEN`
    characters each side), so a fact split across two pages is whole in both.

    Example:
        >>> t = "One two. Three four five. Six."
        >>> s, e = _whole_sentences(t, 12, 18)
        >>> t[s:e]
        'Three four five.'
    """
    before = text[max(0, start - _WIDEN) : start]
    ends = list(_SENTENCE_END.finditer(before))
    if ends:
        start = start - len(before) + ends[-1].end()
    elif start - len(before) == 0:
        start = 0
    found = _SENTENCE_END.search(text, max(start, end - 1), min(len(text), end + _WIDEN))
    end = found.start() + 1 if found else (len(text) if len(text) - end <= _WIDEN else end)
    while start < end and text[start].isspace():
        start += 1
    return start, end


def read(
    source: str | Path | Document | Sequence[Document],
    llm: Any = None,
    settings: KVSettings | None = None,
    **kwargs: Any,
) -> PagedDocument:
    """Read a file path, a text, or Documents into KV pages; ask it questions with ``.ask``.

    Args:
        source: a path to a text file, a string of text, a Document, or several.
        llm: a TransformersLLM (default: the packaged SmolLM2-135M-Instruct).
        settings: :class:`KVSettings` (default ones if omitted).
        kwargs: passed on to :meth:`PagedDocument.read` (``folder``, ``progress``).

    Example:
        >>> doc = read("notes.txt")                                   # doctest: +SKIP
        >>> doc.ask("Who wrote the notes?").citations[0].span         # doctest: +SKIP
    """
    if llm is None:
        from lcmem.llm.transformers import TransformersLLM

        llm = TransformersLLM()
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and len(source) < 4096 and _is_file(source)
    ):
        path = Path(source).expanduser()
        if not path.is_file():
            raise PathNotFoundError(f"{path} does not exist: pass an existing file or a text")
        source = Document(text=path.read_text(encoding="utf-8", errors="replace"), path=str(path))
    return PagedDocument.read(llm, source, settings, **kwargs)


def _is_file(text: str) -> bool:
    try:
        return Path(text).expanduser().is_file()
    except OSError:
        return False


__all__ = [
    "DEFAULT_INSTRUCTION",
    "FORMAT_VERSION",
    "KVSettings",
    "PagedDocument",
    "kv_bytes_per_token",
    "model_fingerprint",
    "read",
]


class _Pieces:
    """The text of a growing list of generated ids, passed on piece by piece.

    Whole characters only (a byte-level token may end inside one), cut at the first stop
    string, and through a :class:`~lcmem.llm.repetition.SentenceGate` when repeated sentences
    stop generation, so the pieces join to what :meth:`PagedDocument.ask` returns.
    (transformers' ``TextIteratorStreamer`` needs ``generate()``; the kv loop is our own.)
    """

    def __init__(
        self,
        tokenizer: Any,
        stop: Sequence[str] | None,
        settings: GenerationSettings,
        emit: Callable[[str], None],
    ) -> None:
        self.tokenizer, self.stop, self.emit = tokenizer, stop, emit
        self.gate = settings.gate()
        self.taken = ""  # decoded text passed on so far (before stripping the first blanks)
        self.blanks = ""  # trailing blanks held back
        self.started = False  # leading blanks are dropped until the first text
        self.ended = False

    def push(self, ids: Sequence[int], final: bool = False) -> None:
        if self.ended:
            return
        text = self.tokenizer.decode(list(ids), skip_special_tokens=True)
        if text.endswith("\ufffd") and not final:
            return  # a character split across tokens: wait for its end
        cut = trim_at_stop(text, self.stop)
        stopped = len(cut) < len(text)
        piece = cut[len(self.taken) :]
        self.taken = cut
        if not self.started:
            piece = piece.lstrip()
            self.started = bool(piece)
        if self.gate is not None:
            piece = self.gate.feed(piece)
            if stopped or final:
                piece += self.gate.finish()
            stopped = stopped or self.gate.stopped
        self.ended = stopped or final
        # Blanks at the end wait for more text: the answer is stripped, so are the pieces.
        piece = self.blanks + piece
        kept = piece.rstrip()
        self.blanks = "" if self.ended else piece[len(kept) :]
        if kept:
            self.emit(kept)

    def finish(self, ids: Sequence[int]) -> None:
        self.push(ids, final=True)


def _generation(llm: Any) -> GenerationSettings:
    """The LLM's decoding guards (a backend without any gets the general default)."""
    return getattr(llm, "generation", None) or GenerationSettings()
