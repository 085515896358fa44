"""Vega-Lite templates: how a chart is drawn, as a file a user can edit.

Four templates are built in (``line``, ``scatter``, ``bar``, ``confusion``; JSON files
shipped in ``gitml/plots/builtin/``). A file ``.gitml/plots/templates/NAME.json`` in the
workspace adds a template NAME or replaces the built-in one of that name; ``gitml plots
templates --init`` writes the built-in ones there to start from. A plot names its template
in ``gitml.yaml`` (``template: NAME``).

A template is a Vega-Lite spec in which gitml replaces *anchors*: string values that are
exactly one of :data:`ANCHORS` (never parts of strings, never keys), so nothing from a
repository is ever spliced into JSON text. ``usermeta.gitml.kind`` says how the data is
prepared (the built-in template of that name: ``line``/``scatter`` numeric x sorted,
``bar`` categories, ``confusion`` class pairs counted); default ``line``.

Templates are read from the workspace only (like the code that runs your training), never
from another revision: a branch from a stranger cannot bring one.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from typing import Any

from gitml.errors import BadInputError, FormatError
from gitml.plots.config import TEMPLATE_NAME, TEMPLATES

BUILTIN_DIR = os.path.join(os.path.dirname(__file__), "builtin")
TEMPLATES_DIR = ".gitml/plots/templates"
BUILTINS = TEMPLATES
KINDS = BUILTINS
MAX_BYTES = 1 << 20
NAME = TEMPLATE_NAME
ANCHORS = {
    "<GITML_DATA>": "records: {rev, x, y} (confusion: {rev, actual, predicted, count})",
    "<GITML_DATA_COMPACT>": "one record per revision: {rev, x: [...], y: [...]} "
                            "(flatten with {\"flatten\": [\"x\", \"y\"]})",
    "<GITML_HOVER_DATA>": "records {x, r0, r1, ...}: each revision's y on a shared grid of x",
    "<GITML_HOVER_TOOLTIP>": "the tooltip list for <GITML_HOVER_DATA> (one entry per revision)",
    "<GITML_REVS>": "the revision labels, in order (a colour domain)",
    "<GITML_TITLE>": "the chart's title",
    "<GITML_X_LABEL>": "the x axis title",
    "<GITML_Y_LABEL>": "the y axis title",
    "<GITML_Y_ZERO>": "true when the y scale should include zero (a constant series)",
}
DATA_ANCHORS = ("<GITML_DATA>", "<GITML_DATA_COMPACT>")
_ANCHOR = re.compile(r"<GITML_[A-Z_]+>")


@dataclass(frozen=True)
class Template:
    name: str
    kind: str
    spec: dict[str, Any]
    source: str  # "built-in" or the file's path relative to the repository root

    @property
    def custom(self) -> bool:
        return self.source != "built-in"


def builtin(name: str) -> Template:
    with open(os.path.join(BUILTIN_DIR, f"{name}.json"), encoding="utf-8") as f:
        text = f.read()
    return parse(text, name, "built-in")


def builtin_text(name: str) -> str:
    with open(os.path.join(BUILTIN_DIR, f"{name}.json"), encoding="utf-8") as f:
        return f.read()


def parse(text: str, name: str, source: str) -> Template:
    """Check a template file: a JSON object with a data anchor and only known anchors."""
    from gitml import yamlio

    try:
        spec = yamlio.loads(text, source, "project", "json")
    except FormatError as e:
        raise FormatError(source, f"template is not valid JSON: {e.problem}") from None
    if not isinstance(spec, dict):
        raise FormatError(source, "a template is a JSON object (a Vega-Lite spec)")
    found = set(_anchors(spec))
    unknown = sorted(a for a in found if a not in ANCHORS)
    if unknown:
        raise FormatError(source, f"unknown anchor {unknown[0]} (known: {', '.join(ANCHORS)})")
    if not found & set(DATA_ANCHORS):
        raise FormatError(source, "the template has no data anchor: put \"<GITML_DATA>\" "
                                  "(or \"<GITML_DATA_COMPACT>\") where the values go")
    meta = spec.get("usermeta", {}).get("gitml", {}) if isinstance(spec.get("usermeta"),
                                                                   dict) else {}
    kind = meta.get("kind", "line") if isinstance(meta, dict) else "line"
    if kind not in KINDS:
        raise FormatError(source, f"usermeta.gitml.kind must be one of {', '.join(KINDS)}, "
                                  f"not {kind!r}")
    return Template(name, kind, spec, source)


def _anchors(node: Any) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
        elif isinstance(n, str) and _ANCHOR.fullmatch(n):
            out.append(n)
    return out


def fill(spec: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` with every anchor string replaced by its value."""
    def walk(n: Any) -> Any:
        if isinstance(n, dict):
            return {k: walk(v) for k, v in n.items()}
        if isinstance(n, list):
            return [walk(v) for v in n]
        if isinstance(n, str) and n in values:
            return copy.deepcopy(values[n]) if isinstance(values[n], (dict, list)) \
                else values[n]
        return n
    return walk(spec)  # type: ignore[no-any-return]


class TemplateSet:
    """The templates of one workspace: built-ins, replaced or extended by its files."""

    def __init__(self, root: str | None) -> None:
        self.root = root
        self._cache: dict[str, Template] = {}

    @property
    def folder(self) -> str | None:
        return os.path.join(self.root, *TEMPLATES_DIR.split("/")) if self.root else None

    def custom_names(self) -> list[str]:
        folder = self.folder
        try:
            names = os.listdir(folder) if folder else []
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n[:-5] for n in names if n.endswith(".json") and NAME.fullmatch(n[:-5]))

    def names(self) -> list[str]:
        custom = self.custom_names()
        return list(BUILTINS) + [n for n in custom if n not in BUILTINS]

    def get(self, name: str, where: str = "gitml.yaml") -> Template:
        """The template ``name``; an unknown one is a FormatError naming ``where``."""
        hit = self._cache.get(name)
        if hit is not None:
            return hit
        if NAME.fullmatch(name) and name in self.custom_names():
            assert self.folder is not None
            path = os.path.join(self.folder, f"{name}.json")
            rel = f"{TEMPLATES_DIR}/{name}.json"
            if os.path.islink(path) or not os.path.isfile(path):
                raise FormatError(rel, "a template must be a regular file")
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
            from gitml.structured import bounded_text

            text = bounded_text(data, rel, f"larger than {MAX_BYTES >> 20} MiB", MAX_BYTES)
            tpl = parse(text, name, rel)
        elif name in BUILTINS:
            tpl = builtin(name)
        else:
            custom = ", ".join(self.custom_names()) or "none there yet"
            raise FormatError(where, f"template must be one of {', '.join(BUILTINS)} or a "
                                     f"file in {TEMPLATES_DIR}/ ({custom}), not {name!r}")
        self._cache[name] = tpl
        return tpl

    def listing(self) -> list[dict[str, Any]]:
        """Every template: name, kind, where it comes from, and whether it replaces a
        built-in; a broken file is listed with its problem."""
        out = []
        for name in self.names():
            row: dict[str, Any] = {"name": name}
            try:
                t = self.get(name)
                row.update(kind=t.kind, source=t.source,
                           replaces_builtin=t.custom and name in BUILTINS)
            except FormatError as e:
                row.update(kind=None, source=f"{TEMPLATES_DIR}/{name}.json", error=e.problem)
            out.append(row)
        return out

    def init(self, names: list[str] | None = None, force: bool = False
             ) -> list[tuple[str, str]]:
        """Write built-in templates into the folder: [(path, "written" | "kept")]."""
        from gitml.fsutil import atomic_write

        if self.folder is None:
            raise BadInputError("not inside a Git repository")
        chosen = names or list(BUILTINS)
        for n in chosen:
            if n not in BUILTINS:
                raise BadInputError(f"no built-in template {n!r} (built-in: "
                                    f"{', '.join(BUILTINS)})")
        os.makedirs(self.folder, exist_ok=True)
        out = []
        for n in chosen:
            path = os.path.join(self.folder, f"{n}.json")
            rel = f"{TEMPLATES_DIR}/{n}.json"
            if os.path.lexists(path) and not force:
                out.append((rel, "kept"))
                continue
            if os.path.islink(path):
                os.unlink(path)  # never write through a link
            atomic_write(path, builtin_text(n).encode(), durable=False)
            out.append((rel, "written"))
        self._cache.clear()
        return out
