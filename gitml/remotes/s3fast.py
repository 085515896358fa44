"""A lean request path for small objects on S3-compatible servers (path-style endpoints).

boto3's client spends about 1.7 ms of CPU per request in serialising, validating and
dispatching events; for 20,000 small objects that CPU, not the network, bounds a push
(two cores, shared with the server). This path signs requests itself and sends them
with the standard library's ``http.client`` on one kept-alive connection per thread:
about 0.4 ms per request (urllib3's pool and URL parsing on top of http.client
cost another 0.13 ms). It serves only PUT of in-memory bytes, GET (whole, or a byte
range) and HEAD; everything else (listing, deleting, multipart) stays on the boto3
client. Requests are signed here (AWS Signature Version 4, the signing key derived once
a day): botocore's signer cost another 0.1 ms per request and 0.1 s to import. Keys
given to the remote or in the environment are used as they are (:func:`static_keys`), so
a command served by this path alone never imports boto3; any other credential (a
profile, SSO, a role) comes from the boto3 session, refreshed as the chain requires.
Retries are bounded with the same back-off shape as botocore's standard mode, and every
upload carries a CRC32 the server checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import random
import re
import socket
import threading
import time
import zlib
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote, urlsplit

_RETRY_STATUS = {500, 502, 503, 504}
# a kept-alive connection the server closed meanwhile: sent again on a new one, free
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")


_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_UNSIGNED = {"connection"}  # hop-by-hop: a proxy may change it


class _Response(NamedTuple):
    status: int
    data: bytes


class Keys(NamedTuple):
    """Access keys as botocore's frozen credentials hold them."""

    access_key: str
    secret_key: str
    token: str | None = None

    def get_frozen_credentials(self) -> Keys:
        return self


class _Credentials(Protocol):
    def get_frozen_credentials(self) -> Any: ...


def static_keys(options: dict[str, Any]) -> Keys | None:
    """The keys botocore's chain would pick without reading a file or asking a server: the
    remote's own (``access_key_id``/``secret_access_key``), else the environment's when no
    profile is named. None when the chain must decide (a profile, refreshable keys)."""
    key, secret = options.get("access_key_id"), options.get("secret_access_key")
    if key and secret:
        return Keys(str(key), str(secret), options.get("session_token") or None)
    env = os.environ
    if options.get("profile") or env.get("AWS_CREDENTIAL_EXPIRATION"):
        return None
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return Keys(key, secret, env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN")
                    or None)
    return None


class Signer:
    """AWS Signature Version 4 in the ``Authorization`` header, for S3 (no query string;
    the path is sent and signed as given, already percent-encoded once)."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._key: tuple[str, str, bytes] = ("", "", b"")  # (secret, day, signing key)

    def _signing_key(self, secret: str, day: str) -> bytes:
        if self._key[:2] != (secret, day):
            k = hmac.digest(("AWS4" + secret).encode(), day.encode(), "sha256")
            for part in (self.region, "s3", "aws4_request"):
                k = hmac.digest(k, part.encode(), "sha256")
            self._key = (secret, day, k)
        return self._key[2]

    def sign(self, keys: Any, method: str, host: str, path: str, headers: dict[str, str],
             payload_sha256: str, now: float | None = None) -> dict[str, str]:
        """``headers`` plus Host, X-Amz-Date, X-Amz-Content-Sha256, the session token (if
        any) and Authorization."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        day = stamp[:8]
        out = dict(headers, Host=host)
        out["X-Amz-Date"] = stamp
        out["X-Amz-Content-Sha256"] = payload_sha256
        if keys.token:
            out["X-Amz-Security-Token"] = keys.token
        signed = sorted((k.lower(), " ".join(str(v).split())) for k, v in out.items()
                        if k.lower() not in _UNSIGNED)
        names = ";".join(k for k, _ in signed)
        canonical = "\n".join([method, path, "", *(f"{k}:{v}" for k, v in signed), "", names,
                               payload_sha256])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        sig = hmac.new(self._signing_key(keys.secret_key, day), to_sign.encode(),
                       hashlib.sha256).hexdigest()
        out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={keys.access_key}/{scope}, "
                                f"SignedHeaders={names}, Signature={sig}")
        return out


class FastS3:
    """PUT / GET / HEAD of whole small objects at ``endpoint/bucket/key``."""

    def __init__(self, endpoint: str, bucket: str, region: str,
                 credentials: _Credentials | None, jobs: int, retries: int,
                 verify: Any = True) -> None:
        parts = urlsplit(endpoint)
        self.host = parts.netloc
        self.tls = parts.scheme == "https"
        self.path = parts.path.rstrip("/") + "/" + quote(bucket, safe="")
        self.base = f"{parts.scheme}://{self.host}{self.path}"  # named in errors
        self.signer = Signer(region)
        self.retries = max(1, retries)
        self._credentials = credentials
        self._verify = verify
        self._local = threading.local()
        self._open: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.tls:
                import ssl

                from botocore.httpsession import get_cert_path

                ctx = ssl.create_default_context(cafile=get_cert_path(self._verify))
                conn = http.client.HTTPSConnection(self.host, timeout=60, context=ctx)
            else:
                conn = http.client.HTTPConnection(self.host, timeout=60)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- one request, with bounded retries ------------------------------------------------
    def _send(self, method: str, key: str, body: bytes | None = None,
              extra: dict[str, str] | None = None) -> _Response:
        if self._credentials is None:
            from botocore.exceptions import NoCredentialsError

            raise NoCredentialsError()
        quoted = quote(key, safe="/~")
        path, url = f"{self.path}/{quoted}", f"{self.base}/{quoted}"
        headers: dict[str, str] = dict(extra or {})
        payload = _EMPTY_SHA256
        if body is not None:
            crc = zlib.crc32(body).to_bytes(4, "big")
            headers["x-amz-checksum-crc32"] = base64.b64encode(crc).decode()
            if not body:  # see s3._close_after_empty_put
                headers["Connection"] = "close"
            # the body is signed, as botocore's signer did here (it leaves the body unsigned
            # only for a request it knows carries a checksum over TLS)
            payload = hashlib.sha256(body).hexdigest()
        attempt = 0
        while True:
            signed = self.signer.sign(self._credentials.get_frozen_credentials(), method,
                                      self.host, path, headers, payload)
            reused = getattr(self._local, "conn", None) is not None
            try:
                conn = self._connection()
                conn.request(method, path, body=body, headers=signed)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self._drop()
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                if reused and isinstance(e, _STALE):  # the server closed an idle connection
                    continue
                attempt += 1
                if attempt >= self.retries:
                    raise _connection_error(e, url) from None
            else:
                attempt += 1
                if resp.status not in _RETRY_STATUS or attempt >= self.retries:
                    return _Response(resp.status, data)
            time.sleep(random.random() * min(20.0, 2.0 ** (attempt - 1)))  # botocore's shape

    @staticmethod
    def _error(resp: _Response, operation: str) -> Exception:
        from botocore.exceptions import ClientError

        code = _CODE.search(resp.data or b"")
        msg = _MESSAGE.search(resp.data or b"")
        return ClientError({"Error": {"Code": code.group(1).decode() if code else
                                      str(resp.status),
                                      "Message": msg.group(1).decode() if msg else ""},
                            "ResponseMetadata": {"HTTPStatusCode": resp.status}}, operation)

    # -- the three operations -----------------------------------------------------------
    def put(self, key: str, data: bytes) -> None:
        resp = self._send("PUT", key, data)
        if resp.status != 200:
            raise self._error(resp, "PutObject")

    def get(self, key: str, span: tuple[int, int] | None = None) -> bytes | None:
        """The object, or bytes ``span`` (first, last; inclusive) of it; None when absent."""
        extra = {"Range": f"bytes={span[0]}-{span[1]}"} if span else None
        resp = self._send("GET", key, None, extra)
        if resp.status == 404:
            return None
        if resp.status == 416:  # a range past the end: nothing there
            return b""
        if resp.status not in (200, 206):
            raise self._error(resp, "GetObject")
        if span and resp.status == 200:  # a server that ignores Range sends it all
            return resp.data[span[0]:span[1] + 1]
        return resp.data

    def head(self, key: str) -> bool:
        resp = self._send("HEAD", key)
        if resp.status == 404:
            return False
        if resp.status != 200:
            raise self._error(resp, "HeadObject")
        return True

    def close(self) -> None:
        with self._lock:
            for conn in self._open:
                conn.close()
            self._open.clear()


def _connection_error(e: Exception, url: str) -> Exception:
    from botocore.exceptions import EndpointConnectionError

    return EndpointConnectionError(endpoint_url=url, error=e)
