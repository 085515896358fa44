"""The pre-commit hook: a commit must not point at data that was never stored.

Checks (each can be run alone with ``--only``, as the pre-commit framework hook ids do):

- ``pointers``: every staged pointer parses, names objects the store has, and matches
  the data in the workspace; tracked data changed but not ``gitml add``-ed is reported
  (a warning, or a refusal in strict mode).
- ``large-files``: no file larger than ``hooks.max_file_size`` (default 5 MiB) goes
  into Git itself.
- ``tracked-paths``: no gitml-tracked path, nor a file inside a tracked directory, is
  staged (``git add -f``).
- ``data-checks``: the data checks ``gitml.yaml`` declares pass on the data this
  commit changes (``gitml data check``).
- ``secrets``: no staged text file holds a credential: a key such as
  ``secret_access_key``, ``session_token``, ``password`` or ``token`` with a literal value
  (YAML, JSON, ini or env style; ``${VAR}``-like placeholders pass), and never
  ``.gitml/config.local.yaml`` itself.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitml import gitio, pointer
from gitml.errors import ConfigError, GitmlError
from gitml.githooks import say, strict
from gitml.hooks import human
from gitml.hooks.settings import parse_size

if TYPE_CHECKING:
    from gitml.repo import Repo

CHECKS = ("pointers", "large-files", "tracked-paths", "data-checks", "secrets")
DEFAULT_MAX_FILE_SIZE = 5 << 20  # 5 MiB
_FILE_MODES = ("100644", "100755", "120000")


@dataclass(frozen=True)
class Problem:
    """Something that stops the commit: the path and what to do about it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def run(root: str, args: list[str], stdin: bytes, only: set[str],
        options: dict[str, str]) -> int:
    from gitml.repo import Repo

    with Repo(root) as repo:
        problems, notes = check(repo, only or set(CHECKS), options.get("max_file_size"))
    for note in notes:
        say(note)
    if not problems:
        return 0
    say(f"commit refused, {len(problems)} problem{'s' * (len(problems) != 1)}:")
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    say("fix them, or skip these checks once with: git commit --no-verify")
    return 1


def check(repo: Repo, checks: set[str], max_file_size: str | int | None = None
          ) -> tuple[list[Problem], list[str]]:
    """(problems that refuse the commit, notes) for what is staged now."""
    root = repo.root
    staged = gitio.staged(root)
    ptrs = [(p, sha) for p, mode, sha in staged
            if p.endswith(pointer.SUFFIX) and mode in _FILE_MODES]
    files = [(p, sha) for p, mode, sha in staged
             if not p.endswith(pointer.SUFFIX) and mode in _FILE_MODES]
    problems: list[Problem] = []
    notes: list[str] = []
    flagged: set[str] = set()
    if "tracked-paths" in checks and files:
        problems += _tracked_paths(root, [p for p, _ in files], flagged)
    if "large-files" in checks and files:
        if max_file_size is None:
            try:
                limit = parse_size(repo.config.get("hooks.max_file_size", DEFAULT_MAX_FILE_SIZE))
            except ConfigError as e:
                raise ConfigError(f"config hooks.max_file_size: {e}") from None
        else:
            limit = parse_size(max_file_size)
        problems += _large_files(root, [f for f in files if f[0] not in flagged], limit)
    if "pointers" in checks:
        problems += _pointers(repo, ptrs, notes)
    if "data-checks" in checks:
        problems += _data_checks(repo, staged)
    if "secrets" in checks and files:
        problems += _secrets(root, files)
    return problems, notes


_SECRET_SCAN_MAX = 1 << 20  # larger staged files are not scanned (large-files covers them)
# a credential key, then ':' or '=', then a literal value of 8+ characters (not a
# placeholder such as ${VAR}, $VAR, <...>, {{...}}, %(x)s, ****)
_SECRET = re.compile(
    rb"""^[ \t]*(?:export[ \t]+)?["']?((?:aws_)?secret_access_key|(?:aws_)?session_token"""
    rb"""|password|passwd|token|access_token|api_key|apikey|client_secret|private_key)"""
    rb"""["']?[ \t]*[:=][ \t]*["']?(?![$<{%*])([^\s"'#,}]{8,})""", re.M | re.I)
_LOCAL_CONFIG = ".gitml/config.local.yaml"


def _secrets(root: str, files: list[tuple[str, str]]) -> list[Problem]:
    """Staged files that hold a credential (the key is named, never the value)."""
    out = []
    for path, _ in files:
        if path == _LOCAL_CONFIG or path.endswith("/" + _LOCAL_CONFIG):
            out.append(Problem(path, "is gitml's machine-local config (credentials): never "
                                     f"commit it; git rm --cached {shlex.quote(path)} and "
                                     "check that .gitml/.gitignore lists config.local.yaml"))
    sizes = gitio.object_sizes(root, [sha for _, sha in files])
    scan = [(p, sha) for p, sha in files if 0 < sizes.get(sha, 0) <= _SECRET_SCAN_MAX
            and not any(pr.path == p for pr in out)]
    if not scan:
        return out
    with gitio.BatchReader(root) as reader:
        for path, sha in scan:
            data = reader.read(sha) or b""
            if b"\0" in data[:8192]:
                continue  # binary
            m = _SECRET.search(data)
            if m:
                line = data.count(b"\n", 0, m.start()) + 1
                key = m.group(1).decode("ascii", "replace")
                out.append(Problem(path, f"line {line} holds a credential ({key}); keep it out "
                                         f"of Git (gitml remote modify --local NAME {key} "
                                         f"--stdin, or an environment variable), unstage the "
                                         f"file, or commit with --no-verify if it is a sample"))
    return out


def _tracked_paths(root: str, paths: list[str], flagged: set[str]) -> list[Problem]:
    """Staged files that gitml tracks, or that sit inside a directory gitml tracks."""
    tracked = {p[: -len(pointer.SUFFIX)] for p in gitio.index_paths(root, "*" + pointer.SUFFIX)}
    out = []
    for path in paths:
        owner = path
        while owner:
            if owner in tracked or os.path.isfile(os.path.join(root, owner + pointer.SUFFIX)):
                break
            owner = owner.rpartition("/")[0]
        if not owner:
            continue
        flagged.add(path)
        q = shlex.quote(path)
        if owner == path:
            msg = f"is tracked by gitml ({owner}{pointer.SUFFIX}); unstage it: git rm --cached {q}"
        else:
            msg = (f"is inside {owner}, a directory tracked by gitml; unstage it: "
                   f"git rm --cached {q}")
        out.append(Problem(path, msg))
    return out


def _large_files(root: str, files: list[tuple[str, str]], limit: int) -> list[Problem]:
    if not limit or not files:
        return []
    sizes = gitio.object_sizes(root, [sha for _, sha in files])
    out = []
    for path, sha in files:
        size = sizes.get(sha, 0)
        if size > limit:
            q = shlex.quote(path)
            out.append(Problem(path, f"{human(size)} staged into Git (limit {human(limit)}, "
                                     f"hooks.max_file_size); store it with gitml instead: "
                                     f"git rm --cached {q} && gitml add {q}"))
    return out


def _pointers(repo: Repo, staged: list[tuple[str, str]], notes: list[str]) -> list[Problem]:
    """Staged pointers: valid, stored, and what the workspace holds; plus unstored changes."""
    out: list[Problem] = []
    ok: dict[str, bytes] = {}  # staged pointer path -> its bytes, when valid and stored
    if staged:
        with gitio.BatchReader(repo.root) as reader:
            for path, sha in staged:
                data = reader.read(sha) or b""
                problem = _stored(repo, path, data)
                if problem:
                    out.append(problem)
                else:
                    ok[path] = data
    try:
        states = {s.path: s for s in repo.status()}
    except GitmlError as e:
        if getattr(e, "path", None) not in {p.path for p in out}:  # not said already
            (out.append(Problem("tracked data", str(e))) if strict(repo.root)
             else notes.append(f"could not check tracked data: {e}"))
        return out
    unstored = []
    for path, data in ok.items():
        rel = path[: -len(pointer.SUFFIX)]
        try:
            with open(repo.abspath(path), "rb") as f:
                current = f.read()
        except FileNotFoundError:
            continue
        q = shlex.quote(path)
        if current != data:
            out.append(Problem(path, f"differs from the pointer in the workspace (gitml add ran "
                                     f"again after git add?); stage it again: git add {q}"))
        elif rel in states and states[rel].state == "modified":
            out.append(Problem(rel, "changed since 'gitml add'; store the change: "
                                    f"gitml add {shlex.quote(rel)} && git add {q}"))
    said = {path for path, _ in staged}
    for rel, s in states.items():
        if s.state == "modified" and rel + pointer.SUFFIX not in said:
            unstored.append(rel)
    if unstored:
        if strict(repo.root):
            out += [Problem(r, f"has changes that are not stored: gitml add {shlex.quote(r)}")
                    for r in unstored]
        else:
            shown = ", ".join(unstored[:5]) + (" ..." if len(unstored) > 5 else "")
            notes.append(f"note: tracked data changed but not stored (not part of this commit): "
                         f"{shown}; store it with: gitml add PATH")
    return out


def _stored(repo: Repo, path: str, data: bytes) -> Problem | None:
    """A problem when the staged pointer is malformed or names data the store lacks."""
    try:
        ptr = pointer.load_at(data, path)
    except GitmlError as e:
        return Problem(path, f"not a valid pointer: {getattr(e, 'problem', e)}")
    rel = path[: -len(pointer.SUFFIX)]
    hint = f"run: gitml add {shlex.quote(rel)} (or gitml pull, if the data is on a remote)"
    store = repo.store
    if not store.has(ptr.oid):
        return Problem(path, f"names {ptr.oid}, which is not in the store; {hint}")
    if not ptr.is_dir:
        return None
    from gitml import manifest

    try:
        entries = manifest.loads(store.read_bytes(ptr.oid, what=rel), f"manifest of {rel}")
    except GitmlError as e:
        return Problem(path, str(e))
    missing = [e.path for e in entries if not store.has(e.oid)]
    if missing:
        return Problem(path, f"{len(missing)} of {len(entries)} files are not in the store "
                             f"(first: {rel}/{missing[0]}); {hint}")
    return None


def _data_checks(repo: Repo, staged: list[tuple[str, str, str]]) -> list[Problem]:
    """Run the checks of gitml.yaml on the data this commit changes (all when it changes them)."""
    from gitml import project

    try:
        declared = project.load(repo).get("checks")
    except GitmlError as e:
        return [Problem(project.PROJECT_FILE, str(e))]
    if not declared:
        return []
    paths = [p for p, _, _ in staged]
    if project.PROJECT_FILE in paths:
        targets = None
    else:  # a commit that touches no checked data runs no check, and reads no table
        targets = [repo.abspath(p[: -len(pointer.SUFFIX)] if p.endswith(pointer.SUFFIX) else p)
                   for p in paths]
        if not targets:
            return []
    from gitml.tabular.checks import run_checks

    try:
        report = run_checks(repo, targets)
    except GitmlError as e:
        return [Problem("data checks", str(e))]
    return [Problem(f.path, f"data check failed: {r.describe or r.rule}: {r.message}")
            for f in report.files for r in f.results if not r.ok]
