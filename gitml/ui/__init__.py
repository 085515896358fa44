"""``gitml ui``: a local, read-only web app over the repository (docs/ui.md).

    from gitml.ui import serve
    serve(port=8765)                     # blocks; Ctrl-C stops

The server is :mod:`gitml.ui.server` (the standard library's ThreadingHTTPServer); what it
shows comes from :mod:`gitml.ui.data`, which calls the same functions as the CLI
(``exp show``, ``metrics diff``, ``plots diff``, ``diff``, ``data diff``, ``model show``).
The page is plain JavaScript served from the package (``gitml/ui/static/``), with Vega
taken from the plots extra; nothing is fetched from the network.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["serve"]


def serve(root: str | None = None, host: str = "127.0.0.1", port: int = 8765,
          open_browser: bool = False, verbose: bool = False,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve the repository containing ``root`` (default: the current directory) until
    interrupted; ``ready`` is called with the URL once the port is bound."""
    from gitml.repo import Repo
    from gitml.ui.server import make_server

    with Repo(root) as repo:
        top = repo.root
    server = make_server(top, host, port, verbose)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.server_address[1]}/"
    if ready:
        ready(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
