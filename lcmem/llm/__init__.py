"""LLM backends: the packaged SmolLM2, any Hugging Face model, any OpenAI-compatible server.

:func:`load_llm` turns what a user typed (``--llm``) into a backend.

Example:
    >>> llm = load_llm()                                   # doctest: +SKIP
    >>> llm.generate([user("Say hi")], max_tokens=8)       # doctest: +SKIP
    'Hi! How can I help you today?'
"""

from __future__ import annotations

from pathlib import Path

from lcmem.llm.base import LLM, Completion, Message, assistant, system, trim_at_stop, user


def load_llm(spec: str | Path | LLM | None = None) -> LLM:
    """The backend for ``spec``.

    ``None`` gives the packaged default (SmolLM2-135M-Instruct); an ``http(s)://`` URL gives an
    OpenAI-compatible client (``URL#model`` picks the model name); anything else is a local
    Hugging Face model folder or ``.gguf`` file. An :class:`LLM` is returned as it is.
    """
    if isinstance(spec, LLM):
        return spec
    from lcmem.llm.transformers import DEFAULT_LLM, TransformersLLM

    if spec is None:
        return TransformersLLM(DEFAULT_LLM)
    text = str(spec)
    if text.startswith(("http://", "https://")):
        from lcmem.llm.openai_compat import OpenAICompatibleLLM

        base_url, _, model = text.partition("#")
        return OpenAICompatibleLLM(base_url, model=model or None)
    return TransformersLLM(text)


__all__ = [
    "LLM",
    "Completion",
    "Message",
    "assistant",
    "load_llm",
    "system",
    "trim_at_stop",
    "user",
]
