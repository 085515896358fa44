"""DVC's remotes: ``.dvc/config`` -> gitml remotes, and fetching from a DVC remote.

S3 (and S3-compatible) and directory remotes convert; credentials go only to
``.gitml/config.local.yaml`` (never to a committed file), wherever DVC kept them. A
DVC remote is read in DVC's own layout (``files/md5/<2>/<30>``, and DVC 2's ``<2>/<30>``)
through gitml's S3 and directory backends; every object is checked against its MD5
before it enters DVC's local cache, from where the import takes it like any other.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.dvcimport.dvcfiles import (
    MAX_CONFIG,
    DvcHash,
    Skip,
    parse_config,
    read_limited,
    remote_sections,
)
from gitml.dvcimport.objects import DvcCache, md5_matches
from gitml.errors import ConfigError
from gitml.fsutil import tmp_name

if TYPE_CHECKING:
    from gitml.remotes.base import Backend
    from gitml.repo import Repo

SECRETS = {"access_key_id": "access_key_id", "secret_access_key": "secret_access_key",
           "session_token": "session_token"}
S3_KEYS = {"endpointurl": "endpoint_url", "region": "region", "profile": "profile",
           "jobs": "jobs"}
_HARMLESS = {"url", "verify"}  # nothing to convert: gitml always verifies


@dataclass
class DvcRemote:
    """A converted remote: gitml's settings, and what reading DVC's layout there needs."""

    name: str
    url: str  # gitml's spelling (a directory relative to the repository root, or s3://)
    options: dict[str, Any] = field(default_factory=dict)  # committed settings
    secrets: dict[str, str] = field(default_factory=dict)  # config.local.yaml only


@dataclass
class Config:
    """What ``.dvc/config`` (+ ``config.local``) says that gitml can use."""

    remotes: dict[str, DvcRemote] = field(default_factory=dict)
    default: str | None = None
    link: str | None = None  # cache.type
    cache_dir: str = ""  # absolute
    skips: list[Skip] = field(default_factory=list)


def read(root: str) -> Config:
    """Read and convert DVC's repository config (the user's own config is not read)."""
    dvc_dir = os.path.join(root, ".dvc")
    layers: list[tuple[str, dict[str, dict[str, str]]]] = []
    for name in ("config", "config.local"):
        path = os.path.join(dvc_dir, name)
        if os.path.isfile(path):
            text = read_limited(path, MAX_CONFIG, f".dvc/{name}").decode("utf-8", "replace")
            layers.append((name, parse_config(text, f".dvc/{name}")))
    out = Config(cache_dir=os.path.join(dvc_dir, "cache"))
    merged: dict[str, dict[str, str]] = {}
    for _, conf in layers:
        for sec, opts in conf.items():
            merged.setdefault(sec, {}).update(opts)
    cache = merged.get("cache", {})
    if cache.get("dir"):
        out.cache_dir = os.path.normpath(os.path.join(dvc_dir, os.path.expanduser(cache["dir"])))
    if cache.get("type"):
        from gitml.store import parse_link

        try:
            out.link = ",".join(parse_link(cache["type"].replace(" ", "")))
        except ConfigError as e:
            out.skips.append(Skip("cache.type", str(e)))
    if cache.get("shared"):
        out.skips.append(Skip("cache.shared", "gitml has no shared-cache permissions option; "
                              "not converted"))
    committed = layers[0][1] if layers and layers[0][0] == "config" else {}
    shared_secrets = {(n, k) for n, opts in remote_sections(committed).items()
                      for k in opts if k in SECRETS}
    for name, opts in remote_sections(merged).items():
        remote = _convert(root, name, opts, out.skips)
        if remote is None:
            continue
        for n, k in shared_secrets:
            if n == name:
                out.skips.append(Skip(f"remote {name}: {k}", "a credential in the committed "
                                      ".dvc/config: copied to .gitml/config.local.yaml only; "
                                      "remove it from .dvc/config and its history"))
        out.remotes[name] = remote
    default = merged.get("core", {}).get("remote")
    if default:
        if default in out.remotes:
            out.default = default
        else:
            out.skips.append(Skip("core.remote", f"the default remote {default!r} is not "
                                  "converted"))
    return out


def _convert(root: str, name: str, opts: dict[str, str], skips: list[Skip]) -> DvcRemote | None:
    from gitml.config import validate
    from gitml.remotes.config import NAME_RE

    url = opts.get("url", "")
    where = f"remote {name} ({url})"
    if not NAME_RE.fullmatch(name):
        skips.append(Skip(where, "not a valid gitml remote name; not converted"))
        return None
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme == "s3":
        bucket = url[5:].split("/")[0]
        if not bucket:
            skips.append(Skip(where, "names no bucket; not converted"))
            return None
        r = DvcRemote(name, url.rstrip("/"))
        for key, value in opts.items():
            if key in S3_KEYS:
                try:
                    r.options[S3_KEYS[key]] = validate(f"remote.{name}.{S3_KEYS[key]}", value)
                except ConfigError as e:
                    skips.append(Skip(f"remote {name}: {key}", f"{e}; not converted"))
            elif key in SECRETS:
                r.secrets[SECRETS[key]] = value
            elif key not in _HARMLESS:
                skips.append(Skip(f"remote {name}: {key}", "a DVC-only option; not converted"))
        return r
    if scheme in ("", "file"):
        path = url[len("file://"):] if scheme else url
        if not path:
            skips.append(Skip(where, "has no url; not converted"))
            return None
        full = os.path.normpath(os.path.join(root, ".dvc", os.path.expanduser(path)))
        r = DvcRemote(name, full if os.path.isabs(os.path.expanduser(path))
                      else os.path.relpath(full, root))
        for key in opts:
            if key not in _HARMLESS:
                skips.append(Skip(f"remote {name}: {key}", "a DVC-only option; not converted"))
        return r
    skips.append(Skip(where, f"gitml has no {scheme} remotes; not converted"))
    return None


def apply(repo: Repo, conf: Config) -> list[str]:
    """Write the converted remotes into gitml's config; returns the remote names written.
    An existing gitml remote of the same name is kept as it is."""
    from gitml.remotes.config import allow_secrets, names

    have = set(names(repo))
    written = []
    for r in conf.remotes.values():
        if r.name in have:
            continue
        repo.config.set(f"remote.{r.name}.url", r.url)
        for k, v in r.options.items():
            repo.config.set(f"remote.{r.name}.{k}", v)
        with allow_secrets():
            for k, v in r.secrets.items():
                repo.config.set(f"remote.{r.name}.{k}", v, local=True)
        written.append(r.name)
    if conf.default and not repo.config.get("core.remote"):
        repo.config.set("core.remote", conf.default)
    if conf.link and not repo.config.get("core.link"):
        repo.config.set("core.link", conf.link)
    return written


# -- fetching from a DVC remote ------------------------------------------------------------
def _keys(h: DvcHash) -> list[str]:
    name = h.name
    modern, legacy = f"files/md5/{name[:2]}/{name[2:]}", f"{name[:2]}/{name[2:]}"
    return [legacy, modern] if h.legacy else [modern, legacy]


def open_backend(repo: Repo, r: DvcRemote, jobs: int) -> Backend:
    """A gitml backend on the DVC remote whose "object ids" are DVC's keys."""
    from gitml.remotes.config import RemoteSpec
    from gitml.remotes.config import open_backend as gitml_backend

    spec = RemoteSpec(r.name, r.url, {**r.options, **r.secrets})
    backend = gitml_backend(repo, spec, jobs=jobs)
    backend.key_of = _same  # type: ignore[method-assign]
    return backend


def _same(key: str) -> str:
    return key


@dataclass
class Fetched:
    got: list[DvcHash] = field(default_factory=list)
    missing: list[DvcHash] = field(default_factory=list)
    corrupt: list[DvcHash] = field(default_factory=list)


def fetch(backend: Backend, cache: DvcCache, hashes: list[DvcHash], jobs: int,
          progress: Callable[[int], None] | None = None) -> Fetched:
    """Download ``hashes`` into DVC's local cache, each checked against its MD5 first."""
    out = Fetched()

    def one(h: DvcHash) -> str:
        dst = cache.new_path(h)
        directory = os.path.dirname(dst)
        os.makedirs(directory, exist_ok=True)
        for key in _keys(h):
            tmp = tmp_name(directory, os.path.basename(dst))
            try:
                if not backend.get(key, tmp):
                    continue
                if not md5_matches(tmp, h.md5, h.legacy):
                    return "corrupt"
                os.chmod(tmp, 0o444)
                os.replace(tmp, dst)
                return "got"
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        return "missing"

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for h, state in zip(hashes, pool.map(one, hashes), strict=True):
            getattr(out, state).append(h)
            if progress:
                progress(1)
    backend.close()
    cache.forget()
    return out


def remote_for(conf: Config, name: str | None) -> DvcRemote | None:
    """The converted remote ``name`` (None: DVC's default remote)."""
    return conf.remotes.get(name or conf.default or "")

