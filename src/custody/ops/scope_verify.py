"""The operation behind `custody verify BUNDLE --scope RECORD [--used LIST]`."""

from __future__ import annotations

from pathlib import Path

from custody.base.errors import InputError
from custody.policy import TrustPolicy
from custody.scope.check import ScopeReport, check_scope, parse_used, read_scope_files
from custody.scope.source import read_bundle_items


def verify_scope(
    *, bundle: Path, record: Path, policy: TrustPolicy, used: Path | None = None
) -> ScopeReport:
    """Check a scope record against `bundle` with the verifier's trusted keys,
    and, with `used` (a list of items a package or an analysis used), list
    those outside the scope. Raises InputError when RECORD or LIST cannot be
    read; a bundle whose signed metadata cannot be read makes the record not
    valid (the bundle's own report says why)."""
    files = read_scope_files(record)
    pairs = None
    if used is not None:
        try:
            pairs = list(parse_used(used.read_bytes()))
        except OSError as e:
            raise InputError(f"cannot be read ({e.strerror})", path=str(used)) from e
    try:
        source = read_bundle_items(bundle)
    except InputError as e:
        return ScopeReport(
            str(record), False, None, None, None, None, None, None, None, (e.message,)
        )
    return check_scope(
        files,
        bundle_id=source.bundle_id,
        statement_sha256=source.statement_sha256,
        items=source.items,
        key_for=policy.key_for,
        used=pairs,
    )
