"""Writing the registry: register, promote, deprecate. Each is one annotated tag.

Every check runs before the tag is made, so bad input changes nothing. Writers take the
registry lock, so checks, the per-model counter and the tag are one step; Git's ref lock
makes the tag itself atomic.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from gitml import gitio, tracked
from gitml.errors import BadInputError, GitError
from gitml.fsutil import FileLock, check_relpath
from gitml.readapi import RevReader
from gitml.registry import grammar as g
from gitml.registry import meta, state
from gitml.registry.locate import find_object
from gitml.repo import Repo


@dataclass(frozen=True)
class Action:
    """What a registry command did (``created`` False: it was already so)."""

    action: str
    model: str
    tag: str | None
    commit: str
    version: str | None = None
    stage: str | None = None
    path: str | None = None
    oid: str | None = None
    created: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _register(repo: Repo, name: str, *, version: str | None, bump: str | None,
              path: str | None, rev: str | None, message: str | None) -> Action:
    """Register a version of ``name`` at ``rev`` (default HEAD): tag ``name@vX.Y.Z``."""
    g.check_model_name(name)
    if version and bump:
        raise BadInputError("give --version or --bump, not both")
    m = state.load(repo.root).get(name) or state.Model(name)
    if version:
        ver = g.normalize_version(version)
    else:
        taken = [v for v in m.versions if g.is_semver(v)]
        ver = g.bump(max(taken, key=g.version_key) if taken else None, bump or "patch")
    have = m.versions.get(ver)
    if have is not None and have.registered is not None:
        raise BadInputError(f"{name} {ver} already exists (at commit {have.commit[:7]}); "
                            f"choose another version or use --bump")
    commit = gitio.rev_parse(repo.root, rev or "HEAD")
    other = m.active_at(commit)
    if other is not None:
        raise BadInputError(f"commit {commit[:7]} is already {name} {other.name}; "
                            f"promote that version, or register another commit")
    with RevReader(repo) as reader:
        if path:
            rel = tracked.to_rel(repo.root, path).removesuffix(".gitml")
        else:
            rel = _default_path(repo, m, commit, reader)
        obj = find_object(reader, rel, commit)
    tag = g.tag_name(g.REGISTER, name, version=ver)
    text = message if message is not None else f"Registering model {name} version {ver}"
    _tag(repo, m, tag, commit, state.join_message(text, {"path": rel}))
    return Action(g.REGISTER, name, tag, commit, version=ver, path=rel, oid=obj.oid)


def _promote(repo: Repo, name: str, version: str, stage: str, message: str | None) -> Action:
    """Assign ``stage`` to a version: tag ``name#stage#N`` at the version's commit."""
    g.check_model_name(name)
    g.check_stage_name(stage)
    models = state.load(repo.root)
    m = _model(models, name)
    v = _version(m, version)
    allowed = meta.load(repo).stages
    if allowed is not None and stage not in allowed:
        raise BadInputError(f"unknown stage {stage!r}: gitml.yaml allows "
                            f"{', '.join(allowed)} (models.stages)")
    if m.stages.get(stage) == v.name:
        return Action(g.ASSIGN, name, None, v.commit, version=v.name, stage=stage,
                      created=False)
    text = message if message is not None else f"Promoting {name} {v.name} to {stage}"
    tag = _counted(repo, m, lambda n: g.tag_name(g.ASSIGN, name, stage=stage, counter=n),
                   v.commit, text)
    return Action(g.ASSIGN, name, tag, v.commit, version=v.name, stage=stage)


def _deprecate(repo: Repo, name: str, version: str | None, stage: str | None,
               message: str | None) -> Action:
    """Deprecate a version (``name@vX.Y.Z!``), take a stage from a version
    (``name#stage!#N``), or, with neither, deprecate the model (``name@deprecated#N``)."""
    g.check_model_name(name)
    m = _model(state.load(repo.root), name)
    if stage is not None:
        g.check_stage_name(stage)
        if version is None:
            holder = m.stages.get(stage)
            if holder is None:
                raise BadInputError(f"no version of {name} is in stage {stage!r}")
            version = holder
        v = _version(m, version)
        if v.assigned.get(stage) is None:
            raise BadInputError(f"{name} {v.name} is not in stage {stage!r}")
        text = message if message is not None else f"Removing {name} {v.name} from {stage}"
        tag = _counted(repo, m, lambda n: g.tag_name(g.UNASSIGN, name, stage=stage, counter=n),
                       v.commit, text)
        return Action(g.UNASSIGN, name, tag, v.commit, version=v.name, stage=stage)
    if version is not None:
        v = _version(m, version)
        tag = g.tag_name(g.DEREGISTER, name, version=v.name)
        text = message if message is not None else f"Deprecating {name} {v.name}"
        _tag(repo, m, tag, v.commit, text + "\n")
        return Action(g.DEREGISTER, name, tag, v.commit, version=v.name)
    if m.deprecated:
        raise BadInputError(f"model {name} is already deprecated")
    latest = m.latest
    commit = m.versions[latest].commit if latest else m.events[-1].commit
    text = message if message is not None else f"Deprecating model {name}"
    # counted (GTO reads both forms): the counter orders it after a registration made in
    # the same second, and lets a model be deprecated again after it came back
    tag = _counted(repo, m, lambda n: g.tag_name(g.DEPRECATE, name, counter=n), commit, text)
    return Action(g.DEPRECATE, name, tag, commit)


# -- helpers -------------------------------------------------------------------------------
def _default_path(repo: Repo, m: state.Model, commit: str, reader: RevReader) -> str:
    """Declared at the commit, else in the workspace, else the last registered version's."""
    for rev in (commit, None):
        spec = meta.spec_for(repo, m.name, rev, reader.batch)
        if spec is not None and spec.path:
            return spec.path
    for v in reversed([e for e in m.events if e.action == g.REGISTER]):
        path = v.trailers.get("path")
        if path:
            check_relpath(path, source=f"tag {v.tag}")
            return path
    raise BadInputError(f"no path for model {m.name!r}: pass --path, or declare "
                        f"models.{m.name}.path in gitml.yaml")


def _model(models: dict[str, state.Model], name: str) -> state.Model:
    m = models.get(name)
    if m is None or not m.events:
        known = ", ".join(sorted(n for n, x in models.items() if x.events)) or "none yet"
        raise BadInputError(f"no model named {name!r} is registered (models: {known})")
    return m


def _version(m: state.Model, version: str) -> state.Version:
    ver = m.latest if version == "latest" else g.normalize_version(version)
    v = m.versions.get(ver) if ver else None
    if v is None or v.registered is None:
        names = [x.name for x in m.sorted_versions() if x.is_semver and x.active]
        raise BadInputError(f"{m.name} has no version {version} "
                            f"(versions: {', '.join(names) or 'none'})")
    if not v.active:
        raise BadInputError(f"{m.name} {v.name} is deprecated; register a new version instead")
    return v


def _tag(repo: Repo, m: state.Model, tag: str, commit: str, message: str) -> None:
    """Create the tag, dated after the model's last tag.

    Tag times have one-second resolution and GTO orders a model's tags by time alone, so
    a tag made in the same second as the model's previous one is dated a second later:
    both tools then replay the history in the order it was written.
    """
    now = int(time.time())
    last = max((e.when for e in m.events), default=0)
    date = None
    if now <= last:
        off = time.localtime().tm_gmtoff // 60
        date = f"{last + 1} {'-' if off < 0 else '+'}{abs(off) // 60:02d}{abs(off) % 60:02d}"
    try:
        gitio.create_tag(repo.root, tag, commit, message, date)
    except GitError as e:
        if "already exists" in str(e):
            raise BadInputError(f"tag {tag} already exists") from None
        raise


def _counted(repo: Repo, m: state.Model, make: Any, commit: str, text: str) -> str:
    """Create a tag numbered after every counted tag of the model (the caller holds the lock)."""
    tag = str(make(m.max_counter + 1))
    _tag(repo, m, tag, commit, text + "\n")
    return tag


def _lock(repo: Repo) -> FileLock:
    """One writer at a time per repository (all its work trees): the stage counter and the
    version checks are read and the tag made under it."""
    d = os.path.join(gitio.common_root(repo.root), ".gitml", "tmp")
    os.makedirs(d, exist_ok=True)
    return FileLock(os.path.join(d, "registry.lock"),
                    timeout=float(repo.config.get("core.lock_timeout", 10)),
                    what="model registry")


def register(repo: Repo, name: str, *, version: str | None = None, bump: str | None = None,
             path: str | None = None, rev: str | None = None,
             message: str | None = None) -> Action:
    """Register a version of ``name`` at ``rev`` (default HEAD): tag ``name@vX.Y.Z``.

    ``version`` (``v1.0.0``) or ``bump`` (major/minor/patch; neither: patch); ``path``
    defaults to the one declared in gitml.yaml (or GTO's files), else the last version's.
    """
    with _lock(repo):
        return _register(repo, name, version=version, bump=bump, path=path, rev=rev,
                         message=message)


def promote(repo: Repo, name: str, version: str, stage: str,
            message: str | None = None) -> Action:
    """Assign ``stage`` to ``version`` (``latest`` allowed): tag ``name#stage#N``."""
    with _lock(repo):
        return _promote(repo, name, version, stage, message)


def deprecate(repo: Repo, name: str, version: str | None = None, stage: str | None = None,
              message: str | None = None) -> Action:
    """Deprecate a version, take a version out of a stage, or deprecate the model."""
    with _lock(repo):
        return _deprecate(repo, name, version, stage, message)
