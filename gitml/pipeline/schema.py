"""The ``stages:`` section of ``gitml.yaml``: validation, ``foreach``/``matrix`` expansion.

A stage, as written::

    train:
      cmd: python train.py            # a string, or a list run one after another
      wdir: .                         # paths below are relative to it
      deps: [train.py, data/train.parquet]
      params: [train, {config.yaml: [model.depth]}]   # keys of params.yaml or of a file
      outs: [models/model.pkl, {models/tmp: {cache: false}}]
      metrics: [metrics.json]         # committed to Git (cache: false)
      plots: [plots/loss.tsv]         # committed to Git (cache: false)
      frozen: false
      always_changed: false
      desc: free text

Every problem is one :class:`FormatError` naming ``gitml.yaml``, the stage and the key.
"""

from __future__ import annotations

import difflib
import itertools
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from gitml.errors import FormatError
from gitml.pipeline.interp import InterpolationError, render

SOURCE = "gitml.yaml"
PARAMS_FILE = "params.yaml"
STAGE_KEYS = ("cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen",
              "always_changed", "desc", "meta", "resources")
# options each output section accepts; metrics also carry gitml metrics' judging settings
# (docs/metrics.md), plots any drawing options the plots part reads
OUT_OPTIONS = {"outs": {"cache", "persist", "desc"},
               "metrics": {"cache", "persist", "desc", "direction", "tolerance", "keys"}}
_NAME = re.compile(r"^[A-Za-z0-9_][\w.-]*$")
_RESERVED = (".git", ".gitml")
_CONTROL = ("gitml.yaml", "gitml.lock")


@dataclass(frozen=True)
class Out:
    """One output: ``section`` is outs, metrics or plots; ``cache=False`` means Git keeps it."""

    path: str  # repository-relative POSIX path
    cache: bool = True
    section: str = "outs"
    persist: bool = False


@dataclass(frozen=True)
class ParamRef:
    """A key (or, with key None, every key) of a params file."""

    file: str  # repository-relative
    key: str | None


@dataclass(frozen=True)
class Stage:
    """One runnable stage; foreach/matrix members are named ``group@item``."""

    name: str
    cmd: tuple[str, ...]
    wdir: str = ""  # repository-relative; "" is the root
    deps: tuple[str, ...] = ()
    params: tuple[ParamRef, ...] = ()
    outs: tuple[Out, ...] = ()
    frozen: bool = False
    always_changed: bool = False
    desc: str = ""
    group: str = ""  # the foreach/matrix definition a stage came from
    resources: tuple[tuple[str, float], ...] = ()  # what a run on a cluster asks for

    @property
    def cmd_text(self) -> str:
        return " && ".join(self.cmd)

    @property
    def is_callback(self) -> bool:
        """A command with no deps and no params: nothing says when it is stale, so it runs
        on every ``repro`` (as in DVC)."""
        return not self.deps and not self.params

    @property
    def metrics(self) -> list[str]:
        return [o.path for o in self.outs if o.section == "metrics"]

    @property
    def plots(self) -> list[str]:
        return [o.path for o in self.outs if o.section == "plots"]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "cmd": list(self.cmd)}
        if self.wdir:
            d["wdir"] = self.wdir
        d["deps"] = list(self.deps)
        d["params"] = [{"file": p.file, "key": p.key} for p in self.params]
        d["outs"] = [{"path": o.path, "cache": o.cache, "section": o.section}
                     for o in self.outs]
        for k in ("frozen", "always_changed"):
            if getattr(self, k):
                d[k] = True
        if self.desc:
            d["desc"] = self.desc
        if self.resources:
            d["resources"] = dict(self.resources)
        return d


@dataclass
class _Ctx:
    stage: str
    vars: dict[str, Any] = field(default_factory=dict)


def _err(stage: str, key: str, problem: str) -> FormatError:
    where = f"stage {stage!r}" + (f": {key}" if key else "")
    return FormatError(SOURCE, f"{where}: {problem}")


def _suggest(word: str, options: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_stages(section: Any, ctx: dict[str, Any]) -> list[Stage]:
    """Validate and expand the ``stages`` mapping into a list of stages, in file order."""
    if section is None:
        return []
    if not isinstance(section, dict):
        raise FormatError(SOURCE, "stages: expected a mapping of stage names to definitions")
    out: list[Stage] = []
    for name, body in section.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise FormatError(SOURCE, f"stages: invalid stage name {name!r} (use letters, "
                                      "digits, '_', '-' and '.')")
        if not isinstance(body, dict):
            raise _err(name, "", "expected a mapping with at least 'cmd'")
        if "foreach" in body:
            out.extend(_foreach(name, body, ctx))
        elif "matrix" in body:
            out.extend(_matrix(name, body, ctx))
        else:
            out.append(_stage(name, body, ctx))
    seen: set[str] = set()
    for s in out:
        if s.name in seen:
            raise _err(s.name, "", "defined twice (a foreach/matrix item clashes with it)")
        seen.add(s.name)
    return out


def _interp(name: str, key: str, value: Any, ctx: dict[str, Any]) -> Any:
    try:
        return render(value, ctx)
    except InterpolationError as e:
        raise _err(name, key, str(e)) from None


def _item_label(value: Any, index: int, key: str = "") -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)) and re.fullmatch(r"[\w.-]+", str(value)):
        return str(value)
    return f"{key}{index}"


def _foreach(name: str, body: dict[str, Any], ctx: dict[str, Any]) -> list[Stage]:
    extra = sorted(set(body) - {"foreach", "do"})
    if extra:
        raise _err(name, extra[0], "a foreach stage has only 'foreach' and 'do'"
                   + _suggest(extra[0], ["foreach", "do"]))
    items = _interp(name, "foreach", body["foreach"], ctx)
    do = body.get("do")
    if not isinstance(do, dict):
        raise _err(name, "do", "expected the stage definition to repeat")
    if isinstance(items, dict):
        pairs = [(str(k), {"item": v, "key": k}) for k, v in items.items()]
    elif isinstance(items, list):
        pairs = [(_item_label(v, i), {"item": v, "key": i}) for i, v in enumerate(items)]
    else:
        raise _err(name, "foreach", f"expected a list or a mapping, not {items!r}")
    if not pairs:
        raise _err(name, "foreach", "is empty")
    return [_stage(f"{name}@{label}", do, {**ctx, **extra_ctx}, group=name)
            for label, extra_ctx in pairs]


def _matrix(name: str, body: dict[str, Any], ctx: dict[str, Any]) -> list[Stage]:
    matrix = _interp(name, "matrix", body["matrix"], ctx)
    if not isinstance(matrix, dict) or not matrix:
        raise _err(name, "matrix", "expected a mapping of names to lists of values")
    axes: list[list[tuple[str, Any]]] = []
    for key, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise _err(name, f"matrix.{key}", "expected a non-empty list")
        axes.append([(_item_label(v, i, str(key)), v) for i, v in enumerate(values)])
    rest = {k: v for k, v in body.items() if k != "matrix"}
    stages = []
    for combo in itertools.product(*axes):
        item = {k: v for k, (_, v) in zip(matrix, combo, strict=True)}
        label = "-".join(lab for lab, _ in combo)
        stages.append(_stage(f"{name}@{label}", rest, {**ctx, "item": item}, group=name))
    return stages


def _stage(name: str, body: dict[str, Any], ctx: dict[str, Any], group: str = "") -> Stage:
    for key in body:
        if key not in STAGE_KEYS:
            raise _err(name, str(key), "unknown key" + _suggest(str(key), STAGE_KEYS))
    if "cmd" not in body:
        raise _err(name, "cmd", "missing (every stage needs the command to run)")
    body = {k: _interp(name, k, v, ctx) if k != "meta" else v for k, v in body.items()}
    cmd = body["cmd"]
    if isinstance(cmd, str):
        cmd = [cmd]
    if (not isinstance(cmd, list) or not cmd
            or not all(isinstance(c, str) and c.strip() for c in cmd)):
        raise _err(name, "cmd", "expected a command string or a list of them")
    wdir = body.get("wdir", ".")
    if not isinstance(wdir, str):
        raise _err(name, "wdir", f"expected a directory, not {wdir!r}")
    wdir = _path(name, "wdir", "", wdir, allow_root=True)
    for flag in ("frozen", "always_changed"):
        if not isinstance(body.get(flag, False), bool):
            raise _err(name, flag, f"expected true or false, not {body[flag]!r}")
    desc = body.get("desc", "")
    deps = tuple(_path(name, "deps", wdir, d) for d in _list(name, "deps", body))
    outs: list[Out] = []
    for section in ("outs", "metrics", "plots"):
        for item in _list(name, section, body):
            outs.append(_out(name, section, wdir, item))
    params = tuple(_params(name, wdir, _list(name, "params", body)))
    _check_paths(name, deps, outs)
    return Stage(name, tuple(cmd), wdir, tuple(dict.fromkeys(deps)), params, tuple(outs),
                 bool(body.get("frozen", False)), bool(body.get("always_changed", False)),
                 str(desc or ""), group, _resources(name, body.get("resources")))


_RESOURCE = re.compile(r"^[A-Za-z_][\w.-]*$")
_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "kb": 1e3, "mb": 1e6, "gb": 1e9,
          "tb": 1e12, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def resource_value(key: str, value: Any) -> float:
    """The amount of a resource: a number >= 0; ``memory`` may carry a unit (``4GiB``).
    Raises ValueError with the reason."""
    if not _RESOURCE.match(key):
        raise ValueError(f"{key!r} is not a resource name (cpu, gpu, memory or a custom one)")
    if isinstance(value, bool):
        raise ValueError(f"expected an amount, not {value!r}")
    text = str(value).strip()
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)", text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS or (unit and key != "memory"):
        raise ValueError(f"expected an amount{' (memory: 4GiB, 512MiB)' * (key == 'memory')}"
                         f", not {value!r}")
    amount = float(m.group(1)) * _UNITS[unit]
    if amount != amount or amount in (float("inf"),) or amount > 1e18:
        raise ValueError(f"amount out of range: {value!r}")
    return amount


def _resources(name: str, value: Any) -> tuple[tuple[str, float], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise _err(name, "resources", "expected a mapping such as {cpu: 2, gpu: 1}")
    out = []
    for k, v in value.items():
        try:
            out.append((str(k), resource_value(str(k), v)))
        except ValueError as e:
            raise _err(name, f"resources.{k}", str(e)) from None
    return tuple(sorted(out))


def _list(name: str, key: str, body: dict[str, Any]) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        raise _err(name, key, f"expected a list, not {value!r}")
    return value


def _path(name: str, key: str, wdir: str, p: Any, allow_root: bool = False) -> str:
    if not isinstance(p, str) or not p.strip():
        raise _err(name, key, f"expected a path, not {p!r}")
    if p.startswith("/") or "\\" in p or "\x00" in p:
        raise _err(name, key, f"{p!r} must be a relative POSIX path inside the repository")
    rel = posixpath.normpath(posixpath.join(wdir, p.rstrip("/")) if wdir else p.rstrip("/"))
    if rel == ".":
        if allow_root:
            return ""
        raise _err(name, key, f"{p!r} names the whole repository")
    if rel == ".." or rel.startswith("../"):
        raise _err(name, key, f"{p!r} is outside the repository")
    if rel.split("/")[0] in _RESERVED:
        raise _err(name, key, f"{p!r} is inside {rel.split('/')[0]}/")
    return rel


def _out(name: str, section: str, wdir: str, item: Any) -> Out:
    opts: dict[str, Any] = {}
    if isinstance(item, dict) and "path" in item:  # {path: x, cache: false, ...}
        opts = {k: v for k, v in item.items() if k != "path"}
        item = {item["path"]: opts} if isinstance(item["path"], str) else item
    if isinstance(item, dict):
        if len(item) != 1:
            raise _err(name, section, f"expected 'path' or {{path: {{options}}}}, not {item!r}")
        (path, opts), = item.items()
        opts = opts or {}
        if not isinstance(opts, dict):
            raise _err(name, f"{section}.{path}", "options must be a mapping")
        allowed = OUT_OPTIONS.get(section)
        for k in opts:
            if allowed is not None and k not in allowed:
                raise _err(name, f"{section}.{path}.{k}", "unknown option"
                           + _suggest(str(k), sorted(allowed)))
        item = path
    rel = _path(name, section, wdir, item)
    if rel in _CONTROL:
        raise _err(name, section, f"{rel} is gitml's own file and cannot be an output")
    cache = opts.get("cache", section == "outs")
    persist = opts.get("persist", False)
    for k, v in (("cache", cache), ("persist", persist)):
        if not isinstance(v, bool):
            raise _err(name, f"{section}.{item}.{k}", f"expected true or false, not {v!r}")
    return Out(rel, cache, section, persist)


def _params(name: str, wdir: str, items: list[Any]) -> list[ParamRef]:
    default = posixpath.join(wdir, PARAMS_FILE) if wdir else PARAMS_FILE
    out: list[ParamRef] = []
    for item in items:
        if isinstance(item, str):
            for key in (k.strip() for k in item.split(",")):
                if not key:
                    raise _err(name, "params", f"empty key in {item!r}")
                out.append(ParamRef(default, key))
        elif isinstance(item, dict):
            for file, keys in item.items():
                rel = _path(name, "params", wdir, file)
                if keys is None or keys == []:
                    out.append(ParamRef(rel, None))
                    continue
                if isinstance(keys, str):
                    keys = [keys]
                if not isinstance(keys, list) or not all(isinstance(k, str) and k
                                                         for k in keys):
                    raise _err(name, f"params.{file}", f"expected a list of keys, not {keys!r}")
                out.extend(ParamRef(rel, k) for k in keys)
        else:
            raise _err(name, "params", f"expected a key or {{file: [keys]}}, not {item!r}")
    return list(dict.fromkeys(out))


def _check_paths(name: str, deps: tuple[str, ...], outs: list[Out]) -> None:
    seen: set[str] = set()
    for o in outs:
        if o.path in seen:
            raise _err(name, o.section, f"{o.path} is listed twice")
        seen.add(o.path)
        if o.path in deps:
            raise _err(name, o.section, f"{o.path} is both a dep and an output of the stage")
