"""Open crawl inputs as byte streams: S3 (boto3), HTTP(S) (urllib) or local files.

Nothing here downloads a whole file: callers get a forward-only stream and read it in chunks.
Transient failures (5xx, throttling, timeouts, connection errors) are retried with exponential
backoff, both when opening and in the middle of a read (a broken S3/HTTP body is re-opened with a
``Range`` request at the byte where it broke, so a 1 GB WARC is not lost to one dropped
connection). Permanent failures raise :class:`lmdata.errors.RecordError` with a stable reason:

- ``not_found``      404 / NoSuchKey / NoSuchBucket / missing local file (never retried)
- ``access_denied``  401 / 403 / AccessDenied / unreadable local file (never retried)
- ``fetch_failed``   anything else, after ``retries`` retries for transient errors

Missing AWS credentials are a configuration error (:class:`lmdata.errors.ConfigError`), not a
per-file problem.
"""

from __future__ import annotations

import io
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from lmdata.errors import ConfigError, RecordError

USER_AGENT = "lmdata-ingest/0.1 (+https://commoncrawl.org/terms-of-use)"


@dataclass(frozen=True)
class SourceOptions:
    s3_endpoint_url: str | None = None  # e.g. http://127.0.0.1:5000 for moto / MinIO
    s3_unsigned: bool = False  # the public commoncrawl bucket is read unsigned
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    region: str | None = None
    http_timeout_s: float = 60.0
    retries: int = 3  # retries (after the first attempt) for transient errors
    backoff_s: float = 0.5  # first backoff; doubles per retry (with jitter)


class _Transient(Exception):
    """A failure worth retrying (wraps the original error)."""


def join_uri(base: str, rel: str) -> str:
    """Join a root (s3://bucket/, https://host/, a local directory) and a listing path."""
    if "://" in rel or rel.startswith("/"):
        return rel
    if not base:
        return rel
    return base.rstrip("/") + "/" + rel.lstrip("/")


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def local_path(uri: str) -> str:
    if uri.startswith("file://"):
        parts = urlsplit(uri)
        return unquote(parts.path)
    return uri


def open_input(uri: str, opts: SourceOptions, *, counters: Counter | None = None) -> BinaryIO:
    """Open ``uri`` for streaming reads. Raises RecordError after retries are exhausted.

    ``counters`` (optional) gets ``fetch_retries`` incremented for every retried attempt.
    """
    if uri.startswith("s3://"):
        parts = urlsplit(uri)
        bucket, key = parts.netloc, parts.path.lstrip("/")
        if not bucket or not key:
            raise RecordError("not_found", f"malformed S3 URI {uri!r}")
        client = _s3_client(opts)

        def open_s3(offset: int, etag: str | None):
            kwargs: dict = {"Bucket": bucket, "Key": key}
            if offset:
                kwargs["Range"] = f"bytes={offset}-"
            if etag:
                kwargs["IfMatch"] = etag  # never splice two versions of an object together
            resp = _s3_call(lambda: client.get_object(**kwargs), uri)
            size = resp.get("ContentLength")
            return resp["Body"], resp.get("ETag"), None if size is None else offset + int(size)

        return _ResumingReader(uri, open_s3, opts, counters)
    if uri.startswith(("http://", "https://")):

        def open_http(offset: int, etag: str | None):
            headers = {"User-Agent": USER_AGENT}
            if offset:
                headers["Range"] = f"bytes={offset}-"
                if etag:
                    headers["If-Range"] = etag
            req = urllib.request.Request(uri, headers=headers)
            try:
                resp = urllib.request.urlopen(req, timeout=opts.http_timeout_s)  # noqa: S310
            except urllib.error.HTTPError as e:
                e.close()
                raise _classify_http(e.code, uri, str(e)) from e
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                raise _Transient(f"{uri}: {e}") from e
            length = resp.headers.get("Content-Length")
            size = None
            if length is not None and not resp.headers.get("Content-Encoding"):
                size = int(length) + (offset if resp.status == 206 else 0)
            if offset and resp.status == 200:
                # The server ignored the Range header (or the resource changed): skip ahead.
                _discard(resp, offset)
            return resp, resp.headers.get("ETag"), size

        return _ResumingReader(uri, open_http, opts, counters)
    path = local_path(uri)
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes the stream
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
        raise RecordError("not_found", f"{uri}: {e}") from e
    except PermissionError as e:
        raise RecordError("access_denied", f"{uri}: {e}") from e
    except OSError as e:
        raise RecordError("fetch_failed", f"{uri}: {e}") from e


def _discard(stream: BinaryIO, n: int) -> None:
    while n > 0:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            raise _Transient("stream ended while skipping to the resume offset")
        n -= len(chunk)


def _classify_http(status: int, uri: str, msg: str) -> Exception:
    if status in (404, 410):
        return RecordError("not_found", f"{uri}: HTTP {status} {msg}")
    if status in (401, 403):
        return RecordError("access_denied", f"{uri}: HTTP {status} {msg}")
    if status >= 500 or status in (408, 429):
        return _Transient(f"{uri}: HTTP {status} {msg}")
    return RecordError("fetch_failed", f"{uri}: HTTP {status} {msg}")


def _with_retries(fn: Callable, uri: str, opts: SourceOptions, counters: Counter | None):
    """Run ``fn`` with exponential backoff on _Transient; raise RecordError('fetch_failed').

    Our own small loop (not botocore's / urllib3's retry machinery) so that S3 and HTTP share one
    policy, the delays are configurable (tests use milliseconds) and retries are countable.
    """
    attempt = 0
    while True:
        try:
            return fn()
        except _Transient as e:
            if attempt >= opts.retries:
                raise RecordError(
                    "fetch_failed", f"{e} (gave up after {attempt + 1} attempts)"
                ) from e
            if counters is not None:
                counters["fetch_retries"] += 1
            delay = opts.backoff_s * (2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
            time.sleep(delay)
            attempt += 1


class _ResumingReader(io.RawIOBase):
    """Forward-only stream over an opener(offset, etag) -> (body, etag, total size or None).

    A read that fails with a transient error re-opens the source at the current offset and carries
    on; after ``retries`` consecutive failures it raises RecordError('fetch_failed', offset=...).
    A body that ends before the announced size counts as a failed read: http.client returns b""
    when a server closes the connection early instead of raising IncompleteRead.
    """

    def __init__(self, uri: str, opener, opts: SourceOptions, counters: Counter | None) -> None:
        super().__init__()
        self._uri = uri
        self._opener = opener
        self._opts = opts
        self._counters = counters
        self._pos = 0
        self._body = None
        self._body, self._etag, self._size = _with_retries(
            lambda: opener(0, None), uri, opts, counters
        )

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def _reopen(self) -> None:
        self._close_body()
        self._body, etag, size = self._opener(self._pos, self._etag)
        self._etag = etag or self._etag
        self._size = size if size is not None else self._size

    def _read_once(self, n: int) -> bytes:
        if self._body is None:
            self._reopen()
        try:
            data = self._body.read(n)
        except RecordError:
            raise
        except Exception as e:  # urllib3 ProtocolError, IncompleteRead, socket timeouts, ...
            self._close_body()
            raise _Transient(f"{self._uri}: read failed at byte {self._pos}: {e!r}") from e
        if not data and n and self._size is not None and self._pos < self._size:
            self._close_body()
            raise _Transient(f"{self._uri}: connection closed at byte {self._pos} of {self._size}")
        return data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            chunks = []
            while chunk := self.read(1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        try:
            data = _with_retries(lambda: self._read_once(n), self._uri, self._opts, self._counters)
        except RecordError as e:
            e.offset = self._pos
            raise
        self._pos += len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def _close_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            try:
                body.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; ignore
                pass

    def close(self) -> None:
        self._close_body()
        super().close()


# --- S3 -------------------------------------------------------------------------------------

_S3_CLIENTS: dict[SourceOptions, object] = {}
_S3_LOCK = threading.Lock()

_S3_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "NotFound", "404"}
_S3_DENIED = {
    "AccessDenied",
    "403",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
    "AccountProblem",
}
_S3_TRANSIENT = {
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
    "503",
    "500",
}


def _s3_client(opts: SourceOptions):
    """One boto3 client per option set and process (clients are thread-safe, sessions are not)."""
    key = opts
    with _S3_LOCK:
        client = _S3_CLIENTS.get(key)
        if client is None:
            import boto3
            import botocore
            from botocore.config import Config

            cfg = Config(
                signature_version=botocore.UNSIGNED if opts.s3_unsigned else None,
                # We retry ourselves (see _with_retries); botocore must not multiply attempts.
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=opts.http_timeout_s,
                read_timeout=opts.http_timeout_s,
                s3={"addressing_style": "path"} if opts.s3_endpoint_url else None,
                user_agent_extra="lmdata-ingest",
            )
            session = boto3.session.Session(
                aws_access_key_id=opts.aws_access_key_id,
                aws_secret_access_key=opts.aws_secret_access_key,
                region_name=opts.region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            )
            client = session.client("s3", endpoint_url=opts.s3_endpoint_url, config=cfg)
            _S3_CLIENTS[key] = client
    return client


def _s3_call(fn: Callable, uri: str):
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        ParamValidationError,
        PartialCredentialsError,
    )

    try:
        return fn()
    except ClientError as e:
        err = e.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        msg = f"{uri}: {code or status} {err.get('Message', '')}".strip()
        if code in _S3_NOT_FOUND or status == 404:
            raise RecordError("not_found", msg) from e
        if code in _S3_DENIED or status in (401, 403):
            raise RecordError("access_denied", msg) from e
        if code in _S3_TRANSIENT or status >= 500 or status == 429:
            raise _Transient(msg) from e
        if code in ("PreconditionFailed", "412"):
            raise RecordError("fetch_failed", f"{msg} (object changed while reading)") from e
        raise RecordError("fetch_failed", msg) from e
    except (NoCredentialsError, PartialCredentialsError) as e:
        raise ConfigError(
            f"no usable AWS credentials for {uri} (set s3_unsigned for public data)"
        ) from e
    except ParamValidationError as e:
        raise RecordError("fetch_failed", f"{uri}: {e}") from e
    except BotoCoreError as e:  # endpoint connection errors, timeouts, closed connections
        raise _Transient(f"{uri}: {e}") from e
