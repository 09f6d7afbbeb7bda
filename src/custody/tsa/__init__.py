"""Trusted time: RFC 3161 timestamps from Time-Stamping Authorities.

`token` checks a stored reply (pure, offline), `der` reads its CMS envelope,
`roots` keeps the TSA roots a verifier chose, `client` asks TSAs over HTTP.
See docs/format.md (custody/timestamps/) and docs/verify-by-hand.md.
"""
