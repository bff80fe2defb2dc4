"""What every ``lcmem`` command shares: options, exit codes, and how an error is printed.

Exit codes (also in ``lcmem --help``): 0 done; 1 an lcmem error stopped the command (bad
path, empty query, bad setting...); 2 a usage error (unknown option, missing argument, bad
option value: click's code); 3 the command finished, but some files could not be read or
parsed; 4 the library cannot be used (missing, damaged, built with another embedder); 5 a model
or an optional package (an extra) is missing, or the LLM server failed (unreachable, timeout,
refused); 130 interrupted (Ctrl-C),
the library keeps its last good state.

With ``--json`` an error is printed on stderr as one JSON object,
``{"error": {"type": ..., "message": ..., "exit_code": ...}}``.

Example:
    >>> from lcmem.errors import StoreError
    >>> exit_code_of(LcmemError("x")), exit_code_of(StoreError("x")), EXIT_PARTIAL
    (1, 4, 3)
"""

from __future__ import annotations

import json
from typing import Any

import click

from lcmem.errors import LcmemError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_LIBRARY = 4
EXIT_MODEL = 5
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = f"""\b
Exit codes:
  {EXIT_OK:<4} done
  {EXIT_ERROR:<4} an lcmem error stopped the command (bad path, empty query...)
  {EXIT_USAGE:<4} usage error (unknown option, missing argument, bad value)
  {EXIT_PARTIAL:<4} finished, but some files could not be read or parsed
  {EXIT_LIBRARY:<4} the library cannot be used (missing, damaged, other embedder)
  {EXIT_MODEL:<4} a model or an extra is missing, or the LLM server failed
  {EXIT_INTERRUPTED:<4} interrupted; the library keeps its last good state

\b
With --json, errors are one JSON object on stderr:
  {{"error": {{"type": ..., "message": ..., "exit_code": ...}}}}
"""

STORE_HELP = "library folder or database URL (default ./.lcmem, or $LCMEM_STORE)"

_json_requested = False


def exit_code_of(error: LcmemError) -> int:
    """The exit code for an lcmem error: its family's ``exit_code`` (see :mod:`lcmem.errors`)."""
    return int(getattr(error, "exit_code", EXIT_ERROR))


def store_option(f: Any) -> Any:
    """``--store DIR_OR_URL`` (default ``.lcmem`` or ``$LCMEM_STORE``)."""
    return click.option(
        "--store",
        "store",
        default=".lcmem",
        envvar="LCMEM_STORE",
        show_default=False,
        metavar="DIR_OR_URL",
        help=STORE_HELP,
    )(f)


def _remember_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    global _json_requested
    if value:
        _json_requested = True
    return value


def json_option(help: str) -> Any:
    """``--json``: machine-readable output, and errors as JSON on stderr."""
    return click.option(
        "--json", "as_json", is_flag=True, help=help, callback=_remember_json, is_eager=True
    )


def json_requested(argv: list[str]) -> bool:
    """True when this run asked for ``--json`` (also when parsing failed before the flag)."""
    if _json_requested:
        return True
    args = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in args


def reset() -> None:
    """Forget the last run's ``--json`` (``main`` runs more than once in tests)."""
    global _json_requested
    _json_requested = False


def print_error(message: str, *, kind: str, code: int, as_json: bool) -> None:
    """Print an error on stderr: ``error: message``, or one JSON object."""
    if as_json:
        payload = {"error": {"type": kind, "message": message, "exit_code": code}}
        click.echo(json.dumps(payload), err=True)
    else:
        click.echo(f"error: {message}", err=True)


def parse_size(value: str) -> int:
    """``10MB``, ``512k``, ``1048576`` -> bytes.

    Example:
        >>> parse_size("10MB"), parse_size("512k"), parse_size("100")
        (10485760, 524288, 100)
    """
    text = value.strip().lower().removesuffix("b").removesuffix("i")
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a size such as 10MB or 512k") from exc
