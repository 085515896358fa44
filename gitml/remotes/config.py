"""``remote.<name>.*`` settings: validation, the default remote, opening a backend.

Shared settings (url, endpoint, region …) live in ``.gitml/config.yaml`` and are
committed; credentials live only in ``.gitml/config.local.yaml`` (mode 0600, ignored
by Git). Without credentials in the local file, the standard AWS chain applies
(environment, shared config and profiles including SSO, container and instance roles).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitml import config as _config
from gitml.errors import BadInputError, ConfigError

if TYPE_CHECKING:
    from gitml.remotes.base import Backend
    from gitml.repo import Repo

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
SECRETS = ("access_key_id", "secret_access_key", "session_token")
ADDRESSING = ("auto", "path", "virtual")
DEFAULT_S3_JOBS = 16  # requests are latency-bound: more in flight than cores
MAX_JOBS = 256  # connection pools are sized by jobs: an absurd value would stall start-up
_secret_ok: contextvars.ContextVar[bool] = contextvars.ContextVar("secret_ok", default=False)


def _url(v: Any) -> str:
    s = str(v).strip()
    if not s:
        raise ConfigError("a remote needs a URL: s3://bucket/prefix or a directory")
    scheme = s.partition("://")[0] if "://" in s else ""
    if scheme not in ("", "s3", "file"):
        raise ConfigError(f"unsupported remote URL {s!r}: use s3://bucket/prefix or a directory")
    if scheme == "s3" and not s[5:].split("/")[0]:
        raise ConfigError(f"{s!r} names no bucket: use s3://bucket/prefix")
    return s


def _endpoint(v: Any) -> str:
    s = str(v).strip()
    if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", s):
        raise ConfigError(f"expected an http:// or https:// URL, not {v!r}")
    return s


def _jobs(v: Any) -> int:
    n = _config.VALIDATORS["int"](v)
    if n > MAX_JOBS:
        raise ConfigError(f"expected a number <= {MAX_JOBS}, not {v!r}")
    return int(n)


def _str(v: Any) -> str:
    if not isinstance(v, (str, int, float)) or isinstance(v, bool):
        raise ConfigError(f"expected text, not {v!r}")
    return str(v)


def _addressing(v: Any) -> str:
    s = str(v)
    if s not in ADDRESSING:
        raise ConfigError(f"expected one of {', '.join(ADDRESSING)}, not {v!r}")
    return s


def _secret(v: Any) -> str:
    # Refused unless written through 'gitml remote modify --local', so no code path can put
    # a credential into the committed config file.
    if not _secret_ok.get():
        raise ConfigError("credentials go only to .gitml/config.local.yaml: use "
                          "'gitml remote modify --local NAME KEY VALUE'")
    return str(v)


_KEYS = {
    "url": _url, "endpoint_url": _endpoint, "region": _str, "profile": _str, "jobs": _jobs,
    "retries": _config.VALIDATORS["int"], "addressing_style": _addressing,
    **{k: _secret for k in SECRETS},
}
for _key, _fn in _KEYS.items():
    _config.register(rf"remote\.{NAME_RE.pattern}\.{_key}", _fn)


def is_secret_key(key: str) -> bool:
    """True for a config key that holds a credential (never printed)."""
    return key.startswith("remote.") and key.rsplit(".", 1)[-1] in SECRETS


@contextlib.contextmanager
def allow_secrets() -> Iterator[None]:
    token = _secret_ok.set(True)
    try:
        yield
    finally:
        _secret_ok.reset(token)


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise BadInputError(f"invalid remote name {name!r}: use letters, digits, '-' and '_'")
    return name


def names(repo: Repo) -> list[str]:
    found: set[str] = set()
    for layer in (repo.config.shared, repo.config.local):
        section = layer.get("remote")
        if isinstance(section, dict):
            found.update(k for k, v in section.items() if isinstance(v, dict))
    return sorted(found)


def default_remote(repo: Repo) -> str | None:
    """The name in ``core.remote`` (set by ``gitml remote add --default``), or None."""
    name = repo.config.get("core.remote")
    return str(name) if name else None


@dataclass(frozen=True)
class RemoteSpec:
    name: str
    url: str
    options: dict[str, Any]

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    def jobs(self, override: int | None) -> int:
        if override is not None:
            if not 1 <= override <= MAX_JOBS:
                raise BadInputError(f"-j must be between 1 and {MAX_JOBS}, not {override}")
            return override
        configured = self.options.get("jobs")
        if configured:
            return int(configured)
        return DEFAULT_S3_JOBS if self.is_s3 else min(8, (os.cpu_count() or 1) * 2)


def spec(repo: Repo, name: str | None = None) -> RemoteSpec:
    """The settings of remote ``name`` (None: the default remote)."""
    if name is None:
        name = default_remote(repo)
        if name is None:
            raise BadInputError("no remote given and no default remote: add one with "
                                "'gitml remote add NAME URL --default' or pass -r NAME")
    section = repo.config.section(f"remote.{name}")
    if not section.get("url"):
        known = names(repo)
        hint = f" (configured: {', '.join(known)})" if known else ""
        raise BadInputError(f"unknown remote {name!r}{hint}")
    options: dict[str, Any] = {}
    for key, value in section.items():  # the files may be edited by hand: check every value
        full = f"remote.{name}.{key}"
        try:
            if key in SECRETS:
                options[key] = _str(value)
            else:
                options[key] = _config.validate(full, value)
        except ConfigError as e:
            local = isinstance(repo.config.local.get("remote"), dict) and \
                key in (repo.config.local["remote"].get(name) or {})
            where = ".gitml/config.local.yaml" if local else ".gitml/config.yaml"
            msg = str(e).removeprefix(f"config {full}: ")
            raise ConfigError(f"{where}: remote.{name}.{key}: {msg}") from None
    return RemoteSpec(name, str(options["url"]), options)


def directory_of(repo: Repo, url: str) -> str:
    """A directory remote's absolute path; relative paths are relative to the repo root."""
    path = url[len("file://"):] if url.startswith("file://") else url
    return os.path.normpath(os.path.join(repo.root, os.path.expanduser(path)))


def open_backend(repo: Repo, rs: RemoteSpec, *, jobs: int, create: bool = False,
                 must_exist: bool = True) -> Backend:
    """Connect to a remote. A missing directory remote is made with ``create`` (push),
    an error with ``must_exist`` (fetch), else treated as empty (status, gc)."""
    if rs.is_s3:
        from gitml.remotes.s3 import S3Backend

        return S3Backend(rs.name, rs.url, rs.options, jobs=jobs)
    from gitml.remotes.local import DirectoryBackend

    return DirectoryBackend(directory_of(repo, rs.url), rs.url, create=create,
                            must_exist=must_exist)
