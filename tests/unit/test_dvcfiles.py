"""DVC's file formats read as a stranger's data: config, .dir manifests, locks, the DVC
map, DVC 2's cache (MD5 with CRLF read as LF)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gitml.dvcimport import dvcfiles, dvcmap, objects, remotes
from gitml.errors import FormatError, UnsafePathError
from gitml.store import Store

CONFIG = """[core]
    remote = storage   # the default
['remote "storage"']
    url = s3://bucket/project
    endpointurl = http://127.0.0.1:9000
    credentialpath = ~/.aws/other
['remote "nas"']
    url = ../../shared/store
['remote "gcs"']
    url = gs://bucket/x
[cache]
    type = "hardlink,symlink"
"""


def test_config_converts_s3_and_directory_remotes_and_keeps_secrets_local(tmp_path: Path
                                                                            ) -> None:
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc/config").write_text(CONFIG + "    secret_access_key = leaked\n")
    (tmp_path / ".dvc/config.local").write_text(
        "['remote \"storage\"']\n    access_key_id = AKIA\n")
    conf = remotes.read(str(tmp_path))
    s3 = conf.remotes["storage"]
    assert s3.url == "s3://bucket/project"
    assert s3.options == {"endpoint_url": "http://127.0.0.1:9000"}
    assert s3.secrets == {"access_key_id": "AKIA"}  # the [cache] section's line is not a secret
    nas = conf.remotes["nas"]
    assert nas.url == "../shared/store"  # DVC's paths are relative to .dvc/, gitml's to the root
    assert "gcs" not in conf.remotes
    assert conf.default == "storage" and conf.link == "hardlink,symlink"
    lines = [str(s) for s in conf.skips]
    assert any(line.startswith("remote storage: credentialpath") for line in lines)
    assert any(line.startswith("remote gcs (gs://bucket/x)") and "no gs remotes" in line
               for line in lines)


def test_a_secret_in_the_committed_config_goes_local_only(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc/config").write_text(
        "['remote \"s\"']\n    url = s3://b/p\n    secret_access_key = leaked\n")
    conf = remotes.read(str(tmp_path))
    assert conf.remotes["s"].secrets == {"secret_access_key": "leaked"}
    assert "leaked" not in str(conf.remotes["s"].options)
    assert any("committed .dvc/config" in s.reason for s in conf.skips)


def test_config_syntax_errors_name_the_line() -> None:
    with pytest.raises(FormatError, match="line 1"):
        dvcfiles.parse_config("url = x\n", ".dvc/config")
    with pytest.raises(FormatError, match="line 2"):
        dvcfiles.parse_config("[core]\n[broken\n", ".dvc/config")


@pytest.mark.parametrize("data, problem", [
    (b"{", "not a DVC directory manifest"),
    (b'{"relpath": "a"}', "expected a list"),
    (b'[{"md5": "zz", "relpath": "a"}]', "malformed entry"),
    (b'[{"md5": "' + b"0" * 32 + b'", "relpath": "../a"}]', "'..'"),
    (b'[{"md5": "' + b"0" * 32 + b'", "relpath": "/etc/x"}]', "absolute"),
    (b'[{"md5": "' + b"0" * 32 + b'", "relpath": "a"}, {"md5": "' + b"1" * 32
     + b'", "relpath": "a"}]', "duplicate"),
    (b"[" * 100_000, "not a DVC directory manifest"),
])
def test_bad_dir_manifests_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        dvcfiles.parse_dir(data, "cache/x.dir")


def test_paths_in_dvc_files_stay_inside_the_repository() -> None:
    out = dvcfiles.parse_dvcfile(b"outs:\n- md5: " + b"a" * 32 + b"\n  path: ../x.csv\n",
                                 "data/sub/x.dvc")
    assert out.outs[0].path == "data/x.csv"
    for bad in (b"../../x", b"/etc/passwd", b"s3://bucket/x"):
        with pytest.raises(UnsafePathError):
            dvcfiles.parse_dvcfile(b"outs:\n- md5: " + b"a" * 32 + b"\n  path: " + bad + b"\n",
                                   "data/x.dvc")


def test_lock_shapes() -> None:
    with pytest.raises(FormatError, match="unsupported lock schema"):
        dvcfiles.parse_lock(b"schema: '3.0'\nstages: {}\n", "dvc.lock")
    with pytest.raises(FormatError, match="malformed cmd"):
        dvcfiles.parse_lock(b"schema: '2.0'\nstages:\n  a: {cmd: 3}\n", "dvc.lock")
    old = dvcfiles.parse_lock(b"train:\n  cmd: python t.py\n  outs: [{path: m, md5: x}]\n",
                              "dvc.lock")  # DVC 1: stages at the top
    assert old["train"].cmd == ("python t.py",)


def test_map_round_trip_and_bad_lines() -> None:
    m = {"a" * 32: ("xxh3:" + "1" * 32, 5, None),
         "b" * 32 + ".dir": ("xxh3:" + "2" * 32, 10, 3)}
    assert dvcmap.loads(dvcmap.dumps(m), "m") == m
    with pytest.raises(FormatError, match="line 2"):
        dvcmap.loads(dvcmap.HEADER + b"abc xxh3:zz 5\n", "m")


def test_dvc2_cache_objects_are_verified_with_crlf_as_lf(tmp_path: Path) -> None:
    text = b"line one\r\nline two\r\n"
    md5 = hashlib.md5(text.replace(b"\r\n", b"\n")).hexdigest()  # DVC 2's name for it
    cache = objects.DvcCache(str(tmp_path / "cache"))
    (tmp_path / "cache" / md5[:2]).mkdir(parents=True)
    (tmp_path / "cache" / md5[:2] / md5[2:]).write_bytes(text)
    h = dvcfiles.DvcHash(md5, legacy=True)
    found = list(cache.scan())
    assert [(f.md5, f.legacy) for f in found] == [(md5, True)] and cache.path(h)
    store = Store(str(tmp_path / "store"))
    oid, size, _, _ = objects.bring(store, found[0].path, md5, True)
    assert store.read_bytes(oid) == text and size == len(text)
    binary = b"\x00\x01\r\n" * 4  # not text: hashed as it is
    with pytest.raises(objects.Corrupt):
        objects.bring(store, _put(tmp_path / "b", binary),
                      hashlib.md5(binary.replace(b"\r\n", b"\n")).hexdigest(), True)
    with pytest.raises(objects.Corrupt):  # DVC 3 hashes bytes as they are
        objects.bring(store, found[0].path, md5, False)


def _put(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_fetch_reads_both_dvc_layouts_of_a_directory_remote_and_checks_md5(
        tmp_path: Path) -> None:
    from gitml.remotes.local import DirectoryBackend

    remote = tmp_path / "remote"
    new, old, bad = b"dvc 3 object\n", b"dvc 2\r\nobject\r\n", b"not what it says\n"
    m_new = hashlib.md5(new).hexdigest()
    m_old = hashlib.md5(old.replace(b"\r\n", b"\n")).hexdigest()
    m_bad = hashlib.md5(b"something else").hexdigest()
    for key, data in ((f"files/md5/{m_new[:2]}/{m_new[2:]}", new),
                      (f"{m_old[:2]}/{m_old[2:]}", old),
                      (f"files/md5/{m_bad[:2]}/{m_bad[2:]}", bad)):
        (remote / key).parent.mkdir(parents=True, exist_ok=True)
        (remote / key).write_bytes(data)
    cache = objects.DvcCache(str(tmp_path / "cache"))
    backend = DirectoryBackend(str(remote), str(remote))
    backend.key_of = remotes._same  # type: ignore[method-assign]
    want = [dvcfiles.DvcHash(m_new), dvcfiles.DvcHash(m_old, legacy=True),
            dvcfiles.DvcHash(m_bad), dvcfiles.DvcHash("f" * 32)]
    got = remotes.fetch(backend, cache, want, jobs=2)
    assert [h.md5 for h in got.got] == [m_new, m_old]
    assert [h.md5 for h in got.corrupt] == [m_bad] and [h.md5 for h in got.missing] == ["f" * 32]
    assert Path(cache.path(want[0]) or "").read_bytes() == new
    assert Path(cache.path(want[1]) or "").read_bytes() == old
    assert cache.path(want[2]) is None  # a corrupt object never enters the cache
    assert not list((tmp_path / "cache").rglob(".gitml-tmp-*"))
