"""One safe YAML loader and one dump function for every file gitml reads or writes."""

from __future__ import annotations

from typing import Any

from gitml.errors import FormatError


def loads(text: str | bytes, source: str) -> Any:
    """Parse YAML safely; a syntax error becomes a one-line :class:`FormatError`."""
    import yaml  # ~15 ms: only for commands that read YAML

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise FormatError(source, f"invalid YAML{where}: {problem}") from None


def dumps(data: Any) -> str:
    """Block-style YAML with keys in insertion order."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True)
