"""Formatting for the CLI: aligned tables, Markdown, JSON, sizes, colour."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(f)


def quiet_option(f: F) -> F:
    f = click.option("-v", "--verbose", is_flag=True, help="Say more.")(f)
    return click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")(f)


def emit_json(obj: Any) -> None:
    import json

    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def color_enabled(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return stream.isatty() and "NO_COLOR" not in os.environ


def style(text: str, **kw: Any) -> str:
    return click.style(text, **kw) if color_enabled() else text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          align: str | None = None) -> str:
    """Columns padded to line up; ``align`` gives 'l' or 'r' per column."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" * len(headers)
    lines = []
    for r in cells:
        parts = [c.rjust(w) if a == "r" else c.ljust(w)
                 for c, w, a in zip(r, widths, align, strict=False)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def markdown(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def esc(c: Any) -> str:
        return ("" if c is None else str(c)).replace("|", "\\|")

    out = ["| " + " | ".join(esc(h) for h in headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
