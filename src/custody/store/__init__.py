"""Bundles in S3-compatible object storage with Object Lock (write-once).

Every S3 call lives in this package: `client` (connection, timeouts, retries,
error translation), `push`, `scan` (the S3 source for verify), `pull` and
`listing`. boto3 (the `store` extra) is imported only here, and only when a
store command runs.
"""
