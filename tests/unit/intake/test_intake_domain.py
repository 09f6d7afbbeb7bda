"""The intake's pure parts: invitations, the tus decisions, the receipt's
Merkle root and code, the rate limit. No server: bytes and values in."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.intake import invitations as inv
from custody.intake import tus
from custody.intake.codes import normalise_code, short_code, wordlist
from custody.intake.ratelimit import RateLimiter
from custody.intake.receipt import ReceivedFile, files_merkle_root
from custody.tlog import merkle

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_token_is_random_and_only_its_hash_is_kept() -> None:
    token, invitation = inv.make_invitation(
        case="C",
        ref="W1",
        now=NOW,
        valid_for=timedelta(days=7),
        max_bytes=10,
        max_files=1,
        opaque=False,
    )
    assert inv.well_formed_token(token) and len(base64.urlsafe_b64decode(token + "=")) == 32
    assert invitation.id == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(invitation.to_json())
    assert inv.Invitation.from_json(invitation.to_json()) == invitation
    assert invitation.refusal(NOW) is None
    assert invitation.refusal(NOW + timedelta(days=7)) == "this invitation has expired"
    assert invitation.revoke(NOW).refusal(NOW) == "this invitation was withdrawn"
    other, _ = inv.make_invitation(
        case="C",
        ref="W1",
        now=NOW,
        valid_for=timedelta(days=1),
        max_bytes=1,
        max_files=1,
        opaque=True,
    )
    assert other != token


@pytest.mark.parametrize("text", ["", "7", "0d", "-1d", "7y", "1.5d"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        inv.parse_duration(text)


def test_sizes_and_durations() -> None:
    assert inv.parse_size("20G") == 20 * 10**9
    assert inv.parse_size("500M") == 500 * 10**6
    assert inv.parse_size("1024") == 1024
    assert inv.parse_duration("48h") == timedelta(hours=48)
    with pytest.raises(ValueError):
        inv.parse_size("lots")


def _upload(**kw: object) -> tus.Upload:
    base = dict(
        id="a" * 22,
        invitation="b" * 64,
        length=10,
        offset=0,
        name=None,
        name_b64=None,
        expected_sha256=None,
        sha256=None,
        created="2026-03-01T12:00:00Z",
        number=1,
    )
    base.update(kw)
    return tus.Upload(**base)  # type: ignore[arg-type]


def test_creation_checks_limits_and_keeps_the_name_as_bytes() -> None:
    name = "../\x1b[2J\udcff.jpg".encode("utf-8", "surrogateescape")
    headers = {
        "tus-resumable": "1.0.0",
        "upload-length": "5",
        "upload-metadata": "filename " + base64.b64encode(name).decode() + ",empty",
    }
    up = tus.plan_creation(
        headers, invitation="b" * 64, used_bytes=0, used_files=0, max_bytes=5, max_files=1, now="t"
    )
    assert base64.b64decode(up.name_b64 or "") == name and up.number == 1
    for change, status in (
        ({"tus-resumable": "0.2.2"}, 412),
        ({"upload-length": "-1"}, 400),
        ({"upload-length": "6"}, 413),
        ({"upload-metadata": "filename !!"}, 400),
        ({"upload-metadata": "a YQ==,a YQ=="}, 400),
        ({"upload-defer-length": "1"}, 400),
    ):
        with pytest.raises(tus.TusError) as e:
            tus.plan_creation(
                {**headers, **change},
                invitation="b" * 64,
                used_bytes=0,
                used_files=0,
                max_bytes=5,
                max_files=1,
                now="t",
            )
        assert e.value.status == status
    with pytest.raises(tus.TusError) as e:
        tus.plan_creation(
            headers,
            invitation="b" * 64,
            used_bytes=0,
            used_files=1,
            max_bytes=5,
            max_files=1,
            now="t",
        )
    assert e.value.status == 413


def test_patch_rules() -> None:
    up = _upload(offset=4)
    ok = {"tus-resumable": "1.0.0", "content-type": tus.OFFSET_CONTENT_TYPE, "upload-offset": "4"}
    assert tus.plan_patch(ok, up) == tus.PatchPlan(4, 6, None)
    digest = hashlib.sha256(b"abc").digest()
    plan = tus.plan_patch(
        {**ok, "upload-checksum": "sha256 " + base64.b64encode(digest).decode()}, up
    )
    assert plan.checksum == digest
    tus.judge_body(plan, digest=digest, whole=True)
    with pytest.raises(tus.TusError) as e:
        tus.judge_body(plan, digest=b"\x00" * 32, whole=True)
    assert e.value.status == tus.STATUS_CHECKSUM_MISMATCH
    with pytest.raises(tus.TusError):
        tus.judge_body(plan, digest=digest, whole=False)  # a checksummed part cut short
    for change, status in (
        ({"upload-offset": "3"}, 409),
        ({"content-type": "text/plain"}, 415),
        ({"upload-checksum": "md5 AAAA"}, 400),
        ({"upload-checksum": "sha256 AAAA"}, 400),
        ({"content-length": "7"}, 413),
    ):
        with pytest.raises(tus.TusError) as e:
            tus.plan_patch({**ok, **change}, up)
        assert e.value.status == status
    with pytest.raises(tus.TusError):
        tus.judge_complete(_upload(expected_sha256="0" * 64), "1" * 64)


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=20))
def test_the_merkle_root_is_rfc9162_over_the_digests(digests: list[bytes]) -> None:
    files = [ReceivedFile(d.hex(), 1) for d in digests]
    expected = merkle.root_from_leaves([hashlib.sha256(b"\x00" + d).digest() for d in digests])
    assert files_merkle_root(files) == expected.hex()


def test_the_code_is_four_words_from_the_signed_bytes() -> None:
    code = short_code(b"receipt")
    words = code.split("-")
    assert len(words) == 4 and all(w in wordlist() for w in words)
    assert short_code(b"receipt") == code != short_code(b"receipt ")
    assert normalise_code("  " + code.upper().replace("-", " ")) == code


def test_the_rate_limit_refuses_a_burst_and_recovers() -> None:
    limiter = RateLimiter(rate=1.0, burst=3.0)
    assert [limiter.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", 0.0)
    assert limiter.allow("a", 1.5)


def test_an_empty_file_is_complete_at_creation() -> None:
    headers = {"tus-resumable": "1.0.0", "upload-length": "0"}
    up = tus.plan_creation(
        headers, invitation="b" * 64, used_bytes=0, used_files=0, max_bytes=5, max_files=1, now="t"
    )
    assert up.complete and up.sha256 == hashlib.sha256(b"").hexdigest()
    with pytest.raises(tus.TusError):
        tus.plan_creation(
            {**headers, "upload-metadata": "sha256 " + base64.b64encode(b"1" * 64).decode()},
            invitation="b" * 64,
            used_bytes=0,
            used_files=0,
            max_bytes=5,
            max_files=1,
            now="t",
        )
