"""DVC's cache, and bringing its objects into gitml's store.

DVC 3 keeps ``<cache>/files/md5/<2 hex>/<30 hex>[.dir]``, DVC 2 ``<cache>/<2 hex>/<30 hex>``
(its MD5 of a text file is taken with CRLF read as LF). Each object is read once: its MD5
is checked against its name while its XXH3-128 is computed, and only a verified object
enters the store, under its XXH3 name, through :class:`gitml.store.Store` — as a hard
link to DVC's (read-only) file where the file system allows, so it costs no space, else
as a copy. A ``.dir`` manifest becomes a gitml directory manifest once its files are in.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from gitml import forkpool, manifest
from gitml.dvcimport.dvcfiles import DvcHash, parse_dir
from gitml.errors import GitmlError
from gitml.hashing import CHUNK, SMALL, hash_bytes
from gitml.manifest import Entry
from gitml.store import Store

_DOS_CHUNK = 1 << 20  # DVC 2 decides text or binary per MiB read, from its first 512 bytes
_TEXT = bytes(range(32, 127)) + b"\n\r\t\f\b"


@dataclass(frozen=True)
class Found:
    """An object of DVC's cache: its MD5 name and where it is."""

    md5: str
    is_dir: bool
    legacy: bool  # found in DVC 2's layout
    path: str


class DvcCache:
    """DVC's local cache at ``root`` (``.dvc/cache`` unless ``cache.dir`` says otherwise)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.files = os.path.join(root, "files", "md5")
        self._index: dict[str, Found] | None = None

    def index(self) -> dict[str, Found]:
        """Every object in the cache by its DVC name (``<md5>`` or ``<md5>.dir``): one walk,
        kept until :meth:`forget`. DVC 3's layout wins over DVC 2's for a name in both."""
        if self._index is None:
            self._index = {}
            for f in self.scan():
                name = f.md5 + ".dir" if f.is_dir else f.md5
                if name not in self._index or not f.legacy:
                    self._index[name] = f
        return self._index

    def forget(self) -> None:
        """Objects were added: the next :meth:`index` walks again."""
        self._index = None

    def path(self, h: DvcHash) -> str | None:
        """Where the object of ``h`` is; None when the cache lacks it."""
        found = self.index().get(h.name)
        return found.path if found is not None else None

    def new_path(self, h: DvcHash) -> str:
        """Where a fetched copy of ``h`` goes: the layout its kind of hash belongs to."""
        name = h.name
        if h.legacy:
            return os.path.join(self.root, name[:2], name[2:])
        return os.path.join(self.files, name[:2], name[2:])

    def scan(self) -> Iterator[Found]:
        """Every object in the cache (both layouts); other names are skipped."""
        for top, legacy in ((self.files, False), (self.root, True)):
            try:
                dirs = [e for e in os.scandir(top) if len(e.name) == 2 and e.is_dir()]
            except FileNotFoundError:
                continue
            for d in sorted(dirs, key=lambda e: e.name):
                if not _is_hex(d.name):
                    continue
                with os.scandir(d.path) as it:
                    for e in it:
                        name = e.name
                        is_dir = name.endswith(".dir")
                        rest = name[:-4] if is_dir else name
                        if len(rest) == 30 and _is_hex(rest) and e.is_file():
                            yield Found(d.name + rest, is_dir, legacy, e.path)


_is_hex = re.compile(r"[0-9a-f]+").fullmatch


def is_text(block: bytes) -> bool:
    """DVC 2's guess: no NUL, and at most 30% of the first 512 bytes outside printable
    ASCII and common whitespace."""
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, _TEXT)) / len(block) <= 0.30


def dos2unix_md5(read: Callable[[int], bytes]) -> str:
    """DVC 2's MD5 of a stream: each MiB that looks like text is hashed with CRLF as LF."""
    h = hashlib.md5(usedforsecurity=False)
    while chunk := read(_DOS_CHUNK):
        h.update(chunk.replace(b"\r\n", b"\n") if is_text(chunk[:512]) else chunk)
    return h.hexdigest()


def md5_matches(path: str, md5: str, legacy: bool) -> bool:
    """True when the file at ``path`` has DVC's ``md5`` (for ``legacy``: either MD5)."""
    with open(path, "rb", buffering=0) as f:
        h = hashlib.md5(usedforsecurity=False)
        while chunk := f.read(CHUNK):
            h.update(chunk)
        if h.hexdigest() == md5:
            return True
        if not legacy:
            return False
        f.seek(0)
        return dos2unix_md5(f.read) == md5


class Corrupt(GitmlError):
    """A DVC object whose bytes do not have the MD5 it is named by (exit 1)."""

    exit_code = 1


def bring(store: Store, src: str, md5: str, legacy: bool, link: bool = True
          ) -> tuple[str, int, bool, tuple[int, int]]:
    """Verify the DVC object at ``src`` against ``md5`` and store it; returns (oid, size,
    linked, (dev, inode) of ``src``). Raises :class:`Corrupt` when the bytes do not match
    (nothing is stored)."""
    fd = os.open(src, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        if st.st_size <= SMALL:
            data = os.read(fd, st.st_size + 1)
            if len(data) <= st.st_size:
                return _bring_bytes(store, src, data, md5, legacy, st, link)
            os.lseek(fd, 0, os.SEEK_SET)
        got, oid, size = _hash_both(fd)
    finally:
        os.close(fd)
    if got != md5 and not (legacy and _dos_ok(src, md5)):
        raise Corrupt(f"DVC's cache object {src} is corrupt: its content has MD5 {got}")
    inode = (st.st_dev, st.st_ino)
    if store.has(oid):
        return oid, size, False, inode
    if link and store.put_link(src, oid, st):
        return oid, size, True, inode
    again, n = store.put_file(src, size)
    if again != oid:
        raise GitmlError(f"{src} changed while it was being imported; run the import again")
    return oid, n, False, inode


def _bring_bytes(store: Store, src: str, data: bytes, md5: str, legacy: bool,
                 st: os.stat_result, link: bool) -> tuple[str, int, bool, tuple[int, int]]:
    got = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if got != md5 and not (legacy and dos2unix_md5(_reader(data)) == md5):
        raise Corrupt(f"DVC's cache object {src} is corrupt: its content has MD5 {got}")
    oid = hash_bytes(data)
    inode = (st.st_dev, st.st_ino)
    if store.has(oid):
        return oid, len(data), False, inode
    if link and store.put_link(src, oid, st):
        return oid, len(data), True, inode
    store.put_bytes(data, check=False)
    return oid, len(data), False, inode


def _reader(data: bytes) -> Callable[[int], bytes]:
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        chunk = data[pos:pos + n]
        pos += len(chunk)
        return chunk

    return read


def _dos_ok(path: str, md5: str) -> bool:
    with open(path, "rb", buffering=0) as f:
        return dos2unix_md5(f.read) == md5


def _hash_both(fd: int) -> tuple[str, str, int]:
    import xxhash

    m = hashlib.md5(usedforsecurity=False)
    x = xxhash.xxh3_128()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    while n := os.readv(fd, [buf]):
        m.update(view[:n])
        x.update(view[:n])
        size += n
    return m.hexdigest(), "xxh3:" + x.hexdigest(), size


@dataclass
class Brought:
    """What :func:`bring_all` did: md5 -> (oid, size) of every file object brought in."""

    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    inodes: dict[str, tuple[int, int]] = field(default_factory=dict)  # of DVC's files
    corrupt: dict[str, str] = field(default_factory=dict)  # md5 -> reason
    linked: int = 0
    copied: int = 0


def bring_all(store: Store, found: list[Found], link: bool = True,
              progress: Callable[[int], None] | None = None) -> Brought:
    """Bring every file object of ``found`` into the store (two processes when many)."""

    def one(f: Found) -> tuple[str, int, bool, tuple[int, int]] | str:
        try:
            return bring(store, f.path, f.md5, f.legacy, link)
        except Corrupt as e:
            return str(e)
        except FileNotFoundError:
            return f"{f.path} disappeared while being imported"

    results = forkpool.split_map(one, found, progress)
    if len(found) >= forkpool.MIN_ITEMS:
        store.wrote_elsewhere()
    out = Brought()
    for f, r in zip(found, results, strict=True):
        if isinstance(r, str):
            out.corrupt[f.md5] = r
            continue
        oid, size, linked, inode = r
        out.files[f.md5] = (oid, size)
        out.inodes[f.md5] = inode
        if linked:
            out.linked += 1
        else:
            out.copied += 1
    return out


def read_dir(path: str, md5: str, legacy: bool) -> list[tuple[str, str, bool]]:
    """The entries of the ``.dir`` object at ``path``, verified against ``md5`` first."""
    with open(path, "rb") as f:
        data = f.read()
    got = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if got != md5 and not (legacy and dos2unix_md5(_reader(data)) == md5):
        raise Corrupt(f"DVC's cache object {path} is corrupt: its content has MD5 {got}")
    return parse_dir(data, path)


def convert_dir(store: Store, entries: list[tuple[str, str, bool]],
                files: dict[str, tuple[str, int]], exec_of: Callable[[str], bool] | None,
                empty: list[str]) -> tuple[str, int, int] | list[str]:
    """The gitml manifest of a DVC directory: stored, and its (oid, size, files); or the
    list of MD5s of files it names that are not in ``files`` (nothing stored then).
    ``exec_of(relpath)`` gives the executable bit, ``empty`` the empty folders (DVC
    records neither)."""
    rows: list[Entry] = []
    missing: list[str] = []
    total = 0
    for rel, md5, isexec in entries:
        hit = files.get(md5)
        if hit is None:
            missing.append(md5)
            continue
        exe = isexec or (exec_of(rel) if exec_of else False)
        rows.append(Entry(rel, hit[0], hit[1], exe))
        total += hit[1]
    if missing:
        return missing
    moid, data = manifest.oid_of(rows, empty)  # paths held to a manifest's rules (parse_dir)
    store.put_bytes(data)
    return moid, total, len(rows)
