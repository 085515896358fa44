"""The promises docs/cli.md makes for every command, checked by walking the registry.

New commands are covered as soon as they are registered in gitml/cli/main.py:COMMANDS:
``--help`` works and shows an example, a usage error is one ``error:`` line plus the
``--help`` hint (exit 2), and every reporting command takes ``--json``, ``-q`` and ``-v``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import click
import pytest
from conftest import git, write

from gitml.cli.main import ALIASES, COMMANDS
from gitml.cli.main import cli as root

# Entry points Git runs, whose output Git reads: not reporting commands.
NOT_REPORTING = {"hooks run", "hooks merge-driver", "hooks diff-driver"}
# These pass unknown options through to what they run.
PASS_THROUGH = {"hooks run"}


def _walk() -> tuple[list[str], list[str]]:
    """(leaf command paths, group paths), e.g. 'exp run', 'exp'."""
    ctx = click.Context(root)
    leaves: list[str] = []
    groups: list[str] = []

    def visit(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            groups.append(" ".join(path))
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not (sub.name != name and name in ("rm",)):
                    visit(sub, [*path, name])
        else:
            leaves.append(" ".join(path))

    for name in sorted(COMMANDS):
        if name not in ALIASES:
            visit(root.get_command(ctx, name), [name])
    return leaves, groups


LEAVES, GROUPS = _walk()


def _command(path: str) -> click.Command:
    ctx = click.Context(root)
    cmd: click.Command = root
    for part in path.split():
        assert isinstance(cmd, click.Group)
        cmd = cmd.get_command(ctx, part)  # type: ignore[assignment]
    return cmd


def test_the_walk_sees_every_registered_command() -> None:
    tops = {p.split()[0] for p in LEAVES}
    assert tops == set(COMMANDS) - set(ALIASES)
    assert {"exp run", "metrics diff", "stage add", "remote add", "status"} <= set(LEAVES)


@pytest.mark.parametrize("path", LEAVES)
def test_help_works_and_shows_an_example(path: str, cli) -> None:
    r = cli(*path.split(), "--help")
    assert r.code == 0, r.err
    assert r.out.startswith(f"Usage: gitml {path} ")
    body = r.out.split("\n", 1)[1]
    assert f"gitml {path}" in body, f"'gitml {path} --help' shows no example of its use"


@pytest.mark.parametrize("path", [p for p in LEAVES if p not in PASS_THROUGH])
def test_an_unknown_option_is_one_error_line_and_the_help_hint(path: str, cli) -> None:
    r = cli(*path.split(), "--zzz-no-such-option")
    assert r.code == 2
    assert r.out == ""
    lines = r.err.splitlines()
    assert len(lines) == 2, r.err
    assert re.fullmatch(r"error: no such option:? '?--zzz-no-such-option'?", lines[0]), lines[0]
    assert lines[1] == f"Try 'gitml {path} --help' for help."


@pytest.mark.parametrize("path", [p for p in LEAVES if p not in NOT_REPORTING])
def test_every_reporting_command_takes_json_quiet_and_verbose(path: str) -> None:
    opts = {o for p in _command(path).params for o in (*p.opts, *p.secondary_opts)}
    missing = [o for o in ("--json", "-q", "--quiet", "-v", "--verbose") if o not in opts]
    assert not missing, f"gitml {path} lacks {', '.join(missing)}"


@pytest.mark.parametrize("path", GROUPS)
def test_a_group_without_its_command_names_the_commands(path: str, cli) -> None:
    r = cli(*path.split())
    assert r.code == 2 and r.out == ""
    first, hint = r.err.splitlines()
    assert first.startswith("error: missing command (one of: ")
    names = _command(path).list_commands(click.Context(root))  # type: ignore[attr-defined]
    assert all(n in first for n in names)
    assert hint == f"Try 'gitml {path} --help' for help."
    r = cli(*path.split(), "zzz-nope")
    assert r.code == 2
    assert r.err.splitlines() == ["error: no such command 'zzz-nope'",
                                  f"Try 'gitml {path} --help' for help."]


@pytest.mark.parametrize("args, first, path", [
    (("zzz-nope",), "error: no such command 'zzz-nope'", "gitml"),
    (("exp", "best"), "error: missing option '-m' / '--metric'", "gitml exp best"),
    (("repro", "-j", "many"), "error: invalid value for '-j' / '--jobs': 'many' is not a "
                              "valid integer range", "gitml repro"),
    (("exp", "show", "--sort-order", "up"), "error: invalid value for '--sort-order': 'up' "
                                            "is not one of 'asc', 'desc'", "gitml exp show"),
    (("stage", "add", "-n", "x"), "error: missing argument 'COMMAND...'", "gitml stage add"),
    (("status", "--verbos"), "error: no such option '--verbos' (did you mean '--verbose'?)",
     "gitml status"),
    (("-C", "/nonexistent-dir", "status"), "error: -C /nonexistent-dir: No such file or "
                                           "directory", "gitml"),
])
def test_usage_errors(args: tuple[str, ...], first: str, path: str, cli) -> None:
    r = cli(*args)
    assert r.code == 2 and r.out == ""
    assert r.err.splitlines() == [first, f"Try '{path} --help' for help."]


def test_gitml_alone_prints_its_help(cli) -> None:
    r = cli()
    assert r.code == 0 and r.out.startswith("Usage: gitml") and "exp" in r.out


# -- -q, -v and --json, run for real ------------------------------------------------------------

@pytest.fixture
def project(repo: Path, cli) -> Path:
    write(repo / "data" / "a.csv", "x\n1\n")
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "metrics.json", '{"acc": 0.5}\n')
    assert cli("add", "data/a.csv", "-q").code == 0
    assert cli("stage", "add", "-q", "-n", "s", "-d", "params.yaml", "-M", "m.json",
               "echo '{\"acc\": 1}' > m.json").code == 0
    assert cli("remote", "add", "-q", "nas", str(repo.parent / "remote")).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


QUIET_RUNS = [
    ("status",), ("diff",), ("metrics", "show"), ("metrics", "diff", "HEAD"),
    ("params", "show"), ("params", "diff"), ("dag",), ("stage", "list"), ("remote", "list"),
    ("remote", "default"), ("config", "core.link"), ("config", "--list"), ("exp", "show"),
    ("model", "list"), ("hooks", "status"), ("fsck",), ("gc", "--dry-run"),
    ("checkout",), ("repro", "--dry"),
]


@pytest.mark.parametrize("args", QUIET_RUNS, ids=lambda a: " ".join(a))
def test_quiet_prints_nothing_and_json_parses(project: Path, args: tuple[str, ...],
                                              cli) -> None:
    loud = cli(*args)
    assert loud.code == 0, loud.err
    assert loud.out.strip(), f"gitml {' '.join(args)} printed nothing without -q"
    quiet = cli(*args, "-q")
    # status -q answers in its exit code: the project's stage was never run (issue 16 item 9)
    assert quiet.code == (1 if args == ("status",) else 0) and quiet.out == "", quiet.out
    machine = cli(*args, "--json")
    assert machine.code == 0, machine.err
    json.loads(machine.out)
    assert cli(*args, "-v").code == 0


# -- item 12: hints that can be pasted, defaults, plurals ---------------------------------------

def test_git_add_hint_is_relative_to_the_current_directory_and_quoted(repo: Path, cli,
                                                                     monkeypatch) -> None:
    write(repo / "my data" / "it's.csv", "x\n1\n")
    sub = repo / "my data"
    monkeypatch.chdir(sub)
    r = cli("add", "it's.csv")
    assert r.code == 0, r.err
    hint = r.out.strip().splitlines()[-1].strip()
    assert hint == "git add .gitignore " + shlex.quote("it's.csv.gitml")
    # pasted as printed, in that directory, it stages exactly the pointer and the ignore file
    os.system(hint + " >/dev/null")  # noqa: S605 - the line a user pastes
    staged = git(repo, "diff", "--cached", "--name-only").split("\n")
    assert "my data/.gitignore" in staged and "my data/it's.csv.gitml" in staged


def test_repro_hint_is_relative_to_the_current_directory(repo: Path, cli, monkeypatch) -> None:
    write(repo / "gitml.yaml", "stages:\n  s:\n    cmd: echo 1 > 'out put.txt'\n"
                               "    outs: [out put.txt]\n")
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    r = cli("repro")
    assert r.code == 0, r.err
    assert r.out.strip().splitlines()[-1].strip() == \
        "git add ../.gitignore ../gitml.lock '../out put.txt.gitml'"


def test_config_of_an_unset_key_prints_its_default_and_says_so(repo: Path, cli) -> None:
    r = cli("config", "core.lock_timeout")
    assert r.code == 0 and r.out.strip() == "60"
    assert "core.lock_timeout is not set; gitml uses the default 60" in r.err
    r = cli("config", "core.lock_timeout", "-q")
    assert r.code == 0 and r.out == "" and r.err == ""  # -q: not even the note
    r = cli("config", "core.link", "--json")
    assert json.loads(r.out) == {"key": "core.link", "value": "reflink,copy", "set": False}
    assert cli("config", "core.link", "copy").code == 0
    r = cli("config", "core.link")
    assert r.out.strip() == "copy" and r.err == ""
    r = cli("config", "core.remote")
    assert r.code == 1 and r.err.strip() == "error: core.remote is not set, and it has no default"
    r = cli("config", "core.nope")
    assert r.code == 2 and "unknown config key 'core.nope'" in r.err


def test_init_says_stage_it_with(gitrepo: Path, cli, monkeypatch) -> None:
    (gitrepo / "sub").mkdir()
    monkeypatch.chdir(gitrepo / "sub")
    r = cli("init")
    assert r.code == 0
    assert r.out.splitlines()[-1] == ("Stage it with:  git add ../.gitattributes "
                                      "../.gitml/.gitignore ../.gitml/config.yaml")


def test_counts_read_right(project: Path, cli) -> None:
    r = cli("exp", "clean")
    assert r.out.strip() == "Nothing to clean."
    r = cli("gc")
    assert re.match(r"removed 0 objects, ", r.out), r.out
