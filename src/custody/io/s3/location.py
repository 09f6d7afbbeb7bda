"""s3://bucket/prefix locations. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from custody.base.errors import InputError
from custody.base.fsutil import unsafe_path_reason

SCHEME = "s3://"
# S3's rules for bucket names (3-63 characters, lower case, digits, dots, hyphens).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")


def is_s3_url(value: str) -> bool:
    """True when a command-line argument names a place in object storage."""
    return value.startswith(SCHEME)


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix ('' or without leading and trailing slashes)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, value: str) -> S3Location:
        """Parse s3://bucket[/prefix]; raises InputError naming the problem."""
        if not is_s3_url(value):
            raise InputError("not an s3://bucket/prefix location", path=value)
        rest = value[len(SCHEME) :]
        bucket, _, prefix = rest.partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise InputError("not a valid S3 bucket name", path=value)
        prefix = prefix.strip("/")
        if prefix:
            reason = unsafe_path_reason(prefix)
            if reason is not None:
                raise InputError(f"unusable key prefix: {reason}", path=value)
        return cls(bucket, prefix)

    @property
    def key_prefix(self) -> str:
        """The prefix as the start of a key: '' or 'a/b/'."""
        return self.prefix + "/" if self.prefix else ""

    def child(self, name: str) -> S3Location:
        return S3Location(self.bucket, self.key_prefix + name)

    @property
    def name(self) -> str:
        """The last component of the prefix (a bundle's folder name)."""
        return self.prefix.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"
