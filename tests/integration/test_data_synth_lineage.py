"""gitml data synth: the output's pointer records its lineage (never source data), and
--verify regenerates it from there."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from conftest import git, run_cli, write
from test_data_synth import customers, put

from gitml import pointer


@pytest.fixture
def twin(repo: Path) -> Path:
    """data/customers.parquet (tracked, committed) and its twin data/twin.parquet."""
    put(repo / "data" / "customers.parquet", customers(1500))
    assert run_cli("add", "-q", "data/customers.parquet").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "customers")
    r = run_cli("data", "synth", "data/customers.parquet", "-k", "user_id", "--seed", "7",
                "--exclude", "email", "-o", "data/twin.parquet")
    assert r.code == 0, r.err
    assert "wrote data/twin.parquet (1,500 rows), tracked by data/twin.parquet.gitml" in r.out
    assert "git add data/.gitignore data/twin.parquet.gitml" in r.out
    return repo / "data" / "twin.parquet"


def test_pointer_records_lineage_not_data(twin: Path, repo: Path, cli) -> None:
    ptr = pointer.load(str(repo / "data" / "twin.parquet.gitml"))
    src = pointer.load(str(repo / "data" / "customers.parquet.gitml"))
    meta = ptr.meta["synth"]
    assert meta["method"] == "gaussian-copula" and meta["version"] == 1
    assert meta["source"] == {"path": "data/customers.parquet", "hash": src.oid,
                              "format": "parquet", "rows": 1500}
    assert meta["seed"] == 7 and meta["rows"] == 1500 and meta["key"] == ["user_id"]
    assert meta["exclude"] == ["email"] and meta["pooled"]["country"] >= 1
    assert set(meta["report"]) == {"fidelity", "correlation", "utility", "privacy",
                                   "exact_copies"} and meta["report"]["exact_copies"] == 0
    assert ptr.meta["rows"] == 1500 and ptr.meta["format"] == "parquet"  # as gitml add does
    text = (repo / "data" / "twin.parquet.gitml").read_text()
    for leak in ("Liechtenstein", "Monaco", "corp.example", "DE"):
        assert leak not in text
    # an ordinary tracked file: status is clean, Git sees a pointer and an ignore line
    assert cli("status", "--json").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "twin")
    assert "data/twin.parquet.gitml" in git(repo, "ls-files")
    # the same synthesis again changes nothing; another seed replaces the lineage
    assert cli("data", "synth", "data/customers.parquet", "-k", "user_id", "--seed", "7",
               "--exclude", "email", "-o", "data/twin.parquet", "-q").code == 0
    assert git(repo, "status", "--porcelain") == ""
    assert cli("data", "synth", "data/customers.parquet", "-k", "user_id", "--seed", "8",
               "--exclude", "email", "-o", "data/twin.parquet", "-q").code == 0
    assert pointer.load(str(repo / "data" / "twin.parquet.gitml")).meta["synth"]["seed"] == 8
    diff = git(repo, "diff", "data/twin.parquet.gitml")  # through gitml's diff driver
    assert "-synth: gaussian-copula 1 of data/customers.parquet (xxh3:" in diff
    assert "seed 7, rows 1500, key user_id, exclude email, min count 10" in diff
    assert "+synth: gaussian-copula 1 of data/customers.parquet" in diff and "seed 8" in diff
    assert "+synth report: fidelity 0.9" in diff


def test_verify_passes_and_fails_when_tampered(twin: Path, repo: Path, cli) -> None:
    r = cli("data", "synth", "--verify", "data/twin.parquet")
    assert r.code == 0, r.err
    assert "regenerated from data/customers.parquet (seed 7): identical (xxh3:" in r.out
    # the workspace file edited
    t = pq.read_table(twin)
    pq.write_table(t.slice(1), twin)
    r = cli("data", "synth", "--verify", "data/twin.parquet")
    assert r.code == 1 and "is not the file its pointer records" in r.err
    assert cli("checkout", "--force", "data/twin.parquet").code == 0
    assert cli("data", "synth", "--verify", "data/twin.parquet").code == 0
    # the lineage edited: another seed regenerates another file
    ptr_file = repo / "data" / "twin.parquet.gitml"
    good = ptr_file.read_text()
    ptr_file.write_text(good.replace("seed: 7", "seed: 9"))
    r = cli("data", "synth", "--verify", "data/twin.parquet", "--json")
    assert r.code == 1 and "the lineage regenerates xxh3:" in r.err
    assert '"ok": false' in r.out
    # a malformed lineage is bad input, named
    ptr_file.write_text(good.replace("seed: 7", "seed: seven"))
    r = cli("data", "synth", "--verify", "data/twin.parquet")
    assert r.code == 2
    assert r.err == ("error: data/twin.parquet.gitml: meta.synth: seed must be a whole "
                     "number >= 0, not 'seven'\n")
    ptr_file.write_text(good.replace("path: data/customers.parquet", "path: ../../etc/x"))
    r = cli("data", "synth", "--verify", "data/twin.parquet")
    assert r.code == 2 and "meta.synth.source.path" in r.err
    ptr_file.write_text(good)
    # not tracked, or tracked without lineage
    r = cli("data", "synth", "--verify", "data/nothing.parquet")
    assert r.code == 2 and "is not tracked by gitml" in r.err
    r = cli("data", "synth", "--verify", "data/customers.parquet")
    assert r.code == 2 and "records no synth lineage" in r.err
    r = cli("data", "synth", "data/customers.parquet", "--verify", "data/twin.parquet")
    assert r.code == 2 and "--verify OUT takes no SRC" in r.err


def test_verify_after_the_source_moved_on(twin: Path, repo: Path, cli) -> None:
    """The recorded version of a tracked source is read from the store."""
    put(repo / "data" / "customers.parquet", customers(1200, seed=5))
    assert cli("add", "-q", "data/customers.parquet").code == 0
    r = cli("data", "synth", "--verify", "data/twin.parquet")
    assert r.code == 0 and "identical" in r.out


def test_verify_needs_the_source(repo: Path, cli) -> None:
    """An untracked source (say, outside the repository) must still be there, unchanged."""
    outside = repo.parent / "private"
    put(outside / "people.parquet", customers(600))
    r = cli("data", "synth", str(outside / "people.parquet"), "-k", "user_id",
            "-o", "people.parquet")
    assert r.code == 0, r.err
    meta = pointer.load(str(repo / "people.parquet.gitml")).meta["synth"]
    assert meta["source"]["path"] == str(outside / "people.parquet")
    assert cli("data", "synth", "--verify", "people.parquet").code == 0
    put(outside / "people.parquet", customers(600, seed=9))
    r = cli("data", "synth", "--verify", "people.parquet")
    assert r.code == 2 and "cannot verify: the source" in r.err and "has changed since" in r.err
    (outside / "people.parquet").unlink()
    r = cli("data", "synth", "--verify", "people.parquet")
    assert r.code == 2 and "is not present" in r.err


def test_rev_path_source_is_read_at_its_commit(repo: Path, cli, monkeypatch) -> None:
    """A CSV committed to Git, synthesised from main:path; the lineage names the commit."""
    (repo / "raw").mkdir()
    pcsv.write_csv(customers(800), repo / "raw" / "c.csv")
    git(repo, "add", "raw/c.csv")
    git(repo, "commit", "-q", "-m", "raw")
    sha = git(repo, "rev-parse", "HEAD").strip()
    (repo / "sub").mkdir()
    r = run_cli("-C", "sub", "data", "synth", "main:raw/c.csv", "-k", "user_id", "--exclude",
                "email")
    monkeypatch.chdir(repo)  # -C changed this process's directory
    assert r.code == 0, r.err
    assert (repo / "raw" / "c.synth.parquet").exists()  # beside the source in the repository
    meta = pointer.load(str(repo / "raw" / "c.synth.parquet.gitml")).meta["synth"]
    assert meta["source"]["path"] == "raw/c.csv" and meta["source"]["rev"] == sha
    assert meta["source"]["format"] == "csv"
    pcsv.write_csv(customers(300, seed=4), repo / "raw" / "c.csv")
    git(repo, "commit", "-q", "-am", "raw v2")
    r = cli("data", "synth", "--verify", "raw/c.synth.parquet")
    assert r.code == 0 and f"regenerated from {sha[:12]}:raw/c.csv" in r.out, r.err
    r = cli("data", "synth", "nope:raw/c.csv")
    assert r.code == 2 and "nope" in r.err


def test_data_check_and_the_pre_commit_hook_gate_on_the_recorded_report(twin: Path,
                                                                        repo: Path,
                                                                        cli) -> None:
    write(repo / "gitml.yaml", "checks:\n  data/twin.parquet:\n"
          "    synth: {privacy: 0.8, fidelity: 0.9}\n    rows: {min: 1000}\n")
    r = cli("data", "check")
    assert r.code == 0, r.out + r.err
    assert "ok    synthetic: lineage, no copies, privacy >= 0.8, fidelity >= 0.9" in r.out
    assert cli("hooks", "install", "pre-commit").code == 0
    git(repo, "add", "-A")
    ok = subprocess.run(["git", "commit", "-q", "-m", "twin"], cwd=repo, capture_output=True,
                        text=True)
    assert ok.returncode == 0, ok.stderr
    # a stricter gate, or a twin edited after it was made, is refused
    write(repo / "gitml.yaml", "checks:\n  data/twin.parquet:\n    synth: {fidelity: 0.9999}\n")
    r = cli("data", "check", "--json")
    assert r.code == 1 and "fidelity 0.9" in r.out and "< 0.9999" in r.out
    pq.write_table(pq.read_table(twin).slice(5), twin)
    write(repo / "gitml.yaml", "checks:\n  data/twin.parquet:\n    synth: {}\n")
    r = cli("data", "check")
    assert r.code == 1 and "changed since it was synthesised" in r.out
    assert cli("add", "-q", "data/twin.parquet").code == 0  # re-added: the lineage is gone
    git(repo, "add", "-A")
    r = subprocess.run(["git", "commit", "-q", "-m", "edited twin"], cwd=repo,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "commit refused" in r.stderr
    assert "no synth lineage in its pointer" in r.stderr
    write(repo / "gitml.yaml", "checks:\n  data/twin.parquet:\n    synth: {speed: 1}\n")
    r = cli("data", "check")
    assert r.code == 2 and "synth: expected {fidelity: F" in r.err
