"""Asking Time-Stamping Authorities for RFC 3161 tokens over HTTP.

A TSA that is down never costs evidence: every failure becomes a failed
StampAttempt with its reason, never an exception. A reply is kept only when
it answers this very request: status granted, the same imprint, the same
nonce, and the TSA's signature over it valid.
"""

from __future__ import annotations

import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from custody.tsa import der
from custody.tsa.attempt import FAILED, GRANTED, StampAttempt
from custody.tsa.token import INVALID, MAX_TOKEN_BYTES, check_token, iso_utc

DEFAULT_TIMEOUT_S = 10.0
CONTENT_TYPE = "application/timestamp-query"


def default_timeout() -> float:
    """$CUSTODY_TSA_TIMEOUT (seconds) or 10."""
    value = os.environ.get("CUSTODY_TSA_TIMEOUT", "")
    try:
        seconds = float(value)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return seconds if 0 < seconds <= 600 else DEFAULT_TIMEOUT_S


def urls_from_env() -> tuple[str, ...]:
    """$CUSTODY_TSA: space-separated TSA URLs."""
    return tuple(os.environ.get("CUSTODY_TSA", "").split())


def request_timestamps(
    urls: Sequence[str], data: bytes, *, timeout: float | None = None
) -> tuple[StampAttempt, ...]:
    """Ask every TSA in `urls` (in parallel) to stamp SHA-256(`data`)."""
    seconds = timeout if timeout is not None else default_timeout()
    unique = list(dict.fromkeys(urls))
    if not unique:
        return ()
    with ThreadPoolExecutor(max_workers=min(8, len(unique))) as pool:
        return tuple(pool.map(lambda u: request_timestamp(u, data, timeout=seconds), unique))


def _build_query(data: bytes) -> tuple[bytes, int]:
    import rfc3161_client

    request = (
        rfc3161_client.TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(rfc3161_client.HashAlgorithm.SHA256)
        .cert_request(cert_request=True)
        .nonce(nonce=True)
        .build()
    )
    nonce = request.nonce
    if nonce is None:  # pragma: no cover - the builder always sets one when asked
        nonce = secrets.randbits(63)
    return request.as_bytes(), nonce


def request_timestamp(url: str, data: bytes, *, timeout: float) -> StampAttempt:
    """Ask one TSA. Never raises: a failure is a failed attempt with its reason."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return StampAttempt(url, FAILED, None, "not an http:// or https:// URL")
    query, nonce = _build_query(data)
    request = urllib.request.Request(
        url,
        data=query,
        method="POST",
        headers={"Content-Type": CONTENT_TYPE, "Accept": "application/timestamp-reply"},
    )
    deadline = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            ctype = response.headers.get("Content-Type", "")
            body = _read_limited(response, deadline)
    except urllib.error.HTTPError as e:
        return StampAttempt(url, FAILED, None, f"HTTP {e.code} {e.reason}")
    except urllib.error.URLError as e:
        reason = e.reason
        text = getattr(reason, "strerror", None) or str(reason)
        return StampAttempt(url, FAILED, None, f"cannot reach the TSA ({text})")
    except TimeoutError:
        return StampAttempt(url, FAILED, None, f"no answer within {timeout:g} s")
    except _TooLarge:
        return StampAttempt(url, FAILED, None, "the answer is too large for a timestamp reply")
    except (OSError, ValueError) as e:
        return StampAttempt(url, FAILED, None, f"the connection failed ({e})")
    return judge_reply(url, body, ctype, data, nonce)


class _TooLarge(Exception):
    pass


def _read_limited(response: Any, deadline: float) -> bytes:
    pieces: list[bytes] = []
    total = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError
        piece = response.read(64 * 1024)
        if not piece:
            return b"".join(pieces)
        total += len(piece)
        if total > MAX_TOKEN_BYTES:
            raise _TooLarge
        pieces.append(piece)


def judge_reply(url: str, body: bytes, ctype: str, data: bytes, nonce: int) -> StampAttempt:
    """Keep `body` only when it is a granted reply to this very request."""
    media = ctype.split(";")[0].strip().lower()
    if media.startswith("text/"):
        return StampAttempt(url, FAILED, None, f"answered {media}, not a timestamp reply")
    try:
        status, parts = der.parse_reply(body)
    except der.DerError as e:
        return StampAttempt(url, FAILED, None, f"the answer is not a timestamp reply ({e})")
    if status not in (0, 1):
        return StampAttempt(url, FAILED, None, f"the TSA refused the request (status {status})")
    if parts is None:
        return StampAttempt(url, FAILED, None, "the reply carries no token")
    check = check_token(body, data, (), subject="the data custody sent")
    if check.status == INVALID:
        return StampAttempt(url, FAILED, None, f"unusable reply: {check.detail}")
    import rfc3161_client

    try:
        info = rfc3161_client.decode_timestamp_response(der.der_set_order(body)).tst_info
        got_nonce = info.nonce
    except ValueError as e:  # pragma: no cover - check_token parsed it already
        return StampAttempt(url, FAILED, None, f"unusable reply ({e})")
    if got_nonce != nonce:
        return StampAttempt(
            url, FAILED, None, "the reply answers another request (its nonce is not ours)"
        )
    gen_time = iso_utc(check.gen_time)
    return StampAttempt(url, GRANTED, gen_time, f"granted by {check.tsa} at {gen_time}", reply=body)
