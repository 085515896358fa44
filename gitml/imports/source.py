"""Another repository, read as data from a stranger.

A URL is any Git URL (a path, ``file://``, ``ssh://`` or ``host:path``, ``https://``,
``git://``). Its history is kept in a bare clone in the user's cache
(``$XDG_CACHE_HOME/gitml/repos/<hash of the URL>.git``), made once and brought up to date
with one ``git fetch`` of its branches and tags when a revision is asked for that is not
a commit already there. Nothing of it runs: a bare clone has no checkout (no filters),
Git is driven through plumbing with the ``ext::`` transport off and every URL after
``--``. Its gitml settings are read from the resolved commit's committed
``.gitml/config.yaml`` (its default branch's when that commit names no default remote:
remotes are often added after the data) through the bounded YAML loader; only
``core.remote`` and the ``remote.*`` keys that say where its objects are (url,
endpoint_url, region, addressing_style, jobs, retries) are kept, validated as this
repository's own. Never its
credentials, never ``profile``: requests are signed with this user's AWS chain, or the
credentials of a remote of this repository with the same URL.

:class:`Source` is a :class:`~gitml.repo.Repo` whose root is the bare clone, whose config
is that in-memory view and whose store the caller chooses (this repository's for an
import, a temporary one for ``get``), so the readers and the transfer engine work on it
unchanged.
"""

from __future__ import annotations

import os
import re
import shutil
from functools import cached_property
from typing import TYPE_CHECKING, Any

import xxhash

from gitml import gitio, yamlio
from gitml.config import Config
from gitml.errors import BadInputError, GitError, GitmlError
from gitml.fsutil import FileLock, tmp_name
from gitml.repo import Repo

if TYPE_CHECKING:
    from gitml.remotes.select import Selection
    from gitml.remotes.transfer import TransferResult
    from gitml.store import Store

CACHE_ENV = "GITML_REPO_CACHE"  # where the clones go (default: the user's cache)
_SCHEMES = ("file", "ssh", "git", "http", "https", "git+ssh", "ssh+git")
_KEEP = ("url", "endpoint_url", "region", "addressing_style", "jobs", "retries")
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_SCP = re.compile(r"^[A-Za-z0-9._~-]+(@[A-Za-z0-9._~-]+)?:[^/\\]")  # host:path, user@host:path
_SAFE = ("-c", "protocol.ext.allow=never", "-c", "core.hooksPath=/dev/null")


def cache_root() -> str:
    base = os.environ.get(CACHE_ENV)
    if base:
        return base
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "gitml", "repos")


def check_text(value: Any, what: str) -> str:
    """A URL or revision from a user or a stranger's file: a string Git cannot take for an
    option, without control characters."""
    if not isinstance(value, str) or not value or value.startswith("-") \
            or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadInputError(f"invalid {what} {value!r}")
    return value


def normalize(url: str) -> tuple[str, str | None]:
    """(the URL Git is given, the source's work tree when it is a local directory)."""
    check_text(url, "repository URL")
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*::", url):  # Git's <transport>::<address>
        raise BadInputError(f"unsupported repository URL {url!r}: remote helpers "
                            "(transport::address) are not used")
    if "://" in url:
        scheme = url.partition("://")[0].lower()
        if scheme not in _SCHEMES:
            raise BadInputError(f"unsupported repository URL {url!r}: use a path, file://, "
                                "ssh://, https:// or git://")
        if scheme == "file":
            return url, _work_tree(url[len("file://"):])
        return url, None
    if _SCP.match(url) and not os.path.exists(url):
        return url, None  # git@host:org/repo.git
    path = os.path.abspath(os.path.expanduser(url))
    if not os.path.isdir(path):
        raise BadInputError(f"no repository at {url}")
    return path, _work_tree(path)


def _work_tree(path: str) -> str | None:
    return path if os.path.exists(os.path.join(path, ".git")) else None


class Source(Repo):
    """Another repository at one commit (see the module docstring)."""

    def __init__(self, url: str, *, store: Store | None = None, lend: Repo | None = None
                 ) -> None:  # noqa: D107 - Repo's __init__ is not wanted here
        self.url, self.work_tree = normalize(url)
        key = xxhash.xxh3_64_hexdigest(self.url.encode("utf-8", "surrogateescape"))
        self.root = os.path.join(cache_root(), key + ".git")  # a bare clone: git runs here
        self.gitml_dir = os.path.join(self.root, "gitml")  # our memo; Git ignores it
        self.commit = ""
        self.rev: str | None = None
        self._lend = lend
        self._unreachable: dict[str, str] = {}  # remote name -> why it cannot be read
        if store is not None:
            self.__dict__["store"] = store

    @cached_property
    def store(self) -> Store:
        """Unless the caller gave one: a store beside the clone (manifests, small reads)."""
        from gitml.store import Store

        return Store(os.path.join(self.gitml_dir, "cache"))

    # -- Git ----------------------------------------------------------------------------
    def resolve(self, rev: str | None = None) -> str:
        """Clone or update the cache as needed; the commit ``rev`` (None: the default
        branch) names there. An unknown revision is one clear error."""
        if rev is not None:
            check_text(rev, "revision")
        os.makedirs(os.path.dirname(self.root), exist_ok=True)
        with FileLock(self.root + ".lock", timeout=600, what="repository cache"):
            if not os.path.exists(os.path.join(self.root, "HEAD")):
                self._clone()
            elif not (rev and _SHA.fullmatch(rev) and self._commit_of(rev)):
                self._fetch()
            sha = self._commit_of(rev or "HEAD")
            if sha is None and rev and re.fullmatch(r"[0-9a-f]{7,64}", rev):
                self._git("fetch", "--quiet", "origin", rev, check=False)  # an unlisted commit
                sha = self._commit_of(rev)
        if sha is None:
            raise BadInputError(f"{self.url} has no revision {rev!r}" if rev else
                                f"{self.url} has no commit on its default branch")
        self.commit, self.rev = sha, rev
        config = self._config(sha)
        if config.get("core.remote") is None:  # an old revision, from before its remote
            head = self._commit_of("HEAD")
            if head and head != sha:
                config = self._config(head)
        self.__dict__["config"] = config
        return sha

    def _git(self, *args: str, check: bool = True) -> bytes:
        return gitio.run(self.root, *_SAFE, *args, check=check)

    def _commit_of(self, rev: str) -> str | None:
        out = gitio.run(self.root, "rev-parse", "--verify", "--quiet", "--end-of-options",
                        rev + "^{commit}", check=False).decode().strip()
        return out or None

    def _clone(self) -> None:
        tmp = tmp_name(os.path.dirname(self.root), "clone")
        try:
            gitio.run(os.path.dirname(self.root), *_SAFE, "clone", "--bare", "--quiet",
                      "--", self.url, tmp)
        except GitError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise GitmlError(f"cannot clone {self.url}: "
                             f"{str(e).removeprefix('git clone: ')}") from None
        os.rename(tmp, self.root)

    def _fetch(self) -> None:
        try:
            self._git("fetch", "--quiet", "--prune", "--force", "--no-write-fetch-head",
                      "origin", "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
        except GitError as e:
            raise GitmlError(f"cannot fetch {self.url}: "
                             f"{str(e).removeprefix('git fetch: ')}") from None

    # -- its gitml settings ----------------------------------------------------------------
    def _config(self, sha: str) -> Config:
        """The committed ``.gitml/config.yaml`` at ``sha``, narrowed to where its objects
        are (see the module docstring), plus lent credentials; in memory only."""
        where = f"{self.url}@{sha[:7]}:.gitml/config.yaml"
        with gitio.BatchReader(self.root) as reader:
            data = reader.read(f"{sha}:.gitml/config.yaml")
            if data is None and reader.read("HEAD:.gitml/dvc-map.yaml") is not None:
                # a commit from before gitml import-dvc: the remotes the import set up
                where = f"{self.url}@HEAD:.gitml/config.yaml"
                data = reader.read("HEAD:.gitml/config.yaml")
        doc = yamlio.loads(data, where) if data else None
        doc = doc if isinstance(doc, dict) else {}
        shared: dict[str, Any] = {}
        core = doc.get("core")
        if isinstance(core, dict) and isinstance(core.get("remote"), str):
            shared["core"] = {"remote": core["remote"]}
        remotes = doc.get("remote")
        kept: dict[str, dict[str, Any]] = {}
        for name, section in (remotes.items() if isinstance(remotes, dict) else ()):
            if isinstance(name, str) and isinstance(section, dict):
                kept[name] = {k: v for k, v in section.items() if k in _KEEP}
                url = kept[name].get("url")
                if isinstance(url, str) and "://" not in url:
                    kept[name]["url"] = self._directory(name, url)
        if kept:
            shared["remote"] = kept
        return Config.of(shared, self._lent(kept))

    def _directory(self, name: str, path: str) -> str:
        """A directory remote: absolute as it is, relative to a local source's work tree;
        a relative one of a source elsewhere cannot be found from here."""
        if os.path.isabs(path) or path.startswith("~"):
            return path
        if self.work_tree is not None:
            return os.path.normpath(os.path.join(self.work_tree, path))
        self._unreachable[name] = (f"{self.url}: its remote {name!r} is the directory "
                                   f"{path!r}, relative to that repository's work tree; only "
                                   "a local clone of it can be read from here")
        return path  # never opened: check_remote() stops first

    def _lent(self, remotes: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Credentials of this repository's remotes that name the same storage."""
        if self._lend is None:
            return {}
        from gitml.remotes import config as rconfig

        mine = self._lend.config
        out: dict[str, dict[str, Any]] = {}
        for name, section in remotes.items():
            for local in rconfig.names(self._lend):
                theirs = mine.section(f"remote.{local}")
                if theirs.get("url") == section.get("url") and \
                        theirs.get("endpoint_url") == section.get("endpoint_url"):
                    creds = {k: theirs[k] for k in rconfig.SECRETS if theirs.get(k)}
                    if creds:
                        out[name] = creds
                    break
        return {"remote": out} if out else {}

    def check_remote(self) -> str:
        """The name of the remote its objects come from; a clear error when there is none
        this machine can reach."""
        from gitml.remotes import config as rconfig

        name = rconfig.default_remote(self)
        if name is None:
            raise BadInputError(f"{self.url} has no default gitml remote in its committed "
                                ".gitml/config.yaml: its tracked data cannot be had from here")
        rconfig.spec(self, name)  # validated as our own
        if name in self._unreachable:
            raise BadInputError(self._unreachable[name])
        return name

    def fetch_objects(self, oids: list[str]) -> TransferResult:
        """Objects from its remote into :attr:`store`, verified."""
        from gitml.remotes import transfer

        return transfer.fetch_objects(self, oids, self.check_remote())

    def fetch_selection(self, sel: Selection, jobs: int | None = None) -> TransferResult:
        from gitml.remotes import transfer

        return transfer.fetch_selection(self, sel, self.check_remote(), jobs)

    # -- what a Repo has that a source has not --------------------------------------------
    def lock(self) -> FileLock:
        raise GitmlError("another repository's workspace is never changed")

    def close(self) -> None:
        pass
