"""Hook workloads (issue 7): what the Git hooks add to `git switch` and `git commit` in a
repository tracking 100,000 files; gitml's hooks against DVC's (`dvc install`)."""

from __future__ import annotations

from pathlib import Path

import harness
from bench_core import N_FILES, small_tree
from harness import DVC, DVC_VENV, GITML, WORK, Bench, sh, trash, workload

NO_HOOKS = "git -c core.hooksPath=/dev/null"
DVC_PATH = f"PATH={DVC_VENV / 'bin'}:$PATH"  # DVC's hooks call `dvc` from PATH


def hooked_repo(tool: str, bench: Bench) -> Path:
    """Built once: `tree/` (100,000 files) tracked, hooks installed, branches main and feat
    that differ in code only."""
    root = WORK / f"{tool}-hooks-{N_FILES}"
    if (root / ".ready").exists():
        return root
    trash(root)
    root.mkdir(parents=True)
    env = bench.env
    sh(f"git init -q && cp -r {small_tree()} tree", root, env)
    if tool == "gitml":
        sh(f"{GITML} init -q && {GITML} config core.link copy && {GITML} add -q tree && "
           f"{GITML} hooks install", root, env)
    else:
        sh(f"{DVC} init -q && {DVC} config cache.type copy && {DVC} add -q tree && "
           f"{DVC} install", root, env)
    sh(f"echo 'v = 1' > code.py && git add -A && {NO_HOOKS} commit -q --no-verify -m data && "
       f"{NO_HOOKS} switch -q -c feat && echo 'v = 2' > code.py && "
       f"{NO_HOOKS} commit -q --no-verify -am feat && {NO_HOOKS} switch -q main", root, env)
    if tool == "gitml":
        sh(f"{GITML} status -q", root, env)  # a warm stat cache, as on a developer's machine
    else:
        sh(f"{DVC} status -q || true", root, env)
    (root / ".ready").touch()
    return root


@workload("hooks.post_checkout")
def post_checkout(bench: Bench) -> None:
    """`git switch` to a branch with the same data: the hook must cost almost nothing."""
    def on_main(tool: str):
        def fn() -> Path:
            root = hooked_repo(tool, bench)
            sh(f"{NO_HOOKS} switch -q --discard-changes main", root, bench.env)
            return root
        return fn

    tools = {"git switch, no hooks": (on_main("gitml"), f"{NO_HOOKS} switch -q feat"),
             "git switch + gitml hooks": (on_main("gitml"), "git switch -q feat")}
    if bench.with_dvc:
        tools["git switch + dvc hooks"] = (on_main("dvc"), f"{DVC_PATH} git switch -q feat")
    bench.compare(f"git switch, no data changed ({N_FILES:,} files tracked)", tools,
                  target="gitml hook adds <= 0.150 s")


@workload("hooks.pre_commit")
def pre_commit(bench: Bench) -> None:
    """The pre-commit hook for a code change while 100,000 tracked files are unchanged."""
    n = [0]

    def staged(tool: str):
        def fn() -> Path:
            root = hooked_repo(tool, bench)
            n[0] += 1
            sh(f"echo 'v = {n[0]}' > code.py && git add code.py", root, bench.env)
            return root
        return fn

    tools = {"gitml hooks run pre-commit": (staged("gitml"), f"{GITML} hooks run pre-commit")}
    if bench.with_dvc:
        tools["dvc git-hook pre-commit"] = (staged("dvc"), f"{DVC} git-hook pre-commit")
    bench.compare(f"pre-commit hook, nothing changed ({N_FILES:,} files tracked)", tools,
                  target="gitml <= 1 s")
    commit = {"git commit, no hooks": (staged("gitml"),
                                       f"{NO_HOOKS} commit -q --no-verify -m c && "
                                       f"{NO_HOOKS} reset -q --soft HEAD~1"),
              "git commit + gitml hooks": (staged("gitml"), "git commit -q -m c && "
                                           f"{NO_HOOKS} reset -q --soft HEAD~1")}
    if bench.with_dvc:
        commit["git commit + dvc hooks"] = (staged("dvc"), f"{DVC_PATH} git commit -q -m c && "
                                            f"{NO_HOOKS} reset -q --soft HEAD~1")
    bench.compare(f"git commit of a code change ({N_FILES:,} files tracked)", commit,
                  target="gitml hook adds <= 1 s")


__all__ = ["harness"]
