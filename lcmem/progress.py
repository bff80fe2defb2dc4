"""Progress display for long work: a rich progress bar on a terminal, nothing otherwise.

Example:
    >>> with make_progress(False) as p:      # disabled: every call is a no-op
    ...     p.files_total(3); p.file_done(); p.chunks_queued(10); p.chunks_embedded(10)
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class NullProgress:
    """Progress that shows nothing (piped output, ``--quiet``, library use)."""

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def files_total(self, n: int) -> None: ...

    def file_done(self, n: int = 1) -> None: ...

    def chunks_queued(self, n: int) -> None: ...

    def chunks_embedded(self, n: int) -> None: ...

    def message(self, text: str) -> None: ...


class RichProgress(NullProgress):
    """Two bars on stderr: files read, and chunks embedded with chunks/s."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            """Items per second, e.g. ``18.2 chunks/s``."""

            def render(self, task: Any) -> Text:
                # Our own rate (done / elapsed): rich's sampled speed resets whenever a growing
                # total makes the task look finished.
                elapsed = task.elapsed or 0.0
                unit = task.fields.get("unit", "")
                if elapsed < 0.5 or not task.completed:
                    return Text("")
                return Text(f"{task.completed / elapsed:.1f} {unit}/s", style="progress.data.speed")

        self._progress = Progress(
            TextColumn("{task.description:<7}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._files: Any = None
        self._chunks: Any = None

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        self._files = self._progress.add_task("files", total=None, unit="files")
        self._chunks = self._progress.add_task("chunks", total=0, unit="chunks")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def files_total(self, n: int) -> None:
        self._progress.update(self._files, total=n)

    def file_done(self, n: int = 1) -> None:
        self._progress.advance(self._files, n)

    def chunks_queued(self, n: int) -> None:
        task = self._progress.tasks[self._chunks]
        self._progress.update(self._chunks, total=(task.total or 0) + n)

    def chunks_embedded(self, n: int) -> None:
        self._progress.advance(self._chunks, n)

    def message(self, text: str) -> None:
        self._progress.console.print(text)


def make_progress(enabled: bool | None) -> NullProgress:
    """A rich progress display if ``enabled`` (``None``: only when stderr is a terminal)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return RichProgress() if enabled else NullProgress()


def quiet_hf_progress(*, unless_terminal: bool = True) -> None:
    """Turn off transformers' and huggingface_hub's own progress bars ("Loading weights",
    "Converting and de-quantizing GGUF tensors", "Writing model shards").

    With ``unless_terminal`` they stay on when stderr is a terminal (a one-time conversion
    that takes a minute deserves a bar there); piped output never gets them.

    Example:
        >>> quiet_hf_progress(unless_terminal=False)
    """
    if unless_terminal and sys.stderr.isatty():
        return
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers is optional for some paths
        pass
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass
