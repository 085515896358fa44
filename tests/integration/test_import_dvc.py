"""gitml import-dvc on DVC repositories made by the real DVC CLI (tests/dvcpeer.py).

The template: data files and a directory added with ``dvc add``, a pipeline of three
stages with params and metrics (plus a foreach and a matrix stage), branches main and
exp, a directory remote with everything pushed. Each test works on its own copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import dvcpeer
import pytest
import s3server
from conftest import git, write

import gitml
from gitml import api

SCRIPTS = {
    "prepare.py": """import sys, os
split = float(sys.argv[1])
rows = open("data/raw.csv").read().splitlines()[1:]
cut = int(len(rows) * (1 - split))
os.makedirs("data/prepared", exist_ok=True)
open("data/prepared/train.csv", "w").write("x,y\\n" + "\\n".join(rows[:cut]) + "\\n")
open("data/prepared/test.csv", "w").write("x,y\\n" + "\\n".join(rows[cut:]) + "\\n")
""",
    "train.py": """import sys, json, os
lr, epochs = float(sys.argv[1]), int(sys.argv[2])
rows = [r.split(",") for r in open("data/prepared/train.csv").read().splitlines()[1:]]
w = sum(float(y) / (float(x) or 1) for x, y in rows) / len(rows) * lr * 10
os.makedirs("models", exist_ok=True)
open("models/model.txt", "w").write(f"w={w:.6f}\\n")
json.dump({"loss": round(1 / (1 + w), 6), "epochs": epochs}, open("metrics.json", "w"))
os.makedirs("plots", exist_ok=True)
open("plots/loss.csv", "w").write("step,loss\\n" + "".join(
    f"{i},{1 / (1 + w * (i + 1)):.6f}\\n" for i in range(epochs)))
""",
    "evaluate.py": """import json, os
w = float(open("models/model.txt").read().split("=")[1])
n = len(open("data/prepared/test.csv").read().splitlines()) - 1
os.makedirs("eval", exist_ok=True)
json.dump({"acc": round(w / (1 + w), 6), "n": n}, open("eval/scores.json", "w"))
""",
}
DVC_YAML = """vars:
  - suffix: txt
stages:
  prepare:
    cmd: python3 prepare.py ${prepare.split}
    deps:
      - prepare.py
      - data/raw.csv
    params:
      - prepare.split
    outs:
      - data/prepared
  train:
    cmd: python3 train.py ${train.lr} ${train.epochs}
    deps:
      - train.py
      - data/prepared
    params:
      - train
    outs:
      - models/model.txt
    metrics:
      - metrics.json:
          cache: false
    plots:
      - plots/loss.csv:
          x: step
          y: loss
  evaluate:
    cmd: python3 evaluate.py
    deps:
      - evaluate.py
      - models/model.txt
      - data/prepared
    metrics:
      - eval/scores.json
  report:
    foreach: ${reports}
    do:
      cmd: mkdir -p reports && echo ${item} > reports/${item}.${suffix}
      deps:
        - eval/scores.json
      outs:
        - reports/${item}.${suffix}
  grid:
    matrix:
      lr: [0.1, 0.2]
      depth: [1, 2]
    cmd: mkdir -p grid && echo ${item.lr} ${item.depth} > grid/${item.lr}-${item.depth}.txt
    deps:
      - data/raw.csv
    outs:
      - grid/${item.lr}-${item.depth}.txt:
          cache: false
"""
PARAMS = """prepare:
  split: 0.25
train:
  lr: 0.1
  epochs: 3
reports: [summary, detail]
"""


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(dvcpeer.dvc_bin()), *args], cwd=cwd, capture_output=True,
                          text=True, env=dvcpeer.env())
    assert not check or proc.returncode == 0, f"dvc {' '.join(args)}: {proc.stderr}"
    return proc


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DVC project (``repo``) and its pushed directory remote (``remote``), built once."""
    base = tmp_path_factory.mktemp("dvc-template")
    repo = base / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    dvc(repo, "init", "-q")
    write(repo / "data/raw.csv", "x,y\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(1, 41)))
    for i in range(6):
        write(repo / f"data/images/img{i}.bin", bytes(range(i, i + 64)) * (i + 1))
    write(repo / "data/images/sub/label.sh", "#!/bin/sh\necho label\n")
    os.chmod(repo / "data/images/sub/label.sh", 0o755)
    write(repo / "data/images/sub/notes.txt", "CRLF line\r\nsecond\r\n")
    dvc(repo, "add", "-q", "data/raw.csv", "data/images")
    (repo / "data/images/kept-empty").mkdir()  # DVC ignores empty folders; so must status
    for name, text in SCRIPTS.items():
        write(repo / name, text)
    write(repo / "dvc.yaml", DVC_YAML)
    write(repo / "params.yaml", PARAMS)
    dvc(repo, "repro", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "dvc project")
    git(repo, "checkout", "-qb", "exp")
    write(repo / "params.yaml", PARAMS.replace("lr: 0.1", "lr: 0.3"))
    dvc(repo, "repro", "-q")
    git(repo, "commit", "-qam", "lr 0.3")
    git(repo, "checkout", "-q", "main")
    dvc(repo, "checkout", "-q")
    dvc(repo, "remote", "add", "-d", "storage", "../remote")
    git(repo, "commit", "-qam", "remote")
    dvc(repo, "push", "-q", "--all-branches")
    assert "up to date" in dvc(repo, "status").stdout
    return base


@pytest.fixture
def project(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the template's repository (with its remote beside it); the cwd."""
    shutil.copytree(template, tmp_path / "t", symlinks=True)
    repo = tmp_path / "t" / "repo"
    monkeypatch.chdir(repo)
    return repo


def workspace_files(root: Path) -> dict[str, tuple[str, bool]]:
    """rel path -> (md5, executable) of every data or code file (not Git's, DVC's or
    gitml's own files)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if (not p.is_file() or rel.split("/")[0] in (".git", ".dvc", ".gitml")
                or p.name.endswith((".dvc", ".gitml")) or p.name in (
                    "dvc.yaml", "dvc.lock", "gitml.yaml", "gitml.lock", ".gitignore",
                    ".gitattributes", ".dvcignore")):
            continue
        out[rel] = (hashlib.md5(p.read_bytes()).hexdigest(), bool(p.stat().st_mode & 0o100))
    return out


def test_import_converts_everything_and_status_is_clean(project: Path, cli) -> None:
    before = workspace_files(project)
    r = cli("import-dvc")
    assert r.code == 0, r.err
    assert "Not converted" not in r.out, r.out
    assert workspace_files(project) == before
    for gone in ("data/raw.csv.dvc", "data/images.dvc", "dvc.yaml", "dvc.lock"):
        assert not (project / gone).exists()
    for kept in ("data/raw.csv.gitml", "data/images.gitml", "data/prepared.gitml",
                 "models/model.txt.gitml", "plots/loss.csv.gitml", "eval/scores.json.gitml",
                 "reports/summary.txt.gitml", "reports/detail.txt.gitml"):
        assert (project / kept).is_file(), kept
    assert not (project / "metrics.json.gitml").exists()  # cache: false stays in Git
    assert not (project / "grid/0.1-1.txt.gitml").exists()
    st = cli("status", "--json")
    assert st.code == 0
    assert [i for i in json.loads(st.out) if i.get("state") != "ok"] == []
    rep = cli("repro", "--json")
    assert rep.code == 0, rep.err
    actions = {s["stage"]: s["action"] for s in json.loads(rep.out)["stages"]}
    assert set(actions) == {"prepare", "train", "evaluate", "report@summary",
                            "report@detail", "grid@0.1-1", "grid@0.1-2", "grid@0.2-1",
                            "grid@0.2-2"}
    assert set(actions.values()) == {"unchanged"}
    # the executable bit of the directory's script is the workspace's
    assert api.read("data/images/sub/label.sh").startswith(b"#!/bin/sh")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "gitml")
    assert cli("fsck").code == 0
    assert cli("status", "-q").code == 0


def test_dry_run_lists_and_changes_nothing(project: Path, cli) -> None:
    def snapshot() -> dict[str, bytes]:
        return {p.relative_to(project).as_posix(): p.read_bytes()
                for p in project.rglob("*") if p.is_file() and ".git/" not in p.as_posix()}

    before = snapshot()
    r = cli("import-dvc", "--dry-run")
    assert r.code == 0, r.err
    assert "would write data/images.gitml" in r.out
    assert "Would remove (converted): data/images.dvc, data/raw.csv.dvc, dvc.lock, dvc.yaml" \
        in r.out
    assert snapshot() == before
    assert not (project / ".gitml").exists()
    js = cli("import-dvc", "--dry-run", "--json")
    d = json.loads(js.out)
    assert d["dry_run"] is True and "grid@0.2-2" in d["stages"]
    assert "models/model.txt.gitml" in d["pointers"]


def test_metrics_params_and_data_diff_across_the_import(project: Path, cli) -> None:
    want_metrics = json.loads(dvc(project, "metrics", "diff", "exp", "main", "--json").stdout)
    want_params = json.loads(dvc(project, "params", "diff", "exp", "main", "--json").stdout)
    assert cli("import-dvc", "-q").code == 0
    git(project, "add", "-A")
    git(project, "commit", "-qm", "gitml")
    r = cli("metrics", "diff", "exp", "HEAD", "--json")
    assert r.code == 0, r.err
    got = {(c["path"], c["key"]): (c["old"], c["new"]) for c in json.loads(r.out)["changes"]}
    want = {(path, key): (v["old"], v["new"]) for path, d in want_metrics.items()
            for key, v in d.items()}
    assert got == want and ("eval/scores.json", "acc") in got  # a cached metric, via the map
    r = cli("params", "diff", "exp", "HEAD", "--json")
    got = {(c["path"], c["key"]): (c["old"], c["new"]) for c in json.loads(r.out)["changes"]}
    assert got == {(path, key): (v["old"], v["new"]) for path, d in want_params.items()
                   for key, v in d.items()}
    # the data of the last DVC commit is the data of the import
    r = cli("diff", "HEAD~1", "HEAD", "--json")
    assert r.code == 0 and json.loads(r.out) == [], r.out
    r = cli("diff", "exp", "HEAD", "--json")
    changed = {c["path"] for c in json.loads(r.out)}
    assert "models/model.txt" in changed and "data/raw.csv" not in changed
    assert api.read("models/model.txt", rev="exp") != api.read("models/model.txt")
    assert api.read("data/images/img2.bin", rev="HEAD~1") == bytes(range(2, 66)) * 3


def test_pull_from_the_converted_remote_into_a_fresh_clone(project: Path, cli,
                                                           tmp_path: Path) -> None:
    assert cli("import-dvc", "-q").code == 0
    git(project, "add", "-A")
    git(project, "commit", "-qm", "gitml")
    assert cli("push").code == 0
    assert cli("push", "--all-branches").code == 0  # exp's data is DVC-era: via the map
    assert (project.parent / "remote" / "files").is_dir()  # DVC's layout stays beside
    clone = project.parent / "clone"  # beside: the remote's path is relative (../remote)
    git(tmp_path, "clone", "-q", str(project), str(clone))
    os.chdir(clone)
    r = cli("pull")
    assert r.code == 0, r.err
    want = workspace_files(project)
    assert {k: v for k, v in workspace_files(clone).items() if k in want} == want
    r = cli("metrics", "diff", "origin/exp", "HEAD", "--json")  # the map came with the data
    assert r.code == 0, r.err
    got = {(c["path"], c["key"]) for c in json.loads(r.out)["changes"]}
    assert ("eval/scores.json", "acc") in got and ("metrics.json", "loss") in got
    # gitml get of a DVC-era revision of that repository, from outside it
    os.chdir(tmp_path)
    r = cli("get", str(project), "models/model.txt", "--rev", "exp", "-o", "model-exp.txt")
    assert r.code == 0, r.err
    assert (tmp_path / "model-exp.txt").read_bytes() == api.read(
        "models/model.txt", rev="exp", repo=gitml.Repo(project))
    r = cli("get", str(project), "data/images", "--rev", "HEAD~1", "-o", "images")
    assert r.code == 0, r.err
    assert (tmp_path / "images/img4.bin").read_bytes() == bytes(range(4, 68)) * 5


def test_fetch_gets_what_the_local_cache_lacks(project: Path, cli) -> None:
    shutil.rmtree(project / ".dvc" / "cache")
    for d in ("data/images", "data/prepared"):
        shutil.rmtree(project / d)
    (project / "models/model.txt").unlink()
    r = cli("import-dvc")
    assert r.code == 1, r.out
    assert "data/images" in r.out and "--fetch" in r.out
    assert (project / "data/images.dvc").exists()  # not converted: stays
    assert not (project / "data/images.gitml").exists()
    shutil.rmtree(project / ".gitml")
    for p in project.rglob("*.gitml"):
        p.unlink()
    (project / "gitml.yaml").unlink()
    r = cli("import-dvc", "--fetch")
    assert r.code == 0, r.out + r.err
    assert cli("checkout").code == 0
    assert (project / "data/images/img3.bin").read_bytes() == bytes(range(3, 67)) * 4
    st = json.loads(cli("status", "--json").out)
    assert [i for i in st if i.get("state") != "ok"] == []


def test_not_a_dvc_repository(gitrepo: Path, cli) -> None:
    r = cli("import-dvc")
    assert r.code == 2
    assert r.err.startswith("error: ") and "not a DVC repository" in r.err
    assert not (gitrepo / ".gitml").exists()


def test_unsafe_paths_and_bad_files_are_named_and_left(project: Path, cli) -> None:
    write(project / "evil.dvc", "outs:\n- md5: 0123456789abcdef0123456789abcdef\n"
          "  size: 3\n  hash: md5\n  path: ../../outside.txt\n")
    write(project / "broken.dvc", "outs: [unclosed\n")
    r = cli("import-dvc")
    lines = r.out.splitlines()
    assert any(line.strip().startswith("evil.dvc:") and "outside the repository" in line
               for line in lines), r.out
    assert any(line.strip().startswith("broken.dvc:") and "invalid YAML" in line
               for line in lines), r.out
    assert (project / "evil.dvc").exists() and (project / "broken.dvc").exists()
    assert not (project.parent.parent / "outside.txt.gitml").exists()
    assert (project / "data/raw.csv.gitml").exists()  # the rest was converted


def test_paths_naming_git_or_gitml_are_refused(project: Path, cli) -> None:
    for i, bad in enumerate((".git/config", ".GIT/hooks/pre-commit", "data/../.gitml/x",
                             "sub/.git")):
        write(project / f"bad{i}.dvc", "outs:\n- md5: 0123456789abcdef0123456789abcdef\n"
              f"  size: 3\n  hash: md5\n  path: {bad}\n")
    r = cli("import-dvc")
    for i in range(4):
        assert any(line.strip().startswith(f"bad{i}.dvc:") for line in r.out.splitlines()), \
            r.out
        assert (project / f"bad{i}.dvc").exists()
    assert not list((project / ".git").rglob("*.gitml"))
    assert not (project / ".gitml" / "x.gitml").exists()
    assert (project / "data/raw.csv.gitml").exists()


def test_no_pointer_is_written_through_a_symbolic_link(project: Path, cli) -> None:
    (project / "models").rename(project.parent / "elsewhere")
    (project / "models").symlink_to("../elsewhere")
    r = cli("import-dvc")
    assert any(line.strip().startswith("dvc.yaml: models/model.txt:") and "symbolic link"
               in line for line in r.out.splitlines()), r.out
    assert not list((project.parent / "elsewhere").glob("*.gitml"))
    assert (project / "dvc.yaml").exists() and (project / "data/raw.csv.gitml").exists()


def test_a_stage_without_deps_is_named(project: Path, cli) -> None:
    text = (project / "dvc.yaml").read_text()
    (project / "dvc.yaml").write_text(text.replace("    deps:\n      - data/raw.csv\n", ""))
    r = cli("import-dvc")
    assert "stage 'grid@0.1-1': no deps: DVC runs it when its outputs change" in r.out


def test_corrupt_cache_object_is_named_and_not_imported(project: Path, cli) -> None:
    text = (project / "data/raw.csv.dvc").read_text()
    md5 = text.split("md5: ")[1].split()[0]
    obj = project / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"x,y\n1,999\n")
    (project / "data/raw.csv").unlink()  # nothing else holds that content
    r = cli("import-dvc")
    assert r.code == 1
    assert f"{md5[2:]} is corrupt" in r.out
    assert (project / "data/raw.csv.dvc").exists()
    assert not (project / "data/raw.csv.gitml").exists()
    from gitml.hashing import hash_bytes
    from gitml.repo import Repo

    assert not Repo().store.has(hash_bytes(b"x,y\n1,999\n"))


def test_killed_before_pointers_then_rerun_finishes(project: Path, cli) -> None:
    import sys

    env = dict(os.environ, GITML_FAULT="import-dvc.before-pointers:kill")
    proc = subprocess.run([sys.executable, "-m", "gitml", "import-dvc"], cwd=project,
                          env=env, capture_output=True)
    assert proc.returncode == -9
    assert (project / "dvc.lock").exists() and not (project / "gitml.lock").exists()
    assert not (project / "data/images.gitml").exists()
    r = cli("import-dvc")
    assert r.code == 0, r.out + r.err
    st = json.loads(cli("status", "--json").out)
    assert [i for i in st if i.get("state") != "ok"] == []


@pytest.mark.s3
def test_s3_remote_fetch_convert_push_and_pull_in_a_clone(project: Path, cli,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    srv = s3server.shared()
    url = f"s3://{srv.bucket}/dvcimport-{os.getpid()}-{project.parent.parent.name}"
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    dvc(project, "remote", "add", "-d", "-f", "s3r", url)
    dvc(project, "remote", "modify", "s3r", "endpointurl", srv.endpoint)
    dvc(project, "remote", "modify", "--local", "s3r", "access_key_id", srv.access_key)
    dvc(project, "remote", "modify", "--local", "s3r", "secret_access_key", srv.secret_key)
    dvc(project, "push", "-q")
    git(project, "commit", "-qam", "s3 remote")
    want = workspace_files(project)
    shutil.rmtree(project / ".dvc" / "cache")
    shutil.rmtree(project / "data/images")
    (project / "models/model.txt").unlink()
    r = cli("import-dvc", "--fetch", "-j", "4")
    assert r.code == 0, r.out + r.err
    assert cli("checkout").code == 0
    # DVC records no executable bits: data that comes from a remote has none (as with dvc)
    want = {k: (md5, False) for k, (md5, _) in want.items()}
    assert {k: (md5, False) for k, (md5, _) in workspace_files(project).items()} == want
    shared = (project / ".gitml/config.yaml").read_text()
    assert srv.secret_key not in shared and srv.access_key not in shared
    assert f"url: {url}" in shared and srv.endpoint in shared
    local = project / ".gitml/config.local.yaml"
    assert srv.secret_key in local.read_text() and local.stat().st_mode & 0o777 == 0o600
    git(project, "add", "-A")
    git(project, "commit", "-qm", "gitml")
    assert cli("push").code == 0
    keys = [o["Key"] for o in srv.client().list_objects_v2(
        Bucket=srv.bucket, Prefix=url.split("/", 3)[3] + "/")["Contents"]]
    assert any("/objects/" in k for k in keys) and any("/files/md5/" in k for k in keys)
    clone = project.parent / "clone"
    git(project.parent, "clone", "-q", str(project), str(clone))
    os.chdir(clone)
    for k, v in srv.env().items():  # the clone has no config.local.yaml: the AWS chain
        monkeypatch.setenv(k, v)
    r = cli("pull")
    assert r.code == 0, r.err
    assert {k: (md5, False) for k, (md5, _) in workspace_files(clone).items()
            if k in want} == want
