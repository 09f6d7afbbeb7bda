"""What one Time-Stamping Authority answered when asked for one token.

The value the TSA client (custody.io.tsa_client) returns and the ledger and
bundles record; kept here, apart from the HTTP client, so that checks can
name it without reaching the network code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GRANTED = "granted"
FAILED = "failed"


@dataclass(frozen=True)
class StampAttempt:
    """One TSA asked for one token: what it answered."""

    tsa: str
    status: str
    """granted or failed."""
    gen_time: str | None
    detail: str
    reply: bytes | None = None
    """The DER TimeStampResp exactly as received (granted only)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "tsa": self.tsa,
            "status": self.status,
            "gen_time": self.gen_time,
            "detail": self.detail,
        }

    def warning(self) -> str:
        return f"timestamp from {self.tsa} failed: {self.detail}"
