"""The S3 client: boto3 with explicit timeouts and retries, and the one place
where botocore's exceptions become custody's one-line errors.

Credentials, region and endpoint come from the standard AWS environment
variables and config files (boto3's own chain); `endpoint_url` overrides the
endpoint for on-premises servers (MinIO, Ceph RGW, SeaweedFS).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from custody.base.errors import CustodyError, EnvironmentFailure, InputError
from custody.io.s3.location import S3Location

T = TypeVar("T")

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
MAX_ATTEMPTS = 4  # the first try and three retries, with backoff ("standard" mode)

# What S3 answers when the credentials are wrong or not allowed.
_CREDENTIAL_CODES = {
    "InvalidAccessKeyId": "the access key is not known to the server",
    "SignatureDoesNotMatch": "the secret key is wrong (signature does not match)",
    "AccessDenied": "access denied for these credentials",
    "InvalidToken": "the session token is invalid",
    "ExpiredToken": "the session token has expired",
    "403": "access denied for these credentials",
}
_MISSING_BUCKET_CODES = {"NoSuchBucket", "404"}


class StoreError(InputError):
    """Object storage refused or cannot serve what was asked (exit 2)."""

    kind = "store"


class StoreUnreachable(EnvironmentFailure):
    """The storage endpoint cannot be reached (exit 3)."""

    kind = "store_unreachable"


S3Client = Any  # botocore's client is generated at run time and untyped


def connect(*, endpoint_url: str | None, workers: int = 8) -> S3Client:
    """An S3 client from the standard AWS configuration. Raises InputError
    when boto3 is not installed."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as e:
        raise InputError(
            "object storage needs boto3: install custody[store] (pip install 'custody[store]')"
        ) from e
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        max_pool_connections=max(10, workers * 2),
        # Path-style keys work on every on-premises server; AWS accepts both.
        s3={"addressing_style": "path"} if _custom_endpoint(endpoint_url) else {},
        # custody sends its own SHA-256 checksums and checks what it reads itself.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    try:
        session = boto3.session.Session()
        region = session.region_name or "us-east-1"
        return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
    except Exception as e:  # botocore raises many kinds on a bad configuration
        raise InputError(f"cannot set up the S3 client ({e})") from e


def _custom_endpoint(endpoint_url: str | None) -> bool:
    """An endpoint other than AWS's: from --endpoint-url or the standard variables."""
    return bool(
        endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a ClientError, or None for other exceptions."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def translate(exc: BaseException, where: S3Location | str) -> CustodyError:
    """One line for any botocore failure, with the exit code it deserves."""
    from botocore import exceptions as bx

    place = str(where)
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return StoreError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or AWS_PROFILE with ~/.aws/credentials",
            path=place,
        )
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return StoreUnreachable(f"cannot reach the storage endpoint ({exc})", path=place)
    if isinstance(exc, bx.ReadTimeoutError | bx.ConnectionClosedError):
        return StoreUnreachable(f"the storage endpoint stopped answering ({exc})", path=place)
    if isinstance(exc, bx.ClientError):
        code = error_code(exc) or "?"
        message = exc.response.get("Error", {}).get("Message") or code
        if code in _CREDENTIAL_CODES:
            return StoreError(f"credentials refused: {_CREDENTIAL_CODES[code]}", path=place)
        if code in _MISSING_BUCKET_CODES:
            return StoreError("no such bucket", path=place)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if isinstance(status, int) and status >= 500:
            return StoreUnreachable(f"the storage server failed ({code}: {message})", path=place)
        return StoreError(f"the storage server refused ({code}: {message})", path=place)
    if isinstance(exc, bx.BotoCoreError):
        return StoreUnreachable(f"object storage failed ({exc})", path=place)
    return StoreUnreachable(f"object storage failed ({exc})", path=place)


def _botocore_errors() -> tuple[type[BaseException], ...]:
    from botocore import exceptions as bx

    return (bx.BotoCoreError, bx.ClientError)


@contextmanager
def s3_errors(where: S3Location | str) -> Iterator[None]:
    """Translate botocore exceptions raised inside the block."""
    try:
        yield
    except _botocore_errors() as e:
        raise translate(e, where) from e


def call(where: S3Location | str, fn: Callable[..., T], **kwargs: Any) -> T:
    """Call one S3 operation, translating its failures."""
    with s3_errors(where):
        return fn(**kwargs)


def b64(digest_hex: str) -> str:
    """A SHA-256 digest as S3's x-amz-checksum-sha256 header wants it."""
    return base64.b64encode(bytes.fromhex(digest_hex)).decode("ascii")


def check_bucket(client: S3Client, location: S3Location) -> dict[str, Any]:
    """Make sure the bucket exists and the credentials work; returns its
    Object Lock configuration ({} when the bucket has none)."""
    call(location, client.head_bucket, Bucket=location.bucket)
    try:
        response = client.get_object_lock_configuration(Bucket=location.bucket)
    except _botocore_errors() as e:
        code = error_code(e)
        if code in ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"):
            return {}
        raise translate(e, location) from e
    config: dict[str, Any] = response.get("ObjectLockConfiguration") or {}
    return config if config.get("ObjectLockEnabled") == "Enabled" else {}


def list_keys(client: S3Client, location: S3Location, prefix: str) -> Iterator[dict[str, Any]]:
    """Every current object under a key prefix (list_objects_v2, paginated)."""
    with s3_errors(location):
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=location.bucket, Prefix=prefix):
            yield from page.get("Contents", [])


def list_versions(
    client: S3Client, location: S3Location, prefix: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every version and delete marker under a key prefix. On a server without
    versioned listings, the current objects only (and no markers)."""
    versions: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    try:
        paginator = client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=location.bucket, Prefix=prefix):
            versions.extend(page.get("Versions", []))
            markers.extend(page.get("DeleteMarkers", []))
    except _botocore_errors() as e:
        if error_code(e) not in ("NotImplemented", "MethodNotAllowed"):
            raise translate(e, location) from e
        versions = [
            dict(obj, IsLatest=True, VersionId=None) for obj in list_keys(client, location, prefix)
        ]
        markers = []
    return versions, markers
