"""Trusted time, verify side: real tokens from `openssl ts -reply`, checked
offline by custody verify (bundle/verify/check_time.py, tsa/token.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from conftest import Env
from custody.bundle.format import layout
from custody.bundle.verify.check_time import check_time
from custody.policy import TrustPolicy
from custody.tsa import der
from custody.tsa.status import proven_signing_time
from custody.tsa.token import check_token
from tsa_server import Authority, issue_reply, make_query, make_tsa


def root_of(authority: Authority) -> x509.Certificate:
    return x509.load_pem_x509_certificate(authority.root_pem.read_bytes())


def add_token(bundle: Path, reply: bytes, *, listed: bool = True) -> Path:
    """Put a reply in the bundle the way `custody timestamp` does."""
    folder = bundle / layout.TIMESTAMPS_DIR
    folder.mkdir(exist_ok=True)
    number = 1 + max((int(p.stem) for p in folder.glob("*.tsr")), default=0)
    path = folder / f"{number}.tsr"
    path.write_bytes(reply)
    if listed:
        relist(bundle)
    return path


def relist(bundle: Path) -> None:
    manifest = bundle / layout.TAG_MANIFEST
    entries, _ = layout.parse_manifest(manifest.read_bytes())
    for p in (bundle / layout.TIMESTAMPS_DIR).glob("*.tsr"):
        rel = p.relative_to(bundle).as_posix()
        entries[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    manifest.write_bytes(layout.format_manifest(entries.items()))


def stamp(authority: Authority, bundle: Path, *, at: datetime | None = None) -> bytes:
    signature = (bundle / layout.SIGNATURE).read_bytes()
    return issue_reply(authority, make_query(signature), at=at)


def latest(token: dict) -> str:
    """The latest instant a reported token allows: gen_time + accuracy_seconds."""
    gen_time = datetime.fromisoformat(token["gen_time"].replace("Z", "+00:00"))
    bound = gen_time + timedelta(seconds=token["accuracy_seconds"] or 0)
    return bound.strftime("%Y-%m-%dT%H:%M:%SZ")


def verify(env: Env, bundle: Path, *extra: str | Path) -> tuple[int, dict]:
    result = env.run("verify", bundle, "--json", *extra)
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def tsa(tmp_path: Path) -> Authority:
    return make_tsa(tmp_path / "tsa", "Test TSA", intermediate=True)


def test_trusted_token_proves_the_signing_time(env: Env, bundle: Path, tsa: Authority) -> None:
    add_token(bundle, stamp(tsa, bundle))
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem)
    assert code == 0, report["problems"]
    [token] = report["timestamps"]
    assert token["status"] == "trusted" and token["file"] == "custody/timestamps/1.tsr"
    assert token["tsa"] == "Test TSA"
    # The test TSA states an accuracy of one second: the token proves its
    # genTime plus that second, the latest instant RFC 3161 allows.
    assert token["accuracy_seconds"] == 1
    assert report["signed_no_later_than"] == latest(token) != token["gen_time"]
    assert report["signed_no_later_than_tsa"] == "Test TSA"
    human = env.run("verify", bundle, "--tsa-root", tsa.root_pem)
    assert f"no later than {latest(token)} (Test TSA)" in human.stdout
    assert f"TRUSTED, {token['gen_time']} ± 1 s (" in human.stdout


def test_unchosen_root_is_untrusted_and_still_verified(
    env: Env, bundle: Path, tsa: Authority
) -> None:
    add_token(bundle, stamp(tsa, bundle))
    code, report = verify(env, bundle)
    assert code == 0
    assert report["timestamps"][0]["status"] == "untrusted"
    assert report["signed_no_later_than"] is None
    assert "signing time not proven" in env.run("verify", bundle).stdout
    code, report = verify(env, bundle, "--require-timestamp")
    assert code == 1
    assert {p["kind"] for p in report["problems"]} == {"timestamp_required"}


def test_no_timestamp_is_not_proven(env: Env, bundle: Path) -> None:
    code, report = verify(env, bundle)
    assert code == 0 and report["timestamps"] == [] and report["signed_no_later_than"] is None
    code, _ = verify(env, bundle, "--require-timestamp")
    assert code == 1


def test_token_from_another_bundle_is_invalid(
    env: Env, bundle: Path, tsa: Authority, tmp_path: Path
) -> None:
    other = issue_reply(tsa, make_query(b"another bundle's signature"))
    add_token(bundle, other)
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem)
    assert code == 1
    assert report["timestamps"][0]["status"] == "invalid"
    [problem] = report["problems"]
    assert problem["kind"] == "bad_timestamp" and problem["path"] == "custody/timestamps/1.tsr"
    assert "other data" in problem["detail"]


def test_forged_reply_with_embedded_attacker_root_is_invalid(
    env: Env, bundle: Path, tsa: Authority, tmp_path: Path
) -> None:
    # The attacker names his root and TSA like the real ones and embeds his
    # root in the reply: rfc3161-client 1.0.7 and 1.0.8 accepted this.
    attacker = make_tsa(tmp_path / "evil", sign_as=tsa, intermediate=True)
    add_token(bundle, stamp(attacker, bundle))
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem)
    assert code == 1
    assert report["timestamps"][0]["status"] == "invalid"
    assert "claims to be from your TSA" in report["timestamps"][0]["detail"]
    assert report["signed_no_later_than"] is None


def test_attacker_root_is_refused_even_if_the_library_accepts_it(
    tsa: Authority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rfc3161-client 1.0.7 and 1.0.8 accepted a reply whose attacker root is
    embedded in it. Should the library ever do so again, custody's own walk
    to a chosen root still refuses: the library's verdict is made to say yes
    here, as 1.0.8's did, and the token must not be trusted."""
    from custody.tsa import token as token_module

    for attacker in (
        make_tsa(tmp_path / "evil", sign_as=tsa),
        make_tsa(tmp_path / "stranger", "Stranger TSA", intermediate=True),
    ):
        reply = issue_reply(attacker, make_query(b"sig"))
        honest = check_token(reply, b"sig", [root_of(tsa)])
        monkeypatch.setattr(token_module, "_library_verify", lambda *a: None)
        fooled = check_token(reply, b"sig", [root_of(tsa)])
        monkeypatch.undo()
        assert honest.status != "trusted" and fooled.status == "invalid", fooled
        # The attacker's root, embedded, is never a root: only a chosen one is.
        assert check_token(reply, b"sig", [root_of(attacker)]).status == "trusted"


def test_tsa_certificate_expired_now_but_valid_at_gen_time_is_trusted(
    env: Env, bundle: Path, tmp_path: Path
) -> None:
    past = make_tsa(
        tmp_path / "past",
        "Past TSA",
        valid_from=datetime(2019, 1, 1, tzinfo=UTC),
        valid_until=datetime(2021, 1, 1, tzinfo=UTC),
        rsa=True,
    )
    add_token(bundle, stamp(past, bundle, at=datetime(2020, 6, 1, tzinfo=UTC)))
    code, report = verify(env, bundle, "--tsa-root", past.root_pem)
    # Trusted, and so it proves a time before the statement's own `created`:
    # the officer's clock is the problem.
    assert report["timestamps"][0]["status"] == "trusted", report["timestamps"]
    assert report["signed_no_later_than"] == "2020-06-01T00:00:01Z"
    assert code == 1
    assert {p["kind"] for p in report["problems"]} == {"clock_after_timestamp"}


def test_token_made_after_the_tsa_certificate_expired_is_invalid(
    env: Env, bundle: Path, tmp_path: Path
) -> None:
    past = make_tsa(
        tmp_path / "past",
        "Past TSA",
        valid_from=datetime(2019, 1, 1, tzinfo=UTC),
        valid_until=datetime(2021, 1, 1, tzinfo=UTC),
    )
    add_token(bundle, stamp(past, bundle))
    code, report = verify(env, bundle, "--tsa-root", past.root_pem)
    assert code == 1
    assert report["timestamps"][0]["status"] == "invalid"


def test_created_just_before_the_proven_time_is_fine(
    env: Env, bundle: Path, tsa: Authority
) -> None:
    statement = json.loads((bundle / layout.STATEMENT).read_bytes())
    created = datetime.fromisoformat(statement["created"].replace("Z", "+00:00"))
    add_token(bundle, stamp(tsa, bundle, at=created + timedelta(seconds=5)))
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem)
    assert code == 0, report["problems"]
    # 30 s before `created`: within accuracy (1 s) plus the one minute allowed.
    add_token(bundle, stamp(tsa, bundle, at=created - timedelta(seconds=30)))
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem)
    assert code == 0, report["problems"]
    # Two minutes before: the officer's clock ran ahead of the TSA's.
    add_token(bundle, stamp(tsa, bundle, at=created - timedelta(minutes=2)))
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem)
    assert code == 1
    assert [p["kind"] for p in report["problems"]] == ["clock_after_timestamp"]
    assert report["signed_no_later_than"] == latest(report["timestamps"][2])


def test_two_tsas_earliest_trusted_time_wins(
    env: Env, bundle: Path, tsa: Authority, tmp_path: Path
) -> None:
    other = make_tsa(tmp_path / "other", "Other TSA")
    statement = json.loads((bundle / layout.STATEMENT).read_bytes())
    created = datetime.fromisoformat(statement["created"].replace("Z", "+00:00"))
    add_token(bundle, stamp(tsa, bundle, at=created + timedelta(hours=2)))
    add_token(bundle, stamp(other, bundle, at=created + timedelta(hours=1)))
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem)
    assert code == 0
    assert [t["status"] for t in report["timestamps"]] == ["trusted", "untrusted"]
    assert report["signed_no_later_than_tsa"] == "Test TSA"
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem, "--tsa-root", other.root_pem)
    assert code == 0
    assert report["signed_no_later_than_tsa"] == "Other TSA"


def test_unlisted_token_is_a_leftover_not_an_intruder(
    env: Env, bundle: Path, tsa: Authority
) -> None:
    add_token(bundle, stamp(tsa, bundle), listed=False)
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem)
    assert code == 0, report["problems"]
    assert any("interrupted" in w for w in report["warnings"])
    assert report["timestamps"][0]["status"] == "trusted"


@pytest.mark.parametrize(
    "damage",
    ["flip-signature", "flip-time", "truncate", "empty", "oversized", "garbage", "listed-changed"],
)
def test_damaged_token_is_a_problem_naming_the_file(
    env: Env, bundle: Path, tsa: Authority, damage: str
) -> None:
    reply = stamp(tsa, bundle)
    path = add_token(bundle, reply)
    if damage == "flip-signature":
        data = bytearray(reply)
        data[-3] ^= 0x40
        path.write_bytes(bytes(data))
        relist(bundle)
    elif damage == "flip-time":
        data = bytearray(reply)
        at = bytes(data).find(b"\x18\x0f")  # the GeneralizedTime of genTime
        data[at + 5] ^= 0x01
        path.write_bytes(bytes(data))
        relist(bundle)
    elif damage == "truncate":
        path.write_bytes(reply[: len(reply) // 2])
        relist(bundle)
    elif damage == "empty":
        path.write_bytes(b"")
        relist(bundle)
    elif damage == "oversized":
        path.write_bytes(reply + b"\0" * (2 << 20))
        relist(bundle)
    elif damage == "garbage":
        path.write_bytes(b"<html>not a token</html>")
        relist(bundle)
    elif damage == "listed-changed":
        path.write_bytes(stamp(tsa, bundle))  # a genuine token, but not the listed one
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem)
    assert code == 1
    paths = {p["path"] for p in report["problems"]}
    assert paths == {"custody/timestamps/1.tsr"}, report["problems"]
    result = env.run("verify", bundle, "--tsa-root", tsa.root_pem)
    assert "Traceback" not in result.output
    assert "custody/timestamps/1.tsr" in result.stdout


def test_bad_timestamp_file_name(env: Env, bundle: Path, tsa: Authority) -> None:
    add_token(bundle, stamp(tsa, bundle))
    (bundle / layout.TIMESTAMPS_DIR / "1.tsr").rename(bundle / layout.TIMESTAMPS_DIR / "x.tsr")
    code, report = verify(env, bundle, "--tsa-root", tsa.root_pem)
    assert code == 1
    assert ("bad_timestamp", "custody/timestamps/x.tsr") in {
        (p["kind"], p["path"]) for p in report["problems"]
    }


def test_tsa_root_that_is_not_a_certificate(env: Env, bundle: Path, tmp_path: Path) -> None:
    bad = tmp_path / "root.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n")
    result = env.run("verify", bundle, "--tsa-root", bad)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "root.pem" in result.stderr
    assert "Traceback" not in result.output


# --- the pure check, without the CLI -------------------------------------------------


def test_certificate_set_out_of_der_order_is_normalised_for_the_library(
    tsa: Authority,
) -> None:
    import rfc3161_client

    reply = issue_reply(tsa, make_query(b"sig"))
    _, parts = der.parse_reply(reply)
    assert parts is not None and len(parts.certificates) == 3
    try:
        rfc3161_client.decode_timestamp_response(reply)
        library_refuses = False
    except ValueError:
        library_refuses = True
    ordered = der.der_set_order(reply)
    assert len(ordered) == len(reply)
    rfc3161_client.decode_timestamp_response(ordered)
    assert der.der_set_order(ordered) == ordered
    # openssl writes this set in its own order: if it ever stops doing so, the
    # test still passes, but the genuine reply must be trusted either way.
    assert library_refuses or ordered == reply
    assert check_token(reply, b"sig", [root_of(tsa)]).status == "trusted"


def test_pure_check_time_and_proven_signing_time(tsa: Authority, tmp_path: Path) -> None:
    sig = b"signature bytes"
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    tags = {
        layout.SIGNATURE: sig,
        "custody/timestamps/1.tsr": issue_reply(tsa, make_query(sig), at=at),
        "custody/timestamps/2.tsr": issue_reply(tsa, make_query(sig)),
    }
    result = check_time(tags, None, TrustPolicy(tsa_roots=(root_of(tsa),)))
    assert [t.status for t in result.tokens] == ["trusted", "trusted"]
    assert result.signed_no_later_than == at + timedelta(seconds=1)
    assert proven_signing_time(result.tokens) == (at + timedelta(seconds=1), "Test TSA")
    untrusted = check_time(tags, None, TrustPolicy())
    assert proven_signing_time(untrusted.tokens) == (None, None)
    assert untrusted.problems == ()
