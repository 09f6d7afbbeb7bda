"""Properties of proven time (bundle/verify/check_time.py, register/rule.py): a token
proves the latest instant it allows, genTime + accuracy, and a key revoked at
or before that instant is never accepted on its strength."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from custody.base.models import TimestampStatus
from custody.register.format import RegisteredKey, Revocation
from custody.register.rule import ProvenTime, decide
from custody.tsa.status import proven_signing_time
from custody.tsa.token import iso_utc

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()

gen_times = st.integers(0, 10 * 365 * 86400).map(lambda s: EPOCH + timedelta(seconds=s))
# RFC 3161 accuracy: seconds, millis and micros, or absent.
accuracies = st.one_of(
    st.none(),
    st.builds(
        lambda s, ms, us: s + ms / 1e3 + us / 1e6,
        st.integers(0, 7200),
        st.integers(0, 999),
        st.integers(0, 999),
    ),
)
tokens = st.builds(
    lambda n, status, gen, acc: TimestampStatus(
        f"custody/timestamps/{n}.tsr", f"TSA {n}", iso_utc(gen), "1", "1.2.3", status, "", acc
    ),
    st.integers(1, 9),
    st.sampled_from(["trusted", "untrusted", "invalid"]),
    gen_times,
    accuracies,
)


def _latest(token: TimestampStatus) -> datetime:
    assert token.gen_time is not None
    gen = datetime.fromisoformat(token.gen_time.replace("Z", "+00:00"))
    return gen + timedelta(seconds=token.accuracy_s or 0)


@given(st.lists(tokens, max_size=6))
def test_proven_time_is_the_earliest_latest_instant_of_a_trusted_token(
    statuses: list[TimestampStatus],
) -> None:
    trusted = [t for t in statuses if t.status == "trusted"]
    at, tsa = proven_signing_time(statuses)
    if not trusted:
        assert (at, tsa) == (None, None)
        return
    assert at == min(_latest(t) for t in trusted)
    # Never before any trusted token's bound, never a genTime alone when the
    # token states an accuracy, and named after a token that gives it.
    assert all(at <= _latest(t) for t in trusted)
    assert any(at == _latest(t) and tsa == t.tsa for t in trusted)


@given(
    gen=gen_times,
    accuracy=accuracies,
    offset=st.integers(-7200, 7200),
    reason=st.sampled_from(["compromised", "superseded", "retired"]),
)
def test_a_revocation_at_or_before_the_tokens_bound_refuses_the_key(
    gen: datetime, accuracy: float | None, offset: int, reason: str
) -> None:
    token = TimestampStatus("1.tsr", "TSA", iso_utc(gen), "1", "1.2.3", "trusted", "", accuracy)
    at, _ = proven_signing_time([token])
    assert at is not None
    revoked = gen + timedelta(seconds=offset)
    key = RegisteredKey(
        fingerprint="ab" * 32,
        name="PC Jane Smith",
        public_key=KEY,
        valid_from=EPOCH - timedelta(days=1),
        valid_until=EPOCH + timedelta(days=20 * 365),
        revocation=Revocation(reason, revoked, revoked),
    )
    decision = decide(
        key,
        register_label="Met WCT register",
        proven=ProvenTime(at, "TSA"),
        now=EPOCH + timedelta(days=19 * 365),
    )
    bound = gen + timedelta(seconds=accuracy or 0)
    assert decision.accepted is (revoked > bound)


def test_a_bound_past_the_year_9999_proves_nothing_and_never_raises() -> None:
    """A trusted TSA that states an absurd accuracy: no proven time, no traceback."""
    late = TimestampStatus(
        "1.tsr", "TSA", "9999-12-31T23:00:00Z", "1", "1.2.3", "trusted", "", 86_400 * 365.0
    )
    assert proven_signing_time([late]) == (None, None)
    sane = TimestampStatus("2.tsr", "TSA 2", iso_utc(EPOCH), "1", "1.2.3", "trusted", "", 1.0)
    assert proven_signing_time([late, sane]) == (EPOCH + timedelta(seconds=1), "TSA 2")
