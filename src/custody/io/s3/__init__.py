"""Bundles in S3-compatible object storage with Object Lock (write-once).

Every S3 call lives in this package: `client` (connection, timeouts, retries,
error translation), `push` with `retention` (the pure choice of a lock) and
`upload` (checked sending), `scan` (the S3 source for verify) and `verify`,
`pull` and `listing`. boto3 (the `store` extra) is imported only here, and
only when a store command runs.
"""
