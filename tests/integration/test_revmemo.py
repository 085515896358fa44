"""The revision memo (.gitml/tmp/revmemo): a second read of a revision parses nothing again."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, write

from gitml import gitio

GITML_YAML = "metrics:\n  - metrics.json\nparams:\n  - params.yaml\n"


@pytest.fixture
def two_branches(repo: Path) -> Path:
    write(repo / "gitml.yaml", GITML_YAML)
    write(repo / "metrics.json", '{"acc": 0.9, "loss": 0.3}')
    write(repo / "params.yaml", "lr: 0.1\nwhen: 2026-01-02\n")  # a date: not kept in the memo
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "checkout", "-q", "-b", "exp")
    write(repo / "metrics.json", '{"acc": 0.95, "loss": 0.2}')
    write(repo / "params.yaml", "lr: 0.01\nwhen: 2026-01-03\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "exp")
    git(repo, "checkout", "-q", "main")
    return repo


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    specs: list[str] = []
    real = gitio.BatchReader.read_object

    def spy(self, spec, limit=None):  # type: ignore[no-untyped-def]
        specs.append(spec)
        return real(self, spec, limit)

    monkeypatch.setattr(gitio.BatchReader, "read_object", spy)
    return specs


def test_second_diff_reads_no_tree_or_metrics_blob(two_branches: Path, cli,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    specs = _count_reads(monkeypatch)
    first = cli("metrics", "diff", "main", "exp", "--json")
    assert first.code == 0, first.err
    cold = len(specs)
    specs.clear()
    second = cli("metrics", "diff", "main", "exp", "--json")
    assert second.out == first.out
    assert '"acc"' in second.out and "0.95" in second.out
    # only the two revisions are resolved; trees, gitml.yaml and metrics.json come from the memo
    assert len(specs) <= 2 < cold, specs
    assert git(two_branches, "status", "--porcelain") == ""


def test_params_with_dates_are_read_again_and_stay_right(two_branches: Path, cli) -> None:
    first = cli("params", "diff", "main", "exp")
    second = cli("params", "diff", "main", "exp")
    assert first.code == second.code == 0, second.err
    assert second.out == first.out
    assert "2026-01-03" in second.out and "0.01" in second.out


@pytest.mark.parametrize("damage", [b"", b"not marshal at all", b"\xe3" + b"\x00" * 40])
def test_damaged_memo_is_ignored_and_rewritten(two_branches: Path, cli, damage: bytes) -> None:
    good = cli("metrics", "show", "main", "exp", "--json")
    memo = two_branches / ".gitml" / "tmp" / "revmemo"
    assert memo.stat().st_size > 0
    memo.write_bytes(damage)
    again = cli("metrics", "show", "main", "exp", "--json")
    assert again.code == 0, again.err
    assert again.out == good.out
    assert memo.stat().st_size > len(damage)
