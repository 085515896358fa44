"""Model registry workloads (issue 8): gitml against GTO (installed with DVC in its venv).

One repository, generated once: 50 models x 20 versions over 20 commits, with stage
assignments and deregistrations: 1,400 annotated tags in GTO's grammar, written by
``git fast-import`` with fixed tagger times. Both tools read the same tags.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness import DATA, DVC_VENV, GITML, Bench, sh, workload

GTO = str(DVC_VENV / "bin" / "gto")
MODELS, VERSIONS = 50, 20
PROD, STAGING = (5, 10, 15), (8, 12, 18, 19)


def registry_repo(bench: Bench) -> Path:
    root = DATA / f"registry-{MODELS}x{VERSIONS}"
    if (root / ".done").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    sh("git init -q && git config user.name bench && git config user.email bench@gitml.invalid",
       root, bench.env)  # GTO reads the identity from the repository's config only
    sh(f"{GITML} init -q", root, bench.env)
    models = "".join(f"  m{i:02d}:\n    path: models/m{i:02d}.pkl\n" for i in range(MODELS))
    (root / "gitml.yaml").write_text("models:\n" + models)
    (root / "models").mkdir(exist_ok=True)
    commits = []
    for j in range(VERSIONS + 1):  # the last commit has no version: register/promote use it
        for i in range(MODELS):
            oid = f"xxh3:{i:04x}{j:04x}" + "0" * 24
            (root / "models" / f"m{i:02d}.pkl.gitml").write_text(
                f"gitml: 1\npath: m{i:02d}.pkl\nkind: file\nhash: {oid}\nsize: {1000 + j}\n")
        (root / "metrics.json").write_text(json.dumps({"acc": 0.5 + j / 100, "loss": 1 / (j + 1)}))
        sh(f"git add -A && git commit -qm 'train {j}'", root, bench.env)
        commits.append(sh("git rev-parse HEAD", root, bench.env).strip())
    stream, t = [], 1_700_000_000
    for i in range(MODELS):
        counter = 0
        events = [(j, f"m{i:02d}@v1.{j}.0", "register") for j in range(VERSIONS)]
        events += [(j, "prod", "assign") for j in PROD] + [(j, "staging", "assign")
                                                          for j in STAGING]
        events.sort(key=lambda e: (e[0], e[2] != "register"))
        events.append((3, f"m{i:02d}@v1.3.0!", "deregister"))
        for j, what, action in events:
            if action == "assign":
                counter += 1
                what = f"m{i:02d}#{what}#{counter}"
            t += 1
            msg = f"{action} {what}\n".encode()
            stream.append(f"tag {what}\nfrom {commits[j]}\n"
                          f"tagger bench <bench@gitml.invalid> {t} +0000\n"
                          f"data {len(msg)}\n".encode() + msg + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=root,
                   env=bench.env, check=True)
    (root / ".done").write_text("")
    return root


def _clean(root: Path, bench: Bench) -> None:
    """Drop the tags an earlier sample made, so every sample does the same work."""
    made = [t for t in sh("git tag -l 'm07*'", root, bench.env).split()
            if t.startswith("m07@v2") or (t.startswith("m07#prod#") and int(t[9:]) > 7)]
    if made:
        sh("git tag -d " + " ".join(f"'{t}'" for t in made), root, bench.env)


@workload("registry.list")
def list_models(bench: Bench) -> None:
    root = registry_repo(bench)
    bench.compare("registry.list (50 models, 1,400 tags)", {
        "gitml": (lambda: root, [GITML, "model", "list"]),
        "gto": (lambda: root, [GTO, "show"]),
    }, target="faster than GTO")


@workload("registry.show")
def show_model(bench: Bench) -> None:
    root = registry_repo(bench)
    bench.compare("registry.show (one model, 20 versions)", {
        "gitml": (lambda: root, [GITML, "model", "show", "m07"]),
        "gto": (lambda: root, [GTO, "show", "m07"]),
    }, target="faster than GTO (gitml also reads each version's metrics)")


@workload("registry.register")
def register(bench: Bench) -> None:
    root = registry_repo(bench)

    def setup() -> Path:
        _clean(root, bench)
        return root

    bench.compare("registry.register (1,400 tags)", {
        "gitml": (setup, [GITML, "model", "register", "m07", "--version", "v2.0.0"]),
        "gto": (setup, [GTO, "register", "m07", "HEAD", "--version", "v2.0.0"]),
    }, target="faster than GTO")


@workload("registry.promote")
def promote(bench: Bench) -> None:
    root = registry_repo(bench)

    def setup() -> Path:
        _clean(root, bench)
        return root

    bench.compare("registry.promote (1,400 tags)", {
        "gitml": (setup, [GITML, "model", "promote", "m07", "v1.2.0", "--stage", "prod"]),
        "gto": (setup, [GTO, "assign", "m07", "--version", "v1.2.0", "--stage", "prod"]),
    }, target="faster than GTO")
