"""Files from a stranger cannot make parsing cost without bound (issue 19, item 4).

An attacker commits hostile YAML/JSON/CSV into a repository; the victim clones it and runs
ordinary commands, each in its own process with a memory cap and a time limit. Every file
is refused with one line naming it (exit 2), fast, and every command sees the same result.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git, run_cli, write

from gitml import pointer, yamlio
from gitml.errors import FormatError

OID = "xxh3:" + "ab" * 16
BOMB = "".join(f"  {c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n"  # 10**8 values expanded
               for p, c in zip("abcdefg", "bcdefgh", strict=True))
BOMB = "  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + BOMB
_MEMORY = 2 << 30  # each victim process may use at most 2 GiB


def victim(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``gitml ARGS`` as a victim would, capped in memory and time."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (_MEMORY, _MEMORY))

    return subprocess.run([sys.executable, "-m", "gitml.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=cap)


def clone(attacker: Path, tmp_path: Path) -> Path:
    git(attacker, "add", "-A")
    git(attacker, "commit", "-q", "-m", "looks harmless")
    dst = tmp_path / "victim"
    git(tmp_path, "clone", "-q", str(attacker), str(dst))
    return dst


def refused(p: subprocess.CompletedProcess[str], name: str, message: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr[-2000:])
    line = p.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("error: "), line
    assert name in line and message in line, line


@pytest.fixture
def attacker(repo: Path) -> Path:
    write(repo / "data.bin", b"payload")
    assert run_cli("add", "data.bin").code == 0
    return repo


def test_alias_bomb_in_a_pointers_meta_is_refused(attacker: Path, tmp_path: Path) -> None:
    with open(attacker / "data.bin.gitml", "a") as f:
        f.write("meta:\n" + BOMB)
    assert len((attacker / "data.bin.gitml").read_bytes()) < 1000
    v = clone(attacker, tmp_path)
    for command in ("status", "checkout", "diff"):
        refused(victim(v, command), "data.bin.gitml", "YAML aliases (*name) are not allowed")


def test_alias_bomb_in_gitml_yaml_is_refused_fast(attacker: Path, tmp_path: Path) -> None:
    write(attacker / "gitml.yaml", "stages:\n  s:\n    cmd: echo hi\n    meta:\n"
          + "".join("    " + line + "\n" for line in BOMB.splitlines()))
    v = clone(attacker, tmp_path)
    for command in ("status", "dag"):
        start = time.monotonic()
        refused(victim(v, command, timeout=20), "gitml.yaml", "once YAML aliases are expanded")
        assert time.monotonic() - start < 10


def test_merge_key_chain_is_refused_before_it_is_built() -> None:
    # each level merges the previous one four times: 4**13 pairs for PyYAML to copy (a
    # minute), each further level four times as long
    text = "a0: &a0 {x: 1}\n" + "".join(
        f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]}}\n"
        for i in range(1, 14))
    start = time.monotonic()
    with pytest.raises(FormatError, match="once YAML aliases are expanded"):
        yamlio.loads(text, "params.yaml")
    assert time.monotonic() - start < 1
    with pytest.raises(FormatError, match="aliases .* are not allowed in a config file"):
        yamlio.loads(text, "config.yaml", "config")
    # anchors that expand to little stay allowed where a format has a use for them
    assert yamlio.loads("base: &b {lr: 1}\ntrain:\n  <<: *b\n  epochs: 3\n", "p.yaml") == {
        "base": {"lr": 1}, "train": {"lr": 1, "epochs": 3}}


@pytest.mark.parametrize("where, text", [
    ("gitml.yaml", "vars:\n  - x: " + "[" * 100_000 + "]" * 100_000 + "\n"),
    ("gitml.yaml", "vars:\n" + "  - " * 50_000 + "x\n"),
    ("params.yaml", "a: " + "{b: " * 60_000 + "}" * 60_000 + "\n"),
    ("params.yaml", "a:\r" + "".join(" " * i + "  b:\r" for i in range(150))),
    ("metrics.json", "[" * 100_000 + "]" * 100_000),
    ("params.toml", "a = " + "[" * 100_000 + "]" * 100_000 + "\n"),
], ids=["flow", "block", "mapping", "cr-lines", "json", "toml"])
def test_deep_nesting_is_refused_not_a_crash(attacker: Path, tmp_path: Path, where: str,
                                            text: str) -> None:
    if where != "gitml.yaml":
        write(attacker / "gitml.yaml", f"params: [{where}]\n")
    write(attacker / where, text)
    v = clone(attacker, tmp_path)
    if where == "gitml.yaml":
        refused(victim(v, "status"), "gitml.yaml", "nested more than 100 levels deep")
        return
    p = victim(v, "params", "show")  # a file that cannot be read is a warning, not the end
    assert p.returncode == 0, p.stderr
    assert f"warning: {where}" in p.stderr and "nested more than 100 levels deep" in p.stderr
    with pytest.raises(FormatError, match="nested more than 100"):
        yamlio.loads(text, where, "values", where.rpartition(".")[2])


@pytest.mark.parametrize("where, text", [
    ("gitml.yaml", "vars:\n  - n: " + "9" * 5000 + "\n"),
    (".gitml/config.yaml", "core:\n  jobs: " + "9" * 5000 + "\n"),
    ("data.bin.gitml", f"gitml: 1\npath: data.bin\nkind: file\nhash: {OID}\n"
                       f"size: {'9' * 5000}\n"),
], ids=["project", "config", "pointer"])
def test_huge_integers_are_a_format_error(attacker: Path, tmp_path: Path, where: str,
                                          text: str) -> None:
    write(attacker / where, text)
    v = clone(attacker, tmp_path)
    refused(victim(v, "status"), where.rpartition("/")[2],
            "an integer has more than 4,300 digits")


@pytest.mark.parametrize("where, limit", [("gitml.yaml", "4 MiB"),
                                          (".gitml/config.yaml", "1 MiB")])
def test_big_project_and_config_files_are_refused_by_size(attacker: Path, tmp_path: Path,
                                                          where: str, limit: str) -> None:
    line = "# " + "x" * 97 + "\n"
    write(attacker / where, "core: {}\n" if "config" in where else "stages: {}\n")
    with open(attacker / where, "a") as f:
        f.write(line * 50_000)  # 5 MB of comments: valid YAML, parsed for minutes today
    v = clone(attacker, tmp_path)
    start = time.monotonic()
    refused(victim(v, "status"), where.rpartition("/")[2], f"over the {limit} limit")
    assert time.monotonic() - start < 5


def test_every_reader_of_an_oversized_pointer_sees_the_same_refusal(
        attacker: Path, tmp_path: Path) -> None:
    # the first MiB names the real object, a duplicate key after it another one: readers
    # that stopped at 1 MiB and readers that read it whole used to disagree
    ptr = (attacker / "data.bin.gitml").read_text()
    padding = ("# " + "x" * 1000 + "\n") * 1100
    write(attacker / "data.bin.gitml", ptr + padding + f"hash: {OID}\n")
    v = clone(attacker, tmp_path)
    for command in ("status", "checkout", "diff"):
        refused(victim(v, command), "data.bin.gitml", "over the 64 KiB limit for a pointer")
    with pytest.raises(FormatError, match="64 KiB"):
        pointer.load(str(v / "data.bin.gitml"))
    with pytest.raises(FormatError, match="64 KiB"):  # gc's and the hooks' way in
        pointer.loads((v / "data.bin.gitml").read_bytes(), "blob")


def test_a_csv_with_too_many_columns_is_refused_before_it_is_read(repo: Path, cli) -> None:
    n = 200_000
    write(repo / "wide.csv", ",".join(f"c{i}" for i in range(n)) + "\n"
          + ",".join("1" for _ in range(n)) + "\n")
    start = time.monotonic()
    p = victim(repo, "data", "profile", "wide.csv")
    refused(p, "wide.csv", "200,000 columns in the header row")
    assert "at most 10,000 columns" in p.stderr
    assert time.monotonic() - start < 10
    # a quoted header cell may hold newlines and delimiters: still one column each
    write(repo / "quoted.csv", '"a\nb,c",d\n1,2\n')
    r = cli("data", "profile", "quoted.csv", "--json")
    assert r.code == 0, r.err


def test_a_csv_header_that_is_not_utf8_is_a_clear_error(repo: Path, cli) -> None:
    write(repo / "latin.csv", "caf\xe9,n\n1,2\n".encode("latin-1"))
    r = cli("data", "profile", "latin.csv")
    assert r.code == 2, r.err
    assert r.err.strip() == ("error: latin.csv: column 1 of the header row is not UTF-8 text "
                             "(convert the file, e.g. iconv -f latin1 -t utf-8)")
    # values that are not UTF-8 are kept as bytes, as before
    write(repo / "values.csv", b"a,b\n\xe9,2\n3,4\n")
    assert cli("data", "profile", "values.csv").code == 0
