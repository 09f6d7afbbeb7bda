"""The rule: is a key listed in a trusted register accepted for one signature?

Let T be the proven signing time (the earliest genTime + accuracy among
trusted RFC 3161 tokens: the latest instant each token allows, genTime alone
when it states no accuracy; bundle/verify/check_time.py), or else the time of
verification. A listed key K is accepted if and only if
valid_from <= T <= valid_until and T is before its revocation takes effect
(superseded or retired: when revoked; compromised: `since`). `key_status` says
what the register says about K at the time of verification; `decided_by` says
which rule decided and why, in one sentence. Pure: "now" and T are passed in.
docs/keys.md has the rule as a worked table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from custody.register.format import KeyRegister, RegisteredKey
from custody.register.times import human_time

VALID = "valid"
NOT_YET_VALID = "not_yet_valid"
EXPIRED = "expired"
REVOKED = "revoked"
NOT_LISTED = "not_listed"
KEY_STATUSES = (VALID, NOT_YET_VALID, EXPIRED, REVOKED, NOT_LISTED)


@dataclass(frozen=True)
class ProvenTime:
    """A time by which a signature provably existed, and who proves it (a TSA).
    `at` is a token's latest instant, genTime + accuracy, never genTime alone."""

    at: datetime
    source: str


@dataclass(frozen=True)
class KeyDecision:
    """The rule's verdict for one key and one signature."""

    key_status: str
    accepted: bool
    decided_by: str


@dataclass(frozen=True)
class Judgement:
    """A decision together with the register and entry that led to it."""

    register: KeyRegister
    key: RegisteredKey
    decision: KeyDecision


def status_at(key: RegisteredKey, at: datetime) -> str:
    """What the register says about `key` at the moment `at`."""
    if key.revocation is not None and at >= key.revocation.effective:
        return REVOKED
    if at < key.valid_from:
        return NOT_YET_VALID
    if at > key.valid_until:
        return EXPIRED
    return VALID


def _revocation_phrase(key: RegisteredKey) -> str:
    r = key.revocation
    assert r is not None
    if r.reason == "compromised":
        return f"compromised since {human_time(r.since)}"
    return f"{r.reason} on {human_time(r.revoked_at)}"


def decide(
    key: RegisteredKey,
    *,
    register_label: str,
    proven: ProvenTime | None,
    now: datetime,
    what: str = "the bundle",
) -> KeyDecision:
    """Apply the rule to `key` for a signature over `what`, proven to exist by
    `proven` (None: no trusted time, so T is `now`, the time of verification)."""
    at = proven.at if proven is not None else now
    status_now = status_at(key, now)
    status_then = status_at(key, at)
    vf, vu = human_time(key.valid_from), human_time(key.valid_until)
    proof = (
        f"a trusted timestamp proves {what} was signed by {human_time(proven.at)} ({proven.source})"
        if proven is not None
        else None
    )
    unproven = f"no trusted time proves {what} was signed before"
    if status_then == VALID:
        if status_now == REVOKED and proof:
            text = f"key revoked ({_revocation_phrase(key)}), but {proof}: accepted"
        elif status_now == EXPIRED and proof:
            text = f"key expired on {vu}, but {proof}, while it was valid: accepted"
        elif proof:
            text = f"key valid from {vf} until {vu} ({register_label}); {proof}: accepted"
        else:
            text = (
                f"key valid from {vf} until {vu} ({register_label}) at the time of "
                f"verification, {human_time(now)}: accepted"
            )
        return KeyDecision(status_now, True, text)
    if status_then == REVOKED:
        phrase = _revocation_phrase(key)
        if proof:
            text = (
                f"key revoked ({phrase}); {proof}, which is not before the revocation "
                "took effect: NOT verified"
            )
        else:
            text = f"key {phrase}; {unproven}: NOT verified"
    elif status_then == EXPIRED:
        if proof:
            text = f"key expired on {vu}; {proof}, after it expired: NOT verified"
        else:
            text = f"key expired on {vu}; {unproven}: NOT verified"
    else:
        if proof:
            text = f"key valid only from {vf}; {proof}, before that: NOT verified"
        else:
            text = (
                f"key valid only from {vf}, after the time of verification "
                f"({human_time(now)}): NOT verified"
            )
    return KeyDecision(status_now, False, text)


def judge(
    registers: Sequence[KeyRegister],
    fingerprint: object,
    *,
    proven: ProvenTime | None,
    now: datetime,
    what: str = "the bundle",
) -> Judgement | None:
    """The verdict of the trusted registers that list `fingerprint` (None when
    none does). When several list it, any refusal wins: a revocation published
    by one unit is not hidden by another unit's older view."""
    found: list[Judgement] = []
    for register in registers:
        key = register.key(fingerprint)
        if key is not None:
            decision = decide(
                key, register_label=register.label(), proven=proven, now=now, what=what
            )
            found.append(Judgement(register, key, decision))
    if not found:
        return None
    refused = [j for j in found if not j.decision.accepted]
    return refused[0] if refused else found[0]


def listings(
    registers: Sequence[KeyRegister], fingerprint: str, *, now: datetime
) -> list[dict[str, object]]:
    """What each trusted register says about a key now (for `custody keys list`)."""
    out: list[dict[str, object]] = []
    for register in registers:
        key = register.key(fingerprint)
        if key is None:
            continue
        r = key.revocation
        status = status_at(key, now)
        if r is not None:
            summary = f"revoked since {human_time(r.effective)} ({r.reason})"
        elif status == NOT_YET_VALID:
            summary = f"not yet valid (from {human_time(key.valid_from)})"
        elif status == EXPIRED:
            summary = f"expired {human_time(key.valid_until)}"
        else:
            summary = f"valid until {human_time(key.valid_until)}"
        out.append(
            {
                **register.ref(),
                "key_status": status,
                "summary": f"{summary}, {register.label()}",
                **{k: v for k, v in key.to_json().items() if k in _LISTED},
            }
        )
    return out


_LISTED = ("valid_from", "valid_until", "revocation")
