"""The stat cache (``.gitml/index``): (inode, mtime_ns, size) of a file -> its hash.

An unchanged file is never read twice. Entries are grouped by *root* — the tracked
path (a file or a directory) they belong to — and each root is one sqlite row holding
a marshalled dict ``key -> (ino, mtime_ns, size, oid, stamp)`` plus an optional
directory *snapshot* (the manifest id and a digest of every file's stat) in a column of
its own, so a clean 100,000-file directory costs one walk and one small read: the dict
is decoded only when a file's entry is looked up.

Racy-clean protection follows Git's racy-git rule. :meth:`StatCache.begin` reads the
file system's own clock (the mtime of a freshly touched stamp file) before any file is
read; entries for files that were read are stamped with that time, entries for files
gitml itself wrote are stamped when they are saved (as Git stamps its index). An entry
is trusted only when the file's mtime is strictly older than its stamp, so an edit made
in the same clock tick as the hashing is always hashed again.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sqlite3
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from gitml.fsutil import scan_stats, split_top

_SCHEMA = """
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, snapshot BLOB, data BLOB)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS tracked (path TEXT PRIMARY KEY) WITHOUT ROWID;
"""
_VERSION = "3"

Row = tuple[int, int, int, str, int]  # ino, mtime_ns, size, oid, stamp


class Root:
    """The cached hashes under one tracked path. Keys are relative to it ("" for a file)."""

    __slots__ = ("_entries", "_blob", "snapshot", "read", "written", "new_snapshot", "dirty")

    def __init__(self, blob: bytes | None, snapshot: tuple[str, str, int] | None) -> None:
        self._entries: dict[str, Row] | None = None if blob else {}
        self._blob = blob  # the marshalled entries, decoded on first use
        self.snapshot = snapshot
        self.read: dict[str, tuple[int, int, int, str]] = {}
        self.written: dict[str, tuple[int, int, int, str]] = {}
        self.new_snapshot: tuple[str, str, bool] | None = None
        self.dirty = False

    @property
    def entries(self) -> dict[str, Row]:
        if self._entries is None:
            self._entries = _decode(self._blob, dict)
            self._blob = None
        return self._entries

    def blob(self) -> bytes:
        """The marshalled entries, as stored (not decoded when they were never used)."""
        return self._blob if self._entries is None else marshal.dumps(self._entries)

    def get(self, key: str, st: os.stat_result) -> str | None:
        c = self.entries.get(key)
        if (c is not None and c[1] == st.st_mtime_ns and c[0] == st.st_ino
                and c[2] == st.st_size and c[1] < c[4]):
            return c[3]
        return None

    def put(self, key: str, st: os.stat_result, oid: str, written: bool = False) -> None:
        self.put_ids(key, (st.st_ino, st.st_mtime_ns, st.st_size), oid, written)

    def put_ids(self, key: str, ids: tuple[int, int, int], oid: str,
                written: bool = False) -> None:
        """:meth:`put` from (inode, mtime_ns, size) alone."""
        (self.written if written else self.read)[key] = (*ids, oid)
        self.dirty = True

    def clean_snapshot(self, oid: str, digest: str, max_mtime: int) -> bool:
        """True when the directory was recorded clean against manifest ``oid`` and no file
        has changed since (same digest of every file's stat, all older than the stamp)."""
        s = self.snapshot
        return s is not None and s[0] == oid and s[1] == digest and max_mtime < s[2]

    def set_snapshot(self, oid: str, digest: str, written: bool = False) -> None:
        self.new_snapshot = (oid, digest, written)
        self.dirty = True


def stat_digest(ws: dict[str, os.stat_result]) -> tuple[str, int]:
    """(digest of every file's path, inode, mtime, size and mode, newest mtime) of a tree."""
    part, newest = digest_columns(ws.items())
    return join_digest([part]), newest


def tree_digest(top: str, parallel: bool = False) -> tuple[str, int]:
    """``stat_digest(scan_stats(top))``, the same value, without keeping the stats.

    With ``parallel`` (a tree of many files) a forked child walks the sub-directories
    that the serial walk takes last, and hands back its part as five byte strings.
    """
    from gitml import forkpool

    if not parallel or forkpool.workers() < 2:
        return stat_digest(scan_stats(top))
    try:
        files, subdirs = split_top(top)
    except (FileNotFoundError, NotADirectoryError):
        return stat_digest({})
    (mine, newest), (theirs, newest2) = forkpool.split_walk(files, subdirs, digest_columns)
    return join_digest([mine, theirs]), max(newest, newest2)


def join_digest(parts: Sequence[Sequence[bytes]]) -> str:
    """The :func:`stat_digest` of a walk from its consecutive parts, each (names joined by
    NUL and encoded, then the mtime, inode, size and mode columns as bytes)."""
    import xxhash

    h = xxhash.xxh3_128()
    h.update(b"\0".join(p[0] for p in parts if p[0]))
    for i in range(1, 5):
        for p in parts:
            h.update(p[i])
    return h.hexdigest()


def digest_columns(walk: Iterable[tuple[str, os.stat_result]]
                   ) -> tuple[tuple[bytes, ...], int]:
    """What :func:`join_digest` needs of a walk (its names joined by NUL, then its mtime,
    inode, size and mode columns, as bytes: whole columns, as this runs over every file of
    a directory on each status), and the newest mtime."""
    names: list[str] = []
    cols = [array("q") for _ in range(4)]
    mt, ino, size, mode = (c.append for c in cols)
    for name, st in walk:
        names.append(name)
        mt(st.st_mtime_ns)
        ino(st.st_ino)
        size(st.st_size)
        mode(st.st_mode)
    part = ("\0".join(names).encode("utf-8", "surrogateescape"), *(c.tobytes() for c in cols))
    return part, max(cols[0], default=0)


class StatCache:
    """A lazily opened sqlite3 stat cache for one work tree."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._roots: dict[str, Root] = {}
        self._forget: list[str] = []
        self._marks: set[str] = set()
        self._stamp: int | None = None

    def begin(self) -> None:
        """Take the file system's current time; call before reading any file to hash it."""
        if self._stamp is None:
            self._stamp = self._fs_now()

    def _fs_now(self) -> int:
        """The file system's clock: the mtime of a freshly touched file beside the index."""
        stamp_file = self.path + ".stamp"
        fd = os.open(stamp_file, os.O_WRONLY | os.O_CREAT, 0o644)
        os.close(fd)
        os.utime(stamp_file, None)
        return os.stat(stamp_file).st_mtime_ns

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self._db = self._connect()
            except sqlite3.DatabaseError:
                # A damaged cache is only a cache: start again.
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                self._db = self._connect()
        return self._db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA synchronous=OFF")
        db.executescript(_SCHEMA)
        row = db.execute("SELECT value FROM info WHERE key='version'").fetchone()
        if row is None or row[0] != _VERSION:  # another layout: start again
            db.execute("DROP TABLE roots")
            db.executescript(_SCHEMA)
            db.execute("INSERT OR REPLACE INTO info VALUES ('version', ?)", (_VERSION,))
        return db

    def root(self, rel: str) -> Root:
        """The cache of tracked path ``rel`` (loaded once per process)."""
        r = self._roots.get(rel)
        if r is None:
            blob, snapshot = None, None
            if os.path.exists(self.path):
                try:
                    row = self._open().execute(
                        "SELECT snapshot, data FROM roots WHERE path=?", (rel,)).fetchone()
                except sqlite3.DatabaseError:
                    row = None
                if row is not None:
                    snapshot, blob = _decode(row[0], tuple), row[1]
            r = self._roots[rel] = Root(blob, snapshot)
        return r

    def commit(self) -> None:
        """Save what changed: read entries under :meth:`begin`'s stamp, written ones and
        snapshots of written trees under a stamp taken now."""
        dirty = {k: r for k, r in self._roots.items() if r.dirty}
        if not dirty and not self._forget and not self._marks:
            return
        self.begin()
        read_stamp = self._stamp
        now = self._fs_now() if any(r.written or (r.new_snapshot and r.new_snapshot[2])
                                    for r in dirty.values()) else read_stamp
        rows = []
        for rel, r in dirty.items():
            if r.read or r.written:
                entries = r.entries
                for key, (ino, m, size, oid) in r.read.items():
                    entries[key] = (ino, m, size, oid, read_stamp)  # type: ignore[assignment]
                for key, (ino, m, size, oid) in r.written.items():
                    entries[key] = (ino, m, size, oid, now)  # type: ignore[assignment]
            if r.new_snapshot is not None:
                oid, digest, written = r.new_snapshot
                r.snapshot = (oid, digest, now if written else read_stamp)  # type: ignore
            elif r.read or r.written:
                r.snapshot = None
            r.read, r.written, r.new_snapshot, r.dirty = {}, {}, None, False
            snapshot = marshal.dumps(r.snapshot) if r.snapshot else None
            rows.append((rel, snapshot, r.blob()))
        db = self._open()
        db.execute("BEGIN IMMEDIATE")
        try:
            for rel in self._forget:
                db.execute("DELETE FROM roots WHERE path = ? OR (path >= ? AND path < ?)",
                           (rel, rel + "/", rel + "0"))
                db.execute("DELETE FROM tracked WHERE path = ?", (rel,))
            db.executemany("INSERT OR REPLACE INTO roots VALUES (?, ?, ?)", rows)
            db.executemany("INSERT OR IGNORE INTO tracked VALUES (?)", [(m,) for m in self._marks])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._forget.clear()
        self._marks.clear()

    def mark_tracked(self, rels: Iterable[str]) -> None:
        """Record that gitml tracks these data paths in this work tree (saved by
        :meth:`commit`): checkout removes such a path, unchanged, once no pointer names it."""
        self._marks.update(rels)

    def tracked(self) -> set[str]:
        """The data paths recorded by :meth:`mark_tracked` (and not forgotten since)."""
        rows: list[tuple[str]] = []
        if os.path.exists(self.path):
            with contextlib.suppress(sqlite3.DatabaseError):
                rows = self._open().execute("SELECT path FROM tracked").fetchall()
        return ({r[0] for r in rows} - set(self._forget)) | self._marks

    def forget(self, rel: str) -> None:
        """Drop the cache of ``rel`` and of paths below it, and its tracked mark (saved by
        :meth:`commit`)."""
        for k in [k for k in self._roots if k == rel or k.startswith(rel + "/")]:
            del self._roots[k]
        self._marks.discard(rel)
        self._forget.append(rel)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _decode(blob: Any, kind: type) -> Any:
    """The marshalled ``kind`` in ``blob``; empty ({} or None) when it is absent or damaged
    (a cache entry that cannot be read is only a miss)."""
    try:
        value = marshal.loads(blob) if blob else None
    except (ValueError, EOFError, TypeError):
        value = None
    if isinstance(value, kind):
        return value
    return {} if kind is dict else None
