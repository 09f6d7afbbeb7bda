"""docs/verify-by-hand.md's `openssl ts -verify` recipe, run exactly as
written, agrees with custody verify on every kind of token."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import REPO, Env
from custody.bundle.format import layout
from tsa_server import Authority, issue_reply, make_query, make_tsa


def recipe() -> str:
    text = (REPO / "docs/verify-by-hand.md").read_text("utf-8")
    m = re.search(r"<!-- by-hand-timestamp.*?-->\n```sh\n(.*?)```", text, re.S)
    assert m, "docs/verify-by-hand.md lost its timestamp recipe"
    return m.group(1)


def run_recipe(
    bundle: Path, root: Path, intermediates: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BUNDLE": str(bundle), "TSA_ROOT": str(root), "LC_ALL": "C.UTF-8"}
    env.pop("TSA_INTERMEDIATES", None)
    if intermediates is not None:
        env["TSA_INTERMEDIATES"] = str(intermediates)
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + recipe()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def put_token(bundle: Path, reply: bytes) -> None:
    folder = bundle / layout.TIMESTAMPS_DIR
    folder.mkdir(exist_ok=True)
    number = 1 + len(list(folder.glob("*.tsr")))
    (folder / f"{number}.tsr").write_bytes(reply)
    manifest = bundle / layout.TAG_MANIFEST
    entries, _ = layout.parse_manifest(manifest.read_bytes())
    for p in folder.glob("*.tsr"):
        entries[p.relative_to(bundle).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    manifest.write_bytes(layout.format_manifest(entries.items()))


def custody_status(env: Env, bundle: Path, root: Path) -> list[str]:
    result = env.run("verify", bundle, "--json", "--tsa-root", root)
    return [t["status"] for t in json.loads(result.stdout)["timestamps"]]


@pytest.fixture
def tsa(tmp_path: Path) -> Authority:
    return make_tsa(tmp_path / "tsa", "Test TSA", intermediate=True)


def signature(bundle: Path) -> bytes:
    return (bundle / layout.SIGNATURE).read_bytes()


def test_recipe_accepts_a_trusted_token(env: Env, bundle: Path, tsa: Authority) -> None:
    put_token(bundle, issue_reply(tsa, make_query(signature(bundle))))
    done = run_recipe(bundle, tsa.root_pem)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "signed no later than" in done.stdout
    assert custody_status(env, bundle, tsa.root_pem) == ["trusted"]


def test_recipe_uses_separately_published_intermediates(
    env: Env, bundle: Path, tmp_path: Path
) -> None:
    # A TSA whose tokens carry only its own certificate.
    lean = make_tsa(tmp_path / "lean", "Lean TSA", intermediate=True, embed_root=False)
    (lean.directory / "chain.pem").write_bytes(b"")
    put_token(bundle, issue_reply(lean, make_query(signature(bundle))))
    assert run_recipe(bundle, lean.root_pem).returncode != 0
    assert lean.intermediate_pem is not None
    done = run_recipe(bundle, lean.root_pem, lean.intermediate_pem)
    assert done.returncode == 0, done.stderr
    # custody never takes certificates from outside the token: without them the
    # chain cannot be built, so the time is not proven (never trusted).
    assert custody_status(env, bundle, lean.root_pem) != ["trusted"]


def test_recipe_accepts_a_token_whose_tsa_certificate_expired_since(
    env: Env, bundle: Path, tmp_path: Path
) -> None:
    past = make_tsa(
        tmp_path / "past",
        "Past TSA",
        valid_from=datetime(2019, 1, 1, tzinfo=UTC),
        valid_until=datetime(2021, 1, 1, tzinfo=UTC),
    )
    put_token(
        bundle,
        issue_reply(past, make_query(signature(bundle)), at=datetime(2020, 6, 1, tzinfo=UTC)),
    )
    done = run_recipe(bundle, past.root_pem)
    assert done.returncode == 0, done.stderr
    assert "Jun  1 00:00:00 2020 GMT" in done.stdout
    assert custody_status(env, bundle, past.root_pem) == ["trusted"]


@pytest.mark.parametrize("case", ["other bundle", "attacker root", "unchosen root", "tampered"])
def test_recipe_and_custody_both_refuse(
    env: Env, bundle: Path, tsa: Authority, tmp_path: Path, case: str
) -> None:
    root = tsa.root_pem
    if case == "other bundle":
        reply = issue_reply(tsa, make_query(b"another bundle's statement.sig"))
        expected = "invalid"
    elif case == "attacker root":
        attacker = make_tsa(tmp_path / "evil", sign_as=tsa, intermediate=True)
        reply = issue_reply(attacker, make_query(signature(bundle)))
        expected = "invalid"
    elif case == "unchosen root":
        reply = issue_reply(tsa, make_query(signature(bundle)))
        root = make_tsa(tmp_path / "other", "Other TSA").root_pem
        expected = "untrusted"
    else:
        data = bytearray(issue_reply(tsa, make_query(signature(bundle))))
        at = bytes(data).find(b"\x18\x0f")  # genTime
        data[at + 6] ^= 0x01
        reply = bytes(data)
        expected = "invalid"
    put_token(bundle, reply)
    done = run_recipe(bundle, root)
    assert done.returncode != 0, done.stdout
    assert custody_status(env, bundle, root) == [expected]


def test_recipe_fails_without_timestamps(bundle: Path, tsa: Authority) -> None:
    assert run_recipe(bundle, tsa.root_pem).returncode != 0


def test_created_is_after_gen_time_recipe_shows_the_time(
    env: Env, bundle: Path, tsa: Authority
) -> None:
    statement = json.loads((bundle / layout.STATEMENT).read_bytes())
    created = datetime.fromisoformat(statement["created"].replace("Z", "+00:00"))
    put_token(
        bundle, issue_reply(tsa, make_query(signature(bundle)), at=created - timedelta(hours=1))
    )
    done = run_recipe(bundle, tsa.root_pem)
    assert done.returncode == 0  # the token itself is genuine
    result = env.run("verify", bundle, "--json", "--tsa-root", tsa.root_pem)
    assert result.exit_code == 1
    assert [p["kind"] for p in json.loads(result.stdout)["problems"]] == ["clock_after_timestamp"]
