"""gitml dag and gitml stage add/list (issue 4)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import write
from test_pipeline import setup_pipeline

DIAMOND = """\
stages:
  prepare:
    cmd: echo
    outs: [a]
  left:
    cmd: echo
    deps: [a]
    outs: [b]
  right:
    cmd: echo
    deps: [a/part.csv]
    outs: [c]
  join:
    cmd: echo
    deps: [b, c]
    outs: [d]
  alone:
    cmd: echo
    outs: [e]
"""


def test_dag_text_mermaid_dot_json(repo: Path, cli) -> None:
    write(repo / "gitml.yaml", DIAMOND)
    r = cli("dag")
    assert r.code == 0
    assert r.out.splitlines() == ["prepare", "├── left", "│   └── join",
                                  "└── right", "    └── join (see above)", "alone"]
    r = cli("dag", "--mermaid")
    assert r.out.startswith("flowchart TD\n") and "s0 --> s1" in r.out
    assert "s2 --> s3" in r.out and "s1 --> s3" in r.out
    r = cli("dag", "--dot")
    assert '"left" -> "join";' in r.out and r.out.startswith("strict digraph {")
    assert cli("dag", "--md").out.startswith("```mermaid\n")
    d = json.loads(cli("dag", "--json").out)
    assert sorted(map(tuple, d["edges"])) == [("left", "join"), ("prepare", "left"),
                                               ("prepare", "right"), ("right", "join")]
    r = cli("dag", "left")  # a target and what it depends on
    assert r.out.splitlines() == ["prepare", "└── left"]


def test_dag_without_stages(repo: Path, cli) -> None:
    r = cli("dag")
    assert r.code == 0 and r.out.startswith("No stages.")


def test_stage_add_creates_and_appends_keeping_comments(repo: Path, cli) -> None:
    r = cli("stage", "add", "-n", "prepare", "-d", "data/raw.txt", "-o", "data/prepared",
            "-p", "prepare.split", "mkdir -p data/prepared && cp data/raw.txt data/prepared/")
    assert r.code == 0, r.err
    assert "Added stage 'prepare'" in r.out
    text = (repo / "gitml.yaml").read_text()
    write(repo / "gitml.yaml", "# my project\nmetrics: [eval.json]  # read by gitml metrics\n"
          + text.replace("stages:\n", "stages:\n  # the first stage\n"))
    r = cli("stage", "add", "-n", "eval", "-d", "models/model.pkl", "--metrics", "eval.json",
            "-p", "eval.yaml:threshold,k", "-O", "preds.csv", "python", "eval.py",
            "--split", "test")
    assert r.code == 0, r.err
    text = (repo / "gitml.yaml").read_text()
    assert text.startswith("# my project\nmetrics: [eval.json]  # read by gitml metrics\n")
    assert "  # the first stage\n" in text
    stages = {s["name"]: s for s in json.loads(cli("stage", "list", "--json").out)}
    assert stages["eval"]["cmd"] == ["python eval.py --split test"]
    assert stages["eval"]["params"] == [{"file": "eval.yaml", "key": "threshold"},
                                        {"file": "eval.yaml", "key": "k"}]
    assert stages["eval"]["outs"] == [
        {"path": "preds.csv", "cache": False, "section": "outs"},
        {"path": "eval.json", "cache": False, "section": "metrics"}]
    r = cli("stage", "list")
    assert r.out.splitlines()[0].split() == ["stage", "cmd", "deps", "outs"]


def test_stage_add_refuses_duplicates_and_invalid_stages(repo: Path, cli) -> None:
    assert cli("stage", "add", "-n", "s", "-o", "x", "echo hi > x").code == 0
    before = (repo / "gitml.yaml").read_bytes()
    r = cli("stage", "add", "-n", "s", "-o", "y", "echo")
    assert r.code == 2 and "stage 's' already exists in gitml.yaml (use --force" in r.err
    r = cli("stage", "add", "-n", "t", "-o", "x", "echo")
    assert r.code == 2 and "stages 's' and 't' both write x" in r.err
    r = cli("stage", "add", "-n", "u", "-d", "z", "-o", "z", "echo")
    assert r.code == 2 and "z is both a dep and an output" in r.err
    r = cli("stage", "add", "-n", "bad name", "echo")
    assert r.code == 2 and "invalid stage name" in r.err
    assert (repo / "gitml.yaml").read_bytes() == before
    r = cli("stage", "add", "-f", "-n", "s", "-o", "y", "echo hi > y")
    assert r.code == 0
    assert cli("repro").code == 0 and (repo / "y").read_text() == "hi\n"


def test_help_for_every_pipeline_command(cli) -> None:
    for args in (("repro",), ("dag",), ("stage", "add"), ("stage", "list")):
        r = cli(*args, "--help")
        assert r.code == 0 and "Example" in r.out or "gitml repro --dry" in r.out, args


def test_repro_json_keeps_stage_output_off_stdout(repo: Path, cli, capfd) -> None:
    setup_pipeline(repo)
    r = cli("repro", "--json")
    assert r.code == 0
    res = json.loads(r.out)
    assert [s["action"] for s in res["stages"]] == ["done", "done"]
    assert "gitml.lock" in res["changed"]
    captured = capfd.readouterr()
    assert "prepared" in captured.err and "prepared" not in captured.out
