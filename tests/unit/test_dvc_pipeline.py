"""dvc.yaml -> gitml.yaml: the shapes DVC accepts that the main import test does not make."""

from __future__ import annotations

from pathlib import Path

from gitml.dvcimport import pipeline


def convert(root: Path, files: dict[str, str]) -> pipeline.Converted:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    conv = pipeline.convert(str(root), [r for r in files if r.endswith("dvc.yaml")])
    pipeline.validate(str(root), conv)
    return conv


def test_cached_metrics_and_plots_stage_vars_and_dvc_only_options(tmp_path: Path) -> None:
    conv = convert(tmp_path, {"dvc.yaml": """
stages:
  train:
    vars:
      - epochs: 3
    cmd: python train.py ${epochs}
    outs:
      - model.pkl:
          remote: other
          persist: true
    metrics:
      - scores.json
      - live.json: {cache: false}
    plots:
      - roc.csv: {x: fpr, y: tpr, template: smooth}
      - cm.csv: {template: my-template.json}
metrics: [extra.json]
plots:
  - roc:
      y: {roc.csv: tpr}
      x: fpr
  - both:
      y: {a.csv: acc, b.csv: acc}
artifacts:
  model: {path: model.pkl}
"""})
    doc = conv.doc
    train = doc["stages"]["train"]
    assert doc["vars"] == [{"epochs": 3}]  # a stage's vars go to the file's
    assert train["outs"] == [{"model.pkl": {"persist": True}}]
    assert train["metrics"] == [{"scores.json": {"cache": True}},
                                {"live.json": {"cache": False}}]
    assert train["plots"][0] == {"roc.csv": {"x": "fpr", "y": "tpr", "template": "line",
                                             "cache": True}}
    assert doc["metrics"] == ["extra.json"]
    assert doc["plots"] == [{"roc.csv": {"x": "fpr", "y": "tpr"}}]
    lines = [str(s) for s in conv.skips]
    assert "dvc.yaml: stage 'train': outs: model.pkl: remote: a DVC-only option; dropped" \
        in lines
    assert any("my-template.json" in line for line in lines)
    assert any(line.startswith("dvc.yaml: plots: both") for line in lines)
    assert any(line.startswith("dvc.yaml: artifacts") for line in lines)
    assert conv.complete == []  # something was left out: dvc.yaml stays


def test_a_dvc_yaml_in_a_subdirectory_runs_there(tmp_path: Path) -> None:
    conv = convert(tmp_path, {
        "dvc.yaml": "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n",
        "sub/dir/dvc.yaml": "stages:\n  a:\n    cmd: cp ../../a.txt b.txt\n"
                            "    deps: [../../a.txt]\n    outs: [b.txt]\n"
                            "    params: [k]\nmetrics: [m.json]\n"})
    stages = conv.doc["stages"]
    assert stages["sub-dir-a"]["wdir"] == "sub/dir"
    assert conv.origin["sub-dir-a"] == ("sub/dir/dvc.yaml", "a")
    assert conv.doc["metrics"] == ["sub/dir/m.json"]
    assert sorted(conv.complete) == ["dvc.yaml", "sub/dir/dvc.yaml"]


def test_a_stage_gitml_refuses_is_left_out_with_the_reason(tmp_path: Path) -> None:
    conv = convert(tmp_path, {"dvc.yaml": """
stages:
  ok:
    cmd: echo ok > ok.txt
    outs: [ok.txt]
  bad:
    cmd: echo ${undefined}
    deps: [ok.txt]
"""})
    assert list(conv.doc["stages"]) == ["ok"]
    assert any(str(s).startswith("dvc.yaml: stage 'bad':") and "undefined" in str(s)
               for s in conv.skips)
    assert conv.complete == []
