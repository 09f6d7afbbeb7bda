"""ledger checkpoint --tsa: a timestamped checkpoint, shown and checked by
ledger consistency and by verify's ledger check."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from conftest import Env
from tsa_server import TsaServer, issue_reply, make_query, tsa_server  # noqa: F401


def test_timestamped_checkpoint_is_shown_and_checked(
    env: Env,
    bundle: Path,
    tsa_server: TsaServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    authority = tsa_server.authority("Ledger TSA")
    result = env.run("ledger", "checkpoint", "--tsa", tsa_server.url(authority))
    assert result.exit_code == 0, result.output
    assert "Timestamp of this checkpoint stored:" in result.stderr
    checkpoint = tmp_path / "cp.txt"
    checkpoint.write_text(result.stdout)

    # ledger consistency: the proven time with the TSA's root, not without it.
    done = env.run("ledger", "consistency", checkpoint, "--tsa-root", authority.root_pem, "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["consistent"] is True
    [token] = data["checkpoint_timestamps"]
    assert token["status"] == "trusted"
    # The latest instant the token allows: genTime + its stated accuracy (1 s).
    assert token["accuracy_seconds"] == 1
    gen_time = datetime.fromisoformat(token["gen_time"].replace("Z", "+00:00"))
    latest = (gen_time + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["checkpoint_no_later_than"] == latest
    human = env.run("ledger", "consistency", checkpoint, "--tsa-root", authority.root_pem)
    assert "existed no later than" in human.stdout
    plain = json.loads(env.run("ledger", "consistency", checkpoint, "--json").stdout)
    assert plain["checkpoint_timestamps"][0]["status"] == "untrusted"
    assert plain["checkpoint_no_later_than"] is None

    # verify's ledger check: the bundle's proof carries this very checkpoint.
    verified = env.run("verify", bundle, "--json", "--tsa-root", authority.root_pem)
    assert verified.exit_code == 0, verified.output
    ledger = json.loads(verified.stdout)["ledger"]
    assert ledger["checkpoint_no_later_than"] == latest

    # A token for other data saved beside the checkpoint file is invalid: exit 1.
    other = tmp_path / "other.txt"
    shutil.copy(checkpoint, other)
    (tmp_path / "other.txt.tsr").write_bytes(issue_reply(authority, make_query(b"not it")))
    bad = env.run("ledger", "consistency", other, "--tsa-root", authority.root_pem, "--json")
    assert bad.exit_code == 1
    statuses = [t["status"] for t in json.loads(bad.stdout)["checkpoint_timestamps"]]
    assert sorted(statuses) == ["invalid", "trusted"]


def test_checkpoint_with_the_tsa_down_is_printed_anyway(env: Env, bundle: Path) -> None:
    from tsa_server import refused_url

    url = refused_url()
    result = env.run("ledger", "checkpoint", "--tsa", url)
    assert result.exit_code == 0
    assert result.stdout.startswith("custody-ledger/")
    assert url in result.stderr and result.stderr.count("\n") == 1
