"""The shared team log: officers' signed ledger entries and checkpoints as the
leaves of one RFC 9162 Merkle tree kept in PostgreSQL. See docs/team.md.

Only `db`, `log` and `stapling` import psycopg; the rest is pure and is what
`custody verify` uses offline."""
