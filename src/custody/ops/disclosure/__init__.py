"""Disclosure to the defence (docs/disclosure in docs/format.md): the commitments
made at ingest (commit), disclose, and the verification of a package (verify)."""
