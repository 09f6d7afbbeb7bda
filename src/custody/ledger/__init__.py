"""The append-only custody ledger: storage, Merkle tree, proofs, checkpoints."""
