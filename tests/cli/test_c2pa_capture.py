"""C2PA capture facts however a camera maker spells them (issue 28, item 8).

Photos are signed here, at test time, with c2pa-python's own test signing certificate and
key (tests/fixtures/c2pa/es256_certs.pem and es256_private.key, from contentauth/c2pa-python
tests/fixtures, MIT/Apache-2.0 as the other files in that folder), so the manifest holds
exactly the assertions each test describes; custody reads them back through the SDK at
ingest like any other photo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import TESTS, Env

c2pa = pytest.importorskip("c2pa")

FIXTURES = TESTS / "fixtures" / "c2pa"
EXIF_NS = "http://ns.adobe.com/exif/1.0/"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


def sign_photo(dest: Path, *assertions: dict[str, Any]) -> Path:
    """A JPEG carrying an embedded, signed manifest with these stds.exif assertions."""
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(
            alg=b"es256",
            sign_cert=(FIXTURES / "es256_certs.pem").read_bytes(),
            private_key=(FIXTURES / "es256_private.key").read_bytes(),
            ta_url=None,
        )
    )
    manifest = {
        "claim_generator_info": [{"name": "custody-tests", "version": "1"}],
        "format": "image/jpeg",
        "title": dest.name,
        "ingredients": [],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": CAPTURE}]},
            },
            *({"label": "stds.exif", "data": data} for data in assertions),
        ],
    }
    builder = c2pa.Builder(manifest)
    with (FIXTURES / "no_manifest.jpg").open("rb") as src, dest.open("w+b") as out:
        builder.sign(signer, "image/jpeg", src, out)
    return dest


def captures(env: Env, source: Path) -> dict[str, Any]:
    out = env.tmp / "bundle"
    result = env.run("ingest", source, "--case", "ICC-2026-014", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    bundle = Path(json.loads(result.stdout)["bundle"])
    doc = json.loads((bundle / "custody" / "metadata.json").read_bytes())
    return {r["path"]: r["c2pa"]["capture"] for r in doc["files"]}


def test_upper_case_prefix_declared_in_context_and_facts_over_two_assertions(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    # One maker's signed photos: the prefix declared in upper case in @context, the place
    # in one assertion and the time in another.
    sign_photo(
        src / "maker.jpg",
        {
            "@context": {"EXIF": EXIF_NS},
            "EXIF:GPSLatitude": "50,27.0N",
            "EXIF:GPSLongitude": "30,31.0E",
        },
        {"@context": {"EXIF": EXIF_NS}, "EXIF:DateTimeOriginal": "2022-03-01T10:00:00+02:00"},
    )
    # A prefix of its own bound to the EXIF namespace, local names in another case.
    sign_photo(
        src / "own-prefix.jpg",
        {"@context": {"cam": EXIF_NS}, "cam:datetimeoriginal": "2022-03-02T11:00:00Z"},
    )
    # The plain spelling still reads as before; a prefix bound to another namespace is not
    # taken for EXIF even when it is spelled "exif".
    sign_photo(
        src / "plain.jpg",
        {
            "@context": {"exif": EXIF_NS},
            "exif:GPSLatitude": "1,0.0N",
            "exif:GPSLongitude": "2,0.0E",
            "exif:GPSAltitude": "100",
        },
    )
    sign_photo(
        src / "other-ns.jpg",
        {"@context": {"exif": "http://example.org/not-exif/"}, "exif:DateTimeOriginal": "x"},
    )
    got = captures(env, src)
    assert got["maker.jpg"] == {
        "time": "2022-03-01T10:00:00+02:00",
        "latitude": "50,27.0N",
        "longitude": "30,31.0E",
        "altitude": None,
        "gps_time": None,
    }
    assert got["own-prefix.jpg"]["time"] == "2022-03-02T11:00:00Z"
    assert got["plain.jpg"] == {
        "time": None,
        "latitude": "1,0.0N",
        "longitude": "2,0.0E",
        "altitude": "100",
        "gps_time": None,
    }
    assert got["other-ns.jpg"] is None
