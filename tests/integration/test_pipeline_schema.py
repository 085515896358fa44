"""gitml.yaml stages and vars as the pipeline reads them: expansion, interpolation, paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write

import gitml
from gitml.errors import FormatError
from gitml.pipeline import load, lockfile
from gitml.pipeline.schema import Out, ParamRef


def stages(root: Path, text: str) -> dict:
    write(root / "gitml.yaml", text)
    return load(gitml.Repo()).stages


def test_escapes_types_and_vars_files(repo: Path) -> None:
    write(repo / "params.yaml", "train: {lr: 0.1, layers: [64, 32], flag: true}\n")
    write(repo / "conf" / "model.yaml", "model: {name: rf}\nunused: 1\n")
    s = stages(repo, """\
vars:
  - conf/model.yaml:model
  - {out: result}
stages:
  a:
    cmd: echo \\${HOME} ${train.lr} ${train.layers[1]} ${train.layers.0} ${train.flag} ${model.name}
    outs: ["${out}.txt"]
    frozen: ${train.flag}
""")["a"]
    assert s.cmd == ("echo ${HOME} 0.1 32 64 true rf",)
    assert s.outs == (Out("result.txt"),) and s.frozen is True


def test_foreach_over_a_mapping_and_matrix_of_mappings(repo: Path) -> None:
    s = stages(repo, """\
stages:
  fit:
    foreach:
      us: {region: west}
      eu: {region: east}
    do:
      cmd: echo ${key} ${item.region}
  grid:
    matrix:
      cfg: [{a: 1}, {a: 2}]
      seed: [1]
    cmd: echo ${item.cfg.a} ${item.seed}
""")
    assert list(s) == ["fit@us", "fit@eu", "grid@cfg0-1", "grid@cfg1-1"]
    assert s["fit@eu"].cmd == ("echo eu east",) and s["fit@eu"].group == "fit"
    assert s["grid@cfg1-1"].cmd == ("echo 2 1",)


def test_params_forms_and_paths(repo: Path) -> None:
    s = stages(repo, """\
stages:
  a:
    wdir: sub
    cmd: [echo one, echo two]
    deps: [../data/x.csv, ./y/]
    params: [lr, "b,c", {../conf.yaml: [k]}, {all.json: null}]
    outs: [{m.bin: {persist: true}}]
    metrics: [{../m.json: {cache: true}}]
""")["a"]
    assert s.cmd == ("echo one", "echo two") and s.cmd_text == "echo one && echo two"
    assert s.deps == ("data/x.csv", "sub/y")
    assert s.params == (ParamRef("sub/params.yaml", "lr"), ParamRef("sub/params.yaml", "b"),
                        ParamRef("sub/params.yaml", "c"), ParamRef("conf.yaml", "k"),
                        ParamRef("sub/all.json", None))
    assert s.outs == (Out("sub/m.bin", True, "outs", True), Out("m.json", True, "metrics"))
    assert s.metrics == ["m.json"]


@pytest.mark.parametrize(("text", "problem"), [
    ("vars: [nope.yaml]\nstages: {}\n", "vars: nope.yaml does not exist"),
    ("vars: [{a: 1}, {a: 2}]\nstages: {}\n", "vars: 'a' is defined in both inline vars and "
                                             "inline vars"),
    ("stages:\n  bad name:\n    cmd: x\n", "stages: invalid stage name 'bad name'"),
    ("stages:\n  a@b:\n    cmd: x\n", "stages: invalid stage name 'a@b'"),
    ("stages:\n  a:\n    cmd: x\n    deps: [/etc/passwd]\n",
     "stage 'a': deps: '/etc/passwd' must be a relative POSIX path inside the repository"),
    ("stages:\n  a:\n    cmd: x\n    outs: [.git/hooks/pre-commit]\n",
     "stage 'a': outs: '.git/hooks/pre-commit' is inside .git/"),
    ("stages:\n  a:\n    cmd: x\n    outs: [gitml.lock]\n",
     "stage 'a': outs: gitml.lock is gitml's own file and cannot be an output"),
    ("stages:\n  a:\n    cmd: []\n", "stage 'a': cmd: expected a command string or a list"),
    ("stages:\n  a:\n    foreach: [1]\n    cmd: x\n",
     "stage 'a': cmd: a foreach stage has only 'foreach' and 'do'"),
    ("stages:\n  a:\n    matrix: {x: []}\n    cmd: x\n",
     "stage 'a': matrix.x: expected a non-empty list"),
    ("stages:\n  a:\n    cmd: echo ${x y}\n", "stage 'a': cmd: ${x y} is not a valid name"),
    ("stages:\n  a:\n    cmd: x\n    params: [{p.yaml: 3}]\n",
     "stage 'a': params.p.yaml: expected a list of keys, not 3"),
])
def test_each_problem_names_the_file_stage_and_key(repo: Path, text: str, problem: str) -> None:
    with pytest.raises(FormatError) as e:
        stages(repo, text)
    assert str(e.value).startswith("gitml.yaml: " + problem), str(e.value)


def test_lock_entries_round_trip_and_reject_bad_versions() -> None:
    text = ("gitml-lock: 1\nstages:\n  a:\n    cmd:\n    - one\n    - two\n    wdir: sub\n"
            "    deps:\n    - path: d\n      hash: xxh3:" + "0" * 32 + "\n      size: 3\n"
            "      files: 1\n")
    entries = lockfile.loads(text)
    assert entries["a"].cmd == ("one", "two") and entries["a"].deps["d"].files == 1
    assert lockfile.dumps(entries) == text
    with pytest.raises(FormatError, match="unsupported lock format version 2"):
        lockfile.loads("gitml-lock: 2\n")
    with pytest.raises(FormatError, match="not a gitml lock file"):
        lockfile.loads("stages: {}\n")


def test_metrics_entries_may_carry_judging_settings(repo: Path) -> None:
    s = stages(repo, """\
stages:
  a:
    cmd: x
    metrics:
      - path: m.json
        direction: higher
        keys: {loss: lower}
      - n.json: {cache: false, tolerance: 0.1}
    plots:
      - loss.tsv: {x: step, y: loss}
""")["a"]
    assert s.outs == (Out("m.json", False, "metrics"), Out("n.json", False, "metrics"),
                      Out("loss.tsv", False, "plots"))
