"""custody's token check and the verifier page's, over the same thousands of
damaged tokens: the page's timestamp code (verifier/src/timestamps.js, run by
Node from the sources the shipped page is built from) must give every token
the status custody gives it with no TSA root chosen. A damaged token that
custody cannot read and the page calls valid would make the page say VERIFIED
where custody says not verified."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import timestamp_tokens as tokens
from conftest import REPO
from custody.tsa.token import check_token
from tsa_server import issue_reply, make_query, make_tsa

NODE = shutil.which("node")
VERIFIER = REPO / "verifier"
MESSAGE = b"this bundle's custody/statement.sig"

pytestmark = pytest.mark.skipif(
    NODE is None or not (VERIFIER / "node_modules" / "@noble").is_dir(),
    reason="needs node and the verifier's npm packages (cd verifier && npm ci)",
)

CHECK_ALL = """
import { readFileSync, readdirSync } from "node:fs";
import { checkToken } from "./src/timestamps.js";
const dir = process.argv.at(-1);
const message = new Uint8Array(readFileSync(`${dir}/message`));
const out = {};
for (const name of readdirSync(dir)) {
  if (!name.endsWith(".tsr")) continue;
  out[name] = checkToken(new Uint8Array(readFileSync(`${dir}/${name}`)), message).status;
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Valid tokens over MESSAGE: ECDSA, RSA, without accuracy, RSA-PSS, Ed25519."""
    root = tmp_path_factory.mktemp("parity-tsas")
    query = make_query(MESSAGE)
    ec = issue_reply(make_tsa(root / "ec", "EC TSA"), query)
    rsa_tsa = make_tsa(root / "rsa", "RSA TSA", rsa=True)
    rsa_reply = issue_reply(rsa_tsa, query)
    key = serialization.load_pem_private_key(rsa_tsa.key_pem.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return {
        "ec": ec,
        "rsa": rsa_reply,
        "silent": issue_reply(make_tsa(root / "silent", "Silent TSA", accuracy=None), query),
        "pss": tokens.resigned_with_pss(rsa_reply, key),
        "ed25519": tokens.resigned_with_ed25519(ec),
    }


def _damaged(reply: bytes, rnd: random.Random) -> bytes:
    """One byte changed (mostly), or the reply cut short, or a byte inserted."""
    data = bytearray(reply)
    kind = rnd.random()
    if kind < 0.7:
        data[rnd.randrange(len(data))] = rnd.randrange(256)
    elif kind < 0.85:
        del data[rnd.randrange(len(data)) :]
    else:
        data.insert(rnd.randrange(len(data)), rnd.randrange(256))
    return bytes(data)


def _page_statuses(folder: Path) -> dict[str, str]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", CHECK_ALL, str(folder)],
        cwd=VERIFIER,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    statuses: dict[str, str] = json.loads(done.stdout)
    return statuses


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@pytest.mark.parametrize("seed", [1, 2])
def test_the_page_gives_every_damaged_token_custodys_status(
    genuine: dict[str, bytes], tmp_path: Path, seed: int
) -> None:
    rnd = random.Random(seed)
    (tmp_path / "message").write_bytes(MESSAGE)
    expected: dict[str, str] = {}
    for kind, reply in genuine.items():
        assert check_token(reply, MESSAGE, []).status == "untrusted", kind
        for n in range(300):
            data = reply if n == 0 else _damaged(reply, rnd)
            name = f"{kind}-{n}.tsr"
            (tmp_path / name).write_bytes(data)
            expected[name] = check_token(data, MESSAGE, []).status
    got = _page_statuses(tmp_path)
    differ = {
        name: (status, got.get(name))
        for name, status in expected.items()
        if got.get(name) != status
    }
    assert not differ, f"custody vs page: {differ}"
    # Damage of every kind was drawn: the comparison is not between valid tokens alone.
    assert set(expected.values()) == {"untrusted", "invalid"}
