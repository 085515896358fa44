"""-S overrides: Hydra-style parsing and sweeps, in-place edits of YAML/JSON/TOML (issue 5)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from gitml.errors import BadInputError
from gitml.experiments import overrides as ov

YAML = """\
# training params (this comment stays)
prepare:
  split: 0.2   # share of rows held out
train:
  lr: 0.1      # learning rate
  optimizer: 'adam'
  layers: [64, 32]
  schedule:
    - warmup
    - cosine
  note: |
    free text
seed: 1
"""

JSON = '{\n  "train": {\n    "lr": 0.1,\n    "depth": 3\n  },\n  "seed": 1\n}\n'

TOML = """\
# top comment
seed = 1  # kept

[train]
lr = 0.1 # learning rate
layers = [
  64, 32,
]

[model.head]
depth = 3
"""


def test_values_are_typed_like_hydra() -> None:
    vals = {o.text: o.value for o in ov.parse("a=1,0.5,1e-5,true,null,adam,[1,2],'x,y'")}
    assert vals == {"1": 1, "0.5": 0.5, "1e-5": 1e-5, "true": True, "null": None,
                    "adam": "adam", "[1,2]": [1, 2], "'x,y'": "x,y"}
    assert type(vals["1"]) is int and type(vals["0.5"]) is float
    assert ov.parse('a="quoted, with comma"')[0].value == "quoted, with comma"
    assert ov.parse(r"a=x\,y")[0].value == "x,y"
    assert ov.parse("a={k: 1, j: 2}")[0].value == {"k": 1, "j": 2}


def test_file_prefix_add_prefix_and_grid() -> None:
    (o,) = ov.parse("configs/model.toml:head.depth=5")
    assert (o.file, o.key, o.value, o.add) == ("configs/model.toml", "head.depth", 5, False)
    assert ov.parse("+train.new=1")[0].add and ov.parse("++train.new=1")[0].add
    runs = ov.grid(["train.lr=0.1,0.01", "train.depth=3,5"])
    assert [[(o.key, o.value) for o in r] for r in runs] == [
        [("train.lr", 0.1), ("train.depth", 3)], [("train.lr", 0.1), ("train.depth", 5)],
        [("train.lr", 0.01), ("train.depth", 3)], [("train.lr", 0.01), ("train.depth", 5)]]
    assert str(runs[0][0]) == "train.lr=0.1"


@pytest.mark.parametrize("spec, why", [
    ("train.lr", "expected KEY=VALUE"),
    ("=1", "dotted key"),
    ("train..lr=1", "dotted key"),
    ("train.lr=", "no value"),
    ("train.lr=1,,2", "empty value"),
    ("train.lr='open", "unterminated"),
    ("train.lr=[1,2", "unbalanced"),
    ("train.lr=1]", "unbalanced"),
    ("~train.lr=1", "not supported"),
    ("../x.yaml:a=1", "not a path inside"),
    ("/etc/x.yaml:a=1", "not a path inside"),
    ("notes.txt:a=1", ".yaml, .yml, .json or .toml"),
    ("train.layers=[1, {", "unbalanced"),
])
def test_malformed_specs_are_one_clear_error(spec: str, why: str) -> None:
    with pytest.raises(BadInputError) as e:
        ov.parse(spec)
    assert why in str(e.value) and spec in str(e.value)


def _apply(tmp_path: Path, name: str, text: str, *specs: str, add: bool = False) -> str:
    (tmp_path / name).write_text(text)
    changes = [o for s in specs for o in ov.parse(s, add=add)]
    assert ov.apply(str(tmp_path), changes) == [name]
    return (tmp_path / name).read_text()


def test_yaml_edit_changes_only_the_values(tmp_path: Path) -> None:
    out = _apply(tmp_path, "params.yaml", YAML, "params.yaml:train.lr=0.01",
                 "params.yaml:train.optimizer=sgd", "params.yaml:seed=1e-5")
    # every other line, comment and quote style is kept byte for byte; comments keep
    # their column
    assert out == YAML.replace("lr: 0.1 ", "lr: 0.01").replace("'adam'", "'sgd'") \
        .replace("seed: 1", "seed: 1.0e-05")
    doc = yaml.safe_load(out)
    assert doc["train"]["lr"] == 0.01 and doc["seed"] == 1e-5


def test_yaml_collections_and_new_keys(tmp_path: Path) -> None:
    out = _apply(tmp_path, "params.yaml", YAML, "params.yaml:train.schedule=[step]",
                 "params.yaml:train.layers.1=16", "params.yaml:train.note=short")
    doc = yaml.safe_load(out)
    assert doc["train"]["schedule"] == ["step"] and doc["train"]["layers"] == [64, 16]
    assert doc["train"]["note"] == "short" and doc["seed"] == 1
    assert out.startswith("# training params (this comment stays)\n")
    out = _apply(tmp_path, "params.yaml", YAML, "params.yaml:train.dropout=0.2",
                 "params.yaml:model.head.depth=4", add=True)
    doc = yaml.safe_load(out)
    assert doc["train"]["dropout"] == 0.2 and doc["model"] == {"head": {"depth": 4}}
    assert list(doc) == ["prepare", "train", "seed", "model"]  # order kept, new key last
    assert "  dropout: 0.2\n" in out  # placed with its siblings, same indentation


def test_json_edit_keeps_layout(tmp_path: Path) -> None:
    out = _apply(tmp_path, "params.json", JSON, "params.json:train.lr=0.5",
                 "+params.json:train.name=x y")
    assert out == JSON.replace('"lr": 0.1', '"lr": 0.5').replace(
        '"depth": 3\n', '"depth": 3,\n    "name": "x y"\n')
    assert json.loads(out)["train"] == {"lr": 0.5, "depth": 3, "name": "x y"}


def test_json_unknown_key_needs_add(tmp_path: Path) -> None:
    (tmp_path / "params.json").write_text(JSON)
    with pytest.raises(BadInputError, match="no param 'train.lrr'.*did you mean train.lr"):
        ov.apply(str(tmp_path), ov.parse("params.json:train.lrr=1"))
    assert (tmp_path / "params.json").read_text() == JSON


def test_toml_edit_keeps_comments(tmp_path: Path) -> None:
    out = _apply(tmp_path, "params.toml", TOML, "params.toml:train.lr=0.2",
                 "params.toml:train.layers=[8]", "params.toml:model.head.depth=4",
                 "params.toml:seed=2")
    assert "lr = 0.2 # learning rate\n" in out and "seed = 2  # kept\n" in out
    long = _apply(tmp_path, "params.toml", TOML, "params.toml:seed=12345")
    assert "seed = 12345 # kept\n" in long  # the column is lost, one space is kept
    assert out.startswith("# top comment\n")
    assert tomllib.loads(out) == {"seed": 2, "train": {"lr": 0.2, "layers": [8]},
                                  "model": {"head": {"depth": 4}}}
    out = _apply(tmp_path, "params.toml", TOML, "params.toml:train.opt=adam",
                 "params.toml:extra.k=1", add=True)
    doc = tomllib.loads(out)
    assert doc["train"]["opt"] == "adam" and doc["extra"] == {"k": 1}


def test_toml_has_no_null(tmp_path: Path) -> None:
    (tmp_path / "params.toml").write_text(TOML)
    with pytest.raises(BadInputError, match="TOML has no null"):
        ov.apply(str(tmp_path), ov.parse("params.toml:train.lr=null"))
    assert (tmp_path / "params.toml").read_text() == TOML


def test_missing_or_broken_params_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="params.yaml: no such params file"):
        ov.check(str(tmp_path), ov.parse("train.lr=1"))
    (tmp_path / "params.yaml").write_text("train: [unclosed\n")
    with pytest.raises(BadInputError, match="params.yaml: cannot parse"):
        ov.check(str(tmp_path), ov.parse("train.lr=1"))
    (tmp_path / "params.yaml").write_text("train:\n  lr: 1\n")
    with pytest.raises(BadInputError, match="its parent is not a mapping"):
        ov.check(str(tmp_path), ov.parse("+train.lr.x=1"))
