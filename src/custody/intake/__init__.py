"""The witness web intake (docs/intake.md): invitations, tus 1.0 resumable
uploads, the finish that makes a bundle through the ordinary ingest, and
receipts a witness keeps and anyone can check.

Domain (pure): invitations, tus, receipt, codes, receipt_page, ratelimit.
Adapters: store (the state folder), web (the ASGI app, the only place with HTTP).
Operations: manage (invite, revoke, list), finish, serve, receipts.
"""
