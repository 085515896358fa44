"""Self-healing reads: a corrupt object is moved aside and fetched again, verified.

When checkout, pull, ``api.read`` or ``fetch`` finds an object in the store whose bytes no
longer match its hash, the bad copy is renamed into ``<store>/quarantine/`` (kept for
inspection, never read again: only ``gitml gc`` of a month-old quarantine deletes it),
a copy is fetched from the default remote — hashed on arrival like every download — and
the command goes on; one line says so. Without a default remote, or when the remote's
copy is missing or corrupt too, nothing changes and the command reports the corruption
as before (exit 1). ``gitml fsck --repair`` does this for every corrupt object, and
fetches every object the workspace's pointers need that the store lacks.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.errors import GitmlError
from gitml.progress import notice

if TYPE_CHECKING:
    from gitml.repo import Repo
    from gitml.store import Store

QUARANTINE = "quarantine"
_KEEP = 30 * 86400  # gc deletes quarantined copies older than this


@dataclass
class HealResult:
    """``healed``: objects fetched again, verified; ``failed``: {oid, why} not healed."""

    remote: str | None = None
    healed: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)  # paths of the bad copies

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quarantine_dir(store: Store) -> str:
    return os.path.join(store.root, QUARANTINE)


def quarantine(store: Store, oid: str) -> str | None:
    """Move the object's file aside (same file system: a rename); None when it is gone
    (another process healed it first)."""
    qdir = quarantine_dir(store)
    os.makedirs(qdir, exist_ok=True)
    dst = os.path.join(qdir, f"{oid[5:]}.{time.time_ns()}")
    try:
        os.rename(store.path(oid), dst)
    except FileNotFoundError:
        return _quarantine_chunks(store, oid, qdir)
    return dst


def _quarantine_chunks(store: Store, oid: str, qdir: str) -> str | None:
    """A file held as chunks: its corrupt chunks go aside and its record is dropped, so
    the fetch that follows brings the list and the chunks again (docs/formats.md)."""
    try:
        cl = store.chunk_list(oid)
    except GitmlError:
        cl = None
    if cl is None and store.list_id(oid) is None:
        return None
    moved = None
    for cid in dict.fromkeys(cl.ids if cl else ()):
        if store.verify(cid) != cid:
            moved = os.path.join(qdir, f"{cid[5:]}.{time.time_ns()}")
            os.rename(store.path(cid), moved)
    store.remove_record(oid)
    return moved or store.record_path(oid)


def heal(repo: Repo, oids: Iterable[str], *, say: bool = True) -> HealResult:
    """Quarantine the objects among ``oids`` that are corrupt in the store, then fetch
    them (and any that are missing) from the default remote, verified."""
    from gitml.remotes import transfer
    from gitml.remotes.base import RemoteError, TransferIncomplete

    store = repo.store
    wanted = list(dict.fromkeys(oids))
    result = HealResult(transfer.default_remote(repo))
    if not wanted:
        return result
    if result.remote is None:
        result.failed = [{"oid": o, "why": "no default remote"} for o in wanted]
        return result
    bad: set[str] = set()
    with store.lock():
        for oid in wanted:
            if store.has(oid) and store.verify(oid) != oid:
                where = quarantine(store, oid)
                if where:
                    result.quarantined.append(where)
                    bad.add(oid)
    try:
        done = transfer.fetch_objects(repo, wanted, result.remote)
    except TransferIncomplete as e:
        done = e.result  # type: ignore[assignment]
        result.failed = [{"oid": d["oid"], "why": f"corrupt on remote {result.remote}"}
                         for d in done.corrupt]
        result.failed += [{"oid": d["oid"], "why": f"missing on remote {result.remote}"}
                          for d in done.missing]
    except (RemoteError, GitmlError) as e:
        result.failed = [{"oid": o, "why": str(e)} for o in wanted if not store.has(o)]
        return result
    lost = {d["oid"] for d in result.failed}
    result.healed = [o for o in wanted if o not in lost and store.has(o)]
    repaired = len([o for o in result.healed if o in bad])
    if say and repaired:
        notice(f"repaired {repaired} corrupt object{'s' * (repaired != 1)} from remote "
               f"{result.remote} (the bad cop{'ies' if repaired != 1 else 'y'}: "
               f"{os.path.relpath(quarantine_dir(store), repo.root)}/)")
    return result


def clean_quarantine(store: Store, now: float | None = None) -> int:
    """Delete quarantined copies older than 30 days (gc); returns how many."""
    cutoff = (now or time.time()) - _KEEP
    n = 0
    try:
        it = os.scandir(quarantine_dir(store))
    except FileNotFoundError:
        return 0
    with it:
        for e in it:
            with contextlib.suppress(OSError):
                if e.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(e.path)
                    n += 1
    return n


@dataclass
class RepairResult:
    """``gitml fsck --repair``: what fsck found, and what healing did about it."""

    checked: int
    corrupt: list[dict[str, str]]
    missing: list[dict[str, str]]
    heal: HealResult

    @property
    def ok(self) -> bool:
        return not self.heal.failed

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "ok": self.ok, "corrupt": self.corrupt,
                "missing": self.missing, "repair": self.heal.to_dict()}


def repair(repo: Repo) -> RepairResult:
    """fsck, then heal every corrupt object and fetch every missing one; once more when
    that repaired a manifest (it may name files the store lacks)."""
    found = repo.fsck()
    out = RepairResult(found.checked, list(found.corrupt), list(found.missing), HealResult())
    for _ in range(2):
        oids = [c["oid"] for c in found.corrupt] + [m["oid"] for m in found.missing]
        if not oids:
            break
        step = heal(repo, oids, say=False)
        out.heal.remote = step.remote
        out.heal.healed += step.healed
        out.heal.failed += step.failed
        out.heal.quarantined += step.quarantined
        if step.failed:
            break
        found = repo.fsck()
        out.corrupt += [c for c in found.corrupt if c not in out.corrupt]
        out.missing += [m for m in found.missing if m not in out.missing]
    return out
