"""``gitml demo``: build and run a small versioned ML project from scratch."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator

import click

from gitml.cli.output import emit_json, report_options


@click.command()
@click.argument("directory", default="gitml-demo", required=False)
@report_options
def demo(directory: str, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Build a small ML project in DIRECTORY (new or empty) and version it end to end.

    Git and gitml init, a synthetic Parquet data set, a prepare/train pipeline, a commit,
    three experiments on branches, then 'gitml exp show' and 'gitml metrics diff' between
    the best experiment and main. Takes a few seconds.

    Example: gitml demo /tmp/gitml-demo
    """
    from gitml.demo import demo as run

    if quiet or as_json:
        with _silenced():
            result = run(directory, say=lambda _m: None)
    else:
        result = run(directory, say=click.echo)
    if as_json:
        emit_json(dataclasses.asdict(result))


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Standard output off, for this process and the stages it starts (``-q``, ``--json``)."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
