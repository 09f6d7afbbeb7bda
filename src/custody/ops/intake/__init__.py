"""The witness intake's operations: invite, revoke and list (manage), the finish that
makes a bundle through the ordinary ingest, serving, and receipts (docs/intake.md)."""
