"""Stamping: ingest --tsa / CUSTODY_TSA, custody timestamp, custody tsa trust,
with a real openssl TSA on loopback (tests/tsa_server.py)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result

from conftest import PASSPHRASE, Env
from custody.bundle.format import layout
from tsa_server import Authority, TsaServer, refused_url, tsa_server  # noqa: F401

Ingest = Callable[..., tuple[Result, dict]]


@pytest.fixture
def authority(tsa_server: TsaServer) -> Authority:  # noqa: F811
    return tsa_server.authority("Test TSA", intermediate=True)


def verify(env: Env, bundle: Path, *extra: str | Path) -> tuple[int, dict]:
    result = env.run("verify", bundle, "--json", *extra)
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def test_ingest_with_two_tsas_stores_both_tokens(
    env: Env,
    evidence: Path,
    ingest: Ingest,
    tsa_server: TsaServer,  # noqa: F811
    authority: Authority,
) -> None:
    second = tsa_server.authority("Second TSA")
    result, data = ingest(
        evidence,
        "--out",
        str(env.tmp / "b"),
        "--tsa",
        tsa_server.url(authority),
        "--tsa",
        tsa_server.url(second),
    )
    assert result.exit_code == 0, result.output
    assert [t["status"] for t in data["timestamps"]] == ["granted", "granted"]
    assert [t["file"] for t in data["timestamps"]] == [
        "custody/timestamps/1.tsr",
        "custody/timestamps/2.tsr",
    ]
    bundle = Path(data["bundle"])
    listed, _ = layout.parse_manifest((bundle / layout.TAG_MANIFEST).read_bytes())
    assert {"custody/timestamps/1.tsr", "custody/timestamps/2.tsr"} <= set(listed)
    code, report = verify(env, bundle, "--tsa-root", authority.root_pem)
    assert code == 0, report["problems"]
    assert [t["status"] for t in report["timestamps"]] == ["trusted", "untrusted"]
    # What the first token proves: its genTime plus the accuracy it states (1 s).
    [first, _] = report["timestamps"]
    assert first["gen_time"] == data["timestamps"][0]["gen_time"]
    assert first["accuracy_seconds"] == 1
    gen_time = datetime.fromisoformat(first["gen_time"].replace("Z", "+00:00"))
    latest = (gen_time + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert report["signed_no_later_than"] == latest
    # The ledger holds one timestamp entry per token, with the token's SHA-256.
    rows = json.loads(env.run("ledger", "show", "--json").stdout)["entries"]
    stamps = [r for r in rows if r["action"] == "timestamp"]
    assert [r["detail"].split()[0] for r in stamps] == [t["file"] for t in data["timestamps"]]


def test_ingest_reads_custody_tsa_from_the_environment(
    env: Env,
    evidence: Path,
    officer: dict,
    tsa_server: TsaServer,  # noqa: F811
    authority: Authority,
) -> None:
    second = tsa_server.authority("Second TSA")
    urls = f"{tsa_server.url(authority)}  {tsa_server.url(second)}"
    result = env.run(
        "ingest",
        evidence,
        "--case",
        "C-1",
        "--out",
        env.tmp / "b",
        "--json",
        env={"CUSTODY_TSA": urls},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [t["tsa"] for t in data["timestamps"]] == urls.split()
    assert all(t["status"] == "granted" for t in data["timestamps"])


BAD_TSAS = {
    "refuses": lambda s, a: refused_url(),
    "html": lambda s, a: s.url(a, "html"),
    "error 500": lambda s, a: s.url(a, "error500"),
    "rejection status": lambda s, a: s.url(a, "reject"),
    "reply for another nonce": lambda s, a: s.url(a, "other-nonce"),
    "reply for another imprint": lambda s, a: s.url(a, "other-imprint"),
    "garbage": lambda s, a: s.url(a, "garbage"),
    "oversized": lambda s, a: s.url(a, "huge"),
    "times out": lambda s, a: s.url(a, "slow"),
    "not a URL": lambda s, a: "ftp://127.0.0.1/tsa",
}
EXPECTED = {
    "refuses": "cannot reach",
    "html": "text/html",
    "error 500": "HTTP 500",
    "rejection status": "refused the request",
    "reply for another nonce": "nonce",
    "reply for another imprint": "other data",
    "garbage": "not a timestamp reply",
    "oversized": "too large",
    "times out": "no answer within",
    "not a URL": "not an http",
}


@pytest.mark.parametrize("case", list(BAD_TSAS))
def test_a_bad_tsa_costs_one_warning_never_the_bundle(
    env: Env,
    evidence: Path,
    ingest: Ingest,
    tsa_server: TsaServer,  # noqa: F811
    authority: Authority,
    case: str,
) -> None:
    url = BAD_TSAS[case](tsa_server, authority)
    result, data = ingest(evidence, "--out", str(env.tmp / "b"), "--tsa", url, "--tsa-timeout", "1")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    [attempt] = data["timestamps"]
    assert attempt["status"] == "failed" and attempt["file"] is None
    assert EXPECTED[case] in attempt["detail"], attempt
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and url in warnings[0] and EXPECTED[case] in warnings[0]
    bundle = Path(data["bundle"])
    assert not (bundle / layout.TIMESTAMPS_DIR).exists()
    code, report = verify(env, bundle)
    assert code == 0 and report["timestamps"] == []


def test_ingest_with_one_tsa_down_keeps_the_other(
    env: Env,
    evidence: Path,
    ingest: Ingest,
    tsa_server: TsaServer,  # noqa: F811
    authority: Authority,
) -> None:
    down = refused_url()
    result, data = ingest(
        evidence, "--out", str(env.tmp / "b"), "--tsa", down, "--tsa", tsa_server.url(authority)
    )
    assert result.exit_code == 0
    assert [t["status"] for t in data["timestamps"]] == ["failed", "granted"]
    assert data["timestamps"][1]["file"] == "custody/timestamps/1.tsr"
    human = env.run("ingest", evidence, "--case", "C-2", "--out", env.tmp / "c", "--tsa", down)
    assert human.exit_code == 0
    [line] = [x for x in human.stderr.splitlines() if "timestamp" in x]
    assert down in line and "cannot reach" in line


def test_timestamp_later_adds_and_never_replaces(
    env: Env,
    bundle: Path,
    tsa_server: TsaServer,  # noqa: F811
    authority: Authority,
) -> None:
    statement = (bundle / layout.STATEMENT).read_bytes()
    signature = (bundle / layout.SIGNATURE).read_bytes()
    payload = {p: p.read_bytes() for p in (bundle / "data").rglob("*") if p.is_file()}
    first = env.run("timestamp", bundle, "--tsa", tsa_server.url(authority), "--json")
    assert first.exit_code == 0, first.output
    one = (bundle / "custody/timestamps/1.tsr").read_bytes()
    second = env.run("timestamp", bundle, env={"CUSTODY_TSA": tsa_server.url(authority)})
    assert second.exit_code == 0, second.output
    assert "custody/timestamps/2.tsr" in second.stdout
    assert (bundle / "custody/timestamps/1.tsr").read_bytes() == one
    assert (bundle / layout.STATEMENT).read_bytes() == statement
    assert (bundle / layout.SIGNATURE).read_bytes() == signature
    assert {p: p.read_bytes() for p in payload} == payload
    data = json.loads(first.stdout)
    [stamp] = data["timestamps"]
    assert stamp["file"] == "custody/timestamps/1.tsr"
    assert stamp["sha256"] == hashlib.sha256(one).hexdigest()
    env.run("tsa", "trust", authority.root_pem)
    code, report = verify(env, bundle)
    assert code == 0, report["problems"]
    assert [t["status"] for t in report["timestamps"]] == ["trusted", "trusted"]
    rows = json.loads(env.run("ledger", "show", "--json").stdout)["entries"]
    assert [r["action"] for r in rows].count("timestamp") == 2
    verified = env.run("ledger", "verify")
    assert verified.exit_code == 0, verified.output


def test_timestamp_with_every_tsa_down_changes_nothing(env: Env, bundle: Path) -> None:
    manifest = (bundle / layout.TAG_MANIFEST).read_bytes()
    result = env.run("timestamp", bundle, "--tsa", refused_url())
    assert result.exit_code == 3
    assert "cannot reach" in result.stderr
    assert (bundle / layout.TAG_MANIFEST).read_bytes() == manifest
    assert not (bundle / layout.TIMESTAMPS_DIR).exists()
    assert [p.name for p in bundle.parent.iterdir() if p.name.startswith(".")] == []


def test_timestamp_needs_a_tsa_and_a_bundle_folder(
    env: Env, bundle: Path, officer: dict, tmp_path: Path
) -> None:
    result = env.run("timestamp", bundle, env={"CUSTODY_TSA": ""})
    assert result.exit_code == 2 and "--tsa" in result.stderr
    result = env.run("timestamp", tmp_path, "--tsa", refused_url())
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_tsa_trust_stores_the_root_and_rejects_non_certificates(
    env: Env, authority: Authority, tmp_path: Path
) -> None:
    result = env.run("tsa", "trust", authority.root_pem, "--json")
    assert result.exit_code == 0, result.output
    [root] = json.loads(result.stdout)["tsa_roots"]
    assert root["name"] == "Test TSA Root CA"
    listed = json.loads(env.run("tsa", "list", "--json").stdout)["tsa_roots"]
    assert [r["sha256"] for r in listed] == [root["sha256"]]
    again = env.run("tsa", "trust", authority.root_pem)
    assert again.exit_code == 0
    for name, content in {
        "key.pem": authority.key_pem.read_bytes(),
        "empty.pem": b"",
        "text.pem": b"hello\n",
    }.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        result = env.run("tsa", "trust", bad)
        assert result.exit_code == 2, name
        assert result.stderr.count("\n") == 1 and name in result.stderr
        assert "Traceback" not in result.output
    result = env.run("tsa", "trust", tmp_path / "missing.pem")
    assert result.exit_code == 2


def _custody(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "custody", *map(str, args)]


def test_timestamp_killed_midway_leaves_the_bundle_whole(
    env: Env,
    bundle: Path,
    tsa_server: TsaServer,  # noqa: F811
    authority: Authority,
) -> None:
    """kill -9 while the TSA is answering, then at many moments of a run: the
    bundle always verifies, and a token is either listed or explained."""
    env.run("tsa", "trust", authority.root_pem)
    proc_env = {**os.environ, "CUSTODY_HOME": str(env.home), "CUSTODY_PASSPHRASE": PASSPHRASE}
    slow = subprocess.Popen(
        _custody("timestamp", bundle, "--tsa", tsa_server.url(authority, "slow")),
        env=proc_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    slow.send_signal(signal.SIGKILL)
    slow.wait()
    code, report = verify(env, bundle)
    assert code == 0 and report["timestamps"] == []
    for delay in (0.3, 0.5, 0.7, 0.9, 1.1, 1.3):
        proc = subprocess.Popen(
            _custody("timestamp", bundle, "--tsa", tsa_server.url(authority)),
            env=proc_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        code, report = verify(env, bundle)
        assert code == 0, (delay, report["problems"])
        assert all(t["status"] == "trusted" for t in report["timestamps"])
    # Nothing was left inside the bundle but whole tokens; the next run lists any
    # token an interrupted run left unlisted.
    names = (
        {p.name for p in (bundle / layout.TIMESTAMPS_DIR).iterdir()}
        if (bundle / layout.TIMESTAMPS_DIR).exists()
        else set()
    )
    assert all(layout.timestamp_number(f"custody/timestamps/{n}") for n in names), names
    done = env.run("timestamp", bundle, "--tsa", tsa_server.url(authority))
    assert done.exit_code == 0
    code, report = verify(env, bundle)
    assert code == 0 and not any("interrupted" in w for w in report["warnings"])
    assert len(report["timestamps"]) == len(names) + 1
