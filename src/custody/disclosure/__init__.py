"""Partial disclosure: salted commitments made at ingest, and packages that
disclose some of a bundle's items against its original signature.

Domain modules (pure, bytes in, values out): leaves, parts, tree, package,
checks. Operations: commit (at ingest), disclose, verify_package.
docs/disclosure.md describes the format; ADR 0016 and 0017 the decisions."""
