"""The register's rule with trusted time: bundles stamped by a real openssl TSA on
loopback (tests/tsa_server.py) before and after revocations, with trusted,
untrusted and no timestamps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import PASSPHRASE, Env
from tsa_server import FAKETIME, Authority, TsaServer, tsa_server  # noqa: F401


def _next_second() -> None:
    """Wait until the clock is in a later second than now: register times are
    whole seconds, and 'before the revocation' must be strictly before."""
    start = int(time.time())
    while int(time.time()) <= start:
        time.sleep(0.05)


def _past_the_tokens_accuracy() -> None:
    """Wait until a revocation made now falls after every token stamped so far
    by the test TSAs, which state an accuracy of one second: a token proves
    genTime + accuracy, not genTime (docs/format.md)."""
    _next_second()
    _next_second()


class Unit:
    """A key authority, one officer it certifies, a trusted TSA and an untrusted one,
    and a court that trusts the register and the trusted TSA's root."""

    def __init__(self, tmp: Path, server: TsaServer, *, add: tuple[str, ...] = ()) -> None:
        self.tmp = tmp
        self.server = server
        self.authority = Env(home=tmp / "authority", tmp=tmp)
        self.officer = Env(home=tmp / "officer", tmp=tmp)
        self.court = Env(home=tmp / "court", tmp=tmp)
        self.trusted_tsa: Authority = server.authority("Example TSA")
        self.other_tsa: Authority = server.authority("Unknown TSA")
        assert self.authority.run("authority", "init", "--name", "Met WCT").exit_code == 0
        result, key = self.officer.run_json("keygen", "--name", "PC Jane Smith")
        assert result.exit_code == 0, result.output
        self.fingerprint = key["fingerprint"]
        pub = tmp / "jane.pub"
        assert self.officer.run("keys", "export", key["id"], "-o", pub).exit_code == 0
        result = self.authority.run("authority", "add", pub, *add)
        assert result.exit_code == 0, result.output
        assert self.court.run("tsa", "trust", self.trusted_tsa.root_pem).exit_code == 0
        self.count = 0

    def ingest(self, tsa: Authority | None) -> Path:
        self.count += 1
        src = self.tmp / f"evidence-{self.count}"
        src.mkdir()
        (src / "statement.txt").write_text(f"witness statement {self.count}\n")
        out = self.tmp / f"bundle-{self.count}"
        extra = ["--tsa", self.server.url(tsa)] if tsa is not None else []
        result = self.officer.run("ingest", src, "--case", "ICC-2026-014", "--out", out, *extra)
        assert result.exit_code == 0, result.output
        return out

    def authority_does(self, *args: str) -> None:
        result = self.authority.run("authority", *args)
        assert result.exit_code == 0, result.output

    def publish(self) -> None:
        register = self.tmp / "register.json"
        result, data = self.authority.run_json("authority", "export", "-o", register)
        assert result.exit_code == 0, result.output
        result = self.court.run(
            "keys", "trust-register", register, "--fingerprint", data["unit_fingerprint"]
        )
        assert result.exit_code == 0, result.output

    def verify(self, bundle: Path) -> tuple[int, dict]:
        result = self.court.run("verify", bundle, "--json")
        assert "Traceback" not in result.output
        return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("reason", ["compromised", "superseded", "retired"])
def test_revocation_before_and_after_trusted_time(
    tmp_path: Path,
    tsa_server: TsaServer,  # noqa: F811
    reason: str,
) -> None:
    unit = Unit(tmp_path, tsa_server)
    stamped = unit.ingest(unit.trusted_tsa)
    unstamped = unit.ingest(None)
    untrusted = unit.ingest(unit.other_tsa)
    _past_the_tokens_accuracy()
    unit.authority_does("revoke", unit.fingerprint, "--reason", reason)
    stamped_after = unit.ingest(unit.trusted_tsa)  # the key is still in someone's hands
    unit.publish()

    code, report = unit.verify(stamped)
    assert code == 0, report["problems"]
    signer = report["signer"]
    assert signer["key_status"] == "revoked" and signer["trusted"]
    assert signer["decided_by"].startswith(f"key revoked ({reason} ")
    assert "but a trusted timestamp proves the bundle was signed by" in signer["decided_by"]
    assert "(Example TSA): accepted" in signer["decided_by"]
    assert report["signed_no_later_than"] is not None

    for bundle in (unstamped, untrusted):
        code, report = unit.verify(bundle)
        assert code == 1
        assert report["signer"]["key_status"] == "revoked"
        assert report["signed_no_later_than"] is None
        assert (
            "no trusted time proves the bundle was signed before: NOT verified"
            in (report["signer"]["decided_by"])
        )
        assert [p["kind"] for p in report["problems"]] == ["key_not_valid"]

    code, report = unit.verify(stamped_after)
    assert code == 1
    assert report["signed_no_later_than"] is not None
    assert (
        "which is not before the revocation took effect: NOT verified"
        in (report["signer"]["decided_by"])
    )


def test_compromise_dated_back_before_the_timestamp(
    tmp_path: Path,
    tsa_server: TsaServer,  # noqa: F811
) -> None:
    unit = Unit(tmp_path, tsa_server, add=("--valid-from", "2020-01-01"))
    stamped = unit.ingest(unit.trusted_tsa)
    unit.authority_does(
        "revoke", unit.fingerprint, "--reason", "compromised", "--since", "2021-06-01"
    )
    unit.publish()
    code, report = unit.verify(stamped)
    assert code == 1
    assert "compromised since 2021-06-01" in report["signer"]["decided_by"]
    assert "not before the revocation took effect" in report["signer"]["decided_by"]
    # The same bundle, verified with the TSA root given on the command line only.
    result = unit.court.run(
        "verify", stamped, "--json", "--no-trust-store", "--register", tmp_path / "register.json"
    )
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["signed_no_later_than"] is None
    assert "no trusted time proves" in data["signer"]["decided_by"]


def test_expired_key_with_a_timestamp_from_its_validity(
    tmp_path: Path,
    tsa_server: TsaServer,  # noqa: F811
) -> None:
    until = datetime.fromtimestamp(int(time.time()) + 3, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    unit = Unit(tmp_path, tsa_server, add=("--valid-from", "2020-01-01", "--valid-until", until))
    stamped = unit.ingest(unit.trusted_tsa)
    unstamped = unit.ingest(None)
    unit.publish()
    while time.time() <= datetime.fromisoformat(until).timestamp() + 1:
        time.sleep(0.1)
    late = unit.ingest(unit.trusted_tsa)
    code, report = unit.verify(stamped)
    assert code == 0, report["problems"]
    assert report["signer"]["key_status"] == "expired"
    assert "while it was valid: accepted" in report["signer"]["decided_by"]
    code, report = unit.verify(unstamped)
    assert code == 1 and report["signer"]["key_status"] == "expired"
    code, report = unit.verify(late)
    assert code == 1 and "after it expired: NOT verified" in report["signer"]["decided_by"]


def test_ledger_checkpoints_follow_the_same_rule(
    tmp_path: Path,
    tsa_server: TsaServer,  # noqa: F811
) -> None:
    unit = Unit(tmp_path, tsa_server)
    unit.ingest(None)
    officer = unit.officer
    stamped = tmp_path / "checkpoint-stamped.txt"
    result = officer.run("ledger", "checkpoint", "--tsa", tsa_server.url(unit.trusted_tsa))
    assert result.exit_code == 0, result.output
    stamped.write_text(result.stdout)
    unit.ingest(None)  # a later checkpoint, never timestamped
    unstamped = tmp_path / "checkpoint-plain.txt"
    unstamped.write_text(officer.run("ledger", "checkpoint").stdout)
    assert unstamped.read_text() != stamped.read_text()
    _past_the_tokens_accuracy()
    unit.authority_does("revoke", unit.fingerprint, "--reason", "compromised")
    register = tmp_path / "register.json"
    result, data = unit.authority.run_json("authority", "export", "-o", register)
    fingerprint = data["unit_fingerprint"]
    assert (
        officer.run("keys", "trust-register", register, "--fingerprint", fingerprint).exit_code == 0
    )
    assert officer.run("tsa", "trust", unit.trusted_tsa.root_pem).exit_code == 0
    result = officer.run("ledger", "consistency", stamped)
    assert result.exit_code == 0, result.output
    result = officer.run("ledger", "consistency", unstamped)
    assert result.exit_code == 1
    assert "checkpoint signed by PC Jane Smith: key compromised since" in result.stdout
    assert "no trusted time proves the checkpoint was signed before" in result.stdout


def _ingest_at(unit: Unit, tsa: Authority, at: datetime) -> Path:
    """Ingest with the officer's clock, and the TSA's, set to `at` (libfaketime):
    the only way to have a real token from the past whose bundle's own
    `created` agrees with it."""
    src = unit.tmp / "evidence-past"
    src.mkdir()
    (src / "statement.txt").write_text("witness statement, stamped in the past\n")
    out = unit.tmp / "bundle-past"
    stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert FAKETIME is not None
    args = ["--case", "ICC-2026-014", "--out", out, "--tsa", unit.server.url(tsa, at=at)]
    done = subprocess.run(
        [FAKETIME, "-f", f"@{stamp}", sys.executable, "-m", "custody", "ingest", src, *args],
        env={
            **os.environ,
            "CUSTODY_HOME": str(unit.officer.home),
            "CUSTODY_PASSPHRASE": PASSPHRASE,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.mark.skipif(FAKETIME is None, reason="needs libfaketime (faketime)")
@pytest.mark.parametrize(
    ("accuracy", "revoked_after", "accepted"),
    [
        # RFC 3161: the real time lies within genTime ± accuracy. A key
        # compromised 30 minutes after genTime, by a token accurate to an hour,
        # may have signed after the compromise.
        ("secs:3600", timedelta(minutes=30), False),
        # Compromised after genTime + accuracy: the token proves the signature
        # came first.
        ("secs:3600", timedelta(minutes=90), True),
        # A token that states no accuracy proves its genTime itself.
        (None, timedelta(minutes=30), True),
    ],
)
def test_a_revocation_within_the_tokens_accuracy_is_not_before_it(
    tmp_path: Path,
    tsa_server: TsaServer,  # noqa: F811
    accuracy: str | None,
    revoked_after: timedelta,
    accepted: bool,
) -> None:
    unit = Unit(
        tmp_path, tsa_server, add=("--valid-from", "2020-01-01", "--valid-until", "2036-01-01")
    )
    hourly = tsa_server.authority("Hourly TSA", accuracy=accuracy)
    assert unit.court.run("tsa", "trust", hourly.root_pem).exit_code == 0
    gen_time = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    bundle = _ingest_at(unit, hourly, gen_time)
    since = (gen_time + revoked_after).strftime("%Y-%m-%dT%H:%M:%SZ")
    unit.authority_does("revoke", unit.fingerprint, "--reason", "compromised", "--since", since)
    unit.publish()

    code, report = unit.verify(bundle)
    [token] = report["timestamps"]
    assert token["status"] == "trusted" and token["gen_time"] is not None
    token_time = datetime.fromisoformat(token["gen_time"].replace("Z", "+00:00"))
    assert abs(token_time - gen_time) < timedelta(seconds=10)
    assert token["accuracy_seconds"] == (3600 if accuracy else None)
    bound = token_time + timedelta(seconds=token["accuracy_seconds"] or 0)
    assert report["signed_no_later_than"] == bound.strftime("%Y-%m-%dT%H:%M:%SZ")
    signer = report["signer"]
    assert signer["key_status"] == "revoked"
    if accepted:
        assert code == 0, report["problems"]
        assert "but a trusted timestamp proves the bundle was signed by" in signer["decided_by"]
    else:
        assert code == 1
        assert [p["kind"] for p in report["problems"]] == ["key_not_valid"]
        assert "which is not before the revocation took effect" in signer["decided_by"]
        assert bound.strftime("%Y-%m-%dT%H:%M:%SZ") in signer["decided_by"]
