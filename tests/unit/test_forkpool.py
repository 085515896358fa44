"""split_map: the same results as a plain loop, and failures on either side surface here."""

from __future__ import annotations

import os

import pytest

from gitml import faults, forkpool
from gitml.errors import GitmlError, IntegrityError

pytestmark = pytest.mark.skipif(forkpool.workers() < 2, reason="needs two CPUs and fork")


@pytest.fixture(autouse=True)
def _small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forkpool, "MIN_ITEMS", 10)


def test_results_in_order_half_computed_in_a_child() -> None:
    items = list(range(5000))
    seen: list[int] = []
    out = forkpool.split_map(lambda x: (x * x, os.getpid()), items, seen.append)
    assert [v for v, _ in out] == [x * x for x in items]
    pids = {p for _, p in out}
    assert len(pids) == 2 and os.getpid() in pids  # the second half came from another process
    assert sum(seen) == len(items)  # progress counted every item, the child's included


def test_short_list_stays_in_this_process() -> None:
    assert forkpool.split_map(lambda x: os.getpid(), list(range(5))) == [os.getpid()] * 5


def test_error_in_the_child_is_raised_with_its_type() -> None:
    def fn(x: int) -> int:
        if x == 4000:
            raise IntegrityError("xxh3:" + "0" * 32, "xxh3:" + "1" * 32, "the store")
        return x

    with pytest.raises(IntegrityError, match="corrupt object") as err:
        forkpool.split_map(fn, list(range(4200)))
    assert err.value.exit_code == 1 and err.value.where == "the store"


def test_child_killed_is_an_error_not_a_short_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "_SPEC", "forkpool.child-item:kill@7")
    with pytest.raises(GitmlError, match="worker process stopped.*signal 9"):
        forkpool.split_map(lambda x: x, list(range(100)))


def test_error_here_stops_the_child(tmp_path) -> None:
    def fn(x: int) -> int:
        if x >= 50:  # the child's half: leave a mark per item, slowly enough to be stopped
            (tmp_path / str(x)).touch()
        elif x == 10:
            raise ValueError("boom")
        return x

    with pytest.raises(ValueError, match="boom"):
        forkpool.split_map(fn, list(range(100_000)))
    marks = len(list(tmp_path.iterdir()))
    assert marks < 99_950  # killed long before finishing its half
    assert len(list(tmp_path.iterdir())) == marks  # and no longer running


def test_tree_digest_in_two_processes_equals_the_serial_one(tmp_path) -> None:
    from gitml.fsutil import TMP_PREFIX, scan_stats
    from gitml.statcache import stat_digest, tree_digest

    top = tmp_path / "t"
    for i in range(200):
        p = top / f"s{i % 5}" / ("deep/" if i % 3 else "") / f"{i}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(bytes([i]) * (i + 1))
    (top / "top.bin").write_bytes(b"t")
    (top / "link").symlink_to("top.bin")
    (top / "s1" / f"{TMP_PREFIX}junk").write_bytes(b"left by a killed writer")
    serial = stat_digest(scan_stats(str(top)))
    assert tree_digest(str(top), parallel=True) == serial
    (top / "s4" / "0.bin").unlink(missing_ok=True)
    (top / "s0" / "0.bin").write_bytes(b"changed")
    assert tree_digest(str(top), parallel=True) == stat_digest(scan_stats(str(top))) != serial
    assert tree_digest(str(tmp_path / "absent"), parallel=True) == stat_digest({})
