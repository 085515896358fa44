"""The stat cache (``.gitml/index``): (path, inode, mtime_ns, size) -> hash.

An unchanged file is never read twice. Racy-clean protection follows Git's
racy-git rule. :meth:`StatCache.begin` reads the file system's own clock (the mtime
of a freshly touched stamp file) before any file is read; the entries written by
that command form a *generation* carrying that stamp. An entry is trusted only
when the file's mtime is strictly older than its stamp: a later edit then always
gets a different mtime, and a file modified in the clock tick it was read in is
simply hashed again next time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    path TEXT PRIMARY KEY, ino INTEGER, mtime INTEGER, size INTEGER, oid TEXT, gen INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gens (gen INTEGER PRIMARY KEY, stamp INTEGER);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT);
"""
_VERSION = "1"


class StatCache:
    """A lazily opened sqlite3 stat cache. Keys are repository-relative POSIX paths."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[str, int, int, int, str]] = []
        self._stamps: dict[int, int] | None = None
        self._stamp: int | None = None

    def begin(self) -> None:
        """Take the file system's current time; call before reading any file to hash it."""
        if self._stamp is None:
            stamp_file = self.path + ".stamp"
            fd = os.open(stamp_file, os.O_WRONLY | os.O_CREAT, 0o644)
            os.close(fd)
            os.utime(stamp_file, None)
            self._stamp = os.stat(stamp_file).st_mtime_ns

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
        if row is None:
            db.execute("INSERT OR REPLACE INTO info VALUES ('version', ?)", (_VERSION,))
        elif row[0] != _VERSION:
            db.executescript("DELETE FROM entries; DELETE FROM gens;")
            db.execute("UPDATE info SET value=? WHERE key='version'", (_VERSION,))
        return db

    def _load_stamps(self) -> dict[int, int]:
        if self._stamps is None:
            self._stamps = dict(self._open().execute("SELECT gen, stamp FROM gens"))
        return self._stamps

    def load_prefix(self, prefix: str) -> dict[str, tuple[int, int, int, str]]:
        """Trusted entries at ``prefix`` or below it: path -> (ino, mtime_ns, size, oid)."""
        if not os.path.exists(self.path):
            return {}
        stamps = self._load_stamps()
        db = self._open()
        if prefix:
            rows = db.execute(
                "SELECT path, ino, mtime, size, oid, gen FROM entries "
                "WHERE path = ? OR (path >= ? AND path < ?)",
                (prefix, prefix + "/", prefix + "0"),
            )
        else:
            rows = db.execute("SELECT path, ino, mtime, size, oid, gen FROM entries")
        out = {}
        for path, ino, mtime, size, oid, gen in rows:
            stamp = stamps.get(gen)
            if stamp is not None and mtime < stamp:
                out[path] = (ino, mtime, size, oid)
        return out

    def get(self, rel: str, st: os.stat_result) -> str | None:
        """The cached hash of ``rel`` when its stat still matches, else None."""
        if not os.path.exists(self.path):
            return None
        row = self._open().execute(
            "SELECT ino, mtime, size, oid, gen FROM entries WHERE path=?", (rel,)
        ).fetchone()
        if row is None:
            return None
        ino, mtime, size, oid, gen = row
        stamp = self._load_stamps().get(gen)
        if stamp is None or mtime >= stamp:
            return None
        if (ino, mtime, size) != (st.st_ino, st.st_mtime_ns, st.st_size):
            return None
        return oid

    def put(self, rel: str, st: os.stat_result, oid: str) -> None:
        """Remember a hash; written by :meth:`commit`."""
        self._pending.append((rel, st.st_ino, st.st_mtime_ns, st.st_size, oid))

    def commit(self) -> None:
        """Write pending entries as one generation stamped with :meth:`begin`'s time."""
        if not self._pending:
            return
        self.begin()
        db = self._open()
        db.execute("BEGIN IMMEDIATE")
        try:
            gen = (db.execute("SELECT max(gen) FROM gens").fetchone()[0] or 0) + 1
            db.execute("INSERT INTO gens VALUES (?, ?)", (gen, self._stamp))
            db.executemany(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)",
                [(*row, gen) for row in self._pending],
            )
            db.execute("DELETE FROM gens WHERE gen < ? AND gen NOT IN "
                       "(SELECT DISTINCT gen FROM entries)", (gen,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if self._stamps is not None:
            self._stamps[gen] = self._stamp  # type: ignore[assignment]
        self._pending.clear()

    def forget_prefix(self, prefix: str) -> None:
        """Drop entries at or below ``prefix``."""
        if not os.path.exists(self.path):
            return
        self._open().execute(
            "DELETE FROM entries WHERE path = ? OR (path >= ? AND path < ?)",
            (prefix, prefix + "/", prefix + "0"),
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
