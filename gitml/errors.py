"""The exception hierarchy and its exit codes, in one place.

Every error a user can cause or meet is a :class:`GitmlError`; the CLI turns it
into one line on stderr and its ``exit_code``. The table is published in
docs/cli.md.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FOUND = 1  # a check found something: corruption, a failed data check, a blocked hook
EXIT_USAGE = 2  # bad input or usage
EXIT_CRASH = 3  # a bug in gitml: a traceback was logged
EXIT_INTERRUPTED = 130


class GitmlError(Exception):
    """Base class: a problem the user can act on; exit code 2 unless a subclass says so."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled whole (type, message, attributes) whatever the subclass's __init__ takes:
        # a forked worker hands its error to the parent this way (gitml/forkpool.py)
        return _restore, (type(self), self.message, self.__dict__)


def _restore(cls: type[GitmlError], message: str, state: dict[str, Any]) -> GitmlError:
    e = cls.__new__(cls)
    Exception.__init__(e, message)
    e.__dict__.update(state)
    return e


class NotARepoError(GitmlError):
    """Not inside a Git repository, or gitml is not initialised there."""


class BadInputError(GitmlError):
    """A path, argument or value the user gave is not acceptable."""


class ConfigError(GitmlError):
    """A config file or key is invalid."""


class FormatError(GitmlError):
    """A file gitml reads (pointer, manifest, lock, YAML) is malformed."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class UnsafePathError(FormatError):
    """A path taken from a pointer, manifest or remote would escape its root."""


class GitError(GitmlError):
    """A Git command failed or a revision does not exist."""


class LockError(GitmlError):
    """Another gitml process holds a lock we need."""


class WorkspaceConflictError(GitmlError):
    """An operation would overwrite changes that are not stored."""

    def __init__(self, message: str, paths: list[str]) -> None:
        super().__init__(message)
        self.paths = paths


class MissingObjectError(GitmlError):
    """An object a pointer names is not in the store."""

    def __init__(self, oid: str, path: str = "") -> None:
        where = f" (for {path})" if path else ""
        super().__init__(f"object {oid} is not in the store{where}; fetch it from a remote")
        self.oid = oid
        self.path = path


class IntegrityError(GitmlError):
    """Stored bytes no longer match their hash: corruption, exit 1."""

    exit_code = EXIT_FOUND

    def __init__(self, oid: str, actual: str, where: str) -> None:
        super().__init__(f"corrupt object {oid} at {where}: content hashes to {actual}")
        self.oid = oid
        self.actual = actual
        self.where = where


class CheckFailed(GitmlError):
    """A check ran and found something (exit 1); the report was already printed."""

    exit_code = EXIT_FOUND
