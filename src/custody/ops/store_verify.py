"""custody verify s3://...: a stored bundle verified in place."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from custody.base.models import VerifyReport
from custody.base.progress import ProgressCallback
from custody.io.s3.client import connect
from custody.io.s3.location import S3Location
from custody.io.s3.scan import scan_stored_bundle
from custody.ops.actions import evaluate_with_home
from custody.policy import TrustPolicy


def verify_stored_bundle(
    *,
    home: Path,
    source: str,
    policy: TrustPolicy,
    endpoint_url: str | None = None,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify the bundle stored at `source` exactly as a local one (same checks,
    same report), plus each object's retention and legal hold in
    `report.storage`. Raises NotABundleError, StoreError, StoreUnreachable."""
    location = S3Location.parse(source)
    client = connect(endpoint_url=endpoint_url, workers=workers or 8)
    stored = scan_stored_bundle(
        client=client,
        location=location,
        endpoint_url=endpoint_url,
        on_progress=on_progress,
        workers=workers or 8,
    )
    report = evaluate_with_home(home=home, scan=stored.scan, policy=policy)
    return replace(
        report,
        storage=stored.to_json(),
        warnings=(*report.warnings, *stored.warnings()),
    )
