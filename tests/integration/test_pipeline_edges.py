"""Pipelines at their edges (issue 17, items 1-4): outputs against tracked data, callback
stages, --downstream / --force-downstream, and a fresh clone's missing inputs (--pull)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git, write


def runs(root: Path, name: str = "runs.log") -> list[str]:
    p = root / name
    return p.read_text().split() if p.exists() else []


def stage(name: str, cmd: str, deps: list[str] | None = None, outs: list[str] | None = None
          ) -> str:
    text = f"  {name}:\n    cmd: {cmd}\n"
    if deps:
        text += f"    deps: [{', '.join(deps)}]\n"
    if outs:
        text += f"    outs: [{', '.join(outs)}]\n"
    return text


# -- 1. outputs against data tracked by `gitml add` -----------------------------------------

def test_an_output_inside_an_added_directory_is_refused_before_anything_runs(repo: Path,
                                                                             cli) -> None:
    write(repo / "data" / "raw.csv", "x\n1\n")
    assert cli("add", "data").code == 0
    write(repo / "gitml.yaml", "stages:\n" + stage(
        "clean", "echo ran >> runs.log; cp data/raw.csv data/clean.csv", ["data/raw.csv"],
        ["data/clean.csv"]))
    for args in (("repro",), ("repro", "--dry"), ("status",), ("dag",)):
        r = cli(*args)
        assert r.code == 2, args
        assert r.err.strip() == (
            "error: gitml.yaml: output data/clean.csv of stage 'clean' is inside data, which "
            "'gitml add' tracks (data.gitml); write it elsewhere, or stop tracking it by hand "
            "first: gitml remove data")
    assert runs(repo) == [] and not (repo / "data" / "clean.csv").exists()


def test_an_output_folder_around_added_data_is_refused(repo: Path, cli) -> None:
    write(repo / "out" / "keep.csv", "mine\n")
    assert cli("add", "out/keep.csv").code == 0
    write(repo / "gitml.yaml", "stages:\n" + stage("make", "mkdir -p out; echo 1 > out/new",
                                                   ["gitml.yaml"], ["out"]))
    r = cli("repro")
    assert r.code == 2
    assert r.err.strip() == ("error: gitml.yaml: output out of stage 'make' contains "
                             "out/keep.csv, which 'gitml add' tracks (out/keep.csv.gitml); "
                             "the stage would delete it before it runs")
    assert (repo / "out" / "keep.csv").read_text() == "mine\n"


def test_overlapping_outputs_of_two_stages_are_refused_naming_both(repo: Path, cli) -> None:
    write(repo / "in.txt", "1\n")
    write(repo / "gitml.yaml", "stages:\n"
          + stage("a", "echo a >> runs.log; mkdir -p m; echo 1 > m/x", ["in.txt"], ["m"])
          + stage("b", "echo b >> runs.log; mkdir -p m; echo 2 > m/y", ["in.txt"], ["m/y"]))
    r = cli("repro")
    assert r.code == 2
    assert r.err.strip() == "error: output m/y of stage 'b' is inside output m of stage 'a'"
    assert runs(repo) == []


# -- 2. callback stages ----------------------------------------------------------------------

def test_a_stage_without_deps_runs_every_time_and_status_says_why(repo: Path, cli) -> None:
    write(repo / "in.txt", "1\n")
    write(repo / "gitml.yaml", "stages:\n"
          + stage("stamp", "echo stamp >> runs.log; date +%s%N > stamp.txt", outs=["stamp.txt"])
          + stage("copy", "echo copy >> runs.log; cp in.txt copy.txt", ["in.txt"],
                  ["copy.txt"]))
    assert cli("repro").code == 0
    assert runs(repo) == ["stamp", "copy"]
    r = cli("status")
    assert "  stamp: no deps: a callback stage runs every time" in r.out
    assert "copy:" not in r.out
    items = json.loads(cli("status", "--json").out)
    stale = [i for i in items if i.get("kind") == "stage"]
    assert [(i["stage"], [x["kind"] for x in i["reasons"]]) for i in stale] == \
        [("stamp", ["callback"])]
    r = cli("repro")
    assert r.code == 0
    assert "Running stage 'stamp' (no deps: a callback stage runs every time)" in r.out
    assert "Stage 'copy' is up to date" in r.out
    assert runs(repo) == ["stamp", "copy", "stamp"]  # never restored from the run cache
    # a stage with params is not a callback stage
    write(repo / "params.yaml", "k: 1\n")
    write(repo / "gitml.yaml", "stages:\n" + stage("p", "echo p >> runs.log; echo 1 > p.txt",
                                                   outs=["p.txt"]).replace(
        "    outs:", "    params: [k]\n    outs:"))
    assert cli("repro").code == 0 and cli("repro").code == 0
    assert runs(repo).count("p") == 1


# -- 3. --downstream and --force-downstream ----------------------------------------------------

CHAIN = ("stages:\n"
         + stage("a", "echo a >> runs.log; wc -l < in.txt > a.txt", ["in.txt"], ["a.txt"])
         + stage("b", "echo b >> runs.log; cat a.txt b.in > b.txt", ["a.txt", "b.in"],
                 ["b.txt"])
         + stage("c", "echo c >> runs.log; cat b.txt > c.txt", ["b.txt"], ["c.txt"])
         + stage("x", "echo x >> runs.log; cat in.txt > x.txt", ["in.txt"], ["x.txt"]))


@pytest.fixture
def chain(repo: Path, cli) -> Path:
    write(repo / "in.txt", "1\n2\n")
    write(repo / "b.in", "b\n")
    write(repo / "gitml.yaml", CHAIN)
    assert cli("repro").code == 0
    (repo / "runs.log").unlink()
    return repo


def test_downstream_runs_the_stage_and_what_follows_not_what_precedes(chain: Path,
                                                                      cli) -> None:
    write(chain / "in.txt", "3\n4\n5\n")  # a and x are stale now
    write(chain / "b.in", "bb\n")  # and b
    r = cli("repro", "--downstream", "b", "--dry")
    assert r.out.splitlines() == ["b: would run (dep b.in modified)",
                                  "c: may run (after upstream 'b')"]
    r = cli("repro", "--downstream", "b")
    assert r.code == 0, r.err
    assert runs(chain) == ["b", "c"]  # not a, not x, though they are stale
    assert (chain / "a.txt").read_text().strip() == "2"
    r = cli("repro", "--downstream")
    assert r.code == 2 and r.err.startswith("error: --downstream needs the stage to start from")
    r = cli("repro", "--downstream", "-s", "b")
    assert r.code == 2 and "choose one of --single-item and --downstream" in r.err


def test_force_downstream_runs_what_follows_a_stage_whose_output_did_not_change(
        chain: Path, cli) -> None:
    write(chain / "in.txt", "7\n8\n")  # same line count: a runs, a.txt is the same
    assert cli("repro").code == 0
    assert runs(chain) == ["a", "x"]  # b and c see the same a.txt
    (chain / "runs.log").unlink()
    write(chain / "in.txt", "9\n9\n")
    r = cli("repro", "--force-downstream")
    assert r.code == 0, r.err
    assert runs(chain) == ["a", "b", "c", "x"]
    assert "Running stage 'b' (after upstream 'a')" in r.out
    assert "Running stage 'c' (after upstream 'b')" in r.out
    (chain / "runs.log").unlink()
    assert cli("repro", "--force-downstream").code == 0
    assert runs(chain) == []  # nothing ran upstream: nothing is forced


# -- 4. a fresh clone: missing inputs named, --pull ---------------------------------------------

PIPE = ("stages:\n"
        + stage("prepare", "echo prepare >> ../runs.log; sort data/raw.csv > prepared.csv",
                ["data/raw.csv"], ["prepared.csv"])
        + stage("train", "echo train >> ../runs.log; wc -l < prepared.csv > model.txt",
                ["prepared.csv"], ["model.txt"]))


@pytest.fixture
def origin(repo: Path, cli, tmp_path: Path) -> Path:
    write(repo / "data" / "raw.csv", "b\na\n")
    write(repo / "gitml.yaml", PIPE)
    assert cli("add", "data/raw.csv", "-q").code == 0
    assert cli("remote", "add", "-q", "store", str(tmp_path / "remote")).code == 0
    assert cli("repro", "-q").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    (tmp_path / "runs.log").unlink()
    return repo


def _clone(origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    dest = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(dest))
    monkeypatch.chdir(dest)
    return dest


def test_a_fresh_clone_names_the_missing_inputs_and_how_to_get_them(
        origin: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("push", "-q").code == 0
    dest = _clone(origin, tmp_path, monkeypatch)
    r = cli("repro")
    assert r.code == 2
    assert r.err.strip() == (
        "error: 1 input tracked by gitml but not in the workspace nor in the store: "
        "data/raw.csv; get it with 'gitml pull data/raw.csv' (or run 'gitml repro --pull')")
    assert runs(tmp_path) == []
    # with the object in the store, checkout is what it takes
    assert cli("fetch", "-q").code == 0
    r = cli("repro")
    assert r.code == 2 and r.err.strip() == (
        "error: 1 input tracked by gitml but not checked out: data/raw.csv; "
        "run 'gitml checkout data/raw.csv'")
    assert not (dest / "prepared.csv").exists()


def test_repro_pull_fetches_inputs_and_outputs_so_nothing_runs_again(
        origin: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("push", "-q").code == 0
    dest = _clone(origin, tmp_path, monkeypatch)
    r = cli("repro", "--pull")
    assert r.code == 0, r.err
    assert "Pipeline is up to date" in r.out
    assert runs(tmp_path) == []  # the outputs came from the remote
    assert (dest / "model.txt").read_text().strip() == "2"
    assert (dest / "data" / "raw.csv").read_text() == "b\na\n"


def test_repro_pull_makes_again_what_the_remote_lacks(
        origin: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("push", "-q", str(origin / "data" / "raw.csv")).code == 0  # inputs only
    dest = _clone(origin, tmp_path, monkeypatch)
    r = cli("repro", "--pull")
    assert r.code == 0, r.err
    assert runs(tmp_path) == ["prepare", "train"]
    assert (dest / "model.txt").read_text().strip() == "2"


def test_repro_pull_without_the_inputs_on_the_remote_is_one_error(
        origin: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "remote").mkdir()  # nothing was pushed
    _clone(origin, tmp_path, monkeypatch)
    r = cli("repro", "--pull")
    assert r.code == 2
    assert r.err.startswith("error: repro --pull: cannot get every input: fetch incomplete: "
                            "1 object missing on remote store")
    assert len(r.err.strip().splitlines()) == 1
    assert runs(tmp_path) == []


def test_exp_run_in_a_fresh_clone_checks_inputs_first_and_pull_fetches_them(
        origin: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("push", "-q", str(origin / "data" / "raw.csv")).code == 0
    dest = _clone(origin, tmp_path, monkeypatch)
    r = cli("exp", "run", "-n", "e1")
    assert r.code == 2
    assert r.err.strip() == (
        "error: 1 input tracked by gitml but not in the store: data/raw.csv; get it with "
        "'gitml pull data/raw.csv' (or run 'gitml exp run --pull')")
    assert git(dest, "branch", "--list", "e1") == "" and runs(tmp_path) == []
    r = cli("exp", "run", "-n", "e1", "--pull")
    assert r.code == 0, r.err
    assert "Running stage 'prepare'" in r.out and "Running stage 'train'" in r.out
    assert "hash: xxh3:" in git(dest, "show", "e1:model.txt.gitml")
