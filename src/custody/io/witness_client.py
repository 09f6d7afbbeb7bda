"""Talking to a witness over HTTP, with explicit timeouts. No retries here:
the caller decides what a refusal or an unreachable witness means."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from custody.witness.protocol import ADD_CHECKPOINT, LATEST_CHECKPOINT, MAX_BODY_BYTES

TIMEOUT_S = 10.0


class WitnessUnavailable(Exception):
    """The witness could not be reached or did not answer in time."""


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes


def check_url(url: str) -> str:
    """A witness URL (its submission prefix): http or https, with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url}")
    return url.rstrip("/")


def _request(req: urllib.request.Request, timeout: float) -> Reply:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(
                resp.status, resp.headers.get("Content-Type", ""), resp.read(MAX_BODY_BYTES)
            )
    except urllib.error.HTTPError as e:
        body = e.read(MAX_BODY_BYTES) if e.fp is not None else b""
        return Reply(e.code, e.headers.get("Content-Type", "") if e.headers else "", body)
    except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as e:
        reason = getattr(e, "reason", e)
        raise WitnessUnavailable(str(reason)) from e


def add_checkpoint(url: str, body: bytes, *, timeout: float = TIMEOUT_S) -> Reply:
    """POST an add-checkpoint request. Raises WitnessUnavailable."""
    req = urllib.request.Request(
        check_url(url) + ADD_CHECKPOINT,
        data=body,
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8", "User-Agent": "custody"},
    )
    return _request(req, timeout)


def latest_checkpoint(url: str, origin: str, *, timeout: float = TIMEOUT_S) -> Reply:
    """GET the checkpoint the witness last cosigned for `origin` (custody's
    extension, for investigating a fork). Raises WitnessUnavailable."""
    req = urllib.request.Request(
        f"{check_url(url)}{LATEST_CHECKPOINT}?origin={quote(origin, safe='')}",
        headers={"User-Agent": "custody"},
    )
    return _request(req, timeout)


def host_of(url: str) -> str:
    """The host (and port) a witness URL names, as written in it."""
    return urlsplit(url).netloc
