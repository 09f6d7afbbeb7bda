"""RFC 9162 Merkle tree: known vectors and every proof property."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from custody.tlog import merkle

# The test vectors used by Certificate Transparency implementations (RFC 6962 hashing,
# which RFC 9162 keeps): leaves and the root of the first n of them.
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def test_known_roots() -> None:
    leaves = [merkle.leaf_hash(d) for d in LEAVES]
    for n, root in ROOTS.items():
        assert merkle.root_from_leaves(leaves[:n]).hex() == root


def test_domain_separation() -> None:
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    # A leaf can never pass for an inner node of the same bytes.
    left, right = merkle.leaf_hash(b"l"), merkle.leaf_hash(b"r")
    assert merkle.leaf_hash(left + right) != merkle.node_hash(left, right)


def _tree(n: int) -> tuple[list[bytes], merkle.Subtree]:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    nodes: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange()
    for leaf in leaves:
        for level, index, h in compact.append(leaf):
            nodes[(level, index)] = h
    return leaves, merkle.subtree_from_perfect_nodes(lambda lv, ix: nodes[(lv, ix)])


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_inclusion_proofs(n: int, data: st.DataObject) -> None:
    leaves, subtree = _tree(n)
    root = merkle.root_from_leaves(leaves)
    assert subtree(0, n) == root
    m = data.draw(st.integers(min_value=0, max_value=n - 1))
    path = merkle.inclusion_path(m, n, subtree)
    assert merkle.verify_inclusion(leaves[m], m, n, path, root)
    # Every RFC 9162 check: index < size, exact length, the right leaf and root.
    assert not merkle.verify_inclusion(leaves[m], n, n, path, root)
    assert not merkle.verify_inclusion(leaves[m], m, n, [*path, root], root)
    if path:
        assert not merkle.verify_inclusion(leaves[m], m, n, path[:-1], root)
        flipped = bytes([path[0][0] ^ 1]) + path[0][1:]
        assert not merkle.verify_inclusion(leaves[m], m, n, [flipped, *path[1:]], root)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"other"), m, n, path, root)
    # An inner node is not a leaf.
    if n > 1:
        assert not merkle.verify_inclusion(subtree(0, 2), 0, n, path[1:], root)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_consistency_proofs(n: int, data: st.DataObject) -> None:
    leaves, subtree = _tree(n)
    m = data.draw(st.integers(min_value=1, max_value=n))
    old, new = merkle.root_from_leaves(leaves[:m]), merkle.root_from_leaves(leaves)
    proof = merkle.consistency_path(m, n, subtree)
    assert merkle.verify_consistency(m, n, old, new, proof)
    if m < n:
        assert not merkle.verify_consistency(m, n, merkle.leaf_hash(b"forged"), new, proof)
        assert not merkle.verify_consistency(m, n, old, merkle.leaf_hash(b"forged"), proof)
        assert not merkle.verify_consistency(m, n, old, new, proof[:-1])
        # A newer tree can never be "consistent" with an older, smaller one.
        assert not merkle.verify_consistency(n, m, new, old, proof)


def test_compact_range_root_at_every_size() -> None:
    leaves, _ = _tree(40)
    compact = merkle.CompactRange()
    for i, leaf in enumerate(leaves):
        compact.append(leaf)
        assert compact.root() == merkle.root_from_leaves(leaves[: i + 1])


# --- canonical JSON fast path used when checking large ledgers --------------------------

_KEYS = st.text(max_size=5)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=500, deadline=None)
@given(_VALUES)
def test_fast_canonical_check_agrees_with_rfc8785(value: object) -> None:
    import json

    import rfc8785

    from custody.tlog.entries import is_canonical

    canonical = bytes(rfc8785.dumps(value))
    assert is_canonical(value, canonical)
    spaced = json.dumps(value, sort_keys=True, indent=1).encode()
    if spaced != canonical:
        assert not is_canonical(value, spaced)
