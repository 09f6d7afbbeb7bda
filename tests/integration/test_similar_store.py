"""`custody similar --case --pull DIR` (a real SeaweedFS S3 server): a bundle
of the case pushed to the store and not found under --in is listed as not
found, and with --pull it is pulled byte-exact into DIR and compared."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import Env, validate
from s3_server import S3Server
from s3_server import s3_server as s3_server  # the session fixture
from similar_media import jpeg, scene

pytest.importorskip("pdqhash")

CASE = "ICC-2026-014"


def test_a_bundle_in_the_store_is_pulled_and_compared(
    env: Env, officer: dict, s3_server: S3Server, tmp_path: Path
) -> None:
    w1, w2 = tmp_path / "w1", tmp_path / "w2"
    for w in (w1, w2):
        w.mkdir()
    strike = scene(31)
    (w1 / "IMG_0001.jpg").write_bytes(jpeg(strike, 92))
    (w2 / "forwarded.jpg").write_bytes(jpeg(strike.resize((320, 240)), 60))
    (tmp_path / "holdings").mkdir()
    for n, w in enumerate((w1, w2), start=1):
        out = tmp_path / "holdings" / f"b{n}"
        result = env.run("ingest", w, "--case", CASE, "--exhibit", f"W/{n}", "--out", out)
        assert result.exit_code == 0, result.output
    bucket = s3_server.new_bucket()
    s3 = s3_server.env()
    pushed = env.run(
        "store",
        "push",
        tmp_path / "holdings" / "b2",
        f"s3://{bucket}/cases",
        "--retain-years",
        "1",
        "--endpoint-url",
        s3_server.endpoint,
        env=s3,
    )
    assert pushed.exit_code == 0, pushed.output
    shutil.rmtree(tmp_path / "holdings" / "b2")  # only the store holds it now

    where = ("--case", CASE, "--in", tmp_path / "holdings")
    result = env.run("similar", *where, "--json", env=s3)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["groups"] == [] and [m["exhibit"] for m in data["not_found"]] == ["W/2"]
    pulled = tmp_path / "from-store"
    pulled.mkdir()
    for _ in range(2):  # pulled once, then used again
        result = env.run("similar", *where, "--pull", pulled, "--json", env=s3)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        validate("similar", data)
        assert data["not_found"] == []
        [group] = data["groups"]
        assert {m["path"] for m in group["members"]} == {"IMG_0001.jpg", "forwarded.jpg"}
    assert (pulled / "b2" / "custody" / "statement.json").is_file()
    assert env.run("verify", pulled / "b2").exit_code == 0
