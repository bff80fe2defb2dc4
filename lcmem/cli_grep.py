"""``lcmem grep``: count and locate an exact string in the library (the exact index).

Example:
    $ lcmem grep "Traceback (most recent call last)" --count
    $ lcmem grep "rotate" -i -k 20 --where kind=markdown
    $ lcmem grep "GNU General Public License" --normalize-whitespace --json

Exit status, as grep's: 0 if something matched, 1 if nothing did, 2 on an error.
"""

from __future__ import annotations

import json
import sys

import click


@click.command()
@click.argument("pattern")
@click.option(
    "--store",
    "store",
    default=".lcmem",
    envvar="LCMEM_STORE",
    metavar="DIR_OR_URL",
    help="library folder or database URL (default ./.lcmem, or $LCMEM_STORE)",
)
@click.option("--count", "count_only", is_flag=True, help="print only how many matches")
@click.option("-k", "k", default=100, show_default=True, help="most matches shown")
@click.option("-i", "--ignore-case", is_flag=True, help="match whatever the case")
@click.option(
    "--normalize-whitespace",
    is_flag=True,
    help="any run of spaces, tabs or newlines in PATTERN matches any such run",
)
@click.option(
    "--where",
    "where",
    multiple=True,
    metavar="KEY=VALUE",
    help="metadata filter, repeatable, as in search: lang=python, path='*/docs/*'",
)
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
def grep(
    pattern: str,
    store: str,
    count_only: bool,
    k: int,
    ignore_case: bool,
    normalize_whitespace: bool,
    where: tuple[str, ...],
    as_json: bool,
) -> None:
    """Find PATTERN exactly (a literal string, not a regex) in every indexed document.

    Counts overlapping matches ("aa" twice in "aaa"); matches are listed in document order
    as PATH:LINE:COLUMN: LINE-TEXT.
    """
    import lcmem
    from lcmem.cli import _parse_where, _rel, _require_library

    filters = _parse_where(where) or None
    options = {"ignore_case": ignore_case, "normalize_whitespace": normalize_whitespace}
    _require_library(store)
    with lcmem.open(store) as lib:
        if count_only:
            n = lib.count(pattern, where=filters, **options)
            click.echo(json.dumps({"pattern": pattern, "count": n}) if as_json else str(n))
            sys.exit(0 if n else 1)
        hits = lib.find(pattern, limit=max(1, k), where=filters, **options)
        if as_json:
            out = []
            for h in hits:
                d = h.to_dict()
                d["snippet"] = h.chunk.metadata.get("snippet", "")
                d["column"] = h.chunk.metadata.get("column")
                del d["metadata"], d["context"], d["scores"], d["score"], d["chunk_id"]
                out.append(d)
            click.echo(json.dumps({"pattern": pattern, "matches": out}, indent=2))
        else:
            for h in hits:
                column = h.chunk.metadata.get("column", 1)
                snippet = h.chunk.metadata.get("snippet", "").replace("\n", " ")
                click.echo(f"{_rel(h.path)}:{h.chunk.line_start}:{column}: {snippet}")
        sys.exit(0 if hits else 1)
