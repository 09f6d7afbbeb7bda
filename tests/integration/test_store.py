"""Bundles in write-once object storage, against a real SeaweedFS on loopback:
push, list, verify in place, pull byte-exact; the lock refusing deletes and
overwrites; an interrupted push resumed; tampering found; bad input and
faults reported in one line with the right exit code."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import PASSPHRASE, REPO, Env, make_evidence, tree_snapshot, validate
from custody.bundle.format import pack
from s3_server import S3Server
from s3_server import s3_server as s3_server  # the session fixture

BIG = 40 * 1024 * 1024  # three 16 MiB parts: multipart


def run(env: Env, server: S3Server, *args: str | os.PathLike[str], **extra: str | None):
    return env.run(*args, env=server.env(**extra))


def push(env: Env, server: S3Server, bundle: Path, dest: str, *extra: str):
    result = run(
        env, server, "store", "push", bundle, dest, "--endpoint-url", server.endpoint, *extra
    )
    data = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result, data


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("custody: error: ")
    assert "Traceback" not in result.output
    return lines[0]


def stored_keys(server: S3Server, bucket: str, prefix: str = "") -> dict[str, int]:
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


@pytest.fixture
def big_bundle(env: Env, officer: dict, tmp_path: Path) -> Path:
    src = make_evidence(tmp_path / "witness")
    with open(src / "video.bin", "wb") as fh:
        for _ in range(BIG // (1 << 20)):
            fh.write(os.urandom(1 << 20))
    out = tmp_path / "ICC-2026-014_JS-2"
    result = env.run("ingest", src, "--case", "ICC-2026-014", "--exhibit", "JS/2", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_the_example_in_docs_storage_runs(
    env: Env, bundle: Path, s3_server: S3Server, tmp_path: Path
) -> None:
    """docs/storage.md's first example, as written, with the endpoint from the
    standard AWS_ENDPOINT_URL variable instead of --endpoint-url."""
    text = (REPO / "docs" / "storage.md").read_text("utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block is not None
    bucket = s3_server.new_bucket()
    name = "ICC-2026-014_JS-1_20261125T120000Z"
    renamed = bundle.parent / name
    bundle.rename(renamed)
    script = (
        block.group(1)
        .replace("s3://evidence/", f"s3://{bucket}/")
        .replace(f"./{name}", str(renamed))
        .replace("./restored", str(tmp_path / "restored"))
    )
    lines = [line for line in script.splitlines() if line.strip()]
    assert len(lines) == 4
    for line in lines:
        words = shlex.split(line)
        assert words[0] == "custody"
        result = run(env, s3_server, *words[1:], AWS_ENDPOINT_URL=s3_server.endpoint)
        assert result.exit_code == 0, (line, result.output)
    assert env.run("verify", tmp_path / "restored").exit_code == 0


def test_push_list_verify_in_place_and_pull_byte_exact(
    env: Env, bundle: Path, s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = s3_server.new_bucket()
    result, pushed = push(
        env, s3_server, bundle, f"s3://{bucket}/icc/2026", "--retain-until", "2031-01-01", "--json"
    )
    assert result.exit_code == 0, result.output
    validate("store-push", pushed)
    where = f"s3://{bucket}/icc/2026/{bundle.name}"
    assert pushed["location"] == where
    assert pushed["uploaded"] == pushed["objects"] and pushed["already_stored"] == 0
    assert pushed["retention"] == {
        "mode": "COMPLIANCE",
        "retain_until": "2031-01-01T00:00:00Z",
        "source": "--retain-until",
    }
    # Every object is locked in compliance mode, and holds the local file.
    client = s3_server.client()
    keys = stored_keys(s3_server, bucket)
    local = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    # Small payload files are packed into a tar segment with an index (docs/storage.md).
    single = {rel for rel in local if not pack.is_packed(rel, (bundle / rel).stat().st_size)} | {
        pack.INDEX,
        pack.segment_key(1),
    }
    assert pushed["layout"] == "packed" and pushed["segments"] == 1
    assert pushed["files"] == len(local) and pushed["objects"] == len(single)
    assert set(keys) == {f"icc/2026/{bundle.name}/{rel}" for rel in single}
    for key in keys:
        head = client.head_object(Bucket=bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] == datetime(2031, 1, 1, tzinfo=UTC)

    result = run(
        env,
        s3_server,
        "store",
        "list",
        f"s3://{bucket}/icc/2026",
        "--endpoint-url",
        s3_server.endpoint,
        "--json",
    )
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    validate("store-list", listing)
    [row] = listing["bundles"]
    statement = json.loads((bundle / "custody" / "statement.json").read_bytes())
    assert (row["case"], row["exhibit"], row["bundle_id"]) == (
        "ICC-2026-014",
        "JS/1",
        statement["bundle_id"],
    )
    assert row["retain_until"] == "2031-01-01T00:00:00Z" and row["complete"] is True
    table = run(
        env,
        s3_server,
        "store",
        "list",
        f"s3://{bucket}/icc/2026",
        "--endpoint-url",
        s3_server.endpoint,
    )
    assert statement["bundle_id"][:8] in table.stdout and "ICC-2026-014" in table.stdout

    # Verified in place: the same report as a local verify, plus the lock.
    result = run(env, s3_server, "verify", where, "--endpoint-url", s3_server.endpoint, "--json")
    assert result.exit_code == 0, result.output
    remote = json.loads(result.stdout)
    validate("verify", remote)
    local_report = json.loads(env.run("verify", bundle, "--json").stdout)
    for field in (
        "verified",
        "bundle_id",
        "statement_sha256",
        "files_checked",
        "bytes_checked",
        "problems",
        "signer",
        "ledger",
    ):
        assert remote[field] == local_report[field], field
    assert [f["path"] for f in remote["files"]] == [f["path"] for f in local_report["files"]]
    assert remote["files"] == local_report["files"]  # metadata read from the store too
    storage = remote["storage"]
    assert storage["location"] == where and storage["all_locked"] is True
    assert storage["object_count"] == len(single) and storage["layout"] == "packed"
    assert storage["retain_until_earliest"] == "2031-01-01T00:00:00Z"
    assert {o["retention_mode"] for o in storage["objects"]} == {"COMPLIANCE"}
    assert {o["legal_hold"] for o in storage["objects"]} == {False}
    assert local_report["storage"] is None
    page = tmp_path / "report.html"
    result = run(
        env, s3_server, "verify", where, "--endpoint-url", s3_server.endpoint, "--report", page
    )
    assert result.exit_code == 0, result.output
    html = page.read_text("utf-8")
    assert "Object storage" in html and "locked until at least 2031-01-01T00:00:00Z" in html

    # Pulled back byte-exact; it verifies as any bundle does.
    out = tmp_path / "restored"
    result = run(
        env, s3_server, "store", "pull", where, out, "--endpoint-url", s3_server.endpoint, "--json"
    )
    assert result.exit_code == 0, result.output
    pulled = json.loads(result.stdout)
    validate("store-pull", pulled)
    assert pulled["intact"] is True and pulled["bundle"] == str(out)
    assert {k: v[0] for k, v in tree_snapshot(out).items()} == {
        k: v[0] for k, v in tree_snapshot(bundle).items()
    }
    assert env.run("verify", out).exit_code == 0
    # Into an existing folder: as <bundle name> inside it; never over anything.
    (tmp_path / "shelf").mkdir()
    result = run(
        env,
        s3_server,
        "store",
        "pull",
        where,
        tmp_path / "shelf",
        "--endpoint-url",
        s3_server.endpoint,
    )
    assert result.exit_code == 0, result.output
    assert env.run("verify", tmp_path / "shelf" / bundle.name).exit_code == 0
    result = run(env, s3_server, "store", "pull", where, out, "--endpoint-url", s3_server.endpoint)
    assert result.exit_code == 0 or result.exit_code == 2
    # `out` is a folder now, so this lands in out/<name>; a third time is refused.
    result = run(env, s3_server, "store", "pull", where, out, "--endpoint-url", s3_server.endpoint)
    assert result.exit_code == 2 and "already exists" in one_error_line(result)

    # The push is in the ledger, signed by the officer.
    shown = json.loads(env.run("ledger", "show", "--json").stdout)
    rows = shown["entries"] if isinstance(shown, dict) else shown
    store_rows = [r for r in rows if r["action"] == "store"]
    assert len(store_rows) == 1 and where in store_rows[0]["detail"]
    assert env.run("ledger", "verify").exit_code == 0


def test_the_lock_refuses_deletes_overwrites_and_shorter_retention(
    env: Env, big_bundle: Path, s3_server: S3Server, tmp_path: Path, officer: dict
) -> None:
    bucket = s3_server.new_bucket()
    dest = f"s3://{bucket}/court"
    result, _ = push(env, s3_server, big_bundle, dest, "--retain-years", "2")
    assert result.exit_code == 0, result.output
    client = s3_server.client()
    prefix = f"court/{big_bundle.name}/"
    video = prefix + "data/video.bin"
    head = client.head_object(Bucket=bucket, Key=video, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].endswith("-3")  # sent in three checked parts
    version = head["VersionId"]
    with pytest.raises(ClientError):
        client.delete_object(Bucket=bucket, Key=video, VersionId=version)
    with pytest.raises(ClientError):
        client.put_object_retention(
            Bucket=bucket,
            Key=video,
            VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime(2027, 1, 1, tzinfo=UTC)},
        )
    with pytest.raises(ClientError):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert client.head_object(Bucket=bucket, Key=video, VersionId=version)["ContentLength"] == BIG

    # Pushing again sends nothing: every object (multipart ones too) is checked.
    result, again = push(env, s3_server, big_bundle, dest, "--retain-years", "2", "--json")
    assert result.exit_code == 0, result.output
    assert again["uploaded"] == 0 and again["already_stored"] == again["objects"]

    # Another bundle under the same name is refused: nothing is written over.
    other_src = make_evidence(tmp_path / "other-witness")
    (other_src / "extra.txt").write_text("another exhibit\n")
    other = tmp_path / "elsewhere" / big_bundle.name
    other.parent.mkdir()
    assert env.run("ingest", other_src, "--case", "X-1", "--out", other).exit_code == 0
    before = {
        k: client.head_object(Bucket=bucket, Key=k)["VersionId"]
        for k in stored_keys(s3_server, bucket)
    }
    result, _ = push(env, s3_server, other, dest, "--retain-years", "2")
    assert result.exit_code == 2
    assert "nothing is written over" in one_error_line(result)
    after = {
        k: client.head_object(Bucket=bucket, Key=k)["VersionId"]
        for k in stored_keys(s3_server, bucket)
    }
    assert before == after
    # A legal hold (put by a court order, say) shows in the report, object by object.
    client.put_object_legal_hold(
        Bucket=bucket, Key=video, VersionId=version, LegalHold={"Status": "ON"}
    )
    result = run(
        env,
        s3_server,
        "verify",
        f"{dest}/{big_bundle.name}",
        "--endpoint-url",
        s3_server.endpoint,
        "--json",
    )
    assert result.exit_code == 0, result.output
    storage = json.loads(result.stdout)["storage"]
    assert storage["legal_holds"] == 1
    assert [o["path"] for o in storage["objects"] if o["legal_hold"]] == ["data/video.bin"]
    assert (
        "legal hold on 1"
        in run(
            env,
            s3_server,
            "verify",
            f"{dest}/{big_bundle.name}",
            "--endpoint-url",
            s3_server.endpoint,
        ).stdout
    )


def test_a_tampered_object_is_named(env: Env, bundle: Path, s3_server: S3Server) -> None:
    client = s3_server.client()
    for lock in (True, False):
        bucket = s3_server.new_bucket(lock=lock)
        flags = ("--retain-years", "1") if lock else ("--no-lock",)
        # One object per file (the layout of ADR 0008, which still verifies and
        # pulls); tampering with the packed layout: tests/integration/test_store_pack.py.
        result, _ = push(
            env, s3_server, bundle, f"s3://{bucket}/x", *flags, "--one-object-per-file"
        )
        assert result.exit_code == 0, result.output
        where = f"s3://{bucket}/x/{bundle.name}"
        victim = f"x/{bundle.name}/data/IMG_20220225_140310.jpg"
        # The lock keeps the original version; a new one can still be put on top.
        client.put_object(Bucket=bucket, Key=victim, Body=b"a forged photograph")
        result = run(
            env, s3_server, "verify", where, "--endpoint-url", s3_server.endpoint, "--json"
        )
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        changed = [p for p in report["problems"] if p["kind"] == "changed"]
        assert [p["path"] for p in changed] == ["data/IMG_20220225_140310.jpg"]
        if lock:
            assert any(
                "written over in the store" in w and "IMG_20220225_140310" in w
                for w in report["warnings"]
            )
        else:
            assert report["storage"]["all_locked"] is False
        quiet = run(env, s3_server, "verify", where, "--endpoint-url", s3_server.endpoint, "-q")
        assert quiet.exit_code == 1 and "data/IMG_20220225_140310.jpg" in quiet.stdout


def test_an_interrupted_push_resumes(
    env: Env, big_bundle: Path, s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = s3_server.new_bucket()
    dest = f"s3://{bucket}/resume"
    child_env = child_environment(env, s3_server)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "custody",
            "store",
            "push",
            str(big_bundle),
            dest,
            "--retain-years",
            "1",
            "--endpoint-url",
            s3_server.endpoint,
        ],
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    client = s3_server.client()
    try:
        # Killed while the large file's multipart upload is under way: the
        # tag files, sent after the payload, cannot be there yet.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the push ended before it could be interrupted"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    keys = stored_keys(s3_server, bucket)
    assert f"resume/{big_bundle.name}/tagmanifest-sha256.txt" not in keys
    where = f"{dest}/{big_bundle.name}"
    listing = json.loads(
        run(
            env, s3_server, "store", "list", dest, "--endpoint-url", s3_server.endpoint, "--json"
        ).stdout
    )
    assert all(not b["complete"] for b in listing["bundles"])
    partial = run(env, s3_server, "verify", where, "--endpoint-url", s3_server.endpoint)
    assert partial.exit_code in (1, 2)  # missing files, or not even bagit.txt yet

    result, resumed = push(env, s3_server, big_bundle, dest, "--retain-years", "1", "--json")
    assert result.exit_code == 0, result.output
    # What the killed push had stored is checked, not sent again (a request
    # already on the wire may have completed after the kill).
    # (The small files travel in one segment beside the large file's upload,
    # so the kill may come before any object is complete.)
    assert resumed["already_stored"] >= len(keys)
    assert 0 < resumed["uploaded"] == resumed["objects"] - resumed["already_stored"]
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    result = run(env, s3_server, "verify", where, "--endpoint-url", s3_server.endpoint)
    assert result.exit_code == 0, result.output
    out = tmp_path / "restored"
    assert (
        run(
            env, s3_server, "store", "pull", where, out, "--endpoint-url", s3_server.endpoint
        ).exit_code
        == 0
    )
    assert (out / "data" / "video.bin").read_bytes() == (
        big_bundle / "data" / "video.bin"
    ).read_bytes()


def child_environment(env: Env, server: S3Server) -> dict[str, str]:
    values = dict(os.environ)
    for k, v in server.env().items():
        if v is None:
            values.pop(k, None)
        else:
            values[k] = v
    values.update(CUSTODY_HOME=str(env.home), CUSTODY_PASSPHRASE=PASSPHRASE)
    return values


def test_two_pushes_at_once_store_one_whole_bundle(
    env: Env, bundle: Path, s3_server: S3Server
) -> None:
    bucket = s3_server.new_bucket()
    dest = f"s3://{bucket}/race"
    command = [
        sys.executable,
        "-m",
        "custody",
        "store",
        "push",
        str(bundle),
        dest,
        "--retain-years",
        "1",
        "--endpoint-url",
        s3_server.endpoint,
        "--json",
    ]
    procs = [
        subprocess.Popen(
            command,
            env=child_environment(env, s3_server),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    results = [json.loads(out) for out, _ in outputs]
    # Every object was created by exactly one of them; the other found it identical.
    assert sum(r["uploaded"] for r in results) == results[0]["objects"]
    for key in stored_keys(s3_server, bucket):
        versions = s3_server.client().list_object_versions(Bucket=bucket, Prefix=key)
        assert len([v for v in versions["Versions"] if v["Key"] == key]) == 1, key
    result = run(
        env, s3_server, "verify", f"{dest}/{bundle.name}", "--endpoint-url", s3_server.endpoint
    )
    assert result.exit_code == 0, result.output


def test_a_bundle_that_does_not_verify_is_not_sent(
    env: Env, bundle: Path, s3_server: S3Server
) -> None:
    bucket = s3_server.new_bucket()
    (bundle / "data" / "IMG_20220225_140310.jpg").write_bytes(b"changed on the laptop")
    result, _ = push(env, s3_server, bundle, f"s3://{bucket}/x", "--retain-years", "1")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "nothing pushed" in line and "IMG_20220225_140310.jpg" in line
    assert stored_keys(s3_server, bucket) == {}


def test_bad_input_and_faults_are_one_line(
    env: Env, bundle: Path, s3_server: S3Server, officer: dict
) -> None:
    locked = s3_server.new_bucket()
    plain = s3_server.new_bucket(lock=False)
    e = ("--endpoint-url", s3_server.endpoint)
    cases = [
        # (args, extra environment, exit code, words in the line)
        (
            ("store", "push", bundle, f"s3://{locked}/x", "--retain-years", "1", *e),
            {"AWS_SECRET_ACCESS_KEY": "wrong"},
            2,
            "credentials refused",
        ),
        (
            ("store", "list", f"s3://{locked}/x", *e),
            {"AWS_ACCESS_KEY_ID": "nobody"},
            2,
            "credentials refused",
        ),
        (
            ("store", "push", bundle, f"s3://{locked}/x", "--retain-years", "1", *e),
            {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
            2,
            "no AWS credentials",
        ),
        (
            ("store", "push", bundle, "s3://no-such-bucket-here/x", "--retain-years", "1", *e),
            {},
            2,
            "no such bucket",
        ),
        (("verify", "s3://no-such-bucket-here/x/b", *e), {}, 2, "no such bucket"),
        (
            (
                "store",
                "push",
                bundle,
                f"s3://{locked}/x",
                "--retain-years",
                "1",
                "--endpoint-url",
                "http://127.0.0.1:9",
            ),
            {},
            3,
            "cannot reach",
        ),
        (
            ("verify", f"s3://{locked}/x/b", "--endpoint-url", "http://127.0.0.1:9"),
            {},
            3,
            "cannot reach",
        ),
        (
            ("store", "push", bundle, f"s3://{plain}/x", "--retain-years", "1", *e),
            {},
            2,
            "no Object Lock",
        ),
        (("store", "push", bundle, f"s3://{locked}/x", *e), {}, 2, "--retain-years"),
        (
            ("store", "push", bundle, f"s3://{locked}/x", "--retain-until", "2001-01-01", *e),
            {},
            2,
            "not in the future",
        ),
        (
            ("store", "push", bundle, f"s3://{locked}/x", "--retain-until", "soon", *e),
            {},
            2,
            "not a date",
        ),
        (
            ("store", "push", bundle, "s3://Bad_Bucket/x", "--retain-years", "1", *e),
            {},
            2,
            "bucket name",
        ),
        (("verify", f"s3://{locked}/nothing-here", *e), {}, 2, "no bundle stored here"),
        (
            ("store", "pull", f"s3://{locked}/nothing-here", env.tmp / "o", *e),
            {},
            2,
            "no bundle stored here",
        ),
    ]
    for args, extra, code, words in cases:
        result = run(env, s3_server, *args, **extra)
        assert result.exit_code == code, (args, result.output)
        assert words in one_error_line(result), (args, result.stderr)
    assert stored_keys(s3_server, locked) == {}


def test_without_boto3_one_line_says_what_to_install(bundle: Path, env: Env) -> None:
    code = (
        "import sys; sys.modules['boto3'] = None; sys.argv = ['custody'] + sys.argv[1:]; "
        "from custody.cli import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "store", "list", "s3://bucket/x"],
        capture_output=True,
        text=True,
        env={**os.environ, "CUSTODY_HOME": str(env.home)},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "custody[store]" in proc.stderr
