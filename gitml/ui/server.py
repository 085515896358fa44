"""The HTTP side of ``gitml ui``: the standard library's ThreadingHTTPServer, GET only.

Every answer is the app's static files (package data) or JSON from :mod:`gitml.ui.data`.
Defences, because the repository's branches and files come from strangers and a browser
visits other sites too:

* it binds 127.0.0.1 by default, and answers only requests whose ``Host`` header is the
  bound address (``localhost`` too for a loopback address): a DNS-rebinding page, whose
  requests carry its own host name, gets 403;
* every response forbids what the app does not need (Content-Security-Policy: scripts
  only from this server, no inline script, no request elsewhere, no framing), and JSON is
  ``nosniff``; the page builds its DOM from text, never from HTML strings;
* it answers GET and HEAD only and changes nothing: the store is never fetched into
  (``readapi.FETCH_MISSING`` is off), the workspace is never hashed into the stat cache.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gitml.cli.output import json_text
from gitml.errors import GitmlError
from gitml.repo import Repo

STATIC = os.path.join(os.path.dirname(__file__), "static")
FILES = {"/": "index.html", "/static/app.js": "app.js", "/static/app.css": "app.css"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".json": "application/json"}
CSP = ("default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' "
       "'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class App:
    """What the handler serves: the repository at ``root``, read-only."""

    def __init__(self, root: str, verbose: bool = False) -> None:
        self.root = root
        self.verbose = verbose
        self._vega: bytes | None = None
        self._vega_lock = threading.Lock()
        self._cache: dict[str, tuple[str, bytes]] = {}
        self._cache_lock = threading.Lock()

    def vega(self) -> bytes:
        with self._vega_lock:
            if self._vega is None:
                from gitml.plots.render import PlotsUnavailable, js_bundle

                try:
                    self._vega = js_bundle().encode()
                except PlotsUnavailable as e:
                    self._vega = ("window.gitmlNoVega = " + json.dumps(str(e)) + ";\n").encode()
            return self._vega

    def api(self, route: str, q: dict[str, list[str]]) -> Any:
        from gitml.ui import data

        one = {k: v[-1] for k, v in q.items()}
        with Repo(self.root) as repo:
            if route == "version":
                return {"token": data.token(repo)}
            if route == "experiments":
                return data.experiments(repo)
            if route == "compare":
                return data.compare(repo, q.get("rev", []))
            if route == "plots":
                return data.plots(repo, q.get("rev", []))
            if route == "commit":
                return data.commit(repo, _need(one, "rev"), one.get("base") or None)
            if route == "datadiff":
                keys = [k for v in q.get("key", []) for k in v.split(",") if k]
                return data.datadiff(repo, _need(one, "a"), _need(one, "b"),
                                     _need(one, "path"), keys)
            if route == "models":
                return data.models(repo)
            if route == "model":
                return data.model(repo, _need(one, "name"))
        raise LookupError(route)

    def cached(self, key: str, make: Any) -> bytes:
        """The JSON for ``key``, made again only when the repository's token moved."""
        from gitml.ui import data

        if key.startswith("/api/version"):
            return make()  # type: ignore[no-any-return]
        with Repo(self.root) as repo:
            tok = data.token(repo)
        with self._cache_lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] == tok:
            return hit[1]
        body: bytes = make()
        with self._cache_lock:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = (tok, body)
        return body


def _need(q: dict[str, str], name: str) -> str:
    v = q.get(name)
    if not v:
        raise GitmlError(f"missing parameter {name!r}")
    return v


class Handler(BaseHTTPRequestHandler):
    server_version = "gitml-ui"
    sys_version = ""
    app: App
    allowed_hosts: frozenset[str]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        if self.app.verbose:
            sys.stderr.write("gitml ui: " + (format % args) + "\n")

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:  # noqa: N802
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.allowed_hosts:
            self._send(HTTPStatus.FORBIDDEN, b'{"error": "this server answers only requests '
                       b'for its own address (Host header refused)"}', ".json", head)
            return
        url = urlsplit(self.path)
        path = url.path
        if path in FILES:
            name = FILES[path]
            with open(os.path.join(STATIC, name), "rb") as f:
                self._send(HTTPStatus.OK, f.read(), os.path.splitext(name)[1], head)
            return
        if path == "/static/vega.js":
            self._send(HTTPStatus.OK, self.app.vega(), ".js", head, cache=True)
            return
        if path == "/api/image":
            self._image(url.query, head)
            return
        if path.startswith("/api/"):
            self._api(path[len("/api/"):], url.query, head)
            return
        self._send(HTTPStatus.NOT_FOUND, b'{"error": "not found"}', ".json", head)

    def _api(self, route: str, query: str, head: bool) -> None:
        q = parse_qs(query, keep_blank_values=False, max_num_fields=64)
        started = time.perf_counter()
        try:
            body = self.app.cached(self.path, lambda: json_text(
                self.app.api(route, q), separators=(",", ":")).encode())
            status = HTTPStatus.OK
        except LookupError:
            body, status = b'{"error": "no such API"}', HTTPStatus.NOT_FOUND
        except GitmlError as e:
            body, status = json.dumps({"error": str(e)}).encode(), HTTPStatus.BAD_REQUEST
        except Exception as e:  # a bug: say so on the page and on stderr, keep serving
            import traceback

            traceback.print_exc()
            body = json.dumps({"error": f"unexpected {type(e).__name__}: {e}"}).encode()
            status = HTTPStatus.INTERNAL_SERVER_ERROR
        self._send(status, body, ".json", head,
                   timing=f"app;dur={(time.perf_counter() - started) * 1000:.1f}")

    def _image(self, query: str, head: bool) -> None:
        from gitml.ui import data

        q = {k: v[-1] for k, v in parse_qs(query, max_num_fields=8).items()}
        try:
            with Repo(self.app.root) as repo:
                body, mime = data.image(repo, _need(q, "rev"), _need(q, "path"))
        except GitmlError as e:
            self._send(HTTPStatus.BAD_REQUEST, json.dumps({"error": str(e)}).encode(),
                       ".json", head)
            return
        self._send(HTTPStatus.OK, body, mime, head, cache=True)

    def _send(self, status: HTTPStatus, body: bytes, ext: str, head: bool,
              cache: bool = False, timing: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ext if "/" in ext else
                         TYPES.get(ext, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        if timing:
            self.send_header("Server-Timing", timing)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _refuse(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815 - read-only


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    names = {host.lower()}
    if host in LOOPBACK:
        names |= {"localhost", "127.0.0.1"} if host != "::1" else {"localhost"}
    out = set()
    for n in names:
        shown = f"[{n}]" if ":" in n else n
        out.add(f"{shown}:{port}")
    return frozenset(out)


def make_server(root: str, host: str = "127.0.0.1", port: int = 0,
                verbose: bool = False) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (0: a free port) over the repository at ``root``."""
    import socket

    from gitml import readapi

    readapi.FETCH_MISSING = False
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

    server = Server((host, port), type("BoundHandler", (Handler,), {}))
    bound_port = server.server_address[1]
    handler = server.RequestHandlerClass
    handler.app = App(root, verbose)  # type: ignore[attr-defined]
    handler.allowed_hosts = allowed_hosts(host, bound_port)  # type: ignore[attr-defined]
    return server
