"""Formatting for the CLI: aligned tables, Markdown, JSON, sizes, colour."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(f)


def quiet_option(f: F) -> F:
    """``-q/--quiet`` and ``-v/--verbose``. A command whose function takes ``quiet`` and
    ``verbose`` handles them itself; for any other, ``-q`` silences its standard output
    (not its ``--json``) and ``-v`` is left in ``ctx.meta["gitml.verbose"]``."""
    if "quiet" not in inspect.signature(f).parameters:
        inner = f

        @functools.wraps(inner)
        def wrapper(*args: Any, quiet: bool = False, verbose: bool = False,
                    **kw: Any) -> Any:
            click.get_current_context().meta["gitml.verbose"] = verbose
            if not quiet or kw.get("as_json"):
                return inner(*args, **kw)
            with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
                return inner(*args, **kw)

        f = wrapper  # type: ignore[assignment]
    f = click.option("-v", "--verbose", is_flag=True, help="Say more.")(f)
    return click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.",
                        callback=_quiet_notices)(f)


def _quiet_notices(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    from gitml import progress

    progress.set_quiet(bool(value))
    return value


def report_options(f: F) -> F:
    """``--json``, ``-q`` and ``-v``: what every reporting command takes (docs/cli.md)."""
    return json_option(quiet_option(f))


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 object``, ``0 objects``, ``2,000 objects``."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"


def git_add_hint(root: str, paths: Sequence[str]) -> str:
    """``git add ...`` of repository paths, relative to the current directory and quoted
    for the shell, so the line can be pasted as it is."""
    import shlex

    here = os.getcwd()
    rel = sorted({os.path.relpath(os.path.join(root, *p.split("/")), here) for p in paths})
    return "git add " + " ".join(shlex.quote(p) for p in rel)


def emit_json(obj: Any) -> None:
    """The one JSON writer of ``--json``: strict JSON (NaN and infinities become null)."""
    click.echo(json_text(obj, indent=2))


def json_text(obj: Any, **kw: Any) -> str:
    """Strict JSON that any parser reads: a float that is not finite (NaN, Infinity, which
    Python would write bare) becomes null; other values JSON lacks are written as strings."""
    import json

    try:
        return json.dumps(obj, ensure_ascii=False, default=str, allow_nan=False, **kw)
    except ValueError:  # a non-finite float somewhere: rare, so only then walk the value
        return json.dumps(_finite(obj), ensure_ascii=False, default=str, allow_nan=False, **kw)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


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
