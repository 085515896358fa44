"""Every call into Git goes through here.

Start-up matters, so this module talks to the ``git`` binary through plumbing
(``rev-parse``, ``ls-files``, ``ls-tree``, ``cat-file --batch``); other repositories
are cloned, fetched and listed the same way (``clone --bare``, ``fetch``, ``ls-remote``),
with every URL after ``--`` and the ``ext::`` transport off.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator

from gitml.errors import GitError, NotARepoError

# Variables a hook or an outer git process may set that would point us at another repo.
_GIT_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX",
                 "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES")


def git_env(keep_index: bool = False) -> dict[str, str]:
    drop = [k for k in _GIT_ENV_DROP if k != "GIT_INDEX_FILE"] if keep_index else _GIT_ENV_DROP
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    return env


def find_root(start: str | None = None) -> str:
    """The top of the Git work tree containing ``start`` (no subprocess)."""
    path = os.path.abspath(start or os.getcwd())
    while True:
        if os.path.exists(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            raise NotARepoError(
                f"not a Git repository: {start or os.getcwd()} (run 'git init' first)")
        path = parent


def common_root(root: str) -> str:
    """The main work tree of ``root`` (differs from ``root`` inside a linked worktree)."""
    dotgit = os.path.join(root, ".git")
    if os.path.isdir(dotgit):
        return root
    try:
        with open(dotgit) as f:
            gitdir = f.read().strip().removeprefix("gitdir:").strip()
    except OSError:
        return root
    gitdir = os.path.normpath(os.path.join(root, gitdir))
    try:
        with open(os.path.join(gitdir, "commondir")) as f:
            common = os.path.normpath(os.path.join(gitdir, f.read().strip()))
    except OSError:
        return root
    return os.path.dirname(common) if os.path.basename(common) == ".git" else root


def run(root: str, *args: str, input: bytes | None = None, check: bool = True,
        keep_index: bool = False, env: dict[str, str] | None = None) -> bytes:
    """Run ``git args`` in ``root``; a failure becomes a one-line :class:`GitError`.

    ``keep_index``: honour ``GIT_INDEX_FILE`` (a pre-commit hook during ``git commit -a``
    must read the index Git is about to commit, not the default one). ``env``: extra
    variables (e.g. a temporary ``GIT_INDEX_FILE``).
    """
    full_env = git_env(keep_index)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(["git", *args], cwd=root, input=input, capture_output=True,
                              env=full_env)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]}: {msg[-1] if msg else 'failed'}")
    return proc.stdout


def rev_parse(root: str, rev: str) -> str:
    """The commit SHA of ``rev``; an unknown revision is a clear error."""
    if rev.startswith("-"):
        raise unknown_revision(root, rev)
    out = run(root, "rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}",
              check=False)
    sha = out.decode().strip()
    if not sha and rev:  # ':/message' and other forms that take no suffix: resolve, then peel
        out = run(root, "rev-parse", "--verify", "--quiet", "--end-of-options", rev,
                  check=False).decode().strip()
        if out:
            sha = run(root, "rev-parse", "--verify", "--quiet", out + "^{commit}",
                      check=False).decode().strip()
    if not sha:
        raise unknown_revision(root, rev)
    return sha


def no_commit_yet(root: str) -> bool:
    """True in a repository without any commit (HEAD unborn, no branch, no tag)."""
    head = run(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    return not head.strip() and not run(root, "for-each-ref", "--count=1", "refs/heads/",
                                        "refs/tags/", check=False).strip()


def unknown_revision(root: str, rev: str) -> GitError:
    """The error for a revision that does not resolve; it says when there is no commit at all
    (a fresh ``git init``), where 'unknown revision HEAD' alone would puzzle."""
    if no_commit_yet(root):
        return GitError(f"unknown revision {rev!r}: the repository has no commit yet")
    return GitError(f"unknown revision {rev!r}")


def tracked(root: str, paths: Iterable[str]) -> list[str]:
    """Which of ``paths`` (or files below them) Git tracks, relative to ``root``."""
    paths = list(paths)
    if not paths:
        return []
    out = run(root, "ls-files", "-z", "--", *[":(literal)" + p for p in paths])
    return [p for p in out.decode().split("\0") if p]


def workspace_pointers(root: str) -> list[str]:
    """Pointer files in the work tree: tracked, staged or untracked-but-not-ignored."""
    out = run(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
              "--deduplicate", "--", ":(glob)**/*.gitml")
    return sorted({p for p in out.decode().split("\0") if p.endswith(".gitml")
                   and os.path.isfile(os.path.join(root, p))})


def tree_pointers(root: str, rev: str) -> list[tuple[str, str]]:
    """(path, blob sha) of every pointer file in the tree of ``rev``."""
    sha = rev_parse(root, rev)
    out = run(root, "ls-tree", "-r", "-z", "--full-tree", sha)
    result = []
    for rec in out.decode().split("\0"):
        if rec.endswith(".gitml"):
            meta, _, path = rec.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob":
                result.append((path, parts[2]))
    return result


def all_pointer_blobs(root: str) -> list[tuple[str, str]]:
    """(path, blob sha) of every pointer in any commit reachable from a ref or reflog.

    One ``rev-list --objects`` pass; Git reports each distinct blob once.
    """
    out = run(root, "rev-list", "--objects", "--all", "--reflog", "--indexed-objects")
    result = []
    for line in out.decode(errors="surrogateescape").splitlines():
        sha, _, path = line.partition(" ")
        if path.endswith(".gitml"):
            result.append((path, sha))
    return result


def for_each_ref(root: str, pattern: str | list[str], fields: list[str]) -> list[list[str]]:
    """One ``git for-each-ref`` call: a list of field values per ref under ``pattern``
    (or under any of several patterns).

    ``fields`` are format atoms (``%(refname)``, ``%(contents)`` ...); fields are
    NUL-separated so multi-line values such as tag messages arrive intact.
    """
    fmt = "%00".join(fields) + "%00"
    patterns = [pattern] if isinstance(pattern, str) else pattern
    out = run(root, "for-each-ref", f"--format={fmt}", *patterns).decode(errors="replace")
    parts = out.split("\0")
    n = len(fields)
    rows = []
    for i in range(0, len(parts) - 1, n):
        rec = parts[i:i + n]
        rec[0] = rec[0].lstrip("\n")  # the newline git writes after each record
        rows.append(rec)
    return rows


def create_tag(root: str, name: str, commit: str, message: str,
               date: str | None = None) -> None:
    """``git tag -a NAME COMMIT``; the message is kept as written (a line starting with
    ``#`` too); ``date`` (``"<unix seconds> <+hhmm>"``) sets the tagger date."""
    env = git_env()
    if date:
        env["GIT_COMMITTER_DATE"] = date
    proc = subprocess.run(["git", "tag", "-a", "--cleanup=whitespace", "-F", "-", name, commit],
                          cwd=root, input=message.encode(), capture_output=True, env=env)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git tag: {msg[-1] if msg else 'failed'}")


# -- hooks and drivers (issue 7) ------------------------------------------------------------
def hooks_dir(root: str) -> str:
    """The directory Git runs hooks from (``core.hooksPath`` when set), absolute."""
    out = run(root, "rev-parse", "--git-path", "hooks").decode().strip()
    return os.path.normpath(os.path.join(root, out))


def config_get_all(root: str, regex: str) -> dict[str, str]:
    """Local-and-inherited Git config entries whose names match ``regex``."""
    out = run(root, "config", "-z", "--get-regexp", regex, check=False).decode()
    items = {}
    for rec in out.split("\0"):
        if rec:
            key, _, value = rec.partition("\n")
            items[key] = value
    return items


def config_set(root: str, key: str, value: str) -> None:
    """Set ``key`` in the repository's own Git config (.git/config)."""
    run(root, "config", "--local", key, value)


def config_unset(root: str, key: str) -> None:
    run(root, "config", "--local", "--unset-all", key, check=False)


def diff_names(root: str, old: str, new: str | None, pathspec: str) -> list[str]:
    """Paths matching ``pathspec`` that differ between two commits (``new=None``: the index)."""
    revs = [old, new] if new else ["--cached", old]
    out = run(root, "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", *revs,
              "--", pathspec, keep_index=True)
    return [p for p in out.decode(errors="surrogateescape").split("\0") if p]


def staged(root: str) -> list[tuple[str, str, str]]:
    """(path, mode, blob sha) of every file the next commit adds or changes."""
    # Against HEAD, or against nothing on an unborn branch (git diff --cached does both).
    out = run(root, "diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames",
              "--no-ext-diff", "--diff-filter=AMT", keep_index=True)
    parts = out.decode(errors="surrogateescape").split("\0")
    result = []
    for i in range(0, len(parts) - 1, 2):
        meta = parts[i].split()
        if len(meta) >= 5:
            result.append((parts[i + 1], meta[1], meta[3]))
    return result


def index_paths(root: str, pathspec: str) -> list[str]:
    """Paths in the index (the one ``GIT_INDEX_FILE`` names, in a hook) matching ``pathspec``."""
    out = run(root, "ls-files", "-z", "--", pathspec, keep_index=True)
    return [p for p in out.decode(errors="surrogateescape").split("\0") if p]


def object_sizes(root: str, shas: Iterable[str]) -> dict[str, int]:
    """Size in bytes of each object that exists, in one ``cat-file --batch-check``."""
    shas = list(dict.fromkeys(shas))
    if not shas:
        return {}
    out = run(root, "cat-file", "--batch-check", input="".join(s + "\n" for s in shas).encode())
    sizes = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            sizes[parts[0]] = int(parts[2])
    return sizes


def new_pointer_blobs(root: str, include: list[str], exclude: list[str]
                      ) -> list[tuple[str, str]]:
    """(path, blob sha) of pointers reachable from ``include`` but not from ``exclude``.

    ``exclude`` items are revisions or ``--remotes=NAME``; one ``rev-list --objects`` pass.
    """
    if not include:
        return []
    args = [*include, "--not", *exclude] if exclude else include
    out = run(root, "rev-list", "--objects", *args)
    result = []
    for line in out.decode(errors="surrogateescape").splitlines():
        sha, _, path = line.partition(" ")
        if path.endswith(".gitml"):
            result.append((path, sha))
    return result


# -- other repositories: remotes, URLs (issue 18) -------------------------------------------
# A URL or remote name from the user or from a stranger's file is passed after "--" or as a
# value, never where Git would read an option; the ext:: transport (runs a command) is off.
_SAFE = ("-c", "protocol.ext.allow=never")


def ls_remote(root: str, remote: str, patterns: list[str]) -> list[tuple[str, str]]:
    """(sha, ref) of the refs of ``remote`` (a remote name or URL) matching ``patterns``:
    one round trip, nothing fetched. An annotated tag gives the commit it points at."""
    out = run(root, *_SAFE, "ls-remote", "--", remote, *patterns)
    found: dict[str, str] = {}
    for line in out.decode(errors="surrogateescape").splitlines():
        sha, _, ref = line.partition("\t")
        if ref.endswith("^{}"):
            found[ref[:-3]] = sha  # peeled: replaces the tag object's id
        elif ref:
            found.setdefault(ref, sha)
    return [(sha, ref) for ref, sha in found.items()]


def fetch_refs(root: str, remote: str, refspecs: list[str]) -> None:
    """``git fetch REMOTE REFSPECS`` without tags: only what is named."""
    if refspecs:
        run(root, *_SAFE, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--",
            remote, *refspecs)


def push_refs(root: str, remote: str, refspecs: list[str]) -> None:
    """``git push REMOTE REFSPECS`` (a leading ``+`` forces one)."""
    if refspecs:
        run(root, *_SAFE, "push", "--quiet", "--", remote, *refspecs)


def is_ancestor(root: str, a: str, b: str) -> bool:
    """Commit ``a`` is ``b`` or an ancestor of it (``b`` is a fast-forward of ``a``)."""
    proc = subprocess.run(["git", "merge-base", "--is-ancestor", a, b], cwd=root,
                          capture_output=True, env=git_env())
    return proc.returncode == 0


def is_remote(root: str, name: str) -> bool:
    """``name`` is a remote of this repository (``git remote``)."""
    out = run(root, "remote", check=False)
    return name in out.decode(errors="surrogateescape").split()


def worktrees(root: str) -> list[str]:
    """Paths of every work tree of the repository, the main one first."""
    out = run(root, "worktree", "list", "--porcelain", "-z")
    return [rec[len("worktree "):] for rec in out.decode().split("\0")
            if rec.startswith("worktree ")]


class BatchReader:
    """One long-lived ``git cat-file --batch`` process for reading many blobs."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", "cat-file", "--batch"], cwd=self.root, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, env=git_env())
        return self._proc

    def read(self, spec: str) -> bytes | None:
        """The content of a blob (``sha`` or ``rev:path``), or None when it does not exist."""
        obj = self.read_object(spec)
        return obj[2] if obj is not None and obj[1] == "blob" else None

    def read_object(self, spec: str, limit: int | None = None
                    ) -> tuple[str, str, bytes | None, int] | None:
        """(sha, type, content, size) of any object (``rev^{commit}``, ``rev:dir``, ...).

        None when it does not exist. Content larger than ``limit`` bytes is drained from
        the pipe in chunks and returned as None, so a huge blob never sits in memory.
        """
        if "\n" in spec:
            raise GitError(f"invalid object name {spec!r}")
        proc = self._start()
        assert proc.stdin and proc.stdout
        proc.stdin.write(spec.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline()
        if not header or header.endswith(b" missing\n") or header.endswith(b" ambiguous\n"):
            return None
        parts = header.split()
        size = int(parts[2])
        if limit is not None and size > limit:
            left = size + 1
            while left:
                left -= len(proc.stdout.read(min(left, 1 << 20)))
            return parts[0].decode(), parts[1].decode(), None, size
        data = proc.stdout.read(size + 1)[:-1]
        return parts[0].decode(), parts[1].decode(), data, size

    def read_commit(self, rev: str) -> tuple[str, bytes] | None:
        """(sha, raw commit) of any revision ``git rev-parse`` resolves (``main~3``,
        ``v1.0^``, ``@{-1}``, ``HEAD@{2}``, ``:/message``), tags peeled; None if none."""
        if not rev or rev.startswith("-") or "\n" in rev:
            return None
        obj = self.read_object(rev + "^{commit}")
        if obj is None:  # ':/message' takes no suffix: resolve it, then peel
            found = self.read_object(rev, limit=0)
            obj = self.read_object(found[0] + "^{commit}") if found else None
        if obj is None or obj[1] != "commit" or not obj[2]:
            return None
        return obj[0], obj[2]

    def read_many(self, specs: list[str]) -> Iterator[tuple[str, bytes | None]]:
        for spec in specs:
            yield spec, self.read(spec)

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.stdin:
                self._proc.stdin.close()
            self._proc.wait()
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None

    def __enter__(self) -> BatchReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_tree(data: bytes, oid_len: int = 20) -> Iterator[tuple[str, str, str]]:
    """(mode, name, hex sha) of each entry of a raw tree object (``oid_len``: 20 for SHA-1)."""
    pos, end = 0, len(data)
    while pos < end:
        nul = data.index(b"\0", pos)
        mode, _, name = data[pos:nul].partition(b" ")
        pos = nul + 1 + oid_len
        yield (mode.decode(), name.decode(errors="surrogateescape"),
               data[nul + 1:pos].hex())

