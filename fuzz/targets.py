"""Coverage-guided fuzz targets (atheris) for the bundle reader and verifier, and for
every metadata extractor.

    python fuzz/targets.py verify   [libFuzzer options, e.g. -max_total_time=600 fuzz/corpus-verify]
    python fuzz/targets.py metadata [-max_total_time=600 fuzz/corpus-metadata]

A target fails only on an exception that is not custody's own (CustodyError) or, for the
extractors, on any exception at all: they must record problems, never raise. Whatever a long
run finds is fixed and its input kept in tests/regressions/ and tests/unit/bundle/test_fuzz.py.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    # scan_bundle imports these when it meets an archive: imported here, they are instrumented.
    from custody.base.errors import CustodyError
    from custody.bundle.read.reader import scan_bundle
    from custody.bundle.verify.evaluate import evaluate
    from custody.metadata import extract_record
    from custody.policy import TrustPolicy

WORK = Path(tempfile.mkdtemp(prefix="custody-fuzz-"))
NAMES = [
    "x.jpg",
    "x.mp4",
    "x.mov",
    "x.eml",
    "_chat.txt",
    "result.json",
    "x.mkv",
    "x.ogg",
    "x.heic",
    "x.mbox",
    "x.wav",
    "x.png",
]


def verify_target(data: bytes) -> None:
    path = WORK / ("bundle.zip" if data[:2] == b"PK" else "bundle.tar")
    path.write_bytes(data)
    try:
        scan = scan_bundle(path)
    except CustodyError:
        return
    evaluate(scan, TrustPolicy())


def metadata_target(data: bytes) -> None:
    name = NAMES[data[0] % len(NAMES)] if data else "x.bin"
    path = WORK / name
    path.write_bytes(data[1:])
    record = extract_record(copy_path=path, rel_path=name, sha256="0" * 64, size=len(data) - 1)
    assert isinstance(record["errors"], list)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("verify", "metadata"):
        raise SystemExit(__doc__)
    target = verify_target if sys.argv[1] == "verify" else metadata_target
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    os.environ.setdefault("CUSTODY_HOME", str(WORK / "home"))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
