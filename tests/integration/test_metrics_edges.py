"""Metrics and params files at their edges (issue 17, items 5-6): one-number files, empty
mappings, declared files that are missing, vars files as params, ``${...}`` in the
top-level metrics/params/plots lists."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, write


def commit(repo: Path, msg: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", msg)


def test_a_file_holding_one_number_is_a_metric_named_after_it(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", "metrics: [eval/acc.json, loss.yaml, empty.json]\n")
    write(repo / "eval" / "acc.json", "0.91\n")
    write(repo / "loss.yaml", "0.25\n")
    write(repo / "empty.json", '{"nested": {}, "list": [], "n": 3}\n')
    commit(repo, "v1")
    write(repo / "eval" / "acc.json", "0.93\n")
    for rev in ([], ["HEAD"]):
        r = cli("metrics", "show", *rev, "--json")
        assert r.code == 0, r.err
        files = next(iter(json.loads(r.out).values()))["files"]
        assert files["loss.yaml"] == {"data": {"loss": 0.25}}
        assert files["empty.json"] == {"data": {"n": 3}}  # empty mappings are no metric
        assert files["eval/acc.json"]["data"] == {"acc": 0.93 if not rev else 0.91}
    r = cli("metrics", "diff")
    assert r.code == 0
    assert r.out.splitlines()[1].split() == ["eval/acc.json", "acc", "0.91", "0.93", "+0.02"]
    r = cli("metrics", "show")
    assert "nested" not in r.out and "list" not in r.out


def test_a_declared_metrics_file_that_is_missing_is_reported(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", "metrics: [metrics.json, eval.json]\n"
                               "stages:\n  ev:\n    cmd: echo 1 > auc.json\n"
                               "    deps: [gitml.yaml]\n    metrics: [auc.json]\n")
    write(repo / "metrics.json", '{"acc": 0.5}\n')
    commit(repo, "v1")
    r = cli("metrics", "show")
    assert r.code == 0
    assert r.err.splitlines() == ["warning: eval.json@workspace: declared in gitml.yaml but "
                                  "missing",
                                  "warning: auc.json@workspace: declared in gitml.yaml but "
                                  "missing"]
    assert "acc" in r.out
    r = cli("metrics", "show", "HEAD", "--json")
    snap = json.loads(r.out)["HEAD"]
    assert snap["errors"] == ["eval.json@HEAD: declared in gitml.yaml but missing",
                              "auc.json@HEAD: declared in gitml.yaml but missing"]
    assert set(snap["files"]) == {"metrics.json"}
    r = cli("metrics", "show", "--strict")
    assert r.code == 2 and "eval.json@workspace: declared in gitml.yaml but missing" in r.err
    r = cli("metrics", "diff", "--json")
    assert "eval.json@HEAD: declared in gitml.yaml but missing" in json.loads(r.out)["warnings"]
    r = cli("exp", "show", "--json")
    assert "eval.json@HEAD: declared in gitml.yaml but missing" in json.loads(r.out)[0]["errors"]
    # once the stage wrote it, only the file nobody writes is missing
    assert cli("repro", "-q").code == 0
    r = cli("metrics", "show")
    assert r.err.splitlines() == ["warning: eval.json@workspace: declared in gitml.yaml but "
                                  "missing"]
    # the defaults (nothing declared) are not required
    write(repo / "gitml.yaml", "")
    assert cli("metrics", "show").err == ""


def test_vars_files_are_params_files(repo: Path, cli) -> None:
    write(repo / "params.yaml", "seed: 1\n")
    write(repo / "config" / "train.yaml", "lr: 0.1\nlayers: [8, 4]\n")
    write(repo / "config" / "data.json", '{"split": 0.2}\n')
    write(repo / "gitml.yaml", "vars:\n  - config/train.yaml\n  - config/data.json:split\n"
                               "  - {inline: 1}\n"
                               "stages:\n  t:\n    cmd: echo ${lr} > t.txt\n"
                               "    deps: [gitml.yaml]\n    outs: [t.txt]\n")
    commit(repo, "v1")
    r = cli("params", "show", "--json")
    files = json.loads(r.out)["workspace"]["files"]
    assert files["params.yaml"]["data"] == {"seed": 1}  # still the default params file
    assert files["config/train.yaml"]["data"] == {"lr": 0.1, "layers.0": 8, "layers.1": 4}
    assert files["config/data.json"]["data"] == {"split": 0.2}
    write(repo / "config" / "train.yaml", "lr: 0.01\nlayers: [8, 4]\n")
    r = cli("params", "diff")
    assert r.code == 0
    assert r.out.splitlines()[1].split() == ["config/train.yaml", "lr", "0.1", "0.01", "-0.09"]
    commit(repo, "v2")
    r = cli("params", "diff", "HEAD~1", "HEAD", "--json")
    assert [(c["path"], c["key"]) for c in json.loads(r.out)["changes"]] == \
        [("config/train.yaml", "lr")]


def test_interpolation_in_the_top_level_lists(repo: Path, cli) -> None:
    write(repo / "params.yaml", "out: results\ncfg: conf/a.yaml\n")
    write(repo / "conf" / "a.yaml", "depth: 3\n")
    write(repo / "results" / "metrics.json", '{"acc": 0.7}\n')
    write(repo / "results" / "loss.tsv", "step\tloss\n0\t1.0\n1\t0.5\n")
    write(repo / "gitml.yaml", "metrics:\n  - ${out}/metrics.json\n"
                               "params:\n  - ${cfg}\n"
                               "plots:\n  - ${out}/loss.tsv: {x: step, y: loss}\n")
    commit(repo, "v1")
    r = cli("metrics", "show", "--json")
    assert json.loads(r.out)["workspace"]["files"] == {
        "results/metrics.json": {"data": {"acc": 0.7}}}
    r = cli("params", "show", "--json")
    assert set(json.loads(r.out)["workspace"]["files"]) == {"conf/a.yaml"}
    r = cli("plots", "show", "--json", "-o", "plots.html")
    assert r.code == 0, r.err
    assert "results/loss.tsv" in r.out
    # each revision fills the lists from its own params.yaml
    write(repo / "params.yaml", "out: final\ncfg: conf/a.yaml\n")
    write(repo / "final" / "metrics.json", '{"acc": 0.9}\n')
    commit(repo, "v2")
    r = cli("metrics", "show", "HEAD~1", "HEAD", "--json")
    got = json.loads(r.out)
    assert got["HEAD~1"]["files"] == {"results/metrics.json": {"data": {"acc": 0.7}}}
    assert got["HEAD"]["files"] == {"final/metrics.json": {"data": {"acc": 0.9}}}
    r = cli("metrics", "diff", "HEAD~1", "HEAD")
    assert "final/metrics.json" in r.out and "results/metrics.json" in r.out
    # an undefined name is one line naming the file and the list
    write(repo / "gitml.yaml", "metrics:\n  - ${nope}/metrics.json\n")
    r = cli("metrics", "show")
    assert r.code == 2
    assert r.err.strip() == "error: gitml.yaml: metrics: ${nope} is not defined"
