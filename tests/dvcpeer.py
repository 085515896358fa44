"""The real DVC CLI for the import-dvc tests, in a venv of its own.

``dvc_bin()`` installs ``dvc==3.67.1`` and ``dvc-s3==3.3.0`` from PyPI into
``tests/.venv-dvc`` with every transitive dependency pinned by ``tests/dvc-constraints.txt``
(so DVC's dependencies never meet gitml's, and a new release cannot change what the tests
run), once: later calls, later test runs and parallel workers reuse it (a file lock
guards the install; a marker says which pins it was built from).

    python tests/dvcpeer.py       # install it now; prints the dvc path
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-dvc"
CONSTRAINTS = HERE / "dvc-constraints.txt"
PINS = ["dvc==3.67.1", "dvc-s3==3.3.0"]
_MARK = VENV / ".gitml-pins"


def _fingerprint() -> str:
    return hashlib.sha256(CONSTRAINTS.read_bytes() + " ".join(PINS).encode()).hexdigest()


def dvc_bin() -> Path:
    """The ``dvc`` executable, installing it first when needed."""
    exe = VENV / "bin" / "dvc"
    want = _fingerprint()
    if _MARK.exists() and _MARK.read_text() == want and exe.exists():
        return exe
    with open(HERE / ".venv-dvc.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _MARK.exists() and _MARK.read_text() == want and exe.exists():
            return exe
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        "-c", str(CONSTRAINTS), *PINS], check=True)
        _MARK.write_text(want)
    return exe


def env() -> dict[str, str]:
    """An environment for running DVC quietly and offline-friendly in tests."""
    e = dict(os.environ)
    e.update({"DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATE_CHECK": "1",
              "DVC_SITE_CACHE_DIR": str(HERE / ".venv-dvc" / "site-cache")})
    return e


if __name__ == "__main__":
    print(dvc_bin())
