"""custody disclose, second round: several grounds in one run, disclosure
packages verified as packages among bundles (verify P1 P2 ..., --from), and
stripped copies written streaming. Real bundles, keys and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_disclose import (  # noqa: F401 - fixtures
    BASIS,
    CHAT,
    PHOTO,
    WITHHELD,
    bundle,
    disclose,
    source,
)

from conftest import Env, validate
from custody.disclosure.request import BASIS as B
from custody.disclosure.request import assign_bases

OTHER = "81(2): national security"


def test_each_withhold_takes_the_basis_after_it(env: Env, bundle: Path) -> None:  # noqa: F811
    out, made = disclose(
        env,
        bundle,
        "bases",
        "--basis",
        "default ground",
        "--withhold",
        WITHHELD,
        "--basis",
        BASIS,
        "--withhold",
        "map.png",
        "--withhold",
        PHOTO,
        "--basis",
        OTHER,
        "--redact-messages",
        f"{CHAT}:1",
    )
    assert made["disclosure"]["withheld_by_basis"] == {BASIS: 1, OTHER: 2}
    record = json.loads((out / "custody/disclosure/record.json").read_text())
    assert sorted(w["basis"] for w in record["withheld"]) == sorted([BASIS, OTHER])
    redacted = [i for i in record["items"] if i["treatment"] == "redacted"]
    assert redacted[0]["basis"] == "default ground"
    result = env.run("verify", out, "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, report["problems"]
    assert report["disclosure"]["withheld_by_basis"] == {BASIS: 1, OTHER: 2}
    assert f"2 withheld under {OTHER}, 1 withheld under {BASIS}" in report["summary"]


def test_a_withhold_without_its_basis_is_refused(env: Env, bundle: Path) -> None:  # noqa: F811
    result = env.run(
        "disclose",
        bundle,
        "-o",
        env.tmp / "x",
        "--to",
        "Defence",
        "--withhold",
        WITHHELD,
        "--basis",
        BASIS,
        "--withhold",
        "map.png",
        "--basis",
        OTHER,
        "--withhold",
        PHOTO,
    )
    assert result.exit_code == 2
    assert "no --basis after it" in result.output and "Traceback" not in result.output
    assert not (env.tmp / "x").exists()


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("w:a", ""), (B, "X")], ("X", {})),
        ([(B, "X"), ("w:a", "")], ("X", {})),
        ([("w:a", ""), (B, "X"), ("w:b", ""), (B, "Y")], (None, {"w:a": "X", "w:b": "Y"})),
        ([(B, "D"), ("w:a", ""), (B, "X"), ("w:b", "")], ("D", {"w:a": "X", "w:b": "D"})),
    ],
)
def test_assign_bases(events: list, expected: tuple) -> None:
    assert assign_bases(events) == expected


def test_packages_among_bundles_are_verified_as_packages(
    env: Env,
    bundle: Path,  # noqa: F811
) -> None:
    out, _ = disclose(env, bundle, "pkg", "--withhold", WITHHELD, "--basis", BASIS, "--zip")
    broken, _ = disclose(env, bundle, "broken", "--withhold", WITHHELD, "--basis", BASIS)
    (broken / f"data/{PHOTO}").write_bytes(b"changed")
    listing = env.tmp / "list.txt"
    listing.write_text(f"{bundle}\n{out}\n{out.with_name('pkg.zip')}\n{broken}\n")
    result = env.run("verify", "--from", listing, "--json")
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert result.exit_code == 1
    for line in lines:
        validate("verify-many-line", line)
    kinds = [x.get("kind") for x in lines[:4]]
    assert kinds == ["bundle", "disclosure", "disclosure", "disclosure"]
    assert [x["verified"] for x in lines[:4]] == [True, True, True, False]
    assert lines[1]["disclosure"]["withheld_by_basis"] == {BASIS: 1}
    assert "changed" in {p["kind"] for p in lines[3]["problems"]}
    assert lines[4]["summary"]["verified"] == 3
    text = env.run("verify", bundle, out, broken)
    assert text.exit_code == 1
    assert "(disclosure package: 8 committed:" in text.stdout
    assert "NOT VERIFIED  " in text.stdout and "(disclosure package): changed" in text.stdout
