"""Timestamp tokens on the offline verifier page and in `custody verify`: the
same hostile and unusual RFC 3161 tokens (real `openssl ts -reply` replies,
tests/tsa_server.py, and re-signed or damaged copies, tests/timestamp_tokens.py)
get the same verdict, the same problems and the same status per token from
both; and the page states a token's time only as claimed, never as proven."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from test_verifier_page import (  # noqa: F401  (fixtures)
    bundle,
    driver,
    env,
    key,
    officer,
    page,
    page_file,
    same_verdict,
    template,
)

import timestamp_tokens as tokens
from browser_page import Page, chromium_missing
from conftest import Env
from custody.bundle.format import layout
from tsa_server import Authority, issue_reply, make_query, make_tsa

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))


@dataclass(frozen=True)
class Tsas:
    ec: Authority
    rsa: Authority
    hourly: Authority
    silent: Authority
    impostor: Authority


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory) -> Tsas:
    root = tmp_path_factory.mktemp("page-tsas")
    ec = make_tsa(root / "ec", "Example TSA")
    return Tsas(
        ec=ec,
        rsa=make_tsa(root / "rsa", "RSA TSA", rsa=True),
        hourly=make_tsa(root / "hourly", "Hourly TSA", accuracy="secs:3600"),
        silent=make_tsa(root / "silent", "Silent TSA", accuracy=None),
        impostor=make_tsa(root / "impostor", sign_as=ec),
    )


def _made(name: str, tsas: Tsas, signature: bytes, other: bytes) -> bytes:
    """The token called `name`, over `signature` (this bundle's statement.sig)."""
    query = make_query(signature)
    if name == "another bundle's signature":
        return issue_reply(tsas.ec, make_query(other))
    if name in ("RSA", "RSA-PSS", "RSA-PSS, signature destroyed", "RSA, signature destroyed"):
        reply = issue_reply(tsas.rsa, query)
        if "PSS" in name:
            tsa_key = serialization.load_pem_private_key(tsas.rsa.key_pem.read_bytes(), None)
            assert isinstance(tsa_key, rsa.RSAPrivateKey)
            reply = tokens.resigned_with_pss(reply, tsa_key)
        return tokens.signature_flipped(reply) if "destroyed" in name else reply
    authority = {
        "accuracy of an hour": tsas.hourly,
        "no accuracy": tsas.silent,
        "impostor named like a real TSA": tsas.impostor,
    }.get(name, tsas.ec)
    reply = issue_reply(authority, query)
    edits = {
        "ECDSA": lambda r: r,
        "accuracy of an hour": lambda r: r,
        "no accuracy": lambda r: r,
        "impostor named like a real TSA": lambda r: r,
        "Ed25519": tokens.resigned_with_ed25519,
        "Ed25519, signature destroyed": lambda r: tokens.signature_flipped(
            tokens.resigned_with_ed25519(r)
        ),
        "ECDSA, signature destroyed": tokens.signature_flipped,
        "genTime changed after signing": tokens.gen_time_changed,
        "no certificate for its signer": tokens.without_certificates,
        "rejected by the TSA": lambda r: tokens.REJECTED,
        "truncated": lambda r: r[:-7],
        "not DER at all": lambda r: b"<html>not a timestamp</html>",
    }
    return edits[name](reply)


VALID = (
    "ECDSA",
    "RSA",
    "RSA-PSS",
    "Ed25519",
    "accuracy of an hour",
    "no accuracy",
    "impostor named like a real TSA",
)
HOSTILE = (
    "ECDSA, signature destroyed",
    "RSA, signature destroyed",
    "RSA-PSS, signature destroyed",
    "Ed25519, signature destroyed",
    "genTime changed after signing",
    "no certificate for its signer",
    "another bundle's signature",
    "rejected by the TSA",
    "truncated",
    "not DER at all",
)


def _with_token(target: Path, reply: bytes) -> None:
    """The reply as custody/timestamps/1.tsr, listed in the tag manifest as
    `custody timestamp` lists it."""
    folder = target / layout.TIMESTAMPS_DIR
    folder.mkdir(exist_ok=True)
    (folder / "1.tsr").write_bytes(reply)
    manifest = target / layout.TAG_MANIFEST
    entries, _ = layout.parse_manifest(manifest.read_bytes())
    entries["custody/timestamps/1.tsr"] = hashlib.sha256(reply).hexdigest()
    manifest.write_bytes(layout.format_manifest(entries.items()))


def _page_result(shown: Page) -> tuple[dict[str, Any], str]:
    """The page's result document and the text a person reads."""
    result = shown.driver.execute_script("return JSON.stringify(window.custodyResult)")
    return json.loads(result), shown.driver.find_element("id", "result").text


@pytest.mark.parametrize("name", VALID + HOSTILE)
def test_each_token_gets_custodys_verdict_and_no_proven_time(
    env: Env,  # noqa: F811
    page: Page,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tsas: Tsas,
    name: str,
) -> None:
    signature = (bundle / layout.SIGNATURE).read_bytes()
    other = (bundle / layout.STATEMENT).read_bytes()
    _with_token(bundle, _made(name, tsas, signature, other))

    # Verdict, problem kinds and paths, signer: as custody verify (no TSA root chosen).
    expected = same_verdict(env, page, bundle, key)
    got, text = _page_result(page)
    [token] = expected["timestamps"]
    [shown] = got["timestamps"]
    assert shown["status"] == token["status"], (shown, token)
    assert expected["verified"] is (name in VALID)
    assert expected["signed_no_later_than"] is None
    assert "signed_no_later_than" not in got
    assert "timestamps this signature, at" not in text
    if name in VALID:
        assert token["status"] == "untrusted"
        assert text.startswith("VERIFIED")
        # The time is the token's claim, with its accuracy, and says it is not proven.
        assert (shown["gen_time"], shown["accuracy_seconds"]) == (
            token["gen_time"],
            token["accuracy_seconds"],
        )
        assert f'certificate naming itself "{token["tsa"]}"' in text
        assert f"claims the time {token['gen_time']}" in text
        assert "which is not proven here" in text
        assert "Signing time not proven here" in text
    else:
        assert token["status"] == "invalid"
        assert text.startswith("NOT VERIFIED")
        assert "NOT a valid timestamp of this signature" in text
        assert [(p["kind"], p["path"]) for p in got["problems"]] == [
            ("bad_timestamp", "custody/timestamps/1.tsr")
        ]


def test_an_impostors_token_is_never_shown_as_the_real_tsas(
    env: Env,  # noqa: F811
    page: Page,  # noqa: F811
    bundle: Path,  # noqa: F811
    key: Path,  # noqa: F811
    tsas: Tsas,
) -> None:
    """With the real TSA's root chosen, custody finds an impostor's token
    invalid; the page, which takes no TSA roots, cannot, and so never says
    the token is the real TSA's or that its time is proven: it says the token
    names itself so, and that the chain is for custody verify --tsa-root."""
    signature = (bundle / layout.SIGNATURE).read_bytes()
    _with_token(bundle, _made("impostor named like a real TSA", tsas, signature, b""))
    result = env.run("verify", bundle, "--json", "--trust", key, "--tsa-root", tsas.ec.root_pem)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["timestamps"][0]["status"] == "invalid"
    same_verdict(env, page, bundle, key)
    got, text = _page_result(page)
    assert 'certificate naming itself "Example TSA"' in text
    assert "not proven here" in text
    assert any("custody verify --tsa-root" in w for w in got["warnings"])
