"""The backend protocol every remote implements, and the errors remotes raise.

A remote keeps the store's layout: ``objects/<2 hex>/<30 hex>`` under its root (a
directory, or a key prefix in a bucket), so a directory remote and a bucket are
interchangeable and can be copied with ordinary tools. A backend only moves whole
objects by id; the transfer engine (:mod:`gitml.remotes.transfer`) decides what to
move, verifies hashes, runs the work in parallel and reports progress. A new kind of
storage (GCS, Azure) is one new module implementing :class:`Backend`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from gitml.errors import EXIT_FOUND, GitmlError
from gitml.hashing import PREFIX

# One listing per 2-hex prefix beats one existence check per object once more than
# this many objects are asked about (each listing is a single request for a remote
# of up to ~250,000 objects).
LIST_THRESHOLD = 256
KEY_MAX = 1 << 20  # a named file (a run-cache entry) is small; more is refused unread


class RemoteError(GitmlError):
    """The remote cannot be used: unreachable, refused, misconfigured (exit 2)."""


class RemoteAuthError(RemoteError):
    """The remote refused our credentials (exit 2). The message never contains a secret."""


class TransferIncomplete(GitmlError):
    """Some objects were missing or corrupt; everything else was transferred (exit 1)."""

    exit_code = EXIT_FOUND

    def __init__(self, message: str, result: object) -> None:
        super().__init__(message)
        self.result = result


def key_of(oid: str) -> str:
    """``xxh3:abcd...`` -> ``objects/ab/cd...``: the same relative path as in the store."""
    hexd = oid[len(PREFIX):]
    return f"objects/{hexd[:2]}/{hexd[2:]}"


def prefixes_of(oids: Iterable[str]) -> list[str]:
    """The sorted distinct 2-hex prefixes of ``oids``."""
    return sorted({oid[len(PREFIX):len(PREFIX) + 2] for oid in oids})


# progress callback: called with a number of bytes as they move
Progress = Callable[[int], None]


class Backend(Protocol):
    """What the transfer engine needs from a remote. All methods are thread-safe."""

    url: str
    processes: bool  # True: many transfers go to two processes, not threads (transfer._Runner)
    # an object's path below the remote's root: :func:`key_of`; another tool's layout (DVC's
    # files/md5/xx/yyyy, read by gitml import-dvc) is read by giving an instance its own
    key_of: Callable[[str], str]

    def list(self, prefix: str | None = None, sizes: bool = False
             ) -> Iterator[tuple[str, int]]:
        """(oid, size) of every object, or of those whose hex starts with ``prefix``
        (2 hex digits); size is -1 unless ``sizes``. Names that are not ids are skipped."""
        ...

    def exists(self, oids: list[str]) -> set[str]:
        """Which of ``oids`` the remote has, in as few requests as the backend can."""
        ...

    def put(self, oid: str, src: str, size: int, data: bytes | None = None,
            progress: Progress | None = None) -> None:
        """Upload the store file ``src`` (or ``data``, its verified bytes, when given) as
        ``oid``. Atomic: the name shows all of the bytes or nothing."""
        ...

    def read(self, oid: str) -> bytes | None:
        """The bytes of a small object (a manifest), or None when the remote lacks it."""
        ...

    def read_range(self, oid: str, start: int, length: int) -> bytes:
        """``length`` bytes of ``oid`` from ``start`` (fewer at its end): one ranged
        request, for readers that need part of a large object (Parquet footers, column
        chunks). Unverifiable alone: the hash covers the whole object."""
        ...

    def get(self, oid: str, dst: str, size: int | None = None,
            progress: Progress | None = None) -> bool | str:
        """Download ``oid`` into the new file ``dst``; False when the remote lacks it.

        ``dst`` is a temp name: the engine hashes it before giving it the object's name —
        unless the backend returns the hash of exactly the bytes it wrote (computed as it
        wrote them), which saves reading the file again.
        """
        ...

    def wrote_elsewhere(self) -> None:
        """Another process (a forked worker) wrote through a copy of this backend: make
        :meth:`close` flush as if this one had."""
        ...

    def delete(self, oids: list[str]) -> None:
        """Remove objects; ids that are already gone are not an error."""
        ...

    # Small named files beside the objects (run-cache entries, ``runs/<2 hex>/<30 hex>``):
    # not content-addressed, so the caller validates what it reads.
    def list_keys(self, top: str) -> Iterator[str]:
        """Every key (``top/<2 hex>/<name>``) under the folder ``top``."""
        ...

    def read_key(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or None when there are none."""
        ...

    def put_key(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, atomically (the key shows all of it or nothing)."""
        ...

    def delete_keys(self, keys: list[str]) -> None:
        """Remove named files; keys that are already gone are not an error."""
        ...

    def close(self) -> None:
        """Release connections and finish durability work (e.g. a directory's syncfs)."""
        ...


def exists_by_listing(backend: Backend, oids: list[str],
                      map_fn: Callable[[Callable[[str], set[str]], list[str]],
                                       Iterable[set[str]]] = map) -> set[str]:
    """Answer ``exists`` with one listing per distinct 2-hex prefix (run through ``map_fn``,
    e.g. a thread pool's map)."""
    wanted = set(oids)

    def one(prefix: str) -> set[str]:
        return {oid for oid, _ in backend.list(prefix) if oid in wanted}

    found: set[str] = set()
    for part in map_fn(one, prefixes_of(wanted)):
        found |= part
    return found
