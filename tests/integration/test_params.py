"""gitml params show / diff: default files, declared files, stage params, no verdicts."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, write

from gitml import api


def commit(root: Path, msg: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", msg)


def test_default_params_files_at_the_root(repo: Path, cli) -> None:
    write(repo / "params.yaml", "lr: 0.1\nlayers: [64, 32]\n")
    write(repo / "params.json", '{"seed": 1}')
    write(repo / "params.toml", "[opt]\nname = 'adam'\n")
    write(repo / "sub/params.yaml", "ignored: 1\n")  # defaults are root files only
    write(repo / "metrics.json", '{"acc": 1}')  # a metrics file is not a params file
    assert api.params_show() == {"params.json": {"seed": 1},
                                 "params.toml": {"opt.name": "adam"},
                                 "params.yaml": {"lr": 0.1, "layers.0": 64, "layers.1": 32}}
    commit(repo, "params")
    write(repo / "params.yaml", "lr: 0.05\nlayers: [64, 32, 16]\n")
    r = cli("params", "diff")
    assert [line.split() for line in r.out.splitlines()] == [
        ["Path", "Param", "HEAD", "workspace", "Change"],
        ["params.yaml", "layers.2", "-", "16", "added"],
        ["params.yaml", "lr", "0.1", "0.05", "-0.05"]]


def test_declared_params_and_stage_params(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", "params: [conf/*.yaml]\nstages:\n  train:\n"
                               "    cmd: python train.py\n    params: [lr]\n")
    write(repo / "conf/a.yaml", "x: 1\n")
    write(repo / "conf/b.yaml", "y: true\n")
    write(repo / "params.yaml", "lr: 0.1\nunused: 2\n")  # the whole file is shown
    commit(repo, "declared")
    git(repo, "checkout", "-q", "-b", "exp")
    write(repo / "conf/b.yaml", "y: false\n")
    (repo / "conf/a.yaml").unlink()
    commit(repo, "exp")
    d = json.loads(cli("params", "show", "main", "exp", "--json").out)
    assert d["main"]["files"] == {"conf/a.yaml": {"data": {"x": 1}},
                                  "conf/b.yaml": {"data": {"y": True}},
                                  "params.yaml": {"data": {"lr": 0.1, "unused": 2}}}
    assert "conf/a.yaml" not in d["exp"]["files"]
    r = cli("params", "diff", "main", "exp", "--all")
    assert [line.split() for line in r.out.splitlines()] == [
        ["Path", "Param", "main", "exp", "Change"],
        ["conf/a.yaml", "x", "1", "-", "deleted"],
        ["conf/b.yaml", "y", "true", "false", "changed"],
        ["params.yaml", "lr", "0.1", "0.1", "0"],
        ["params.yaml", "unused", "2", "2", "0"]]
    md = cli("params", "diff", "main", "exp", "--md").out.splitlines()
    assert md[0] == "| Path | Param | main | exp | Change |"


def test_params_bad_input(repo: Path, cli) -> None:
    write(repo / "params.yaml", "lr: [unclosed\n")
    r = cli("params", "show")
    assert r.code == 0
    assert r.err.startswith("warning: params.yaml@workspace: invalid YAML (line 2, column 1)")
    assert cli("params", "show", "--strict").code == 2
    r = cli("params", "diff", "HEAD", "nope")
    assert (r.code, r.err.strip()) == (2, "error: unknown revision 'nope'")
    r = cli("params", "diff", "-t", "nope.yaml")
    assert r.code == 2 and "nope.yaml: no such params file at HEAD, workspace" in r.err
