"""The shared-intake options refuse what cannot work, before touching any
server: --database or --endpoint-url without --store, a store that is not an
s3:// location, and --store with no database (no --database, no team)."""

from __future__ import annotations

import pytest

from conftest import Env


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("--database", "postgresql://127.0.0.1:1/x"), "need --store"),
        (("--endpoint-url", "http://127.0.0.1:1"), "need --store"),
        (("--store", "/srv/not-s3"), "s3://"),
        (("--store", "s3://Bad_Bucket/x"), "bucket"),
        (("--store", "s3://evidence/intake"), "custody team join"),
    ],
)
def test_shared_options_refused_with_one_line(env: Env, extra: tuple[str, ...], says: str) -> None:
    result = env.run("intake", "list", "--data", env.tmp / "intake", *extra)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    assert not (env.tmp / "intake").exists()
