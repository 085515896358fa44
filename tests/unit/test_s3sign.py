"""The lean S3 path's own SigV4 signer, checked against botocore's (the reference client)
on the requests it sends; and which keys it may use without boto3's credential chain."""

from __future__ import annotations

import calendar
import datetime
import hashlib

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gitml.remotes.s3fast import Keys, Signer, static_keys

NOW = float(calendar.timegm((2026, 12, 5, 0, 0, 0)))


@pytest.mark.parametrize(("method", "key", "headers", "body", "token"), [
    ("GET", "prefix/objects/ab/cdef", {}, None, None),
    ("GET", "p/objects/ab/cd", {"Range": "bytes=0-8388607"}, None, "a-session-token"),
    ("HEAD", "dir with space/ünïcode+plus~tilde", {}, None, None),
    ("PUT", "p/objects/12/34", {"x-amz-checksum-crc32": "AAAAAA=="}, b"some bytes", None),
    ("PUT", "p/chunked/12/34", {"x-amz-checksum-crc32": "AAAAAA==", "Connection": "close"},
     b"", "tok"),
])
def test_signature_matches_botocores(method: str, key: str, headers: dict[str, str],
                                     body: bytes | None, token: str | None,
                                     monkeypatch) -> None:
    from urllib.parse import quote

    host, path = "127.0.0.1:8333", "/bucket/" + quote(key, safe="/~")
    payload = hashlib.sha256(body or b"").hexdigest()
    ours = Signer("eu-west-3").sign(Keys("AKIDEXAMPLE", "secret/Key+1", token), method, host,
                                    path, headers, payload, now=NOW)
    monkeypatch.setattr(botocore.auth, "get_current_datetime",  # botocore's own clock
                        lambda: datetime.datetime(2026, 12, 5))
    req = AWSRequest(method=method, url=f"http://{host}{path}", data=body,
                     headers=dict(headers))
    S3SigV4Auth(Credentials("AKIDEXAMPLE", "secret/Key+1", token), "s3", "eu-west-3"
                ).add_auth(req)
    assert ours["Authorization"] == req.headers["Authorization"]
    assert ours["X-Amz-Date"] == req.headers["X-Amz-Date"] == "20261205T000000Z"
    assert ours["X-Amz-Content-Sha256"] == req.headers["X-Amz-Content-SHA256"]
    assert ours.get("X-Amz-Security-Token") == token


def test_signing_key_follows_the_day_and_the_secret() -> None:
    s = Signer("us-east-1")
    a = s.sign(Keys("K", "S"), "GET", "h", "/b/k", {}, "x", now=NOW)["Authorization"]
    b = s.sign(Keys("K", "S"), "GET", "h", "/b/k", {}, "x", now=NOW + 86400)["Authorization"]
    c = s.sign(Keys("K", "T"), "GET", "h", "/b/k", {}, "x", now=NOW)["Authorization"]
    assert "20261205/us-east-1/s3/aws4_request" in a and "20261206/" in b
    assert len({a.rsplit("=", 1)[1], b.rsplit("=", 1)[1], c.rsplit("=", 1)[1]}) == 3


def test_static_keys_are_what_botocores_chain_would_pick_first(monkeypatch) -> None:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION"):
        monkeypatch.delenv(k, raising=False)
    assert static_keys({}) is None  # the chain decides (profiles, SSO, roles)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "envkey")
    assert static_keys({}) is None  # half a pair is not a credential
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    assert static_keys({}) == Keys("envkey", "envsecret", None)
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "old-name")
    assert static_keys({}) == Keys("envkey", "envsecret", "old-name")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok")
    assert static_keys({}) == Keys("envkey", "envsecret", "tok")
    # the remote's own keys win over the environment's
    own = {"access_key_id": "mine", "secret_access_key": "s", "session_token": "t"}
    assert static_keys(own) == Keys("mine", "s", "t")
    assert static_keys({**own, "profile": "dev"}) == Keys("mine", "s", "t")
    # a named profile or refreshable environment keys: the chain decides
    assert static_keys({"profile": "dev"}) is None
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", "2026-12-05T01:00:00Z")
    assert static_keys({}) is None
