"""The unit's signed key register (docs/keys.md, docs/adr/0012-key-register.md).

`format` makes and reads register files (pure), `rule` decides whether a listed
key is accepted for a signature made by a time T (pure), `store` keeps the
registers a verifier trusts, `authority` is the unit key authority's side.
"""
