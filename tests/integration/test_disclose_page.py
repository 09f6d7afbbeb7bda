"""The verifier page gives `custody verify PACKAGE`'s verdict on disclosure
packages: the same problems, the same sentence and the same `disclosure`
object, for an honest package (folder and zip) and every tampering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_disclose import (  # noqa: F401 - fixtures
    BASIS,
    TAMPERINGS,
    WITHHELD,
    bundle,
    disclose,
    package,
    source,
)
from test_disclose2 import ZIP_TAMPERINGS, zip_package, zipped  # noqa: F401 - fixture

from browser_page import Page, browser, chromium_missing
from conftest import Env
from tsa_server import TsaServer, tsa_server  # noqa: F401

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with browser() as d:
        yield d


@pytest.fixture
def page(driver: Any, env: Env) -> Page:
    out = env.tmp / "verify-bundle.html"
    assert env.run("verifier", "-o", out).exit_code == 0
    return Page(driver, out)


def same_verdict(env: Env, page: Page, target: Path, key: Path) -> dict[str, Any]:
    result = env.run("verify", target, "--json", "--no-trust-store", "--trust", key)
    expected = json.loads(result.stdout)
    page.driver.refresh()
    page.wait(lambda: page.state() == "ready", 30)
    page.trust_key_file(key)
    got = page.verify(target)
    assert "error" not in got, got
    pairs = lambda r: {(p["kind"], p["path"]) for p in r["problems"]}  # noqa: E731
    assert pairs(got) == pairs(expected), (got["problems"], expected["problems"])
    assert got["verified"] is expected["verified"]
    assert got["summary"] == expected["summary"]
    assert got["disclosure"] == expected["disclosure"]
    assert got["ledger"] == expected["ledger"]
    assert [t["status"] for t in got["timestamps"]] == [t["status"] for t in expected["timestamps"]]
    for field in ("fingerprint", "trusted", "signature_valid"):
        assert got["signer"][field] == expected["signer"][field]
        assert got["discloser"][field] == expected["discloser"][field]
    return expected


def test_honest_package_folder_and_zip(
    env: Env,
    page: Page,
    package: Path,  # noqa: F811 - the fixture from test_disclose
    officer: dict,
) -> None:
    key = Path(officer["public_key"])
    for target in (package, package.with_name("pkg.zip")):
        assert same_verdict(env, page, target, key)["verified"] is True


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_tampering_same_verdict(
    env: Env,
    page: Page,
    bundle: Path,  # noqa: F811 - the fixtures from test_disclose
    package: Path,  # noqa: F811
    officer: dict,
    name: str,
) -> None:
    if name == "record from another package":
        disclose(env, bundle, "pkg-other", "--withhold", WITHHELD, "--basis", BASIS)
    TAMPERINGS[name][0](env, package)
    assert same_verdict(env, page, package, Path(officer["public_key"]))["verified"] is False


def test_stripped_mp4_same_verdict(env: Env, page: Page, officer: dict, tmp_path: Path) -> None:
    import subprocess

    from test_disclose import CASE, _refresh

    src = tmp_path / "video"
    src.mkdir()
    done = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=64x48:rate=5",
            "-c:v",
            "mpeg4",
            "-metadata",
            "title=Flat of W1",
            "-movflags",
            "+faststart",
            str(src / "flat.mp4"),
        ],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip("ffmpeg cannot make an MP4 here")
    result = env.run("ingest", src, *CASE, "--out", env.tmp / "vb", "--json")
    bundle_path = Path(json.loads(result.stdout)["bundle"])
    out, _ = disclose(env, bundle_path, "vpkg", "--strip-metadata", "flat.mp4")
    key = Path(officer["public_key"])
    assert same_verdict(env, page, out, key)["verified"] is True
    data = bytearray((out / "data/flat.mp4").read_bytes())
    data[-10] ^= 0xFF
    (out / "data/flat.mp4").write_bytes(bytes(data))
    _refresh(out)
    assert same_verdict(env, page, out, key)["verified"] is False


def test_redacted_email_same_verdict(
    env: Env,
    page: Page,
    bundle: Path,  # noqa: F811 - the fixture from test_disclose
    officer: dict,
) -> None:
    from test_disclose import email_package

    out = email_package(env, bundle)
    assert same_verdict(env, page, out, Path(officer["public_key"]))["verified"] is True


def test_timestamped_record_same_verdict(
    env: Env,
    page: Page,
    bundle: Path,  # noqa: F811 - the fixture from test_disclose
    officer: dict,
    tsa_server: TsaServer,  # noqa: F811
) -> None:
    """--tsa: the TSA stamps the record's signature; trusted with its root,
    untrusted without (custody and the page alike), invalid when moved."""
    import shutil

    authority = tsa_server.authority("Disclosure TSA")
    out, data = disclose(env, bundle, "stamped", "--tsa", tsa_server.url(authority))
    assert data["timestamps"] == 1
    result = env.run("verify", out, "--json", "--tsa-root", authority.root_pem)
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["timestamps"][0]["status"] == "trusted"
    assert report["disclosed_no_later_than"] is not None
    key = Path(officer["public_key"])
    assert same_verdict(env, page, out, key)["timestamps"][0]["status"] == "untrusted"
    other, _ = disclose(env, bundle, "other")
    (other / "custody/disclosure/timestamps").mkdir()
    shutil.copy(
        out / "custody/disclosure/timestamps/1.tsr", other / "custody/disclosure/timestamps"
    )
    report = same_verdict(env, page, other, key)
    assert ("bad_timestamp", "custody/disclosure/timestamps/1.tsr") in {
        (p["kind"], p["path"]) for p in report["problems"]
    }


def test_zip_members_same_verdict(
    env: Env,
    page: Page,
    officer: dict,
    zipped: Path,  # noqa: F811 - the fixture from test_disclose2
) -> None:
    """A chat inside a ZIP disclosed member by member (one withheld, the chat
    redacted, under two bases), honest and tampered: the page agrees."""
    key = Path(officer["public_key"])
    for number, (change, _) in enumerate(ZIP_TAMPERINGS.values()):
        out, _ = zip_package(env, zipped, f"z{number}")
        if number == 0:
            report = same_verdict(env, page, out, key)
            assert report["verified"] is True and report["disclosure"]["archives"]
            assert same_verdict(env, page, out.with_name(f"{out.name}.zip"), key)["verified"]
        change(env, out)
        assert same_verdict(env, page, out, key)["verified"] is False
