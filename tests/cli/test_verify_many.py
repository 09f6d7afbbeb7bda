"""custody verify B1 B2 ... and --from LIST: many bundles in one process, one line each,
in the order given, then a summary; the most serious exit code wins."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Env, make_evidence, validate

CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens, the connection is refused


@dataclass
class Holdings:
    good: Path
    other_good: Path
    tampered: Path
    untrusted: Path
    not_a_bundle: Path
    missing: Path


def ingest_one(env: Env, source: Path, out: Path) -> Path:
    # --again: several bundles of one source are the holdings these tests need.
    result = env.run("ingest", source, "--case", "ICC-2026-014", "--out", out, "-q", "--again")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def holdings(env: Env, officer: dict, tmp_path: Path) -> Holdings:
    """A registry's shelf: two honest bundles (one of the phone-like evidence), one with
    a payload byte changed, one signed by a key this verifier does not trust, a folder
    that is not a bundle and a path that does not exist."""
    small = tmp_path / "small"
    small.mkdir()
    (small / "statement.txt").write_text("I saw it.\n")
    good = ingest_one(env, small, tmp_path / "good")
    other_good = ingest_one(env, make_evidence(tmp_path / "phone"), tmp_path / "phone-bundle")
    tampered = ingest_one(env, small, tmp_path / "tampered")
    target = tampered / "data" / "statement.txt"
    data = bytearray(target.read_bytes())
    data[0] ^= 0x01
    target.write_bytes(bytes(data))
    mallory = Env(home=tmp_path / "mallory", tmp=tmp_path)
    assert mallory.run("keygen", "--name", "PC Jane Smith, War Crimes Team").exit_code == 0
    untrusted = ingest_one(mallory, small, tmp_path / "untrusted")
    not_a_bundle = tmp_path / "holiday-photos"
    not_a_bundle.mkdir()
    (not_a_bundle / "beach.jpg").write_bytes(b"\xff\xd8\xff")
    return Holdings(good, other_good, tampered, untrusted, not_a_bundle, tmp_path / "gone")


def json_lines(stdout: str) -> list[dict]:
    lines = [json.loads(line) for line in stdout.splitlines()]
    for line in lines:
        validate("verify-many-line", line)
    return lines


def without_time(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "verified_at"}


def test_one_line_per_bundle_in_the_order_given_then_a_summary(
    env: Env, holdings: Holdings
) -> None:
    h = holdings
    result = env.run(
        "verify", h.tampered, h.good, h.not_a_bundle, h.untrusted, h.missing, h.other_good
    )
    assert result.exit_code == 2  # not a bundle is worse than not verified
    assert result.stdout.splitlines() == [
        f"NOT VERIFIED  {h.tampered}: changed",
        f"VERIFIED      {h.good}",
        f"UNUSABLE      {h.not_a_bundle}: not a bundle (no bagit.txt)",
        f"NOT VERIFIED  {h.untrusted}: untrusted_signer",
        f"UNUSABLE      {h.missing}: no such file or folder",
        f"VERIFIED      {h.other_good}",
        "6 bundles: 2 verified, 2 not verified, 2 unusable",
    ]
    assert result.stderr == ""


def test_further_problems_are_counted_on_the_line(env: Env, holdings: Holdings) -> None:
    (holdings.tampered / "data" / "planted.txt").write_text("planted\n")
    problems = json.loads(env.run("verify", holdings.tampered, "--json").stdout)["problems"]
    assert len(problems) > 1 and problems[0]["kind"] == "changed"
    result = env.run("verify", holdings.good, holdings.tampered)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == (
        f"NOT VERIFIED  {holdings.tampered}: changed (+{len(problems) - 1} more)"
    )


@pytest.mark.parametrize(
    ("names", "code"),
    [
        (("good", "other_good"), 0),
        (("good", "tampered"), 1),
        (("untrusted", "good"), 1),
        (("good", "tampered", "not_a_bundle"), 2),
        (("missing", "tampered"), 2),
    ],
)
def test_exit_code_is_the_most_serious(
    env: Env, holdings: Holdings, names: tuple[str, ...], code: int
) -> None:
    result = env.run("verify", *(getattr(holdings, n) for n in names))
    assert result.exit_code == code, result.output
    summary = json_lines(env.run("verify", *(getattr(holdings, n) for n in names), "--json").stdout)
    assert summary[-1]["summary"]["exit_code"] == code


def test_a_machine_failure_is_exit_3_and_the_rest_still_verified(
    env: Env, holdings: Holdings
) -> None:
    """Object storage that refuses the connection fails that bundle only, with exit 3."""
    result = env.run(
        "verify",
        holdings.tampered,
        "s3://evidence/icc/ICC-2026-014_X",
        holdings.good,
        "--endpoint-url",
        CLOSED_PORT,
        env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
    )
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0].startswith("NOT VERIFIED  ")
    assert lines[1].startswith("UNUSABLE      s3://evidence/icc/ICC-2026-014_X: cannot reach")
    assert lines[2] == f"VERIFIED      {holdings.good}"


def test_json_lines_are_the_single_reports_plus_errors_and_a_summary(
    env: Env, holdings: Holdings
) -> None:
    h = holdings
    result = env.run("verify", h.good, h.tampered, h.not_a_bundle, h.untrusted, "--json")
    assert result.exit_code == 2
    lines = json_lines(result.stdout)
    assert len(lines) == 5
    for line, bundle in zip(
        lines[:4], (h.good, h.tampered, h.not_a_bundle, h.untrusted), strict=True
    ):
        assert line["bundle"] == str(bundle)
        if bundle == h.not_a_bundle:
            continue
        single = env.run("verify", bundle, "--json")
        # among several targets each line also says what it was (a bundle, not a package)
        assert without_time(line) == {**without_time(json.loads(single.stdout)), "kind": "bundle"}
        assert line["files"], "the file table is kept, as one bundle's --json has it"
    assert [line["verified"] for line in lines[:4]] == [True, False, False, False]
    assert lines[2]["error"] == {
        "kind": "not_a_bundle",
        "path": str(h.not_a_bundle),
        "message": "not a bundle (no bagit.txt)",
        "exit_code": 2,
    }
    assert lines[4] == {
        "summary": {"bundles": 4, "verified": 1, "not_verified": 2, "unusable": 1, "exit_code": 2}
    }


def test_from_a_list_file(env: Env, holdings: Holdings, tmp_path: Path) -> None:
    """Comments and blank lines are skipped; relative paths are the list's folder's."""
    lists = tmp_path / "lists"
    lists.mkdir()
    listing = lists / "holdings.txt"
    listing.write_text(
        f"# tonight's check\n\n../good\n  {holdings.tampered}  \n# ../untrusted\n../phone-bundle\n"
    )
    result = env.run("verify", "--from", listing)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"VERIFIED      {lists / '../good'}",
        f"NOT VERIFIED  {holdings.tampered}: changed",
        f"VERIFIED      {lists / '../phone-bundle'}",
        "3 bundles: 2 verified, 1 not verified, 0 unusable",
    ]
    one = lists / "one.txt"
    one.write_text("../good\n")
    result = env.run("verify", "--from", one)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"VERIFIED      {lists / '../good'}",
        "1 bundle: 1 verified, 0 not verified, 0 unusable",
    ]


def test_a_repeated_line_is_refused_by_line_number(
    env: Env, holdings: Holdings, tmp_path: Path
) -> None:
    listing = tmp_path / "holdings.txt"
    listing.write_text(f"good\n# comment\ntampered\n{holdings.good}\n")
    result = env.run("verify", "--from", listing)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"custody: error: {listing}: line 4 repeats line 1 (the same bundle)\n"


def test_nothing_to_verify_is_a_usage_error(env: Env, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing tonight\n")
    for args in ((), ("--from", empty)):
        result = env.run("verify", *args)
        assert result.exit_code == 2
        assert "nothing to verify" in result.stderr and result.stdout == ""


def test_report_takes_one_bundle(env: Env, holdings: Holdings, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = env.run("verify", holdings.good, holdings.other_good, "--report", report)
    assert result.exit_code == 2
    assert result.stderr == (
        "custody: error: --report writes one bundle's report: give one BUNDLE\n"
    )
    assert not report.exists() and result.stdout == ""


def test_record_records_each_verification(env: Env, holdings: Holdings) -> None:
    def verify_entries() -> list[dict]:
        entries = json.loads(env.run("ledger", "show", "--json").stdout)["entries"]
        return [e for e in entries if e["action"] == "verify"]

    assert verify_entries() == []
    result = env.run("verify", holdings.good, holdings.not_a_bundle, holdings.tampered, "--record")
    assert result.exit_code == 2
    recorded = verify_entries()
    ids = [
        json.loads(env.run("verify", b, "--json").stdout)["bundle_id"]
        for b in (holdings.good, holdings.tampered)
    ]
    assert [e["bundle_id"] for e in recorded] == ids
    assert recorded[0]["detail"] == "verified" and recorded[1]["detail"] != "verified"
    first = recorded[0]["index"]
    assert result.stderr.endswith(
        f"Recorded 2 verifications in your ledger (entries {first} to {first + 1}).\n"
    )


def test_quiet_prints_only_the_bundles_that_did_not_verify(env: Env, holdings: Holdings) -> None:
    result = env.run("verify", holdings.good, holdings.tampered, holdings.other_good, "-q")
    assert result.exit_code == 1
    assert result.stdout == f"NOT VERIFIED  {holdings.tampered}: changed\n"
    result = env.run("verify", holdings.good, holdings.other_good, "-q")
    assert result.exit_code == 0 and result.stdout == ""


def test_the_same_trust_options_apply_to_every_bundle(
    env: Env, holdings: Holdings, officer: dict, tmp_path: Path
) -> None:
    clerk = Env(home=tmp_path / "clerk", tmp=tmp_path)
    bundles = (holdings.good, holdings.other_good)
    assert clerk.run("verify", *bundles).exit_code == 1
    result = clerk.run("verify", *bundles, "--trust", officer["public_key"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("VERIFIED      ") == 2


def test_a_name_from_evidence_cannot_drive_the_terminal(
    env: Env, holdings: Holdings, tmp_path: Path
) -> None:
    evil = tmp_path / "evil\x1b[2J\rVERIFIED"
    evil.mkdir()
    result = env.run("verify", holdings.good, evil)
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert result.stdout.splitlines()[1].startswith("UNUSABLE      ")
    assert "evil\\x1b[2J\\rVERIFIED" in result.stdout


def test_one_bundle_keeps_the_single_report(env: Env, holdings: Holdings) -> None:
    """One BUNDLE prints the full report and one JSON document, as it always has."""
    result = env.run("verify", holdings.good)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"VERIFIED: {holdings.good}"
    assert lines[1].startswith("Case ")
    assert "bundles:" not in result.stdout
    result = env.run("verify", holdings.tampered, "--json")
    assert result.exit_code == 1
    assert result.stdout.startswith("{\n  ")
    validate("verify", json.loads(result.stdout))


def test_two_workers_give_what_one_gives(env: Env, holdings: Holdings) -> None:
    h = holdings
    bundles = [h.untrusted, h.good, h.not_a_bundle, h.tampered, h.other_good, h.missing] * 2
    serial = env.run("verify", *bundles, "--json", "--workers", "1")
    pooled = env.run("verify", *bundles, "--json", "--workers", "2")
    assert serial.exit_code == pooled.exit_code == 2
    serial_lines, pooled_lines = json_lines(serial.stdout), json_lines(pooled.stdout)
    assert [without_time(x) for x in serial_lines] == [without_time(x) for x in pooled_lines]
    assert [x.get("bundle") for x in pooled_lines[:-1]] == [str(b) for b in bundles]
    people = env.run("verify", *bundles, "--workers", "2")
    assert people.stdout == env.run("verify", *bundles, "--workers", "1").stdout


def test_a_list_line_naming_object_storage_is_kept_as_a_url(
    env: Env, holdings: Holdings, tmp_path: Path
) -> None:
    listing = tmp_path / "lists" / "stored.txt"
    listing.parent.mkdir()
    listing.write_text("s3://evidence/icc/ICC-2026-014_X\n../good\n")
    result = env.run(
        "verify",
        "--from",
        listing,
        "--endpoint-url",
        CLOSED_PORT,
        env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
    )
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0].startswith("UNUSABLE      s3://evidence/icc/ICC-2026-014_X: cannot reach")
    assert lines[1] == f"VERIFIED      {listing.parent / '../good'}"


def test_results_stream_in_order_with_few_bundles_in_flight(env: Env, holdings: Holdings) -> None:
    """The library yields each outcome as its turn comes, having taken only a few bundles
    from the list ahead of it: thousands of bundles do not pile up in memory."""
    from custody.ops.trust import load_trust_policy
    from custody.ops.verify_many import BundleRef, verify_many

    taken: list[int] = []

    def shelf() -> Iterator[BundleRef]:
        for i in range(40):
            taken.append(i)
            yield BundleRef(str(holdings.good if i % 2 else holdings.tampered))

    outcomes = verify_many(
        home=env.home,
        bundles=shelf(),
        count=40,
        policy=load_trust_policy(home=env.home),
        workers=2,
    )
    first = next(outcomes)
    assert first.report is not None and not first.report.verified
    assert len(taken) == 1  # the first is verified before the workers start
    second = next(outcomes)
    assert second.report is not None and second.report.verified
    assert len(taken) <= 1 + 2 * 2  # two bundles in flight per worker
    rest = list(outcomes)
    assert len(taken) == 40
    verdicts = [o.report.verified for o in (first, second, *rest) if o.report is not None]
    assert verdicts == [i % 2 == 1 for i in range(40)]


def test_a_worker_that_dies_stops_the_batch_as_a_machine_failure(
    env: Env, holdings: Holdings
) -> None:
    """A worker killed (the out-of-memory killer, an operator) is exit 3, never a bundle
    silently left out or counted as verified."""
    import multiprocessing
    import signal

    from custody.base.errors import EnvironmentFailure
    from custody.ops.trust import load_trust_policy
    from custody.ops.verify_many import BundleRef, verify_many

    outcomes = verify_many(
        home=env.home,
        bundles=[BundleRef(str(holdings.good))] * 20,
        count=20,
        policy=load_trust_policy(home=env.home),
        workers=2,
    )
    assert next(outcomes).report is not None
    assert next(outcomes).report is not None  # the pool is running
    workers = multiprocessing.active_children()
    assert len(workers) == 2
    os.kill(workers[0].pid, signal.SIGKILL)
    with pytest.raises(EnvironmentFailure) as caught:
        list(outcomes)
    assert caught.value.exit_code == 3
    assert "a verifying process died" in caught.value.message


def test_a_batch_stopped_by_a_dead_worker_ends_its_json_lines_with_an_error_line(
    env: Env, holdings: Holdings
) -> None:
    """A script reading JSON Lines gets one more line, not a document that breaks them."""
    import multiprocessing
    import signal
    import threading
    import time

    stop = threading.Event()

    def kill_a_worker() -> None:
        while not stop.is_set():
            workers = multiprocessing.active_children()
            if workers:
                os.kill(workers[0].pid, signal.SIGKILL)
                return
            time.sleep(0.001)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    try:
        result = env.run("verify", *[holdings.good] * 400, "--json", "--workers", "2")
    finally:
        stop.set()
        killer.join()
    assert result.exit_code == 3
    lines = json_lines(result.stdout)
    assert "summary" not in lines[-1]
    assert lines[-1]["error"]["kind"] == "environment"
    assert "a verifying process died" in lines[-1]["error"]["message"]
    assert all(line["verified"] for line in lines[:-1])
    assert result.stderr.startswith("custody: error: a verifying process died")
