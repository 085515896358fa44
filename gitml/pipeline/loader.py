"""Reading the pipeline of a work tree: ``gitml.yaml`` -> vars -> stages -> graph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitml import project
from gitml.pipeline.dag import Pipeline
from gitml.pipeline.interp import load_vars, refs
from gitml.pipeline.schema import SOURCE, parse_stages

if TYPE_CHECKING:
    from gitml.repo import Repo


def load(repo: Repo) -> Pipeline:
    """The validated pipeline of the workspace (an empty one without ``stages``); an output
    inside (or around) data tracked by ``gitml add`` is refused here, before anything runs."""
    from gitml.pipeline.preflight import check_outputs

    doc = project.load(repo)
    pipe = from_doc(repo.root, doc)
    check_outputs(repo.root, pipe)
    return pipe


def from_doc(root: str, doc: dict[str, Any]) -> Pipeline:
    section = doc.get("stages")
    ctx: dict[str, Any] = {}
    if "vars" in doc or refs(section):  # params.yaml is read only when something uses it
        ctx = load_vars(root, doc.get("vars"), SOURCE)
    return Pipeline.build(parse_stages(section, ctx))
