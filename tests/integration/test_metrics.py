"""gitml metrics show / diff: files at any revision, the diff table, verdicts and the CI gate."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, write

from gitml import api

GITML_YAML = """\
metrics:
  - path: metrics.json
    keys:
      acc: {direction: higher, tolerance: 0.01}
      loss: lower
      val.*: {direction: higher, tolerance: "1%"}
params:
  - params.yaml
"""


def commit(root: Path, msg: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", msg)


@pytest.fixture
def exp(repo: Path) -> Path:
    """main: acc .91, loss .35; branch exp-3: acc down a little, loss better, val.acc worse."""
    write(repo / "gitml.yaml", GITML_YAML)
    write(repo / "metrics.json", json.dumps(
        {"acc": 0.91, "loss": 0.35, "val": {"acc": 0.88, "f1": 0.8}, "epochs": 10,
         "model": "rf", "gone": 1}))
    write(repo / "params.yaml", "train:\n  lr: 0.01\n  epochs: 10\nmodel: rf\n")
    commit(repo, "main")
    git(repo, "checkout", "-q", "-b", "exp-3")
    write(repo / "metrics.json", json.dumps(
        {"acc": 0.905, "loss": 0.30, "val": {"acc": 0.85, "f1": 0.81}, "epochs": 12,
         "model": "xgb", "new": 1}))
    write(repo / "params.yaml", "train:\n  lr: 0.001\n  epochs: 10\nmodel: xgb\n")
    commit(repo, "exp-3")
    git(repo, "checkout", "-q", "main")
    return repo


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def test_diff_table_columns_change_and_verdicts(exp: Path, cli) -> None:
    r = cli("metrics", "diff", "main", "exp-3")
    assert r.code == 0, r.err
    lines = r.out.strip().splitlines()
    assert lines[0].split() == ["Path", "Metric", "main", "exp-3", "Change", "Verdict"]
    table = {row[1]: row for row in rows(r.out)[1:]}
    assert list(table) == ["acc", "epochs", "gone", "loss", "model", "new", "val.acc", "val.f1"]
    assert table["acc"][2:] == ["0.91", "0.905", "-0.005", "within", "tolerance"]
    assert table["loss"][2:] == ["0.35", "0.3", "-0.05", "better"]
    assert table["val.acc"][2:] == ["0.88", "0.85", "-0.03", "worse"]  # 3.4% > 1%
    assert table["val.f1"][2:] == ["0.8", "0.81", "+0.01", "better"]
    assert table["epochs"][2:] == ["10", "12", "+2"]  # no direction: no verdict
    assert table["model"][2:] == ["rf", "xgb", "changed"]
    assert table["new"][2:] == ["-", "1", "added"]
    assert table["gone"][2:] == ["1", "-", "deleted"]
    # columns line up: every value of the exp-3 column ends at the same offset
    ends = {[m.end() for m in re.finditer(r"\S+", line)][3] for line in lines}
    assert len(ends) == 1
    assert "\x1b[" not in r.out  # no colour when not a terminal


def test_fail_on_regression_is_a_ci_gate(exp: Path, cli) -> None:
    r = cli("metrics", "diff", "main", "exp-3", "--fail-on-regression")
    assert r.code == 1
    assert "val.acc" in r.out  # the table is still printed
    assert r.err.strip() == ("error: 1 metric regressed past its tolerance: "
                             "metrics.json:val.acc")
    ok = cli("metrics", "diff", "exp-3", "exp-3", "--fail-on-regression")
    assert ok.code == 0 and "No metrics changed between exp-3 and exp-3." in ok.out


def test_a_metric_with_a_direction_that_disappears_fails_the_gate(exp: Path, cli) -> None:
    data = json.loads((exp / "metrics.json").read_text())
    del data["loss"]
    write(exp / "metrics.json", json.dumps(data))
    r = cli("metrics", "diff", "--fail-on-regression")
    assert r.code == 1
    assert rows(r.out)[1][1:] == ["loss", "0.35", "-", "deleted", "missing"]


def test_a_judged_metric_that_cannot_be_read_fails_the_gate(exp: Path, cli) -> None:
    write(exp / "metrics.json", '{"acc": 0.95, "loss": null,')  # training died mid-write
    r = cli("metrics", "diff", "--fail-on-regression")
    assert r.code == 1 and "metrics.json@workspace" in r.err
    assert "regressed past their tolerance or could not be judged: metrics.json:acc" in r.err
    assert cli("metrics", "diff").code == 0  # without the gate: a warning, exit 0
    write(exp / "metrics.json", json.dumps({"acc": 0.95, "loss": None, "val": {"acc": 0.9,
                                                                             "f1": 0.8}}))
    r = cli("metrics", "diff", "--fail-on-regression")  # a number became null
    assert r.code == 1 and r.err.strip().endswith("could not be judged: metrics.json:loss")
    assert json.loads(cli("metrics", "diff", "--json").out)["regressions"] == 1
    # the baseline unreadable, the new side fine: nothing to hold it to, the gate passes
    git(exp, "commit", "-q", "-am", "broken baseline")
    write(exp / "metrics.json", "{")
    git(exp, "commit", "-q", "-am", "broken")
    write(exp / "metrics.json", json.dumps({"acc": 0.95, "loss": 0.3}))
    assert cli("metrics", "diff", "--fail-on-regression").code == 0


def test_baseline_sets_the_bar_a_branch_cannot_loosen_it(exp: Path, cli) -> None:
    git(exp, "checkout", "-q", "exp-3")
    write(exp / "gitml.yaml", GITML_YAML.replace('"1%"', '"10%"'))
    commit(exp, "loosen")
    assert cli("metrics", "diff", "main", "exp-3", "--fail-on-regression").code == 1
    # compared the other way round, exp-3's looser rule is the baseline's
    r = cli("metrics", "diff", "exp-3", "main", "--json")
    assert {c["key"]: c.get("verdict") for c in json.loads(r.out)["changes"]}["val.acc"] \
        == "better"


def test_default_is_head_against_workspace_and_one_rev_against_workspace(exp: Path,
                                                                        cli) -> None:
    assert cli("metrics", "diff").out.startswith("No metrics changed between HEAD and workspace")
    write(exp / "metrics.json", json.dumps({"acc": 0.95}))
    r = cli("metrics", "diff", "--json")
    d = json.loads(r.out)
    assert (d["a"], d["b"]) == ("HEAD", "workspace")
    acc = next(c for c in d["changes"] if c["key"] == "acc")
    assert acc["kind"] == "modified" and acc["verdict"] == "better"
    assert acc["old"] == 0.91 and acc["new"] == 0.95 and acc["change"] == pytest.approx(0.04)
    r = cli("metrics", "diff", "exp-3")
    assert rows(r.out)[0][2:4] == ["exp-3", "workspace"]


def test_all_percent_precision(exp: Path, cli) -> None:
    r = cli("metrics", "diff", "main", "exp-3", "--percent", "--precision", "2", "-t",
            "metrics.json")
    table = {row[1]: row for row in rows(r.out)[1:]}
    assert table["acc"][2:5] == ["0.91", "0.91", "-0.005"]  # 2 significant digits
    assert table["acc"][5] == "(-0.549%)"
    assert table["epochs"][4:6] == ["+2", "(+20%)"]
    assert "f1" not in r.out.split("val.acc")[0]
    r = cli("metrics", "diff", "main", "exp-3", "--all")
    assert r.code == 0 and "epochs" in r.out
    write(exp / "metrics.json", json.dumps({"acc": 0.91, "loss": 0.35}))
    git(exp, "commit", "-q", "-am", "fewer")
    assert "acc" not in cli("metrics", "diff", "HEAD~1", "HEAD").out.replace("val.acc", "")
    r = cli("metrics", "diff", "HEAD", "workspace", "--all")
    assert [row[1:5] for row in rows(r.out)[1:]] == [
        ["acc", "0.91", "0.91", "0"], ["loss", "0.35", "0.35", "0"]]


def test_markdown_json_and_csv(exp: Path, cli) -> None:
    md = cli("metrics", "diff", "main", "exp-3", "--md").out.splitlines()
    assert md[0] == "| Path | Metric | main | exp-3 | Change | Verdict |"
    assert md[1] == "|---|---|---|---|---|---|"
    assert "| metrics.json | acc | 0.91 | 0.905 | -0.005 | within tolerance |" in md
    d = json.loads(cli("metrics", "diff", "main", "exp-3", "--json").out)
    assert d["regressions"] == 1 and d["warnings"] == []
    val = next(c for c in d["changes"] if c["key"] == "val.acc")
    assert val == {"path": "metrics.json", "key": "val.acc", "kind": "modified", "old": 0.88,
                   "new": 0.85, "change": pytest.approx(-0.03),
                   "percent": pytest.approx(-3.409, abs=1e-3), "verdict": "worse",
                   "direction": "higher", "tolerance": "1%"}
    new = next(c for c in d["changes"] if c["key"] == "new")
    assert new == {"path": "metrics.json", "key": "new", "kind": "added", "new": 1}
    csv_out = cli("metrics", "diff", "main", "exp-3", "--csv", "--percent").out.splitlines()
    assert csv_out[0] == "path,metric,main,exp-3,change,percent,verdict"
    assert "metrics.json,acc,0.91,0.905,-0.005,-0.549,within tolerance" in csv_out
    r = cli("metrics", "diff", "main", "exp-3", "--md", "--json")
    assert r.code == 2 and "choose one of --json, --md, --csv" in r.err


def test_show_workspace_revisions_and_branch_selection(exp: Path, cli) -> None:
    r = cli("metrics", "show")
    assert rows(r.out)[0] == ["Path", "Metric", "Value"]
    assert ["metrics.json", "val.acc", "0.88"] in rows(r.out)
    r = cli("metrics", "show", "main", "exp-3")
    head, *body = rows(r.out)
    assert head[:2] == ["Revision", "Path"]
    by_rev = {row[0]: dict(zip(head, row, strict=True)) for row in body}
    assert list(by_rev) == ["main", "exp-3"]  # one row per revision, in the order given
    assert by_rev["main"]["new"] == "-" and by_rev["exp-3"]["new"] == "1"
    assert by_rev["exp-3"]["model"] == "xgb"
    git(exp, "branch", "exp-4", "main")
    git(exp, "branch", "other", "main")
    git(exp, "tag", "-a", "v1.0", "-m", "release", "exp-3")
    d = json.loads(cli("metrics", "show", "--all-branches", "--json").out)
    assert sorted(d) == ["exp-3", "exp-4", "main", "other"]
    assert d["exp-3"]["files"]["metrics.json"]["data"]["acc"] == 0.905
    assert d["main"]["rev"] == git(exp, "rev-parse", "main").strip()
    d = json.loads(cli("metrics", "show", "--branches", "exp-*", "--json").out)
    assert sorted(d) == ["exp-3", "exp-4"]
    d = json.loads(cli("metrics", "show", "--all-tags", "--json").out)
    assert list(d) == ["v1.0"] and d["v1.0"]["rev"] == git(exp, "rev-parse", "exp-3").strip()
    # one revision picked by --all-tags or --branches still says which one it is
    for args in (["--all-tags"], ["--branches", "oth*"]):
        head, *body = rows(cli("metrics", "show", *args).out)
        assert head[:2] == ["Revision", "Path"]
        assert [row[0] for row in body] == ["v1.0" if args[0] == "--all-tags" else "other"]
    r = cli("metrics", "show", "--branches", "nope-*")
    assert r.code == 2 and r.err.strip() == "error: no branch matches nope-*"
    md = cli("metrics", "show", "main", "HEAD~0", "--md").out.splitlines()
    assert md[0].startswith("| Revision | Path | acc |")


def test_formats_yaml_toml_csv_tsv_and_lists(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", "metrics: [m/*]\n")
    write(repo / "m/a.yaml", "val:\n  acc: 0.5\n  hist: [1, 2]\n")
    write(repo / "m/b.toml", "[train]\nloss = 0.25\n")
    write(repo / "m/c.csv", "step,acc\n1,0.1\n2,0.2\n3,0.3\n")
    write(repo / "m/d.tsv", "loss\tname\n0.5\tx\n")
    write(repo / "m/readme.md", "# not a metrics file\n")
    data = api.metrics_show()
    assert data == {"m/a.yaml": {"val.acc": 0.5, "val.hist.0": 1, "val.hist.1": 2},
                    "m/b.toml": {"train.loss": 0.25},
                    "m/c.csv": {"step": 3, "acc": 0.3},
                    "m/d.tsv": {"loss": 0.5, "name": "x"}}


def test_long_csv_series_reads_header_and_last_row(repo: Path, cli) -> None:
    lines = ["step,loss,acc"] + [f"{i},{1 / (i + 1):.6f},{i / 300000:.6f}" for i in range(300000)]
    write(repo / "metrics.csv", "\n".join(lines) + "\n")
    write(repo / "gitml.yaml", "metrics: [metrics.csv]\n")
    assert api.metrics_show() == {"metrics.csv": {"step": 299999, "loss": 3e-06,
                                                  "acc": 0.999997}}


def test_tracked_metrics_file_and_file_inside_tracked_dir_are_read_from_store(
        repo: Path, cli) -> None:
    write(repo / "gitml.yaml", "metrics:\n  - metrics.json\n  - eval/scores.json\n")
    write(repo / "metrics.json", '{"acc": 0.5}')
    write(repo / "eval/scores.json", '{"f1": 0.4}')
    write(repo / "eval/other.bin", b"\0" * 10)
    assert cli("add", "-q", "metrics.json", "eval").code == 0
    commit(repo, "tracked")
    write(repo / "metrics.json", '{"acc": 0.6}')
    write(repo / "eval/scores.json", '{"f1": 0.45}')
    assert cli("add", "-q", "metrics.json", "eval").code == 0
    commit(repo, "better")
    os.remove(repo / "metrics.json")  # the store still has both versions
    d = api.metrics_diff("HEAD~1", "HEAD")
    assert [(c["path"], c["key"], c["old"], c["new"]) for c in d["changes"]] == [
        ("eval/scores.json", "f1", 0.4, 0.45), ("metrics.json", "acc", 0.5, 0.6)]
    assert api.metrics_show() == {"eval/scores.json": {"f1": 0.45}, "metrics.json": {"acc": 0.6}}


def test_stage_metrics_params_live_folder_and_globs(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", """\
stages:
  train:
    cmd: python train.py
    params: [train.lr, {conf/extra.yaml: [a]}]
    metrics:
      - results/train.json
      - results/eval.json: {cache: false, direction: higher}
metrics:
  - "reports/**/score.json"
""")
    write(repo / "results/train.json", '{"loss": 1}')
    write(repo / "results/eval.json", '{"acc": 0.5}')
    write(repo / "reports/a/b/score.json", '{"s": 1}')
    write(repo / "reports/score.json", '{"s": 0}')
    write(repo / "gitml-live/metrics.json", '{"step": 7}')
    write(repo / "gitml-live/params.yaml", "seed: 1\n")
    write(repo / "params.yaml", "train:\n  lr: 0.1\n")
    write(repo / "conf/extra.yaml", "a: 1\n")
    write(repo / "metrics.json", '{"not": "declared"}')  # declarations replace the defaults
    commit(repo, "pipeline")
    expect = {"gitml-live/metrics.json": {"step": 7}, "reports/a/b/score.json": {"s": 1},
              "reports/score.json": {"s": 0}, "results/eval.json": {"acc": 0.5},
              "results/train.json": {"loss": 1}}
    assert api.metrics_show() == expect
    assert api.metrics_show(rev="HEAD") == expect
    assert api.params_show(rev="HEAD") == {"conf/extra.yaml": {"a": 1},
                                           "gitml-live/params.yaml": {"seed": 1},
                                           "params.yaml": {"train.lr": 0.1}}
    write(repo / "results/eval.json", '{"acc": 0.4}')
    d = api.metrics_diff()
    assert d["regressions"] == 1 and d["changes"][0]["verdict"] == "worse"


def test_targets_filter_and_are_relative_to_the_current_directory(
        exp: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    write(exp / "sub/extra.json", '{"x": 1}')
    r = cli("metrics", "show", "-t", "sub/extra.json", "--json")
    assert json.loads(r.out)["workspace"]["files"] == {"sub/extra.json": {"data": {"x": 1}}}
    monkeypatch.chdir(exp / "sub")
    assert api.metrics_show(targets=["extra.json"]) == {"sub/extra.json": {"x": 1}}
    r = cli("metrics", "show", "-t", "*.json", "--json")
    assert list(json.loads(r.out)["workspace"]["files"]) == ["sub/extra.json"]


def test_python_api_plain_dicts(exp: Path) -> None:
    assert api.metrics_show(rev="exp-3")["metrics.json"]["val.acc"] == 0.85
    both = api.metrics_show(revs=["main", "exp-3"])
    assert list(both) == ["main", "exp-3"] and both["main"]["metrics.json"]["acc"] == 0.91
    assert api.params_show() == {"params.yaml": {"train.lr": 0.01, "train.epochs": 10,
                                                 "model": "rf"}}
    d = api.params_diff("main", "exp-3")
    assert [(c["key"], c["old"], c["new"]) for c in d["changes"]] == [
        ("model", "rf", "xgb"), ("train.lr", 0.01, 0.001)]
    assert "regressions" not in d
    d = api.metrics_diff("main", "exp-3", all=True)
    assert {c["kind"] for c in d["changes"]} == {"added", "deleted", "modified"}
    json.dumps(d)  # plain data


def test_params_cli(exp: Path, cli) -> None:
    r = cli("params", "diff", "main", "exp-3")
    assert rows(r.out) == [["Path", "Param", "main", "exp-3", "Change"],
                           ["params.yaml", "model", "rf", "xgb", "changed"],
                           ["params.yaml", "train.lr", "0.01", "0.001", "-0.009"]]
    r = cli("params", "show", "main", "exp-3", "--csv")
    assert r.out.splitlines() == ["Revision,Path,model,train.epochs,train.lr",
                                  "main,params.yaml,rf,10,0.01", "exp-3,params.yaml,xgb,10,0.001"]
    assert "--fail-on-regression" not in cli("params", "diff", "--help").out


def _run_in_pty(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    main_fd, sub_fd = pty.openpty()
    code = "from gitml.cli.main import main; main()"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                            stdout=sub_fd, stderr=subprocess.DEVNULL)
    os.close(sub_fd)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait()
    os.close(main_fd)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_only_and_never_with_no_color(exp: Path) -> None:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    args = ["metrics", "diff", "main", "exp-3"]
    assert "\x1b[31mworse" in _run_in_pty(args, exp, env)
    env["NO_COLOR"] = "1"
    out = _run_in_pty(args, exp, env)
    assert "worse" in out and "\x1b[" not in out


def test_file_level_direction_key_overrides_and_none(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", """\
metrics:
  - path: metrics.json
    direction: higher
    tolerance: 0.005
    keys:
      loss: {direction: lower, tolerance: "2%"}
      epochs: none
""")
    write(repo / "metrics.json", '{"acc": 0.9, "f1": 0.5, "loss": 1.0, "epochs": 20}')
    commit(repo, "a")
    write(repo / "metrics.json", '{"acc": 0.896, "f1": 0.49, "loss": 1.019, "epochs": 10}')
    d = api.metrics_diff()
    assert {c["key"]: c.get("verdict") for c in d["changes"]} == {
        "acc": "within tolerance", "epochs": None, "f1": "worse", "loss": "within tolerance"}
    write(repo / "metrics.json", '{"acc": 0.896, "f1": 0.49, "loss": 1.021, "epochs": 10}')
    assert {c["key"]: c.get("verdict") for c in api.metrics_diff()["changes"]}["loss"] == "worse"


def test_nan_and_infinity_stay_valid_json(repo: Path, cli) -> None:
    write(repo / "metrics.yaml", "loss: .nan\nbest: .inf\nok: 1\n")
    d = json.loads(cli("metrics", "show", "--json").out)
    assert d["workspace"]["files"]["metrics.yaml"]["data"] == {"loss": "nan", "best": "inf",
                                                               "ok": 1}
    commit(repo, "nan")
    write(repo / "metrics.yaml", "loss: 0.5\nbest: .inf\nok: 1\n")
    d = json.loads(cli("metrics", "diff", "--json").out)
    assert d["changes"] == [{"path": "metrics.yaml", "key": "loss", "kind": "modified",
                             "old": "nan", "new": 0.5}]


def test_before_the_first_commit_diff_shows_all_new_and_a_named_rev_says_no_commit(
        gitrepo: Path, cli) -> None:
    assert cli("init", "-q").code == 0
    write(gitrepo / "gitml.yaml", "metrics:\n  - metrics.json\nparams:\n  - params.yaml\n")
    write(gitrepo / "metrics.json", json.dumps({"acc": 0.9}))
    write(gitrepo / "params.yaml", "lr: 0.1\n")
    before = sorted(p for p in gitrepo.rglob("*") if ".git" not in p.parts)
    r = cli("metrics", "diff")
    assert r.code == 0
    assert r.err.strip() == "warning: the repository has no commit yet: every metric value is new"
    assert rows(r.out)[1] == ["metrics.json", "acc", "-", "0.9", "added"]
    r = cli("params", "diff", "--json")
    assert r.code == 0 and [c["kind"] for c in json.loads(r.out)["changes"]] == ["added"]
    for args in (("metrics", "diff", "HEAD"), ("metrics", "show", "HEAD"),
                 ("params", "diff", "main")):
        r = cli(*args)
        assert r.code == 2, args
        assert r.err.strip() == \
            f"error: unknown revision '{args[-1]}': the repository has no commit yet"
    assert (cli("exp", "show").code, cli("exp", "show").err.strip()) \
        == (2, "error: the repository has no commit yet")
    assert sorted(p for p in gitrepo.rglob("*") if ".git" not in p.parts) == before
