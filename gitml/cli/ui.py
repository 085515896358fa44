"""``gitml ui``: the web app over the repository."""

from __future__ import annotations

import click

from gitml.cli.output import report_options


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Requests must name it in their Host header.")
@click.option("--open", "open_", is_flag=True, help="Open the app in a browser.")
@report_options
def ui(port: int, host: str, open_: bool, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Browse experiments, compare them, see data changes, lineage and the model registry
    in a local web app. Read-only; serves only this machine unless --host says otherwise.

    \b
    gitml ui --open
    gitml ui --port 0          # any free port; the URL is printed
    gitml ui --port 0 --json   # {"url": ..., "pid": ...} once it listens, for scripts
    """
    import errno
    import sys

    from gitml.errors import BadInputError
    from gitml.ui import serve

    if host in ("0.0.0.0", "::", ""):
        raise BadInputError(f"--host {host or repr(host)}: give the one address to serve on "
                            "(requests must name it in their Host header)")
    if host not in ("127.0.0.1", "localhost", "::1") and not quiet:
        click.echo(f"warning: serving on {host}: whoever reaches it can read this repository",
                   err=True)

    def ready(url: str) -> None:
        if as_json:
            import json

            click.echo(json.dumps({"url": url, "pid": __import__("os").getpid()}))
        elif not quiet:
            click.echo(f"gitml ui: {url}  (read-only; Ctrl-C stops)")
        sys.stdout.flush()

    try:
        serve(host=host, port=port, open_browser=open_, verbose=verbose, ready=ready)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise BadInputError(f"port {port} is in use: choose another with --port "
                                "(0 picks a free one)") from None
        if e.errno in (errno.EADDRNOTAVAIL, -2, -3, -5):
            raise BadInputError(f"cannot bind {host}: {e.strerror or e}") from None
        raise
    except KeyboardInterrupt:
        if not quiet:
            click.echo("gitml ui: stopped", err=True)
