"""The operations behind `custody verify BUNDLE --scope RECORD [--used X]`
and `custody verify PACKAGE --scope RECORD`."""

from __future__ import annotations

from pathlib import Path

from custody.base.errors import InputError
from custody.base.hashing import sha256_bytes
from custody.policy import TrustPolicy
from custody.scope.check import ScopeReport, check_scope, read_scope_files
from custody.scope.source import read_bundle_items


def _not_valid(record: Path, problem: str) -> ScopeReport:
    return ScopeReport(str(record), False, None, None, None, None, None, None, None, (problem,))


def verify_scope(
    *, bundle: Path, record: Path, policy: TrustPolicy, used: Path | None = None
) -> ScopeReport:
    """Check a scope record against `bundle` with the verifier's trusted keys,
    and, with `used` (a list of items, a disclosure package, or a `custody
    similar --json` document), list what it used outside the scope, each with
    how it was used. Raises InputError when RECORD or `used` cannot be read;
    a bundle whose signed metadata cannot be read makes the record not valid
    (the bundle's own report says why)."""
    from custody.ops.scope_use import read_used

    files = read_scope_files(record)
    try:
        source = read_bundle_items(bundle)
    except InputError as e:
        return _not_valid(record, e.message)
    pairs = use = None
    if used is not None:
        pairs, use = read_used(
            used,
            bundle_id=source.bundle_id,
            scope_sha256=sha256_bytes(files.scope or b""),
            statement_sha256=source.statement_sha256,
        )
    return check_scope(
        files,
        bundle_id=source.bundle_id,
        statement_sha256=source.statement_sha256,
        items=source.items,
        key_for=policy.key_for,
        used=pairs,
        use=use,
    )


def verify_package_scope(*, package: Path, record: Path, policy: TrustPolicy) -> ScopeReport:
    """Check a scope record against a disclosure package, without the bundle:
    the record signed by a key the verifier trusts, about the bundle and
    statement the package carries (the statement binds the commitments every
    disclosed item is proven against), its list whole, the package made under
    it, and every item the package discloses selected by it. The filter is
    not evaluated again (that needs every item of the bundle: `filter_checked`
    is false). The package's own checks are `custody verify PACKAGE`'s."""
    from custody.bundle.format import layout
    from custody.bundle.format.statement import StatementError, parse_statement
    from custody.bundle.read.reader import scan_bundle
    from custody.disclosure import package as P
    from custody.ops.disclosure.scope import package_use

    files = read_scope_files(record)
    scan = scan_bundle(package, hash_payload=False)
    stmt = scan.tag_bytes.get(layout.STATEMENT)
    try:
        statement = parse_statement(stmt or b"")
        disclosure = P.parse_record(scan.tag_bytes.get(P.RECORD) or b"")
    except (StatementError, P.PackageError) as e:
        return _not_valid(record, f"the package cannot be read ({e})")
    pairs, use = package_use(
        disclosure, location=str(package), scope_sha256=sha256_bytes(files.scope or b"")
    )
    return check_scope(
        files,
        bundle_id=str(statement.get("bundle_id")),
        statement_sha256=sha256_bytes(stmt or b""),
        items=None,
        key_for=policy.key_for,
        used=pairs,
        use=use,
    )
