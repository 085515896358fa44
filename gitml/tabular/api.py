"""The Python API of the table commands: one function per command, taking table specs.

A spec is what the command line takes: a path, or Git's ``REV:path``. Each result has
``to_dict()``, the structure ``--json`` prints.

    from gitml import api
    api.data_profile("main:data/train.parquet").to_dict()["rows"]
    api.data_diff("main:data/train.parquet", "data/train.parquet", key=["user_id"])
    api.data_check().ok
    api.drift("v1.0:data/train.parquet", "prod/batch.parquet").drifted
    api.data_synth("data/customers.parquet", key=["user_id"], seed=7).report["headline"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitml.tabular.checks import CheckReport
    from gitml.tabular.drift import DriftReport
    from gitml.tabular.profile import Profile
    from gitml.tabular.synth.run import SynthResult, VerifyResult
    from gitml.tabular.tablediff import TableDiff


def data_profile(spec: str, top: int = 5, columns: list[str] | None = None) -> Profile:
    """``gitml data profile SPEC``."""
    from gitml.tabular.io import Opener
    from gitml.tabular.profile import profile

    with Opener() as op:
        return profile(op.open(spec), top=top, columns=columns)


def data_diff(old: str, new: str, key: list[str] | None = None, samples: int = 5
              ) -> TableDiff:
    """``gitml data diff OLD NEW [--key ...]`` (each a path or ``REV:path``)."""
    from gitml.tabular.io import Opener
    from gitml.tabular.tablediff import diff

    with Opener() as op:
        return diff(op.open(old), op.open(new), key, samples)


def data_check(targets: list[str] | None = None) -> CheckReport:
    """``gitml data check [TARGETS]``: the ``checks:`` of gitml.yaml in the workspace."""
    from gitml.repo import Repo
    from gitml.tabular.checks import run_checks

    with Repo() as repo:
        return run_checks(repo, targets)


def drift(reference: str, current: str, thresholds: dict[str, float] | None = None
          ) -> DriftReport:
    """``gitml monitor drift REFERENCE CURRENT``; ``thresholds`` override gitml.yaml."""
    from gitml import project
    from gitml.tabular.drift import drift as run
    from gitml.tabular.drift import parse_config
    from gitml.tabular.io import Opener

    with Opener() as op:
        section = project.load(op.repo).get("drift") if op.repo is not None else None
        return run(op.open(reference), op.open(current), parse_config(section, thresholds))


def data_synth(spec: str, out: str | None = None, *, rows: int | None = None, seed: int = 0,
               key: list[str] | tuple[str, ...] = (), exclude: list[str] | tuple[str, ...] = (),
               replace: dict[str, str] | None = None, min_count: int = 10,
               target: str | None = None, fail_under: dict[str, float] | None = None
               ) -> SynthResult:
    """``gitml data synth SPEC [-o OUT]``: a synthetic twin of a table and its report.

    ``replace`` maps text columns to a rule (``null``, ``category``, ``template:...{n}``);
    ``fail_under`` maps fidelity/correlation/utility/privacy to a minimum. When a threshold
    fails (or a row would copy a source row) nothing is written: ``result.ok`` is False.
    Inside a gitml repository the output is tracked, its lineage in ``meta.synth``.
    """
    from gitml.tabular.synth.columns import SynthOptions, parse_rules
    from gitml.tabular.synth.report import parse_thresholds
    from gitml.tabular.synth.run import synthesize

    opts = SynthOptions(rows=rows, seed=seed, key=tuple(key), exclude=tuple(exclude),
                        replace=parse_rules([f"{k}={v}" for k, v in (replace or {}).items()]),
                        min_count=min_count, target=target)
    limits = parse_thresholds([f"{k}={v}" for k, v in (fail_under or {}).items()])
    return synthesize(spec, out, opts, thresholds=limits, quiet=True)


def data_synth_verify(path: str) -> VerifyResult:
    """``gitml data synth --verify PATH``: regenerate from the lineage; ``.ok`` if identical."""
    from gitml.tabular.synth.run import verify

    return verify(path)
