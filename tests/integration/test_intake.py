"""The witness web intake end to end: a real `custody intake serve` on
127.0.0.1 (started and stopped by pid), raw tus clients that interrupt,
resume, send bad chunks and bad checksums, a kill -9 mid-upload, forged,
expired and revoked invitations, hostile names, oversized uploads, and the
receipt verified, altered and checked against a later checkpoint."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import REPO, Env, validate
from intake_server import IntakeServer, TusClient
from tsa_server import TsaServer, tsa_server  # noqa: F401

CASE = "ICC-2026-014"
HOSTILE = "../../etc/passwd\x1b[31m\u202e.jpg"


@pytest.fixture
def intake(env: Env) -> Iterator[IntakeServer]:
    result, _ = env.run_json("keygen", "--name", "Intake, War Crimes Team")
    assert result.exit_code == 0, result.output
    server = IntakeServer(env.home, env.tmp / "intake", CASE, env.tmp / "serve.log")
    invite(env, server, "W0")  # creates the folder before the server starts
    server.start()
    try:
        yield server
    finally:
        server.stop()


def invite(env: Env, server: IntakeServer, ref: str, *extra: str) -> TusClient:
    result, doc = env.run_json(
        "intake",
        "invite",
        "--data",
        server.data,
        "--case",
        CASE,
        "--ref",
        ref,
        "--url",
        server.url,
        "--no-qr",
        *extra,
    )
    assert result.exit_code == 0, result.output
    validate("intake-invite", doc)
    return TusClient(server.port, doc["link"].split("#", 1)[1])


def test_upload_resume_finish_and_receipt(env: Env, intake: IntakeServer) -> None:
    tus = invite(env, intake, "W1")
    first = os.urandom(300_000)
    second = b"chat export\n" * 5000
    r = tus.create(len(first), HOSTILE, hashlib.sha256(first).hexdigest())
    assert r.status == 201
    loc = r.headers["location"]
    # A bad chunk checksum: 460 and nothing appended.
    r = tus.patch(loc, 0, first[:100_000], checksum=hashlib.sha256(b"other").digest())
    assert r.status == 460
    assert tus.offset(loc) == 0
    # A wrong offset: 409.
    assert tus.patch(loc, 5, first[5:10]).status == 409
    r = tus.patch(loc, 0, first[:100_000])
    assert r.status == 204 and r.headers["upload-offset"] == "100000"
    # A connection lost mid-part without a checksum: what arrived is kept.
    tus.partial_patch(loc, 100_000, first[100_000:150_000], declared=200_000)
    got = tus.offset(loc)
    assert 100_000 <= got <= 150_000
    # Nothing already received is sent again: resume from the server's offset.
    r = tus.patch(loc, got, first[got:])
    assert r.status == 204 and r.headers["upload-offset"] == str(len(first))
    assert tus.patch(loc, len(first), b"x").status == 409  # complete: nothing more
    tus.upload(second, "chat.zip")
    status = tus.request("GET", "/api/status").json()
    assert [f["sha256"] for f in status["files"]] == [
        hashlib.sha256(first).hexdigest(),
        hashlib.sha256(second).hexdigest(),
    ]
    assert b"passwd" not in tus.request("GET", "/api/status").body  # names never served back
    assert tus.request("GET", loc).status in (404, 405)  # nothing uploaded is served back
    assert tus.finish(names=True).status == 202
    assert tus.create(10, "late").status == 403  # finished: nothing more
    doc = tus.wait_receipt()
    assert doc["state"] == "ingested", intake.data / "serve.log"
    receipt = env.tmp / "receipt.json"
    receipt.write_text(doc["receipt"])
    assert "<svg" in doc["receipt_html"] and "<script" not in doc["receipt_html"]
    assert "\x1b" not in doc["receipt_html"] and "\u202e" not in doc["receipt_html"]

    # The bundle holds the bytes as sent, under numbered names; the names as given are recorded.
    listing = json.loads(env.run("intake", "list", "--data", intake.data, "--json").stdout)
    validate("intake-list", listing)
    row = next(r for r in listing["submissions"] if r["ref"] == "W1")
    # Finishing again by hand gives the same result (the server already did it).
    result, again = env.run_json("intake", "finish", "--data", intake.data, "W1")
    assert result.exit_code == 0 and again["code"] == doc["code"]
    validate("intake-finish", again)
    assert row["state"] == "ingested" and row["files"] == 2 and row["code"] == doc["code"]
    bundle = Path(row["bundle"])
    assert (bundle / "data" / "files" / "001.jpg").read_bytes() == first
    assert (bundle / "data" / "files" / "002.zip").read_bytes() == second
    record = json.loads((bundle / "data" / "intake-submission.json").read_text())
    assert record["files"][0]["name_as_given"] == HOSTILE
    assert not list(intake.data.rglob("*.part"))
    assert env.run("verify", bundle).exit_code == 0

    # The receipt verifies, with the files, from another home that trusts the intake key.
    key = env.tmp / "intake.pub"
    assert env.run("keys", "export", "intake-war-crimes-team", "-o", key).exit_code == 0
    other = Env(home=env.tmp / "court", tmp=env.tmp)
    sent = env.tmp / "sent"
    sent.mkdir()
    (sent / "a").write_bytes(first)
    (sent / "b").write_bytes(second)
    result = other.run("receipt", "verify", receipt, "--trust", key, "--files", sent, "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.stdout
    validate("receipt-verify", report)
    assert report["files"] == {"matching": 2, "missing": 0, "extra": 0}
    assert report["code"] == doc["code"]
    payload = json.loads(json.loads(receipt.read_text())["signed"])
    assert payload["files"][0]["name"] == HOSTILE
    # The recipe of docs/intake.md ("By hand") checks it with jq, openssl and Python alone.
    _by_hand(env.tmp / "by-hand", receipt, [first, second], payload["merkle_root"])
    # Untrusted: not verified.
    assert other.run("receipt", "verify", receipt).exit_code == 1
    # Files that are not exactly the bytes received.
    (sent / "c").write_bytes(b"extra")
    result = other.run("receipt", "verify", receipt, "--trust", key, "--files", sent)
    assert result.exit_code == 1 and "extra_file" in result.output
    # Altered receipts.
    for field, value in (("bytes", 1), ("merkle_root", "00" * 32)):
        altered = dict(payload, **{field: value})
        signed = json.dumps(altered, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        forged = dict(json.loads(receipt.read_text()), signed=signed)
        bad = env.tmp / f"forged-{field}.json"
        bad.write_text(json.dumps(forged))
        result = other.run("receipt", "verify", bad, "--trust", key)
        assert result.exit_code == 1 and "bad_signature" in result.output
    wrong_code = dict(json.loads(receipt.read_text()), code="abandon-abandon-abandon-abandon")
    (env.tmp / "code.json").write_text(json.dumps(wrong_code))
    assert other.run("receipt", "verify", env.tmp / "code.json", "--trust", key).exit_code == 1
    (env.tmp / "junk.json").write_text("{}")
    assert other.run("receipt", "verify", env.tmp / "junk.json").exit_code == 2

    # A later checkpoint still contains it: after another ingest, prove and check.
    (env.tmp / "more").mkdir()
    (env.tmp / "more" / "x.txt").write_text("more")
    assert (
        env.run("ingest", env.tmp / "more", "--case", CASE, "--out", env.tmp / "b2").exit_code == 0
    )
    later = env.tmp / "later.json"
    assert env.run("receipt", "prove", receipt, "-o", later).exit_code == 0
    result = other.run("receipt", "verify", receipt, "--trust", key, "--against", later, "--json")
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["later_checkpoint"]["contains"] is True
    checkpoint = env.tmp / "checkpoint.txt"
    checkpoint.write_text(env.run("ledger", "checkpoint").stdout)
    assert env.run("receipt", "verify", receipt, "--against", checkpoint).exit_code == 0
    # A later proof whose inclusion path was tampered with: the entry is not shown to be there.
    doc_later = json.loads(later.read_text())
    doc_later["inclusion_proof"] = [base64.b64encode(b"\x00" * 32).decode()] * len(
        doc_later["inclusion_proof"]
    )
    later.write_text(json.dumps(doc_later))
    result = other.run("receipt", "verify", receipt, "--trust", key, "--against", later)
    assert result.exit_code == 1 and "dropped_from_ledger" in result.output


def test_kill_9_mid_upload_then_resume(env: Env, intake: IntakeServer) -> None:
    tus = invite(env, intake, "W2")
    data = os.urandom(2_000_000)
    r = tus.create(len(data), "video.mp4", hashlib.sha256(data).hexdigest())
    loc = r.headers["location"]
    assert tus.patch(loc, 0, data[:700_000]).status == 204
    tus.partial_patch(loc, 700_000, data[700_000:900_000], declared=1_300_000)
    intake.stop(signal.SIGKILL)
    intake.start()
    at = tus.offset(loc)
    assert 700_000 <= at <= 900_000
    # The server re-hashes what it kept: a wrong whole-file digest is still caught.
    r = tus.patch(loc, at, data[at:])
    assert r.status == 204 and r.headers["upload-offset"] == str(len(data))
    assert (
        tus.request("GET", "/api/status").json()["files"][0]["sha256"]
        == hashlib.sha256(data).hexdigest()
    )
    # A file whose whole digest disagrees with the one announced is discarded (460).
    r = tus.create(1000, "x.bin", "0" * 64)
    loc2 = r.headers["location"]
    r = tus.patch(loc2, 0, b"y" * 1000)
    assert r.status == 460
    assert tus.offset(loc2) == 0


def test_invitations_forged_expired_revoked_and_limits(env: Env, intake: IntakeServer) -> None:
    from custody.ops.intake.manage import invite_witness

    forged = TusClient(intake.port, "A" * 43)
    assert forged.create(10, "a").status == 403
    assert TusClient(intake.port, "not a token").request("GET", "/api/status").status == 403
    assert forged.request("GET", "/").status == 200  # the page itself needs no token
    assert forged.request("GET", "/files").status in (404, 405)  # no listing
    assert forged.request("GET", "/../intake.json").status == 404
    old = invite_witness(
        data=intake.data,
        case=CASE,
        ref="W-old",
        base_url=intake.url,
        valid_for=timedelta(hours=1),
        max_bytes=10**6,
        max_files=5,
        opaque=False,
        qr_prefix=None,
        now=datetime.now(UTC) - timedelta(hours=2),
    )
    expired = TusClient(intake.port, old.link.split("#")[1])
    r = expired.create(10, "a")
    assert r.status == 403 and "expired" in r.json()["error"]
    tus = invite(env, intake, "W3", "--max-bytes", "1000", "--max-files", "2")
    assert tus.create(1001, "big").status == 413
    tus.upload(b"a" * 600, "one")
    assert tus.create(500, "two").status == 413  # 1,100 bytes in all
    tus.upload(b"b" * 100, "two")
    assert tus.create(1, "three").status == 413  # three files
    r = tus.create(10, None)
    assert r.status == 413
    result, revoked = env.run_json("intake", "revoke", "--data", intake.data, "W3")
    assert result.exit_code == 0
    validate("intake-revoke", revoked)
    r = tus.create(1, "x")
    assert r.status == 403 and "withdrawn" in r.json()["error"]
    listing = json.loads(env.run("intake", "list", "--data", intake.data, "--json").stdout)
    states = {r["ref"]: r["state"] for r in listing["submissions"]}
    assert states["W3"] == "revoked" and states["W-old"] == "expired" and states["W0"] == "open"
    # Hostile metadata: malformed, a name too long, an unsupported checksum.
    w4 = invite(env, intake, "W4")
    bad = w4.request(
        "POST", "/files", headers={"Upload-Length": "5", "Upload-Metadata": "filename @@@"}
    )
    assert bad.status == 400
    assert w4.create(5, b"x" * 5000).status == 400
    loc = w4.create(5, "a").headers["location"]
    r = w4.request(
        "PATCH",
        loc,
        b"hello",
        {
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0",
            "Upload-Checksum": "md5 AAAA",
        },
    )
    assert r.status == 400
    assert w4.patch(loc, 0, b"hello!").status == 413  # longer than the upload
    assert w4.offset(loc) == 0


def test_opaque_invitation_gives_only_the_code(env: Env, intake: IntakeServer) -> None:
    tus = invite(env, intake, "W5", "--opaque")
    tus.upload(b"photo" * 100, "p.jpg")
    assert tus.finish().status == 202
    doc = tus.wait_receipt()
    assert doc["state"] == "ingested" and len(doc["code"].split("-")) == 4
    assert "receipt" not in doc
    listing = json.loads(env.run("intake", "list", "--data", intake.data, "--json").stdout)
    inv = next(r for r in listing["submissions"] if r["ref"] == "W5")
    kept = intake.data / "submissions" / inv["id"] / "receipt.json"
    assert json.loads(kept.read_text())["code"] == doc["code"]


def test_browser_uploads_real_files_through_the_page(env: Env, intake: IntakeServer) -> None:
    from browser_page import browser, chromium_missing

    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    tus = invite(env, intake, "W6")
    files = env.tmp / "phone"
    files.mkdir()
    photo = files / "Фото 2026-03-01.jpg"
    photo.write_bytes(os.urandom(9_000_000))  # three parts of 4 MiB
    chat = files / "WhatsApp Chat.zip"
    chat.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    with browser() as driver:
        driver.get(f"{intake.url}#{tus.token}")
        wait = _waiter(driver)
        wait(lambda: driver.find_element("id", "upload").is_displayed())
        driver.find_element("id", "names").click()
        driver.find_element("id", "files").send_keys(f"{photo}\n{chat}")
        driver.find_element("id", "send").click()
        wait(lambda: driver.find_element("id", "finish").is_enabled(), 120)
        live = driver.find_element("id", "live")
        assert live.get_attribute("aria-live") == "polite"
        driver.find_element("id", "finish").click()
        wait(lambda: driver.find_element("id", "code").text != "", 120)
        code = driver.find_element("id", "code").text
        links = [
            a.get_attribute("download")
            for a in driver.find_elements("css selector", "#downloads a")
        ]
        assert links == ["receipt.json", "receipt.html"]
        # Ukrainian, from the one file of Ukrainian text.
        driver.find_element("id", "switch").click()
        assert driver.find_element("tag name", "h1").text == "Надіслати докази безпечно"
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe
    doc = tus.wait_receipt()
    assert doc["code"] == code
    payload = json.loads(json.loads(doc["receipt"])["signed"])
    assert [(f["name"], f["size"]) for f in payload["files"]] == [
        (photo.name, 9_000_000),
        (chat.name, 22),
    ]
    receipt = env.tmp / "receipt.json"
    receipt.write_text(doc["receipt"])
    result = env.run("receipt", "verify", receipt, "--files", files)
    assert result.exit_code == 0, result.output

    # The offline verifier page checks the receipt too, with the intake key chosen there.
    key = env.tmp / "intake.pub"
    assert env.run("keys", "export", "intake-war-crimes-team", "-o", key).exit_code == 0
    page = env.tmp / "verify-bundle.html"
    assert env.run("verifier", "-o", page).exit_code == 0
    forged = json.loads(doc["receipt"])
    forged["signed"] = forged["signed"].replace('"bytes":9000022', '"bytes":9000023')
    (env.tmp / "forged.json").write_text(json.dumps(forged))
    with browser() as driver:
        wait = _waiter(driver)

        def check(path: Path, *chosen: Path) -> dict:
            driver.get(page.resolve().as_uri())
            wait(lambda: driver.execute_script("return document.body.dataset.state") == "ready")
            driver.find_element("id", "key-file").send_keys(str(key))
            if chosen:
                driver.find_element("id", "receipt-files").send_keys("\n".join(map(str, chosen)))
            driver.find_element("id", "receipt-file").send_keys(str(path))
            wait(lambda: driver.execute_script("return document.body.dataset.receipt") == "done")
            out = driver.find_element("id", "receipt-result").get_attribute("data-report")
            return dict(json.loads(out))

        good = check(receipt, photo, chat)
        assert good["verified"] and good["code"] == code, good
        assert good["files"] == {"matching": 2, "missing": 0, "extra": 0}
        bad = check(env.tmp / "forged.json")
        assert not bad["verified"]
        kinds = {p["kind"] for p in bad["problems"]}
        assert {"bad_signature", "bad_code", "bad_receipt_format"} <= kinds, kinds
        assert not check(receipt, chat)["verified"]  # a file missing


def _waiter(driver: object):  # type: ignore[no-untyped-def]
    import time

    def wait(condition, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise AssertionError("timed out waiting in the page")

    return wait


def test_receipt_judged_by_the_unit_register_and_a_trusted_timestamp(
    env: Env,
    tsa_server: TsaServer,  # noqa: F811
) -> None:
    authority = tsa_server.authority("Intake TSA")
    result, key = env.run_json("keygen", "--name", "Intake, War Crimes Team")
    assert result.exit_code == 0
    pub = env.tmp / "intake.pub"
    assert env.run("keys", "export", key["id"], "-o", pub).exit_code == 0
    unit = Env(home=env.tmp / "authority", tmp=env.tmp)
    assert unit.run("authority", "init", "--name", "Met War Crimes Team").exit_code == 0
    assert unit.run("authority", "add", pub).exit_code == 0
    register = env.tmp / "register.json"
    assert unit.run("authority", "export", "-o", register).exit_code == 0
    server = IntakeServer(
        env.home,
        env.tmp / "intake",
        CASE,
        env.tmp / "serve.log",
        args=("--tsa", tsa_server.url(authority)),
    )
    tus = invite(env, server, "W7")
    server.start()
    try:
        tus.upload(b"video" * 1000, "v.mp4")
        assert tus.finish().status == 202
        doc = tus.wait_receipt()
    finally:
        server.stop()
    receipt = env.tmp / "receipt.json"
    receipt.write_text(doc["receipt"])
    assert json.loads(doc["receipt"])["timestamp"] is not None
    court = Env(home=env.tmp / "court", tmp=env.tmp)
    args = (
        "receipt",
        "verify",
        receipt,
        "--register",
        register,
        "--tsa-root",
        authority.root_pem,
        "--json",
    )
    result = court.run(*args)
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.stdout
    validate("receipt-verify", report)
    assert report["signer"]["key_status"] == "valid"
    assert report["timestamp"]["status"] == "trusted"
    # The unit revokes the intake key as compromised since an hour ago: the receipt,
    # stamped after that, no longer counts.
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = unit.run(
        "authority", "revoke", key["fingerprint"][:16], "--reason", "compromised", "--since", since
    )
    assert result.exit_code == 0, result.output
    assert unit.run("authority", "export", "-o", register).exit_code == 0
    result = court.run(*args)
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert report["signer"]["key_status"] == "revoked"
    assert "key_not_valid" in {p["kind"] for p in report["problems"]}


def test_disk_full_is_said_plainly_and_nothing_half_stored_is_kept(env: Env) -> None:
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = env.tmp / "small"
    small.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here")
    try:
        result, _ = env.run_json("keygen", "--name", "Intake, War Crimes Team")
        assert result.exit_code == 0
        server = IntakeServer(env.home, small / "intake", CASE, env.tmp / "serve.log")
        tus = invite(env, server, "W8")
        server.start()
        try:
            data = os.urandom(3 * 1024 * 1024)
            r = tus.create(len(data), "big.mov", hashlib.sha256(data).hexdigest())
            loc = r.headers["location"]
            r = tus.patch(loc, 0, data[: 2 * 1024 * 1024])
            assert r.status == 507 and "storage is full" in r.json()["error"]
            assert tus.offset(loc) == 0  # nothing of the refused part was kept
            assert tus.finish().status == 409  # an incomplete file never becomes evidence
            log = (env.tmp / "serve.log").read_text()
            assert "big.mov" not in log and tus.token not in log
        finally:
            server.stop()
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_browser_resumes_after_a_server_restart_and_a_closed_tab(
    env: Env, intake: IntakeServer
) -> None:
    from browser_page import browser, chromium_missing

    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    tus = invite(env, intake, "W9")
    video = env.tmp / "video.mp4"
    video.write_bytes(os.urandom(24 * 1024 * 1024))

    def received() -> int:
        files = tus.request("GET", "/api/status").json()["files"]
        return int(files[0]["received"]) if files else 0

    with browser() as driver:
        driver.set_network_conditions(
            offline=False, latency=5, download_throughput=10**7, upload_throughput=3 * 1024**2
        )
        wait = _waiter(driver)
        driver.get(f"{intake.url}#{tus.token}")
        wait(lambda: driver.find_element("id", "upload").is_displayed())
        driver.find_element("id", "files").send_keys(str(video))
        driver.find_element("id", "send").click()
        wait(lambda: received() >= 4 * 1024 * 1024, 60)
        # The server is killed mid-upload and comes back: the page retries and resumes.
        intake.stop(signal.SIGKILL)
        intake.start()
        wait(lambda: received() >= 12 * 1024 * 1024, 60)
        # The tab is closed mid-upload; the link is opened again and the same file chosen.
        driver.get("about:blank")
        before = received()
        driver.get(f"{intake.url}#{tus.token}")
        wait(lambda: driver.find_element("id", "upload").is_displayed())
        driver.find_element("id", "files").send_keys(str(video))
        driver.find_element("id", "send").click()
        wait(lambda: driver.find_element("id", "finish").is_enabled(), 120)
    files = tus.request("GET", "/api/status").json()["files"]
    assert len(files) == 1, files  # resumed, not started again
    assert files[0]["sha256"] == hashlib.sha256(video.read_bytes()).hexdigest()
    assert before >= 12 * 1024 * 1024


def test_ten_witnesses_at_once_do_not_interfere(env: Env, intake: IntakeServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    clients = [invite(env, intake, f"C{i}") for i in range(10)]
    payloads = [os.urandom(1_000_000 + i) for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(
            pool.map(
                lambda cp: cp[0].upload(cp[1], "same-name.jpg"), zip(clients, payloads, strict=True)
            )
        )
    for client, data in zip(clients, payloads, strict=True):
        files = client.request("GET", "/api/status").json()["files"]
        assert [f["sha256"] for f in files] == [hashlib.sha256(data).hexdigest()]


def _by_hand(folder: Path, receipt: Path, sent: list[bytes], root: str) -> None:
    import re
    import shutil
    import subprocess
    import sys

    if not (shutil.which("jq") and shutil.which("openssl")):
        pytest.skip("jq and openssl are needed for the by-hand recipe")
    text = (REPO / "docs" / "intake.md").read_text()
    part = text.split("### By hand", 1)[1]
    shell = re.search(r"```sh\n(.*?)```", part, re.S)
    python = re.search(r"```python\n(.*?)```", part, re.S)
    assert shell and python
    folder.mkdir()
    shutil.copy(receipt, folder / "receipt.json")
    (folder / "what-i-sent").mkdir()
    for i, data in enumerate(sent):
        (folder / "what-i-sent" / f"f{i}").write_bytes(data)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", shell.group(1)],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "Signature Verified Successfully" in done.stdout
    for data in sent:
        assert done.stdout.count(hashlib.sha256(data).hexdigest()) == 2  # listed and found
    done = subprocess.run(
        [sys.executable, "-c", python.group(1)], cwd=folder, capture_output=True, text=True
    )
    assert done.stdout.strip() == root, done.stderr
