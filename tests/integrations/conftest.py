"""One small real library (man pages + a Markdown guide, real embedder) shared by these tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import man_text

GUIDE = textwrap.dedent("""\
    # Backup guide

    ## Schedule

    Run the nightly backup job at two in the morning with cron.

    ## Restore

    To restore a snapshot, stop the service and unpack the archive back into /srv.

    ```sh
    tar -xzf snapshot.tar.gz -C /srv
    ```
    """)


def make_corpus(root: Path) -> Path:
    """A few real man pages (cut to keep indexing quick) and a Markdown guide."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("cp", "tar", "grep"):
        text = man_text(name)
        assert len(text) > 2000, f"man page {name} missing"
        (root / f"{name}.txt").write_text(text[:12000])
    (root / "guide.md").write_text(GUIDE)
    return root


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def library(tmp_path_factory, corpus):
    """A library indexed once with the real packaged embedder; closed at the end."""
    import lcmem

    lib = lcmem.open(tmp_path_factory.mktemp("lib") / "store")
    report = lib.index([corpus])
    assert report.ok and len(report.added) == 4
    yield lib
    lib.close()
