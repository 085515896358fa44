"""Repository settings: ``.gitml/config.yaml`` (committed) and ``config.local.yaml`` (not).

Keys are dotted (``core.link``, ``remote.storage.url``); the files hold nested
mappings. Values in the local file win. Secrets belong in the local file only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from gitml import yamlio
from gitml.errors import ConfigError
from gitml.fsutil import atomic_write

CONFIG = "config.yaml"
LOCAL = "config.local.yaml"


def _link(v: str) -> str:
    from gitml.store import parse_link

    try:
        parse_link(v)
    except Exception as e:
        raise ConfigError(str(e)) from None
    return v


def _whole(v: Any, least: int) -> int:
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a whole number, not {v!r}") from None
    if n < least:
        raise ConfigError(f"expected a number >= {least}, not {v!r}")
    return n


def _positive_int(v: Any) -> int:
    return _whole(v, 1)


def _count(v: Any) -> int:
    return _whole(v, 0)


def _number(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a number, not {v!r}") from None


def _text(v: Any) -> str:
    return str(v)


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).lower()
    if s in ("true", "yes", "1", "on"):
        return True
    if s in ("false", "no", "0", "off"):
        return False
    raise ConfigError(f"expected true or false, not {v!r}")


# key pattern -> validator. Other parts of gitml register their keys with :func:`register`.
KEYS: dict[str, Callable[[Any], Any]] = {
    r"core\.link": _link,
    r"core\.cache_dir": _text,
    r"core\.jobs": _positive_int,
    r"core\.lock_timeout": _number,
    r"core\.remote": _text,
    r"core\.chunk_threshold": lambda v: _chunks().parse_threshold(v),
    r"exp\.remote": _text,
    r"exp\.ray\.address": _text,
    r"exp\.ray\.max_retries": _count,
}


def _chunks() -> Any:
    from gitml import chunks

    return chunks


def register(pattern: str, validator: Callable[[Any], Any]) -> None:
    """Allow keys matching the regular expression ``pattern``."""
    KEYS[pattern] = validator


def validate(key: str, value: Any) -> Any:
    for pattern, fn in KEYS.items():
        if re.fullmatch(pattern, key):
            try:
                return fn(value)
            except ConfigError as e:
                raise ConfigError(f"config {key}: {e}") from None
    raise ConfigError(f"unknown config key {key!r}")


def known(key: str) -> bool:
    """Whether ``key`` is a setting gitml (or a registered part) reads."""
    return any(re.fullmatch(pattern, key) for pattern in KEYS)


def default(key: str) -> tuple[Any, str] | None:
    """What gitml uses when ``key`` is not set, and how it was chosen; None: no default."""
    if key == "core.link":
        from gitml.store import DEFAULT_LINK

        return DEFAULT_LINK, "reflink where the file system has it, else a copy"
    if key == "core.cache_dir":
        return ".gitml/cache", "in the main work tree, shared by its linked worktrees"
    if key == "core.jobs":
        n = min(8, (os.cpu_count() or 1) * 2)
        return n, "twice the CPU count, at most 8"
    if key == "core.lock_timeout":
        return 60, "seconds"
    if key == "core.chunk_threshold":
        return "64MiB", "files this big or bigger are stored as content-defined chunks; 0: off"
    if key == "exp.remote":
        return "origin", "the Git remote that experiments run elsewhere go through"
    if key == "exp.ray.max_retries":
        return 3, "times Ray runs a task again when its worker dies"
    if key == "hooks.max_file_size":
        from gitml.hooks.precommit import DEFAULT_MAX_FILE_SIZE

        return DEFAULT_MAX_FILE_SIZE, "bytes (5 MiB)"
    return None


VALIDATORS = {"int": _positive_int, "number": _number, "text": _text, "bool": _bool}


class Config:
    """The merged view of the committed and the local config files."""

    def __init__(self, gitml_dir: str) -> None:
        self.dir = gitml_dir
        self.shared = _read(os.path.join(gitml_dir, CONFIG))
        self.local = _read(os.path.join(gitml_dir, LOCAL))

    @classmethod
    def of(cls, shared: dict[str, Any], local: dict[str, Any]) -> Config:
        """A config held in memory only (another repository's, read from Git): never
        written, since it has no directory."""
        self = cls.__new__(cls)
        self.dir = ""
        self.shared, self.local = shared, local
        return self

    def get(self, key: str, default: Any = None) -> Any:
        for layer in (self.local, self.shared):
            v = _lookup(layer, key)
            if v is not None:
                return v
        return default

    def section(self, key: str) -> dict[str, Any]:
        """A merged mapping (local over shared), e.g. ``remote.storage``."""
        merged: dict[str, Any] = {}
        for layer in (self.shared, self.local):
            v = _lookup(layer, key)
            if isinstance(v, dict):
                merged.update(v)
        return merged

    def set(self, key: str, value: Any, *, local: bool = False) -> None:
        value = validate(key, value)
        layer = self.local if local else self.shared
        node = layer
        parts = key.split(".")
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = node[p] = {}
            node = nxt
        node[parts[-1]] = value
        self._write(local)

    def unset(self, key: str, *, local: bool = False) -> bool:
        layer = self.local if local else self.shared
        parts = key.split(".")
        chain = [layer]
        for p in parts[:-1]:
            nxt = chain[-1].get(p)
            if not isinstance(nxt, dict):
                return False
            chain.append(nxt)
        if parts[-1] not in chain[-1]:
            return False
        del chain[-1][parts[-1]]
        for i in range(len(chain) - 1, 0, -1):  # prune emptied sections
            if not chain[i]:
                del chain[i - 1][parts[i - 1]]
        self._write(local)
        return True

    def items(self) -> list[tuple[str, Any, str]]:
        """(key, value, 'shared'|'local') for every leaf."""
        out = [(k, v, "shared") for k, v in _flatten(self.shared)]
        out += [(k, v, "local") for k, v in _flatten(self.local)]
        return out

    def _write(self, local: bool) -> None:
        if not self.dir:
            raise ConfigError("this configuration is read-only (another repository's)")
        name = LOCAL if local else CONFIG
        data = self.local if local else self.shared
        mode = 0o600 if local else 0o644
        atomic_write(os.path.join(self.dir, name), yamlio.dumps(data).encode(), mode=mode)


def _read(path: str) -> dict[str, Any]:
    try:
        text = yamlio.read(path, path, "config")
    except FileNotFoundError:
        return {}
    data = yamlio.loads(text, path, "config") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _lookup(layer: dict[str, Any], key: str) -> Any:
    node: Any = layer
    for p in key.split("."):
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return node


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.extend(_flatten(v, key + "."))
        else:
            out.append((key, v))
    return out
