"""The team proof and team leaves, checked as pure functions (no database): every
way a proof can be wrong is reported, and hostile bytes never raise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from custody.base.keys import PublicKeyInfo, fingerprint_of
from custody.bundle.verify.team_proof import check_team_proof, team_proof_bytes
from custody.team.leaves import (
    LeafError,
    checkpoint_leaf,
    entry_leaf,
    parse_leaf,
    refusal_leaf,
)
from custody.tlog import merkle
from custody.tlog.entries import Actor, entry_bytes
from custody.tlog.inclusion import proof_doc_bytes
from custody.tlog.note import sign_checkpoint

OFFICER = Ed25519PrivateKey.generate()
TEAM_KEY = Ed25519PrivateKey.generate()
ORIGIN = "custody-team/11111111-2222-4333-8444-555555555555"
LEDGER = "custody-ledger/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
STATEMENT = "ab" * 32


def team_key(key: Ed25519PrivateKey = TEAM_KEY) -> PublicKeyInfo:
    return PublicKeyInfo("Met War Crimes Team", fingerprint_of(key.public_key()), key.public_key())


def build(size: int = 5, target: int = 2) -> tuple[bytes, dict[str, Any]]:
    actor = Actor("PC Jane Smith", OFFICER.public_key())
    leaves, prev = [], None
    for i in range(size):
        subject = {"bundle_id": f"bundle-{i}", "case": "ICC-1", "statement_sha256": STATEMENT}
        e = entry_bytes(
            index=i,
            prev_leaf_hash=prev,
            time="2026-11-25T12:00:00Z",
            action="ingest",
            actor=actor,
            subject=subject,
        )
        prev = merkle.leaf_hash(e)
        leaves.append(entry_leaf(LEDGER, e, OFFICER.sign(e)))
    nodes: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange()
    for leaf in leaves:
        for level, idx, h in compact.append(merkle.leaf_hash(leaf)):
            nodes[(level, idx)] = h
    path = merkle.inclusion_path(
        target, size, merkle.subtree_from_perfect_nodes(lambda lv, ix: nodes[(lv, ix)])
    )
    note = sign_checkpoint(ORIGIN, size, compact.root(), TEAM_KEY)
    data = team_proof_bytes(
        team="Met War Crimes Team",
        origin=ORIGIN,
        leaf_index=target,
        tree_size=size,
        leaf=leaves[target],
        path=path,
        checkpoint=note,
    )
    return data, json.loads(data)


def check(data: bytes, *, bundle: str = "bundle-2", keys: tuple[PublicKeyInfo, ...] = ()) -> Any:
    return check_team_proof(
        data,
        statement_sha256=STATEMENT,
        bundle_id=bundle,
        signer_key=OFFICER.public_key(),
        team_keys=keys or (team_key(),),
    )


def test_a_good_proof_checks_out() -> None:
    data, _ = build()
    result = check(data)
    assert not result.problems and not result.warnings
    assert result.info["trusted_team"] == "Met War Crimes Team" and result.info["proof_valid"]


def test_untrusted_team_key_is_a_warning_not_a_pass() -> None:
    data, _ = build()
    result = check(data, keys=(team_key(Ed25519PrivateKey.generate()),))
    assert not result.problems and result.info["trusted_team"] is None
    assert "no team key you trust" in result.warnings[0]


def test_another_bundle_is_refused() -> None:
    data, _ = build()
    assert "another bundle" in check(data, bundle="bundle-3").problems[0].detail


@pytest.mark.parametrize("size,target", [(1, 0), (2, 1), (7, 6), (8, 3), (33, 17)])
def test_every_tree_shape(size: int, target: int) -> None:
    data, _ = build(size, target)
    assert not check(data, bundle=f"bundle-{target}").problems


def test_forged_signature_by_a_trusted_key_id_fails() -> None:
    _, doc = build()
    note = doc["checkpoint"]
    head, sig = note.rsplit(" ", 1)
    doc["checkpoint"] = head + " " + sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    result = check(proof_doc_bytes(doc))
    assert result.problems and result.info.get("trusted_team") is None


def test_checkpoint_of_a_bigger_tree_does_not_fit() -> None:
    _, doc = build(5, 2)
    _, other = build(6, 2)
    doc["checkpoint"] = other["checkpoint"]
    assert any("another log or tree size" in p.detail for p in check(proof_doc_bytes(doc)).problems)


def test_leaves_round_trip_and_are_strict() -> None:
    e = b'{"x":1}'
    with pytest.raises(LeafError):
        parse_leaf(entry_leaf(LEDGER, e, b"s" * 64))  # not a ledger entry inside
    cp = parse_leaf(checkpoint_leaf(LEDGER, b"origin\n1\nroot\n\n- sig\n"))
    assert cp.kind == "checkpoint" and cp.checkpoint == b"origin\n1\nroot\n\n- sig\n"
    refusal = parse_leaf(refusal_leaf(LEDGER, "forked", "why", b"offered", None))
    assert refusal.reason == "forked" and refusal.columns() == ("refusal", LEDGER, None, None, None)
    with pytest.raises(LeafError):
        parse_leaf(b' {"format":"custody/team-leaf/v1"}')
    _, doc = build()
    leaf = doc["leaf"].encode()
    assert parse_leaf(leaf).columns() == ("entry", LEDGER, 2, "ICC-1", "bundle-2")
    with pytest.raises(LeafError):
        parse_leaf(json.dumps(json.loads(leaf), indent=1).encode())  # not canonical


@given(st.binary(max_size=400))
def test_hostile_bytes_never_raise(blob: bytes) -> None:
    result = check(blob)
    assert result.problems


@given(
    st.sampled_from(["leaf_index", "tree_size", "inclusion_proof", "leaf", "checkpoint", "origin"]),
    st.one_of(
        st.none(), st.integers(-3, 10**20), st.text(max_size=30), st.lists(st.text(max_size=8))
    ),
)
def test_hostile_fields_never_raise_and_never_pass(field: str, value: Any) -> None:
    _, doc = build()
    if doc[field] == value:
        return
    doc[field] = value
    assert "bad_team_proof" in {p.kind for p in check(proof_doc_bytes(doc)).problems}


def test_another_spelling_is_named() -> None:
    _, doc = build()
    result = check(json.dumps(doc, indent=4).encode())
    assert [p.kind for p in result.problems] == ["bad_tag_format"]
