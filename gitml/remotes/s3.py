"""S3 and S3-compatible object storage (AWS, MinIO, Ceph, SeaweedFS, R2 …) through boto3.

Why boto3: it is the reference client, already carries the whole AWS credential chain
(environment, profiles and SSO, container and instance roles), retries with back-off,
and its TransferManager does parallel multipart transfers; one shared client is
thread-safe, so the engine's thread pool drives many small requests at once.

Keys mirror the store: ``<prefix>/objects/ab/cdef…``. A PUT is atomic (a multipart
upload appears only when completed), so an interrupted push never leaves a partial
object under its name.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from gitml.fsutil import write_all_at
from gitml.hashing import CHUNK, PREFIX, is_oid
from gitml.remotes.base import (
    KEY_MAX,
    LIST_THRESHOLD,
    Progress,
    RemoteAuthError,
    RemoteError,
    exists_by_listing,
    key_of,
)

# Objects above this go through TransferManager (parallel parts). boto3's defaults (8 MiB
# parts, 10 threads) measured best here: 16 MiB x 16 threads took 1.8x as long for 1 GiB.
MULTIPART = 8 << 20
PART = 8 << 20
PART_THREADS = 10
_AUTH_CODES = {"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken",
               "InvalidToken", "TokenRefreshRequired", "InvalidClientTokenId", "403",
               "AllAccessDisabled", "AccountProblem"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix/") (prefix "" or ends in /)."""
    rest = url[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/" if prefix else "")


class S3Backend:
    """One bucket prefix; one shared boto3 client."""

    processes = False  # requests wait on the network: threads
    key_of = staticmethod(key_of)  # an object's key below the prefix (see base.Backend)

    def __init__(self, name: str, url: str, options: dict[str, Any], *, jobs: int) -> None:
        self.name = name
        self.url = url
        self.bucket, self.prefix = parse_url(url)
        self.jobs = jobs
        endpoint = options.get("endpoint_url") or None
        region = options.get("region") or None
        if endpoint and not region and not os.environ.get("AWS_DEFAULT_REGION") \
                and not os.environ.get("AWS_REGION"):
            region = "us-east-1"  # S3-compatible servers ignore it, but signing needs one
        style = options.get("addressing_style") or ("path" if endpoint else "auto")
        key_id = options.get("access_key_id")
        secret = options.get("secret_access_key")
        if bool(key_id) != bool(secret):
            raise RemoteAuthError(
                f"remote {name}: set both access_key_id and secret_access_key in "
                f".gitml/config.local.yaml, or neither (to use the AWS credential chain)")
        self.retries = int(options.get("retries") or 5)
        self._probe_lock = threading.Lock()
        self._probed: dict[int, str | None] = {}
        self._endpoint = endpoint
        self._options = options
        self._region, self._style = region, style  # for the boto3 client, made on first use
        self._client_lock = threading.Lock()
        self.fast = None
        if endpoint and style == "path" and not _proxied(endpoint) \
                and not os.environ.get("GITML_S3_BOTO_ONLY"):  # the switch for a bad server
            from gitml.remotes.s3fast import FastS3, static_keys

            keys = static_keys(options)
            try:  # keys at hand need no boto3 at all; others come from its chain
                creds = keys if keys is not None else self.session.get_credentials()
                self.fast = FastS3(endpoint, self.bucket, region or os.environ.get(
                    "AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1",
                    creds, jobs, self.retries)
            except RemoteError:
                raise
            except Exception as e:
                raise self._translate(e) from None
        else:
            self.client  # noqa: B018 - made now: errors in the settings show at once
        # Each multipart transfer already runs PART_THREADS parts at once and buffers them:
        # two at a time keeps memory near 2 x 10 x 8 MiB whatever -j says.
        self._multipart = threading.BoundedSemaphore(2)
        self._parts: ThreadPoolExecutor | None = None  # see _get_parts
        self._parts_lock = threading.Lock()

    @cached_property
    def session(self) -> Any:
        """The boto3 session (the AWS credential chain), made on first use."""
        import boto3

        o = self._options
        try:
            return boto3.session.Session(
                botocore_session=_botocore_session(o.get("profile") or None),
                aws_access_key_id=o.get("access_key_id") or None,
                aws_secret_access_key=o.get("secret_access_key") or None,
                aws_session_token=o.get("session_token") or None)
        except Exception as e:
            raise self._translate(e) from None

    @cached_property
    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=MULTIPART, multipart_chunksize=PART,
                              max_concurrency=PART_THREADS, use_threads=True)

    @cached_property
    def client(self) -> Any:
        """boto3's client, made on first use: a command served by the lean path alone
        (a get or fetch from an S3-compatible endpoint) never pays its ~0.15 s set-up."""
        from botocore.config import Config

        with self._client_lock:
            if "client" in self.__dict__:
                return self.__dict__["client"]
            try:
                client = self.session.client(
                    "s3", endpoint_url=self._endpoint, region_name=self._region,
                    config=Config(max_pool_connections=max(self.jobs, 10) + 10,
                                  retries={"max_attempts": self.retries, "mode": "standard"},
                                  connect_timeout=10, read_timeout=60,
                                  s3={"addressing_style": self._style}))
            except Exception as e:
                raise self._translate(e) from None
            client.meta.events.register("before-send.s3.PutObject", _close_after_empty_put)
            return client

    # -- errors -----------------------------------------------------------------------
    def _where(self) -> str:
        made = self.__dict__.get("client")
        ep = self._endpoint or (made.meta.endpoint_url if made is not None else "")
        return f"remote {self.name} ({self.url}{' at ' + ep if ep else ''})"

    def _translate(self, e: Exception) -> Exception:
        """botocore's exceptions -> one clear line; never includes a credential."""
        from botocore import exceptions as bx

        if isinstance(e, bx.ClientError):
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if (not code or code.isdigit()) and isinstance(status, int) and status >= 400:
                # a HEAD response has no body, so no S3 code: ask for one once
                code = self._code_for(status) or f"HTTP {status}"
            if code in _AUTH_CODES or status == 403:
                return RemoteAuthError(
                    f"{self._where()} refused the credentials ({code or status}): check "
                    "the AWS environment or profile, or 'gitml remote modify --local "
                    f"{self.name} access_key_id|secret_access_key ...'")
            if code == "NoSuchBucket":
                return RemoteError(f"{self._where()}: bucket {self.bucket!r} does not exist")
            return RemoteError(f"{self._where()}: {code or status}: {err.get('Message', e)}")
        if isinstance(e, (bx.NoCredentialsError, bx.PartialCredentialsError)):
            return RemoteAuthError(
                f"{self._where()}: no credentials found: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, a profile (remote option 'profile'), or "
                f"'gitml remote modify --local {self.name} access_key_id ...'")
        if isinstance(e, bx.ProfileNotFound):
            return RemoteError(f"remote {self.name}: {e}")
        if isinstance(e, (bx.EndpointConnectionError, bx.ConnectionClosedError,
                          bx.ReadTimeoutError, bx.ConnectTimeoutError, bx.ConnectionError)):
            return RemoteError(f"cannot reach {self._where()} after {self.retries} attempts: "
                               f"{type(e).__name__}")
        if isinstance(e, bx.HTTPClientError):  # the server went away while sending a body
            return RemoteError(f"cannot reach {self._where()}: the connection broke "
                               f"mid-transfer ({type(e).__name__})")
        if isinstance(e, bx.BotoCoreError):
            return RemoteError(f"{self._where()}: {e}")
        return e

    def _code_for(self, status: int) -> str | None:
        """The S3 error code (``AccessDenied``, ``InvalidAccessKeyId`` ...) behind a bare
        HTTP ``status``: one ranged GET of a key under the prefix (same credentials and
        permissions as a HEAD, but the error comes with a body) answered with that status.
        Asked once per backend; None when the answer differs or cannot be had."""
        from botocore.exceptions import ClientError

        with self._probe_lock:
            if status not in self._probed:
                found = None
                try:
                    self.client.get_object(Bucket=self.bucket, Key=self.prefix + "objects/",
                                           Range="bytes=0-0")
                except ClientError as e:
                    code = str(e.response.get("Error", {}).get("Code", ""))
                    got = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                    if got == status and code and not code.isdigit():
                        found = code
                except Exception:  # noqa: BLE001 - only a better message was at stake
                    pass
                self._probed[status] = found
            return self._probed[status]

    def _call(self, fn: Any, **kw: Any) -> Any:
        try:
            return fn(Bucket=self.bucket, **kw)
        except Exception as e:
            raise self._translate(e) from None

    @staticmethod
    def _is_missing(e: Exception) -> bool:
        from botocore.exceptions import ClientError

        return isinstance(e, ClientError) and str(
            e.response.get("Error", {}).get("Code", "")) in _MISSING_CODES

    # -- listing ----------------------------------------------------------------------
    def list(self, prefix: str | None = None, sizes: bool = False
             ) -> Iterator[tuple[str, int]]:
        base = self.prefix + "objects/"
        kw: dict[str, Any] = {"Prefix": base + (prefix + "/" if prefix else "")}
        skip = len(base)
        while True:
            page = self._call(self.client.list_objects_v2, **kw)
            for item in page.get("Contents", ()):
                oid = PREFIX + item["Key"][skip:].replace("/", "", 1)
                if is_oid(oid) and item["Key"][skip + 2:skip + 3] == "/":
                    yield oid, int(item.get("Size", -1))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            kw["ContinuationToken"] = token

    def exists(self, oids: list[str]) -> set[str]:
        # A lean HEAD costs about a sixth of a LIST through boto3 (0.26 ms against 1.6 ms,
        # 16 in flight) and needs no boto3 client (0.2 s to make): with it, listing the 256
        # prefixes pays only for more than about 2,000 objects (a 1 GiB file's ~850 chunks
        # are asked one by one).
        most = LIST_THRESHOLD if self.fast is None else 8 * LIST_THRESHOLD
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            if len(oids) > most:
                return exists_by_listing(self, oids, pool.map)
            return {oid for oid, ok in zip(oids, pool.map(self._head, oids), strict=True)
                    if ok}

    def _head(self, oid: str) -> bool:
        try:
            if self.fast is not None:
                return self.fast.head(self.prefix + self.key_of(oid))
            self.client.head_object(Bucket=self.bucket,
                                    Key=self.prefix + self.key_of(oid))
            return True
        except Exception as e:
            if self._is_missing(e):
                return False
            raise self._translate(e) from None

    # -- transfers --------------------------------------------------------------------
    def put(self, oid: str, src: str, size: int, data: bytes | None = None,
            progress: Progress | None = None) -> None:
        key = self.prefix + self.key_of(oid)
        if data is not None and self.fast is not None:
            try:
                self.fast.put(key, data)
            except Exception as e:
                raise self._translate(e) from None
        elif data is not None:
            self._call(self.client.put_object, Key=key, Body=data)
        elif size < MULTIPART:
            with open(src, "rb") as f:
                self._call(self.client.put_object, Key=key, Body=f)
        else:
            try:
                with self._multipart:
                    self.client.upload_file(src, self.bucket, key,
                                            Config=self.transfer_config, Callback=progress)
                return
            except Exception as e:
                raise self._translate(_unwrap(e)) from None
        if progress:
            progress(size)

    def read(self, oid: str) -> bytes | None:
        try:
            if self.fast is not None:
                return self.fast.get(self.prefix + self.key_of(oid))
            resp = self.client.get_object(Bucket=self.bucket,
                                          Key=self.prefix + self.key_of(oid))
            data: bytes = resp["Body"].read()
            return data
        except Exception as e:
            if self._is_missing(e):
                return None
            raise self._translate(e) from None

    def read_range(self, oid: str, start: int, length: int) -> bytes:
        key = self.prefix + self.key_of(oid)
        end = start + length - 1
        try:
            if self.fast is not None:
                data = self.fast.get(key, (start, end))
            else:
                resp = self.client.get_object(Bucket=self.bucket, Key=key,
                                              Range=f"bytes={start}-{end}")
                data = resp["Body"].read()
        except Exception as e:
            if self._is_missing(e):
                raise RemoteError(f"{self._where()} lacks {oid}") from None
            raise self._translate(e) from None
        if data is None:
            raise RemoteError(f"{self._where()} lacks {oid}")
        return data  # type: ignore[no-any-return]

    def get(self, oid: str, dst: str, size: int | None = None,
            progress: Progress | None = None) -> bool | str:
        key = self.prefix + self.key_of(oid)
        try:
            if size is not None and size >= MULTIPART and self.fast is not None:
                with self._multipart:
                    got = self._get_parts(key, dst, size, progress)
                if not got:  # the remote lacks it: no empty file is left behind
                    os.unlink(dst)
                return got
            if size is not None and size >= MULTIPART:
                with self._multipart:
                    self.client.download_file(self.bucket, key, dst,
                                              Config=self.transfer_config, Callback=progress)
                return True
            resp = self.client.get_object(Bucket=self.bucket, Key=key)
            with open(dst, "xb") as f:
                body = resp["Body"]
                while chunk := body.read(CHUNK):
                    f.write(chunk)
                    if progress:
                        progress(len(chunk))
            return True
        except Exception as e:
            e = _unwrap(e)
            with contextlib.suppress(OSError):
                if os.path.exists(dst):
                    os.unlink(dst)
            if self._is_missing(e):
                return False
            raise self._translate(e) from None

    def _get_parts(self, key: str, dst: str, size: int, progress: Progress | None
                   ) -> bool | str:
        """A large object by ranged GETs on the lean path, ``PART_THREADS`` at a time, each
        part written where it belongs; the parts are hashed in order as they complete, so
        the object is hashed when the last part lands. Returns the hash of exactly the bytes
        left in ``dst`` (the caller's temp name), False when the remote lacks the object.
        An object of another size than ``size`` ends at its first short part: the bytes up
        to there are hashed (so they cannot pass for the object asked for unless they are
        it) and ``dst`` is cut to them. At most PART_THREADS + 2 parts are in memory."""
        from collections import deque

        import xxhash

        assert self.fast is not None
        fast = self.fast
        spans = iter([(o, min(o + PART, size) - 1) for o in range(0, size, PART)])
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)

        def part(span: tuple[int, int]) -> bytes | None:
            data = fast.get(key, span)
            if data:
                write_all_at(fd, data, span[0])
            return data

        h = xxhash.xxh3_128()
        hashed = 0
        with self._parts_lock:  # one pool for every large object: its threads (and their
            if self._parts is None:  # kept-alive connections) serve them all
                self._parts = ThreadPoolExecutor(max_workers=2 * PART_THREADS,
                                                 thread_name_prefix="s3-part")
        pool = self._parts
        pending: deque[tuple[tuple[int, int], Any]] = deque()

        def more() -> None:
            span = next(spans, None)
            if span is not None:
                pending.append((span, pool.submit(part, span)))

        try:
            for _ in range(PART_THREADS + 2):
                more()
            while pending:
                span, fut = pending.popleft()
                data = fut.result()
                if data is None:
                    return False
                h.update(data)
                hashed += len(data)
                if progress:
                    progress(len(data))
                if len(data) != span[1] - span[0] + 1:  # the remote's object ends here
                    break
                more()
        finally:
            for _, fut in pending:  # no part may write after the file is closed
                fut.cancel()
            for _, fut in pending:
                with contextlib.suppress(Exception):
                    fut.result()
            os.close(fd)
        if hashed != size:  # parts after a short one may have written past it
            os.truncate(dst, hashed)
        return PREFIX + h.hexdigest()

    def delete(self, oids: list[str]) -> None:
        self.delete_keys([self.key_of(o) for o in oids])

    def delete_keys(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):  # the API's batch limit
            objs = [{"Key": self.prefix + k} for k in keys[i:i + 1000]]
            resp = self._call(self.client.delete_objects, Delete={"Objects": objs, "Quiet": True})
            errors = resp.get("Errors") or []
            if errors:
                first = errors[0]
                raise RemoteError(f"{self._where()}: cannot delete {first.get('Key')}: "
                                  f"{first.get('Code')} {first.get('Message', '')}".rstrip())

    # -- named files (run-cache entries) ---------------------------------------------
    def list_keys(self, top: str) -> Iterator[str]:
        kw: dict[str, Any] = {"Prefix": f"{self.prefix}{top}/"}
        skip = len(self.prefix)
        while True:
            page = self._call(self.client.list_objects_v2, **kw)
            for item in page.get("Contents", ()):
                key = item["Key"][skip:]
                if key.count("/") == 2 and not key.rpartition("/")[2].startswith("."):
                    yield key
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            kw["ContinuationToken"] = token

    def read_key(self, key: str) -> bytes | None:
        try:
            if self.fast is not None:
                return self.fast.get(self.prefix + key)
            resp = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key,
                                          Range=f"bytes=0-{KEY_MAX}")
            data: bytes = resp["Body"].read()
            return data
        except Exception as e:
            if self._is_missing(e):
                return None
            raise self._translate(e) from None

    def put_key(self, key: str, data: bytes) -> None:
        try:
            if self.fast is not None:
                self.fast.put(self.prefix + key, data)
            else:
                self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        except Exception as e:
            raise self._translate(e) from None

    def wrote_elsewhere(self) -> None:
        """Nothing to flush: an object is durable on S3 once its PUT returns."""

    def close(self) -> None:
        if self._parts is not None:
            self._parts.shutdown(wait=True, cancel_futures=True)
            self._parts = None
        with contextlib.suppress(Exception):
            made = self.__dict__.get("client")
            if made is not None:
                made.close()
        if self.fast is not None:
            with contextlib.suppress(Exception):
                self.fast.close()


def _proxied(endpoint: str) -> bool:
    """A proxy is configured for the endpoint: leave every request to botocore. (The
    standard library's reading of ``*_proxy``/``no_proxy``, as botocore's own.)"""
    from urllib.request import getproxies, proxy_bypass

    if not getproxies():
        return False
    try:
        return not proxy_bypass(urlsplit(endpoint).netloc)
    except (TypeError, OSError):
        return True


_loader: Any = None


def _botocore_session(profile: str | None) -> Any:
    """A new botocore session (own credentials) sharing one parsed-model loader, so a
    second remote in the same process costs milliseconds, not a re-parse of the models."""
    import botocore.session

    global _loader
    bs = botocore.session.Session(profile=profile)
    if _loader is None:
        _loader = bs.get_component("data_loader")
    else:
        bs.register_component("data_loader", _loader)
    return bs


def _close_after_empty_put(request: Any, **_: Any) -> None:
    """SeaweedFS 4.48 leaves a keep-alive connection hanging after a zero-length PUT (the
    next request on it waits for the read timeout); one reconnect per empty object is cheap.
    """
    if request.headers.get("Content-Length") in ("0", b"0"):
        request.headers["Connection"] = "close"


def _unwrap(e: Exception) -> Exception:
    """TransferManager wraps a 404 HEAD in a ClientError already; other wrappers pass."""
    cause = e.__cause__ or e.__context__
    from botocore.exceptions import BotoCoreError, ClientError

    if not isinstance(e, (BotoCoreError, ClientError)) and isinstance(cause, Exception):
        return cause
    return e
