"""The root ``gitml`` group: lazy command loading and the single error handler."""

from __future__ import annotations

import errno
import importlib
import importlib.util
import os
import re
import sys
from typing import Any

import click

from gitml import __version__
from gitml.errors import EXIT_CRASH, EXIT_INTERRUPTED, EXIT_USAGE, GitmlError

# command name -> "module:attribute". Modules are imported only when their command runs,
# so `gitml --version` and `gitml status` stay fast.
COMMANDS: dict[str, str] = {
    "init": "gitml.cli.core:init",
    "add": "gitml.cli.core:add",
    "status": "gitml.cli.core:status",
    "checkout": "gitml.cli.core:checkout",
    "diff": "gitml.cli.core:diff",
    "remove": "gitml.cli.core:remove",
    "rm": "gitml.cli.core:remove",
    "gc": "gitml.cli.core:gc",
    "fsck": "gitml.cli.core:fsck",
    "du": "gitml.cli.core:du",
    "config": "gitml.cli.core:config",
    "metrics": "gitml.cli.metrics:metrics",
    "params": "gitml.cli.metrics:params",
    "remote": "gitml.cli.remote:remote",
    "push": "gitml.cli.remote:push",
    "fetch": "gitml.cli.remote:fetch",
    "pull": "gitml.cli.remote:pull",
    "ls": "gitml.cli.imports:ls",
    "get": "gitml.cli.imports:get",
    "import": "gitml.cli.imports:import_",
    "update": "gitml.cli.imports:update",
    "hooks": "gitml.cli.hooks:hooks",
    "repro": "gitml.cli.pipeline:repro",
    "commit": "gitml.cli.pipeline:commit",
    "dag": "gitml.cli.pipeline:dag",
    "stage": "gitml.cli.pipeline:stage",
    "exp": "gitml.cli.exp:exp",
    "model": "gitml.cli.model:model",
    "data": "gitml.cli.data:data",
    "monitor": "gitml.cli.data:monitor",
    "plots": "gitml.cli.plots:plots",
    "report": "gitml.cli.plots:report",
    "demo": "gitml.cli.demo:demo",
    "doctor": "gitml.cli.doctor:doctor",
    "ui": "gitml.cli.ui:ui",
    "import-dvc": "gitml.cli.dvcimport:import_dvc",
}
ALIASES = {"rm": "remove"}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, target in COMMANDS.items()
                      if n not in ALIASES and importlib.util.find_spec(target.split(":")[0]))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                return None
            raise
        cmd: click.Command = getattr(mod, attr)
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="gitml")
@click.option("-C", "directory", metavar="DIR", help="Run as if started in DIR.")
def cli(directory: str | None) -> None:
    """gitml: version data, models, params and metrics next to your Git repository.

    \b
    Start with:  gitml init && gitml add data/train.parquet
    Docs: README.md and docs/ in the gitml repository.
    """
    if directory:
        try:
            os.chdir(directory)
        except OSError as e:
            raise click.UsageError(f"-C {directory}: {e.strerror}") from None


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every error into one line and an exit code."""
    progress = sys.modules.get("gitml.progress")
    if progress is not None:  # an earlier in-process run's -q (cli.output.quiet_option)
        progress.set_quiet(False)
    try:
        rv = cli.main(args=argv, prog_name="gitml", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except GitmlError as e:
        click.echo(f"error: {e}", err=True)
        code = e.exit_code
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    except click.exceptions.NoArgsIsHelpError as e:
        code = _bare_group(e)
    except click.UsageError as e:
        _usage_error(e.format_message(), e.ctx)
        code = e.exit_code
    except click.ClickException as e:
        click.echo(f"error: {_one_line(e.format_message())}", err=True)
        code = e.exit_code
    except click.exceptions.Exit as e:
        code = e.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        code = 0
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        except OSError:
            pass
    except OSError as e:
        code = _os_error(e)
    except Exception as e:  # a bug: one line for the user, the traceback in a log
        code = _crash(e)
    sys.exit(code)


_FULL = (errno.ENOSPC, errno.EDQUOT)


def _os_error(e: OSError) -> int:
    """A full disk or quota is the machine's state, not a bug: one line, exit 2 (the
    command removed its temp files on the way out). Other OS errors are bugs."""
    if e.errno not in _FULL:
        return _crash(e)
    what = "disk quota exceeded" if e.errno == errno.EDQUOT else "no space left on device"
    where = f" writing {e.filename}" if e.filename else ""
    click.echo(f"error: {what}{where}; free some space and run the command again",
               err=True)
    return EXIT_USAGE


def _one_line(message: str) -> str:
    """Click's sentence as gitml's one line: lower-case start, no final stop, no newline."""
    text = " ".join(message.split())
    text = re.sub(r"\. Did you mean (.+)\?$", r" (did you mean \1?)", text)
    text = text[:1].lower() + text[1:] if text[1:2].islower() or len(text) < 2 else text
    return text.rstrip(".")


def _usage_error(message: str, ctx: click.Context | None) -> None:
    """A usage error is one ``error:`` line and the hint to the command's help (exit 2)."""
    path = ctx.command_path if ctx is not None else "gitml"
    click.echo(f"error: {_one_line(message)}\nTry '{path} --help' for help.", err=True)


def _bare_group(e: click.exceptions.NoArgsIsHelpError) -> int:
    """``gitml`` alone prints its help; ``gitml exp`` alone is a usage error naming the
    subcommands."""
    ctx = e.ctx
    if ctx is None or ctx.parent is None:
        click.echo(ctx.get_help() if ctx is not None else "")
        return 0
    group = ctx.command
    names = group.list_commands(ctx) if isinstance(group, click.Group) else []
    _usage_error(f"missing command (one of: {', '.join(names)})", ctx)
    return 2


def _crash(e: BaseException) -> int:
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="gitml-crash-", suffix=".log")
    argv, secrets = redact_argv(sys.argv)
    with os.fdopen(fd, "w") as f:
        f.write(f"gitml {__version__}\nargv: {argv!r}\n\n")
        f.write(redact("".join(traceback.format_exception(e)), secrets))
    click.echo(f"error: unexpected {type(e).__name__}: {redact(str(e), secrets)} (a bug; "
               f"details in {path})", err=True)
    return EXIT_CRASH


# credential keys whose value follows them (an argument, or key=value / key: value)
_SECRET_KEYS = ("secret_access_key", "session_token", "access_key_id", "password", "passwd",
                "token", "api_key", "apikey", "client_secret", "private_key")
_SECRET_VALUE = re.compile(r"(?i)((?:" + "|".join(_SECRET_KEYS)
                           + r")['\"]?\s*[:=]\s*['\"]?)([^\s'\",}]+)")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


def redact_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """``argv`` with credential values replaced by ****, and the values it hid."""
    out, hidden = list(argv), []
    for i, a in enumerate(out):
        key = a.rsplit(".", 1)[-1].lstrip("-").lower()
        if key in _SECRET_KEYS and i + 1 < len(out) and not out[i + 1].startswith("-"):
            hidden.append(out[i + 1])
            out[i + 1] = "****"
    return [redact(a, hidden) for a in out], hidden


def redact(text: str, values: list[str] = ()) -> str:  # type: ignore[assignment]
    """``text`` with the given secret values, ``key=value`` credentials, AWS key ids and
    the values of secret-looking environment variables replaced by ****."""
    env = [v for k, v in os.environ.items() if len(v) >= 8 and any(
        w in k.upper() for w in ("SECRET", "TOKEN", "PASSWORD", "ACCESS_KEY"))]
    for v in sorted({*values, *env}, key=len, reverse=True):
        if v:
            text = text.replace(v, "****")
    text = _SECRET_VALUE.sub(lambda m: m.group(1) + "****", text)
    return _AWS_KEY_ID.sub("****", text)


def run(args: list[str]) -> Any:
    """Invoke the CLI in-process (for tests): returns the exit code."""
    try:
        main(args)
    except SystemExit as e:
        return e.code
    return 0


if __name__ == "__main__":
    main()
