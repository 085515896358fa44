"""Bad input for metrics/params: one clear line and exit 2, or a warning and the rest shown."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import git, write

from gitml import api, revfiles
from gitml.errors import FormatError


def commit(root: Path, msg: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", msg)


@pytest.fixture
def two(repo: Path) -> Path:
    """main has a good metrics.json; branch broken has one that does not parse."""
    write(repo / "metrics.json", '{"acc": 0.9, "loss": 0.3}')
    commit(repo, "good")
    git(repo, "checkout", "-q", "-b", "broken")
    write(repo / "metrics.json", '{"acc": 0.9,,}')
    commit(repo, "broken")
    git(repo, "checkout", "-q", "main")
    return repo


def test_file_that_does_not_parse_warns_and_other_revisions_still_show(two: Path, cli) -> None:
    r = cli("metrics", "show", "main", "broken")
    assert r.code == 0
    assert r.err.startswith("warning: metrics.json@broken: cannot parse JSON: ")
    assert len(r.err.strip().splitlines()) == 1
    lines = r.out.splitlines()
    assert lines[1].split() == ["main", "metrics.json", "0.9", "0.3"]
    assert lines[2].split() == ["broken", "metrics.json", "(unreadable)"]
    r = cli("metrics", "diff", "main", "broken")
    assert r.code == 0 and "metrics.json@broken" in r.err
    assert [line.split() for line in r.out.splitlines()[1:]] == [
        ["metrics.json", "acc", "0.9", "(unreadable)", "error"],
        ["metrics.json", "loss", "0.3", "(unreadable)", "error"]]
    d = json.loads(cli("metrics", "diff", "main", "broken", "--json").out)
    assert d["changes"][0]["new_error"].startswith("cannot parse JSON")
    assert d["warnings"][0].startswith("metrics.json@broken: ")


def test_strict_makes_an_unreadable_file_exit_2(two: Path, cli) -> None:
    for args in (["show", "main", "broken"], ["diff", "main", "broken"]):
        r = cli("metrics", *args, "--strict")
        assert r.code == 2 and r.out == ""
        assert r.err.startswith("error: metrics.json@broken: cannot parse JSON")
        assert len(r.err.strip().splitlines()) == 1
    with pytest.raises(FormatError, match="metrics.json@broken"):
        api.metrics_show(rev="broken")
    assert api.metrics_show(rev="broken", strict=False) == {}


@pytest.mark.parametrize("args", [["metrics", "show", "nope"], ["metrics", "diff", "nope"],
                                  ["metrics", "diff", "main", "nope"], ["params", "show", "nope"],
                                  ["metrics", "show", "--", "-x"]])
def test_unknown_revision(two: Path, cli, args: list[str]) -> None:
    r = cli(*args)
    assert r.code == 2 and r.out == ""
    assert r.err.strip() in ("error: unknown revision 'nope'", "error: unknown revision '-x'")


def test_unknown_target(two: Path, cli) -> None:
    r = cli("metrics", "diff", "main", "broken", "-t", "missing.json")
    assert (r.code, r.out) == (2, "")
    assert r.err.strip() == "error: missing.json: no such metrics file at main, broken"
    r = cli("metrics", "show", "-t", "../outside.json")
    assert r.code == 2 and "outside the repository" in r.err


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("metrics:\n  - path: m.json\n    direction: up\n",
     "gitml.yaml: metrics[0] (m.json): direction must be 'higher', 'lower' or 'none', not 'up'"),
    ("metrics:\n  - path: m.json\n    tolerance: lots\n",
     "gitml.yaml: metrics[0] (m.json): tolerance must be a number >= 0 or a percentage "
     "like '2%', not 'lots'"),
    ("metrics:\n  - path: m.json\n    tolerance: -1\n",
     "tolerance must be a number >= 0"),
    ("metrics:\n  - path: m.json\n    keys: {acc: sideways}\n",
     "gitml.yaml: metrics[0] (m.json) key 'acc': direction must be 'higher', 'lower' or 'none'"),
    ("metrics:\n  - path: m.json\n    keys: {acc: {tolerance: 1, colour: red}}\n",
     "unknown key 'colour'"),
    ("metrics:\n  - path: m.json\n    directon: higher\n",
     "gitml.yaml: metrics[0]: unknown key 'directon' (allowed: direction, keys, path, "
     "tolerance)"),
    ("metrics: m.json\n", "gitml.yaml: 'metrics' must be a list of paths"),
    ("metrics: [../up.json]\n", "must be relative to the repository root, without '..'"),
    ("metrics: [7]\n", "gitml.yaml: metrics[0]: expected a path or a mapping with 'path', not int"),
    ("params:\n  - path: p.yaml\n    direction: higher\n", "unknown key 'direction'"),
    ("metrics: [\n", "gitml.yaml: invalid YAML"),
])
def test_bad_declarations_are_one_line_exit_2(repo: Path, cli, yaml_text: str,
                                              message: str) -> None:
    write(repo / "gitml.yaml", yaml_text)
    write(repo / "m.json", '{"acc": 1}')
    kind = "params" if yaml_text.startswith("params") else "metrics"
    for args in ([kind, "show"], [kind, "diff", "HEAD"]):
        r = cli(*args)
        assert r.code == 2, r.out
        assert r.out == ""
        assert len(r.err.strip().splitlines()) == 1
        assert message in r.err


def test_broken_gitml_yaml_on_one_branch_of_many_is_a_warning(two: Path, cli) -> None:
    git(two, "checkout", "-q", "-b", "typo")
    write(two / "gitml.yaml", "metrics:\n  - path: metrics.json\n    direction: up\n")
    commit(two, "typo")
    git(two, "checkout", "-q", "main")
    r = cli("metrics", "show", "--all-branches")
    assert r.code == 0
    assert "warning: typo:gitml.yaml: metrics[0] (metrics.json): direction must be" in r.err
    assert [line.split()[0] for line in r.out.splitlines()[1:]] == ["broken", "main", "typo"]
    r = cli("metrics", "show", "typo")  # named explicitly: an error
    assert r.code == 2 and r.err.startswith("error: typo:gitml.yaml: metrics[0]")


def test_50_mb_files_do_not_hang(repo: Path, cli) -> None:
    big = json.dumps({"series": list(range(6_000_000))})
    assert len(big) > 50_000_000
    write(repo / "metrics.json", big)
    commit(repo, "big json")
    rows = "\n".join(f"{i},{i / 7:.8f},{i % 97}" for i in range(2_000_000))
    write(repo / "log.csv", "step,loss,batch\n" + rows + "\n")
    write(repo / "gitml.yaml", "metrics: [metrics.json, log.csv]\n")
    assert (repo / "log.csv").stat().st_size > 50_000_000
    start = time.monotonic()
    r = cli("metrics", "diff", "HEAD", "--json")
    assert time.monotonic() - start < 20
    assert r.code == 0
    d = json.loads(r.out)
    assert d["warnings"] == [
        "metrics.json@HEAD: 50.4 MiB is over the 16 MiB limit for JSON metrics files; not read",
        "metrics.json@workspace: 50.4 MiB is over the 16 MiB limit for JSON metrics files; "
        "not read"]
    # a long CSV series: only the header and the last row are parsed
    assert [(c["key"], c["new"]) for c in d["changes"] if c["path"] == "log.csv"] == [
        ("batch", 1_999_999 % 97), ("loss", 285714.14285714), ("step", 1_999_999)]


def test_100k_keys_are_shown_and_more_than_the_limit_refused(
        repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    write(repo / "metrics.json", json.dumps({f"k{i}": i for i in range(100_000)}))
    commit(repo, "many")
    write(repo / "metrics.json", json.dumps({f"k{i}": i + (i % 2) for i in range(100_000)}))
    start = time.monotonic()
    r = cli("metrics", "diff")
    assert time.monotonic() - start < 20
    assert r.code == 0
    assert len(r.out.splitlines()) == 1 + 50_000
    monkeypatch.setattr(revfiles, "MAX_KEYS", 1000)
    r = cli("metrics", "show")
    assert r.code == 0
    assert r.err.strip() == ("warning: metrics.json@workspace: more than 1,000 values; "
                             "not a metrics file")


def test_tracked_metrics_object_missing_from_the_store(repo: Path, cli) -> None:
    write(repo / "metrics.json", '{"acc": 1}')
    assert cli("add", "-q", "metrics.json").code == 0
    commit(repo, "tracked")
    ptr = (repo / "metrics.json.gitml").read_text()
    oid = next(line.split(": ")[1] for line in ptr.splitlines() if line.startswith("hash"))
    obj = repo / ".gitml" / "cache" / "objects" / oid[5:7] / oid[7:]
    assert obj.exists()
    obj.chmod(0o644)
    obj.unlink()
    r = cli("metrics", "show", "HEAD")
    assert r.code == 0
    assert f"warning: metrics.json@HEAD: object {oid} is not in the store" in r.err
    assert r.out.split() == ["Path", "Metric", "Value", "metrics.json", "(unreadable)"]


def test_nothing_declared_and_nothing_found(repo: Path, cli) -> None:
    r = cli("metrics", "show")
    assert r.code == 0
    assert r.out.strip() == ("No metrics files in workspace. Declare them in gitml.yaml under "
                             "'metrics:' or name one with --target.")
    assert cli("params", "diff").out.strip() == "No params changed between HEAD and workspace."
    r = cli("metrics", "diff", "--precision", "0")
    assert r.code == 2 and "--precision" in r.err
