"""``gitml demo``: build and run a small versioned ML project from scratch."""

from __future__ import annotations

import click


@click.command()
@click.argument("directory", default="gitml-demo", required=False)
def demo(directory: str) -> None:
    """Build a small ML project in DIRECTORY (new or empty) and version it end to end.

    Git and gitml init, a synthetic Parquet data set, a prepare/train pipeline, a commit,
    three experiments on branches, then 'gitml exp show' and 'gitml metrics diff' between
    the best experiment and main. Takes a few seconds.

    Example: gitml demo /tmp/gitml-demo
    """
    from gitml.demo import demo as run

    run(directory, say=click.echo)
