#!/usr/bin/env bash
# Install the peer (DVC, pinned) into its own venv for side-by-side benchmarks.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv-dvc"
"$here/.venv-dvc/bin/pip" install -q -c "$here/../dvc-constraints.txt" 'dvc==3.67.1' 'dvc-s3==3.3.0'
"$here/.venv-dvc/bin/dvc" --version
# gitml as a user gets it (a regular, non-editable install) in its own venv.
python3 -m venv "$here/.venv-gitml"
"$here/.venv-gitml/bin/pip" install -q -c "$here/../constraints.txt" "$here/../..[plots]"
