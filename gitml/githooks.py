"""Git hooks (issue 7): install / uninstall / status of the shims, and ``gitml hooks run NAME``.

Each installed hook is a tiny shell shim (the source copies live in ``hooks/``) that execs
``gitml hooks run NAME``. A hook that was already there is kept as ``NAME.gitml-chained``
and run first; uninstall renames it back, so it returns byte for byte. The shims carry
:data:`MARK`, which is how gitml tells its own hooks from anyone else's.

This module is on the path of every ``git switch`` and ``git commit``: it imports only
the standard library and ``gitio`` at the top; the work of each hook lives in the
:mod:`gitml.hooks` package and is imported only when a hook runs.
"""

from __future__ import annotations

import os
import sys

from gitml import gitio
from gitml.errors import BadInputError, GitmlError

HOOKS = ("pre-commit", "post-checkout", "post-merge", "post-rewrite", "pre-push")
MARK = "# gitml-hook-shim"
CHAINED = ".gitml-chained"
ATTRIBUTES = ".gitattributes"
ATTRIBUTES_LINE = "*.gitml merge=gitml diff=gitml"
STRICT_ENV = "GITML_HOOKS_STRICT"
STRICT_GIT_KEY = "gitml.hooksStrict"
HOOK_PATH_ENV = "GITML_HOOK_PATH"  # set by the shim: where it lives, so no git call finds it

# The shim. ``{exe}`` is the gitml that installed it (a recorded absolute path is much
# faster than a PATH lookup through a version manager's shim); PATH is the fallback.
SHIM = """#!/bin/sh
{mark} v1: {name}
# Installed by 'gitml hooks install'; 'gitml hooks uninstall' removes it and restores the
# hook it replaced, if any ({name}{chained}, which 'gitml hooks run' calls first).
gitml={exe}
[ -x "$gitml" ] || gitml=$(command -v gitml) || gitml=
if [ -n "$gitml" ]; then
    {path_env}="$0" exec "$gitml" hooks run {name} "$@"
fi
echo "gitml is not installed: skipped its {name} hook (or run: gitml hooks uninstall)" >&2
case "${{{strict_env}:-$(git config --bool {strict_key} 2>/dev/null)}}" in
    1|true|yes) exit 1 ;;
esac
if [ -x "$0{chained}" ]; then exec "$0{chained}" "$@"; fi
exit 0
"""


def shim_text(name: str, exe: str = "") -> str:
    """The shim for hook ``name``; ``exe`` is the gitml executable to record ('' = PATH)."""
    import shlex

    return SHIM.format(mark=MARK, name=name, chained=CHAINED, exe=shlex.quote(exe),
                       path_env=HOOK_PATH_ENV, strict_env=STRICT_ENV, strict_key=STRICT_GIT_KEY)


def gitml_exe() -> str:
    """The absolute path of the running gitml's executable, or '' when it cannot be told."""
    beside = os.path.join(os.path.dirname(sys.executable), "gitml")
    if os.access(beside, os.X_OK):
        return beside
    import shutil

    found = shutil.which("gitml")
    return os.path.abspath(found) if found else ""


class HookState:
    """One hook in the hooks directory. ``state``: installed, outdated, foreign or missing.

    A plain class, not a dataclass: importing dataclasses costs every hook run ~8 ms.
    """

    __slots__ = ("name", "state", "path", "chained", "action")

    def __init__(self, name: str, state: str, path: str, chained: str | None = None,
                 action: str = "") -> None:
        self.name, self.state, self.path = name, state, path
        self.chained, self.action = chained, action

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}


def _is_ours(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return False
    return MARK.encode() in head


def _check_names(names: list[str] | None) -> list[str]:
    if not names:
        return list(HOOKS)
    bad = [n for n in names if n not in HOOKS]
    if bad:
        raise BadInputError(f"unknown hook {bad[0]!r} (gitml provides: {', '.join(HOOKS)})")
    return list(dict.fromkeys(names))


def _state(hooks_dir: str, name: str, exe: str) -> HookState:
    path = os.path.join(hooks_dir, name)
    chained = path + CHAINED
    ch = chained if os.path.lexists(chained) else None
    if not os.path.lexists(path):
        return HookState(name, "missing", path, ch)
    if not _is_ours(path):
        return HookState(name, "foreign", path, ch)
    with open(path, encoding="utf-8", errors="replace") as f:
        current = f.read()
    same = current in (shim_text(name, exe), shim_text(name, gitml_exe()))
    return HookState(name, "installed" if same else "outdated", path, ch)


def status(root: str) -> tuple[str, list[HookState], dict[str, bool]]:
    """(hooks dir, state of each hook, which drivers are registered)."""
    hooks_dir = gitio.hooks_dir(root)
    exe = gitml_exe()
    states = [_state(hooks_dir, n, exe) for n in HOOKS]
    return hooks_dir, states, drivers_status(root)


def install(root: str, names: list[str] | None = None) -> tuple[str, list[HookState]]:
    """Install the shims (chaining foreign hooks) and register the drivers; idempotent."""
    wanted = _check_names(names)
    hooks_dir = gitio.hooks_dir(root)
    if os.path.exists(hooks_dir) and not os.path.isdir(hooks_dir):
        raise BadInputError(f"the hooks path {hooks_dir} is not a directory (core.hooksPath?)")
    exe = gitml_exe()
    states = [_state(hooks_dir, n, exe) for n in wanted]
    for s in states:  # refuse before changing anything
        if os.path.isdir(s.path) and not os.path.islink(s.path):
            raise BadInputError(f"{s.path} is a directory, not a hook")
        if s.state == "foreign" and s.chained:
            raise BadInputError(
                f"{s.path} is not gitml's, and {s.chained} (a hook gitml chained earlier) "
                "is still there; move one of them away, then install again")
    from gitml.fsutil import atomic_write

    os.makedirs(hooks_dir, exist_ok=True)
    for s in states:
        text = shim_text(s.name, exe).encode()
        if s.state == "installed" and _read(s.path) == text:
            s.action = "unchanged"
            continue
        if s.state == "foreign":
            os.rename(s.path, s.path + CHAINED)  # kept as is: bytes, mode, even a symlink
            s.chained = s.path + CHAINED
            s.action = "installed, chaining the existing hook"
        else:
            s.action = "updated" if s.state in ("installed", "outdated") else "installed"
        atomic_write(s.path, text, mode=0o755)
        os.chmod(s.path, 0o755)  # whatever the umask says, Git only runs executable hooks
        s.state = "installed"
    register_drivers(root)
    return hooks_dir, states


def uninstall(root: str, names: list[str] | None = None, *, drivers: bool = False
              ) -> tuple[str, list[HookState]]:
    """Remove gitml's shims and put back the hooks they chained; others' hooks stay."""
    wanted = _check_names(names)
    hooks_dir = gitio.hooks_dir(root)
    exe = gitml_exe()
    states = [_state(hooks_dir, n, exe) for n in wanted]
    for s in states:
        if s.state == "foreign":
            s.action = "left alone (not gitml's)"
            continue
        if s.state != "missing":
            os.unlink(s.path)
            s.action = "removed"
        else:
            s.action = "not installed"
        if s.chained:
            os.rename(s.chained, s.path)
            s.action += ", restored the hook it had chained"
            s.chained = None
            s.state = "foreign"
        else:
            s.state = "missing"
    if drivers:
        unregister_drivers(root)
    return hooks_dir, states


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


# -- merge and diff drivers -------------------------------------------------------------------
def _driver_config() -> dict[str, str]:
    import shlex

    exe = shlex.quote(gitml_exe() or "gitml")
    return {"merge.gitml.name": "gitml pointer files",
            "merge.gitml.driver": f"{exe} hooks merge-driver %O %A %B %P",
            "diff.gitml.textconv": f"{exe} hooks diff-driver"}


def register_drivers(root: str) -> list[str]:
    """Register the drivers in .git/config and in .gitattributes; returns what changed.

    Idempotent: ``gitml init`` and ``gitml hooks install`` both call it, so a fresh clone
    (whose .git/config lacks the drivers) gets them from either.
    """
    have = gitio.config_get_all(root, r"^(merge|diff)\.gitml\.")
    changed = []
    for key, value in _driver_config().items():
        if have.get(key) != value:
            gitio.config_set(root, key, value)
            changed.append(key)
    path = os.path.join(root, ATTRIBUTES)
    data = _read(path) or b""
    lines = data.decode(errors="surrogateescape").splitlines()
    if ATTRIBUTES_LINE not in (line.strip() for line in lines):
        from gitml.fsutil import atomic_write

        sep = b"" if not data or data.endswith(b"\n") else b"\n"
        atomic_write(path, data + sep + ATTRIBUTES_LINE.encode() + b"\n")
        changed.append(ATTRIBUTES)
    return changed


def unregister_drivers(root: str) -> None:
    """Remove the drivers from .git/config (the committed .gitattributes line stays)."""
    for key in _driver_config():
        gitio.config_unset(root, key)


def drivers_status(root: str) -> dict[str, bool]:
    have = gitio.config_get_all(root, r"^(merge|diff)\.gitml\.")
    attrs = (_read(os.path.join(root, ATTRIBUTES)) or b"").decode(errors="replace")
    return {"merge": "merge.gitml.driver" in have, "diff": "diff.gitml.textconv" in have,
            "gitattributes": ATTRIBUTES_LINE in (x.strip() for x in attrs.splitlines())}


# -- running a hook ---------------------------------------------------------------------------
def strict(root: str | None) -> bool:
    """Whether hooks should fail rather than warn: $GITML_HOOKS_STRICT or gitml.hooksStrict."""
    env = os.environ.get(STRICT_ENV)
    if env is not None:
        return env.strip().lower() in ("1", "true", "yes", "on")
    if root is None:
        return False
    value = gitio.run(root, "config", "--bool", STRICT_GIT_KEY, check=False).strip()
    return value == b"true"


def say(msg: str) -> None:
    """Hook output: one line on stderr, prefixed so it is clear who speaks in git's output."""
    print(f"gitml: {msg}", file=sys.stderr, flush=True)


def run(name: str, args: list[str], *, only: set[str] | None = None,
        options: dict[str, str] | None = None) -> int:
    """Run hook ``name`` as Git would (chained hook first); returns the exit code."""
    if name not in HOOKS:
        raise BadInputError(f"unknown hook {name!r} (gitml provides: {', '.join(HOOKS)})")
    hook_path = os.environ.pop(HOOK_PATH_ENV, "")
    try:
        root = gitio.find_root()
    except GitmlError as e:
        say(f"{e}; skipped the {name} hook")
        return 1 if strict(None) else 0
    stdin = b""
    if name in ("pre-push", "post-rewrite") and not sys.stdin.isatty():
        stdin = sys.stdin.buffer.read()
    rc = _run_chained(root, name, args, stdin, hook_path)
    if rc:
        return rc
    if not os.path.isdir(os.path.join(root, ".gitml")):
        say(f"no .gitml/ in {root}: skipped the {name} hook (run 'gitml init', or: "
            "gitml hooks uninstall)")
        return 1 if strict(root) else 0
    args = args or _pre_commit_framework_args(name)
    from gitml.hooks import handler  # the work itself: only now

    return handler(name)(root, args, stdin, only or set(), options or {})


def _run_chained(root: str, name: str, args: list[str], stdin: bytes, hook_path: str) -> int:
    """Run the hook gitml replaced, when there is one, with Git's arguments and input."""
    if hook_path:
        chained = hook_path + CHAINED
    else:  # run by hand or by the pre-commit framework: ask Git where hooks live
        chained = os.path.join(gitio.hooks_dir(root), name + CHAINED)
    if not (os.path.isfile(chained) and os.access(chained, os.X_OK)):
        return 0
    import subprocess

    sys.stderr.flush()
    sys.stdout.flush()
    if name in ("pre-push", "post-rewrite"):
        return subprocess.run([chained, *args], input=stdin).returncode
    return subprocess.run([chained, *args]).returncode


def _pre_commit_framework_args(name: str) -> list[str]:
    """The pre-commit framework passes Git's hook arguments as PRE_COMMIT_* variables."""
    env = os.environ.get
    if name == "post-checkout" and env("PRE_COMMIT_TO_REF"):
        return [env("PRE_COMMIT_FROM_REF") or "", env("PRE_COMMIT_TO_REF") or "",
                env("PRE_COMMIT_CHECKOUT_TYPE") or "1"]
    if name == "post-merge" and env("PRE_COMMIT_IS_SQUASH_MERGE"):
        return [env("PRE_COMMIT_IS_SQUASH_MERGE") or "0"]
    if name == "post-rewrite" and env("PRE_COMMIT_REWRITE_COMMAND"):
        return [env("PRE_COMMIT_REWRITE_COMMAND") or ""]
    if name == "pre-push" and env("PRE_COMMIT_REMOTE_NAME"):
        return [env("PRE_COMMIT_REMOTE_NAME") or "", env("PRE_COMMIT_REMOTE_URL") or ""]
    return []
