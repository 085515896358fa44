"""``gitml doctor``: what a bug report needs, in one command.

Versions (gitml, Git, Python, key libraries: read from package metadata, not imported),
the store (path, file system, free space, which link types work there, probed with a
scratch file), the remotes (each asked whether one object exists, with a time limit; no
setting other than the URL, without any user:password part, is printed) and the hooks.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
import tempfile
import threading
from importlib import metadata
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from gitml import __version__, gitio

if TYPE_CHECKING:
    from gitml.repo import Repo

LIBRARIES = ("click", "PyYAML", "pyarrow", "xxhash", "boto3")
REMOTE_TIMEOUT = 10.0  # seconds a remote gets to answer


def report(repo: Repo | None) -> dict[str, Any]:
    """Everything doctor says, as plain data; ``problems`` lists what needs attention."""
    out: dict[str, Any] = {"versions": versions(), "platform": platform.platform(),
                           "problems": []}
    if repo is None:
        out["repository"] = None
        return out
    out["repository"] = repo.root
    out["store"] = store_info(repo)
    out["remotes"] = remotes(repo)
    out["hooks"] = hooks(repo)
    if not out["store"]["writable"]:
        out["problems"].append(f"the store {out['store']['path']} is not writable")
    for r in out["remotes"]:
        if not r["answers"]:
            out["problems"].append(f"remote {r['name']} does not answer: {r['error']}")
    return out


def versions() -> dict[str, str | None]:
    git = gitio.run(os.getcwd(), "version", check=False).decode().strip()
    out: dict[str, str | None] = {
        "gitml": __version__, "git": git.removeprefix("git version ") or None,
        "python": f"{platform.python_version()} ({sys.executable})"}
    for lib in LIBRARIES:
        try:
            out[lib.lower()] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib.lower()] = None
    return out


def _filesystem(path: str) -> str:
    """The type of the file system holding ``path`` (from /proc/self/mounts)."""
    real = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mount = parts[1].replace("\\040", " ")
                inside = real == mount or real.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, kind = mount, parts[2]
    except OSError:
        pass
    return kind


def _probe_links(directory: str) -> dict[str, bool]:
    """Which link types work in ``directory``: tried on a scratch file there."""
    from gitml.store import _FICLONE

    works = dict.fromkeys(("reflink", "hardlink", "symlink"), False)
    works["copy"] = True
    scratch = tempfile.mkdtemp(prefix="doctor-", dir=directory)
    try:
        src = os.path.join(scratch, "src")
        with open(src, "wb") as f:
            f.write(b"gitml doctor\n")
        with contextlib.suppress(OSError):
            os.link(src, os.path.join(scratch, "hard"))
            works["hardlink"] = True
        with contextlib.suppress(OSError):
            os.symlink(src, os.path.join(scratch, "sym"))
            works["symlink"] = True
        import fcntl

        s = os.open(src, os.O_RDONLY)
        d = os.open(os.path.join(scratch, "ref"), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            fcntl.ioctl(d, _FICLONE, s)
            works["reflink"] = True
        except OSError:
            pass
        finally:
            os.close(s)
            os.close(d)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return works


def store_info(repo: Repo) -> dict[str, Any]:
    path = repo.cache_dir
    here = path
    while not os.path.isdir(here) and os.path.dirname(here) != here:
        here = os.path.dirname(here)  # not made yet: report where it will be
    usage = shutil.disk_usage(here)
    info: dict[str, Any] = {"path": path, "exists": os.path.isdir(path),
                            "filesystem": _filesystem(here), "free": usage.free,
                            "total": usage.total, "writable": os.access(here, os.W_OK),
                            "configured_link": ",".join(repo.store.link_types)}
    try:
        info["links"] = _probe_links(here) if info["writable"] else {}
    except OSError:
        info["links"], info["writable"] = {}, False
    usable = [t for t in repo.store.link_types if info["links"].get(t)]
    info["link_used"] = usable[0] if usable else None
    return info


def _public_url(url: str) -> str:
    """A URL without any user:password part."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def remotes(repo: Repo) -> list[dict[str, Any]]:
    from gitml.remotes import config as rconfig

    default = rconfig.default_remote(repo)
    out = []
    for name in rconfig.names(repo):
        entry: dict[str, Any] = {"name": name, "default": name == default, "url": None,
                                 "answers": False, "error": None}
        try:
            rs = rconfig.spec(repo, name)
            entry["url"] = _public_url(rs.url)
            entry["answers"], entry["error"] = _ask(repo, rs)
        except Exception as e:  # a bad setting is what doctor is for: say it, go on
            entry["error"] = _one_line(e)
        out.append(entry)
    return out


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _ask(repo: Repo, rs: Any) -> tuple[bool, str | None]:
    """Ask the remote for one object (that nobody has), with a time limit."""
    from gitml.remotes.config import open_backend

    result: list[tuple[bool, str | None]] = []

    def ask() -> None:
        try:
            backend = open_backend(repo, rs, jobs=1, must_exist=True)
            try:
                backend.exists(["xxh3:" + "0" * 32])
            finally:
                backend.close()
            result.append((True, None))
        except Exception as e:  # noqa: BLE001 - reported, not raised
            result.append((False, _one_line(e)))

    t = threading.Thread(target=ask, daemon=True, name="doctor-remote")
    t.start()
    t.join(REMOTE_TIMEOUT)
    if not result:
        return False, f"no answer within {REMOTE_TIMEOUT:g} s"
    return result[0]


def hooks(repo: Repo) -> dict[str, Any]:
    from gitml import githooks

    hooks_dir, states, drivers = githooks.status(repo.root)
    return {"dir": hooks_dir, "hooks": {s.name: s.state for s in states},
            "drivers": drivers}

