"""The registry's tag grammar (GTO's, so a registry kept with GTO is read as-is), semver.

Every registry action is one annotated tag at the model's commit::

    churn@v1.0.0           register version v1.0.0
    churn@v1.0.0!          deregister (deprecate) that version
    churn#prod#3           assign stage prod (3: a counter per model, increasing)
    churn#prod!#4          unassign stage prod
    churn@deprecated#5     deprecate the whole model
    churn#prod             GTO's "simple" assignment (no counter), read but not written

A name in a sub-directory project is ``dir:name`` and is written ``dir=name`` in a tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitml.errors import BadInputError

NAME = r"[a-z0-9](?:[a-z0-9-/]*[a-z0-9])?"
_DIRNAME = r"[a-z0-9-_./]+"
_SEMVER = (r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
           r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
           r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
           r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")
_NAME_RE = re.compile(f"^{NAME}$")
_FULLNAME_RE = re.compile(f"^(?:{_DIRNAME}:)?{NAME}$")
_SEMVER_RE = re.compile(f"^v{_SEMVER}$")
_TAG_RE = re.compile(
    f"^(?P<model>(?:{_DIRNAME}=)?{NAME})"
    f"(?:(?:#(?P<stage>{NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?)"
    f"|@(?P<special>deprecated|created))"
    r"(?:#(?P<counter>[0-9]+))?$")

REGISTER, DEREGISTER, ASSIGN, UNASSIGN, DEPRECATE, CREATE = (
    "register", "deregister", "assign", "unassign", "deprecate", "create")
# Order of events that share a timestamp and a counter (GTO's priorities).
PRIORITY = {CREATE: 1, DEPRECATE: 2, REGISTER: 3, DEREGISTER: 4, ASSIGN: 5, UNASSIGN: 6}
BUMPS = ("major", "minor", "patch")


@dataclass(frozen=True)
class TagName:
    """What a registry tag's name says."""

    action: str
    model: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


def parse_tag(name: str) -> TagName | None:
    """The registry action a tag name encodes; None for any other tag (``v1.2``, ``release``)."""
    m = _TAG_RE.match(name)
    if m is None:
        return None
    model = m["model"].replace("=", ":")
    counter = int(m["counter"]) if m["counter"] else None
    cancel = m["cancel"] == "!"
    if m["special"]:
        action = DEPRECATE if m["special"] == "deprecated" else CREATE
        return TagName(action, model, counter=counter)
    if m["version"]:
        return TagName(DEREGISTER if cancel else REGISTER, model, version=m["version"],
                       counter=counter)
    return TagName(UNASSIGN if cancel else ASSIGN, model, stage=m["stage"], counter=counter)


def tag_name(action: str, model: str, *, version: str | None = None, stage: str | None = None,
             counter: int | None = None) -> str:
    """The tag name for an action; ``counter`` is appended as ``#N`` when given."""
    base = model.replace(":", "=")
    if action == REGISTER:
        tag = f"{base}@{version}"
    elif action == DEREGISTER:
        tag = f"{base}@{version}!"
    elif action == ASSIGN:
        tag = f"{base}#{stage}"
    elif action == UNASSIGN:
        tag = f"{base}#{stage}!"
    elif action == DEPRECATE:
        tag = f"{base}@deprecated"
    else:
        raise ValueError(f"unknown registry action {action!r}")
    return tag if counter is None else f"{tag}#{counter}"


def check_model_name(name: str) -> str:
    if not _FULLNAME_RE.match(name or ""):
        raise BadInputError(
            f"invalid model name {name!r}: use lowercase letters, digits, '-' and '/', "
            f"starting and ending with a letter or digit (e.g. churn, nlp/ranker)")
    return name


def check_stage_name(stage: str) -> str:
    if not _NAME_RE.match(stage or ""):
        raise BadInputError(
            f"invalid stage name {stage!r}: use lowercase letters, digits, '-' and '/' "
            f"(e.g. staging, prod)")
    return stage


def is_semver(version: str) -> bool:
    return _SEMVER_RE.match(version) is not None


def normalize_version(version: str) -> str:
    """``1.0.0`` or ``v1.0.0`` -> ``v1.0.0``; anything that is not semver is an error."""
    v = version.strip()
    if v and v[0].isdigit():
        v = "v" + v
    if not is_semver(v):
        raise BadInputError(
            f"version {version!r} is not semantic versioning: use vMAJOR.MINOR.PATCH, "
            f"e.g. v1.0.0 or v1.1.0-rc.1")
    return v


def version_key(version: str) -> tuple[int, int, int, bool, tuple[tuple[int, int | str], ...]]:
    """A sort key giving semver precedence (a pre-release sorts before its release)."""
    m = _SEMVER_RE.match(version)
    if m is None:
        raise ValueError(f"not a semantic version: {version!r}")
    pre = m.group(4)
    ids: tuple[tuple[int, int | str], ...] = ()
    if pre:
        ids = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), pre is None, ids


def bump(last: str | None, part: str) -> str:
    """The next version after ``last`` (None: nothing registered yet) for ``part``."""
    if part not in BUMPS:
        raise BadInputError(f"--bump must be one of {', '.join(BUMPS)}, not {part!r}")
    if last is None:
        return {"major": "v1.0.0", "minor": "v0.1.0", "patch": "v0.0.1"}[part]
    major, minor, patch, released, _ = version_key(last)
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    # v1.2.0-rc.1 -> v1.2.0: the release a pre-release was heading for
    return f"v{major}.{minor}.{patch + (1 if released else 0)}"


@dataclass(frozen=True)
class ModelRef:
    """``churn@prod``, ``churn@v1.0.0``, ``churn@latest`` or ``churn#prod``, parsed."""

    name: str
    version: str | None = None
    stage: str | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.version or self.stage or 'latest'}"


def parse_ref(spec: str) -> ModelRef:
    """Parse a model reference; a bare name means its latest version."""
    name, sep, sel = spec.rpartition("@")
    if not sep:
        name, sep, sel = spec.partition("#")
        if not sep:
            return ModelRef(check_model_name(spec))
        return ModelRef(check_model_name(name), stage=check_stage_name(sel))
    check_model_name(name)
    if sel in ("latest", "greatest", ""):
        return ModelRef(name)
    if sel[0] in "v0123456789" and ("." in sel):
        return ModelRef(name, version=normalize_version(sel))
    return ModelRef(name, stage=check_stage_name(sel))
