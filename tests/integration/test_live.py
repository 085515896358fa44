"""The training logger: files a user and `gitml metrics/params/plots` read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import git, write

from gitml import Live
from gitml.errors import BadInputError


def tsv(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


def run_script(cwd: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_logs_params_metrics_and_series(repo: Path, cli) -> None:
    with Live() as live:
        live.log_param("lr", 0.01)
        live.log_params({"model.depth": 3, "layers": (64, 32)})
        for epoch in range(3):
            live.log_metric("train.loss", 1.0 / (epoch + 1))
            live.log_metric("val.acc", epoch / 10)
            live.next_step()
    out = repo / "gitml-live"
    assert json.loads((out / "metrics.json").read_text()) == {
        "train": {"loss": pytest.approx(1 / 3)}, "val": {"acc": 0.2}}
    assert (out / "params.yaml").read_text() == (
        "lr: 0.01\nmodel:\n  depth: 3\nlayers:\n- 64\n- 32\n")
    assert tsv(out / "plots/metrics/train.loss.tsv") == [
        ["step", "value"], ["0", "1.0"], ["1", "0.5"], ["2", "0.3333333333333333"]]
    assert tsv(out / "plots/metrics/val.acc.tsv")[-1] == ["2", "0.2"]
    assert not (repo / "gitml.yaml").exists()  # never edited, not even created
    # the other commands find the folder by convention
    shown = cli("metrics", "show", "--json")
    assert shown.code == 0, shown.err
    assert "train.loss" in shown.out and "0.333" in shown.out
    params = cli("params", "show", "--json")
    assert params.code == 0 and '"model.depth": 3' in params.out


def test_buffered_until_a_flush_point(repo: Path) -> None:
    live = Live(flush_every=3600)
    live.log_metric("loss", 0.5)
    live.next_step()
    series = repo / "gitml-live/plots/metrics/loss.tsv"
    assert not series.exists()  # still in memory: a log call costs microseconds
    live.flush_every = 0
    live.log_metric("loss", 0.25)
    live.next_step()  # the clock says flush
    assert tsv(series) == [["step", "value"], ["0", "0.5"], ["1", "0.25"]]
    live.log_metric("loss", 0.125)
    live.close()
    live.close()  # twice is fine
    assert tsv(series)[-1] == ["2", "0.125"]


@pytest.mark.parametrize("ending", [
    "raise RuntimeError('diverged')",  # uncaught exception: atexit
    "sys.exit(3)",
    "with Live(dir='other') as l2:\n    l2.log_metric('loss', 1.0)\n    raise KeyError('x')",
])
def test_flushed_on_crash_and_exit(gitrepo: Path, ending: str) -> None:
    proc = run_script(gitrepo, f"""
        import sys
        from gitml import Live
        live = Live(flush_every=3600)
        live.log_param("seed", 7)
        for step in range(5):
            live.log_metric("loss", 1.0 / (step + 1))
            live.next_step()
        {textwrap.indent(ending, "        ").strip()}
    """)
    assert proc.returncode != 0
    rows = tsv(gitrepo / "gitml-live/plots/metrics/loss.tsv")
    assert [r[0] for r in rows] == ["step", "0", "1", "2", "3", "4"]
    assert json.loads((gitrepo / "gitml-live/metrics.json").read_text()) == {"loss": 0.2}
    assert "seed: 7" in (gitrepo / "gitml-live/params.yaml").read_text()
    if "other" in ending:  # the context manager flushed before the exception went on
        assert tsv(gitrepo / "other/plots/metrics/loss.tsv")[-1] == ["0", "1.0"]
        assert "KeyError" in proc.stderr


def test_new_run_replaces_resume_continues(gitrepo: Path) -> None:
    with Live() as live:
        live.log_param("lr", 0.1)
        for _ in range(3):
            live.log_metric("old", 1)
            live.log_metric("loss", 2)
            live.next_step()
    with Live(resume=True) as live:
        assert live.step == 3
        live.log_metric("loss", 1)
    series = gitrepo / "gitml-live/plots/metrics"
    assert [r[0] for r in tsv(series / "loss.tsv")] == ["step", "0", "1", "2", "3"]
    assert json.loads((gitrepo / "gitml-live/metrics.json").read_text()) == {"old": 1, "loss": 1}
    with Live() as live:  # a fresh run: nothing of the old one is left to confuse a diff
        live.log_metric("loss", 5)
    assert sorted(p.name for p in series.iterdir()) == ["loss.tsv"]
    assert tsv(series / "loss.tsv") == [["step", "value"], ["0", "5.0"]]
    assert not (gitrepo / "gitml-live/params.yaml").exists()


def test_bad_input_is_one_clear_error_and_changes_nothing(gitrepo: Path) -> None:
    live = Live(flush_every=0)
    live.log_metric("loss", 1)
    live.next_step()
    before = {p: p.read_bytes() for p in (gitrepo / "gitml-live").rglob("*") if p.is_file()}
    cases = [
        (lambda: live.log_metric("loss", "high"), "not a number"),
        (lambda: live.log_metric("acc", None), "not a number"),
        (lambda: live.log_metric("../escape", 1), "use '.' only between parts"),
        (lambda: live.log_metric("/abs", 1), "must not"),
        (lambda: live.log_metric("", 1), "non-empty"),
        (lambda: live.log_metric("loss.train", 1), "clashes"),
        (lambda: live.log_param("opt", object()), "is not a number, string"),
        (lambda: live.log_artifact("nope.pkl"), "does not exist"),
        (lambda: live.log_artifact("gitml-live", type="weights"), "artifact type"),
        (lambda: setattr(live, "step", -1), "non-negative"),
    ]
    for call, message in cases:
        with pytest.raises(BadInputError, match=message):
            call()
    live.close()
    after = {p: p.read_bytes() for p in (gitrepo / "gitml-live").rglob("*") if p.is_file()}
    assert after == before
    assert not (gitrepo / "escape.tsv").exists() and not Path("/abs.tsv").exists()


def test_non_finite_values(gitrepo: Path) -> None:
    with Live() as live:
        live.log_metric("loss", float("nan"))
        live.next_step()
        live.log_metric("loss", float("inf"))
    assert json.loads((gitrepo / "gitml-live/metrics.json").read_text()) == {"loss": None}
    assert tsv(gitrepo / "gitml-live/plots/metrics/loss.tsv")[1:] == [["0", "nan"], ["1", "inf"]]


def test_artifact_is_stored_inside_a_gitml_repo(repo: Path, cli) -> None:
    write(repo / "models/model.pkl", b"weights v1")
    with Live() as live:
        rec = live.log_artifact("models/model.pkl", type="model", name="clf")
    assert rec["path"] == "models/model.pkl" and rec["hash"].startswith("xxh3:")
    assert (repo / "models/model.pkl.gitml").exists()
    assert "model.pkl" in (repo / "models/.gitignore").read_text()
    text = (repo / "gitml-live/artifacts.yaml").read_text()
    assert "path: models/model.pkl" in text and "type: model" in text and "name: clf" in text
    st = cli("status", "--json")
    assert st.code == 0 and '"models/model.pkl"' in st.out and '"ok"' in st.out


def test_outside_git_records_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "model.bin", b"x")
    with Live() as live:
        live.log_metric("acc", 0.5)
        rec = live.log_artifact("model.bin")
        with pytest.raises(BadInputError, match="not inside a gitml repository"):
            live.log_artifact("model.bin", add=True)
    assert rec == {"path": "model.bin", "type": "model"}
    assert (tmp_path / "gitml-live/metrics.json").exists()
    assert not (tmp_path / "model.bin.gitml").exists()


def test_folder_is_at_the_work_tree_top_and_in_worktrees(repo: Path) -> None:
    sub = repo / "src"
    sub.mkdir()
    proc = run_script(sub, """
        from gitml import Live
        with Live() as live:
            live.log_metric("acc", 0.75)
    """)
    assert proc.returncode == 0, proc.stderr
    assert (repo / "gitml-live/metrics.json").exists() and not (sub / "gitml-live").exists()
    # an experiment runs in a linked worktree: the logger writes there, not in the main one
    git(repo, "worktree", "add", "-q", "--detach", str(repo.parent / "wt"))
    proc = run_script(repo.parent / "wt", """
        from gitml import Live
        with Live() as live:
            live.log_metric("acc", 0.9)
    """)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((repo.parent / "wt/gitml-live/metrics.json").read_text()) == {"acc": 0.9}
    assert json.loads((repo / "gitml-live/metrics.json").read_text()) == {"acc": 0.75}


def test_at_exit_failure_is_one_line(gitrepo: Path) -> None:
    proc = run_script(gitrepo, """
        import shutil
        from gitml import Live
        live = Live(flush_every=3600)
        live.log_metric("loss", 1)
        shutil.rmtree("gitml-live")
        open("gitml-live", "w").close()  # the folder became a file: the flush cannot write
    """)
    assert "gitml Live: could not write" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert os.path.isfile(gitrepo / "gitml-live")


TRAIN = """\
import os, yaml
from gitml import Live
lr = yaml.safe_load(open("params.yaml"))["train"]["lr"]
with Live() as live:
    live.log_param("train.lr", lr)
    for step in range(20):
        live.log_metric("loss", 1 / (1 + lr * step))
        live.next_step()
    os.makedirs("models", exist_ok=True)
    open("models/model.txt", "w").write(f"lr={lr}\\n")
    live.log_artifact("models/model.txt")  # a stage out: recorded, stored by the pipeline
"""


def test_inside_exp_run(repo: Path, cli) -> None:
    write(repo / "train.py", TRAIN)
    write(repo / "params.yaml", "train:\n  lr: 0.1\n")
    write(repo / "gitml.yaml", f"stages:\n  train:\n    cmd: {sys.executable} train.py\n"
                               "    deps: [train.py]\n    params: [train]\n"
                               "    outs: [models/model.txt]\n")
    r = cli("repro", "-q")
    assert r.code == 0, r.err
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "baseline")
    r = cli("exp", "run", "-n", "exp-1", "-S", "train.lr=0.5")
    assert r.code == 0, r.err
    assert "loss=0.09524" in r.out  # exp run found the logger's metrics by convention
    assert git(repo, "show", "exp-1:gitml-live/params.yaml") == "train:\n  lr: 0.5\n"
    assert "path: models/model.txt" in git(repo, "show", "exp-1:gitml-live/artifacts.yaml")
    assert git(repo, "status", "--porcelain") == ""  # the user's workspace is untouched
    d = json.loads(cli("plots", "diff", "main", "exp-1", "--json").out)
    assert [(c["title"], [r["points"] for r in c["revisions"]]) for c in d["charts"]] == [
        ("loss", [20, 20])]
    assert d["charts"][0]["data"]["exp-1"]["y"][-1] == pytest.approx(1 / (1 + 0.5 * 19))


def test_artifact_add_failure_does_not_lose_the_run(repo: Path) -> None:
    write(repo / "model.pkl", b"w")
    git(repo, "add", "model.pkl")  # tracked by Git: gitml add refuses it
    proc = run_script(repo, """
        from gitml import Live
        with Live() as live:
            live.log_metric("acc", 0.9)
            live.log_artifact("model.pkl")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("gitml Live: recorded model.pkl without storing it: "
                                  "model.pkl is already tracked by Git")
    assert "path: model.pkl" in (repo / "gitml-live/artifacts.yaml").read_text()
    assert json.loads((repo / "gitml-live/metrics.json").read_text()) == {"acc": 0.9}
    with Live() as live, pytest.raises(BadInputError, match="already tracked by Git"):
        live.log_artifact("model.pkl", add=True)
