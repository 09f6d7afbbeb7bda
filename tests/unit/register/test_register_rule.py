"""The register's rule, case by case (docs/keys.md has the same table)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.base.keys import fingerprint_of
from custody.register.format import RegisteredKey, Revocation
from custody.register.rule import ProvenTime, decide, judge, status_at


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


_pub = Ed25519PrivateKey.generate().public_key()
KEY = RegisteredKey(
    fingerprint_of(_pub), "PC Jane Smith", _pub, t("2026-01-01"), t("2026-12-31T23:59:59")
)
COMPROMISED = replace(KEY, revocation=Revocation("compromised", t("2026-03-01"), t("2026-06-01")))
SUPERSEDED = replace(KEY, revocation=Revocation("superseded", t("2026-06-01"), t("2026-06-01")))
RETIRED = replace(KEY, revocation=Revocation("retired", t("2026-06-01"), t("2026-06-01")))
LATER = replace(KEY, valid_from=t("2027-01-01"), valid_until=t("2029-01-01"))
NOW = t("2026-11-01")
AFTER = t("2027-02-01")  # a verification after the key expired


def ts(text: str) -> ProvenTime:
    return ProvenTime(t(text), "Example TSA")


# (case, key, proven signing time, time of verification, key_status, accepted, words in decided_by)
CASES = [
    ("valid, no timestamp", KEY, None, NOW, "valid", True, "at the time of verification"),
    ("valid, timestamp", KEY, ts("2026-02-01"), NOW, "valid", True, "signed by 2026-02-01"),
    ("T on valid_from", KEY, ts("2026-01-01"), NOW, "valid", True, "accepted"),
    ("T on valid_until", KEY, ts("2026-12-31T23:59:59"), AFTER, "expired", True, "while it"),
    ("timestamp before valid_from", KEY, ts("2025-12-01"), NOW, "valid", False, "only from"),
    ("not yet valid, no timestamp", LATER, None, NOW, "not_yet_valid", False, "only from 2027"),
    ("expired, no timestamp", KEY, None, AFTER, "expired", False, "no trusted time proves"),
    ("expired, timestamp within", KEY, ts("2026-05-01"), AFTER, "expired", True, "while it was"),
    ("timestamp after valid_until", KEY, ts("2027-01-15"), AFTER, "expired", False, "after it"),
    (
        "compromised, timestamp before since",
        COMPROMISED,
        ts("2026-02-12"),
        NOW,
        "revoked",
        True,
        "key revoked (compromised since 2026-03-01), but a trusted timestamp proves the "
        "bundle was signed by 2026-02-12 (Example TSA): accepted",
    ),
    ("compromised, T on since", COMPROMISED, ts("2026-03-01"), NOW, "revoked", False, "not bef"),
    (
        "compromised, timestamp after since, before the revocation was made",
        COMPROMISED,
        ts("2026-04-01"),
        NOW,
        "revoked",
        False,
        "compromised since 2026-03-01",
    ),
    ("compromised, no timestamp", COMPROMISED, None, NOW, "revoked", False, "no trusted time"),
    (
        "compromised, verified before since",
        COMPROMISED,
        None,
        t("2026-02-20"),
        "valid",
        True,
        "accepted",
    ),
    ("superseded, timestamp before", SUPERSEDED, ts("2026-05-01"), NOW, "revoked", True, "but"),
    ("superseded, timestamp after", SUPERSEDED, ts("2026-07-01"), NOW, "revoked", False, "not"),
    (
        "superseded, no timestamp",
        SUPERSEDED,
        None,
        NOW,
        "revoked",
        False,
        "key superseded on 2026-06-01; no trusted time proves the bundle was signed before: "
        "NOT verified",
    ),
    ("retired, timestamp before", RETIRED, ts("2026-05-31T23:59:59"), NOW, "revoked", True, "ret"),
    ("retired, timestamp after", RETIRED, ts("2026-06-01T00:00:01"), NOW, "revoked", False, "ret"),
    ("retired, no timestamp", RETIRED, None, NOW, "revoked", False, "retired on 2026-06-01"),
    (
        "revoked and expired, timestamp within both",
        COMPROMISED,
        ts("2026-02-01"),
        AFTER,
        "revoked",
        True,
        "accepted",
    ),
]


@pytest.mark.parametrize(
    ("case", "key", "proven", "now", "status", "accepted", "words"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_rule(
    case: str,
    key: RegisteredKey,
    proven: ProvenTime | None,
    now: datetime,
    status: str,
    accepted: bool,
    words: str,
) -> None:
    decision = decide(key, register_label="Met WCT register v3", proven=proven, now=now)
    assert decision.key_status == status
    assert decision.accepted is accepted
    assert words in decision.decided_by
    assert decision.decided_by.endswith(": accepted" if accepted else ": NOT verified")
    if proven is not None:
        assert "Example TSA" in decision.decided_by


def test_status_at_boundaries() -> None:
    assert status_at(KEY, t("2025-12-31T23:59:59")) == "not_yet_valid"
    assert status_at(KEY, t("2026-01-01")) == "valid"
    assert status_at(KEY, t("2027-01-01")) == "expired"
    assert status_at(COMPROMISED, t("2026-02-28T23:59:59")) == "valid"
    assert status_at(COMPROMISED, t("2026-03-01")) == "revoked"


def test_any_refusal_wins_across_registers() -> None:
    from custody.register.format import KeyRegister, RegisterVersion, UnitKey

    def register(key: RegisteredKey, name: str) -> KeyRegister:
        unit_pub = Ed25519PrivateKey.generate().public_key()
        unit = UnitKey(name, fingerprint_of(unit_pub), unit_pub)
        version = RegisterVersion(1, b"", "0" * 64, None, t("2026-01-01"), unit, (key,), (), ())
        return KeyRegister((version,), b"", (key,))

    both = [register(KEY, "Unit A"), register(SUPERSEDED, "Unit B")]
    found = judge(both, KEY.fingerprint, proven=None, now=NOW)
    assert found is not None and not found.decision.accepted
    assert found.register.unit.name == "Unit B"
    assert judge(both, "0" * 64, proven=None, now=NOW) is None
    alone = judge(both[:1], KEY.fingerprint, proven=None, now=NOW)
    assert alone is not None and alone.decision.accepted
