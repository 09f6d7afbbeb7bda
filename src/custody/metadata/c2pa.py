"""C2PA Content Credentials: validate a file's manifest store with the C2PA
project's own SDK (c2pa-python), offline, against the trust list shipped with
custody, and summarise what the active manifest signs.

The SDK is an optional extra: without it the record says "not checked", never
null (null means "the SDK looked and found no manifest"). Remote manifests are
never fetched: the record says "remote, not fetched" with the URL.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from custody.metadata.guard import ExtractionLimit, GuardedFile

# The snapshot of the C2PA trust list shipped with custody (package data):
# trust-list/ of github.com/c2pa-org/conformance-public at the commit below.
TRUST_LIST_FILE = "C2PA-TRUST-LIST.pem"
TSA_TRUST_LIST_FILE = "C2PA-TSA-TRUST-LIST.pem"
TRUST_LIST_DATE = "2026-08-13"
TRUST_LIST_SOURCE = (
    "https://github.com/c2pa-org/conformance-public/tree/"
    "70ec46e16962b81e70795fcb50a05e0128329a20/trust-list"
)
# What the SDK reads of one file: validation hashes the whole asset, so the
# budget follows the size; the time allows for a slow disk on a large video.
MIN_SECONDS = 30.0
BYTES_PER_SECOND = 50 * 1024 * 1024
# Types the SDK reads (its own list; the record of any other type stays null).
C2PA_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/avif",
        "image/tiff",
        "image/gif",
        "image/svg+xml",
        "image/x-adobe-dng",
        "video/mp4",
        "video/quicktime",
        "video/x-msvideo",
        "audio/mp4",
        "audio/mpeg",
        "audio/wav",
        "audio/x-wav",
        "application/pdf",
    }
)
_STATES = {"Invalid": "invalid", "Valid": "valid", "Trusted": "trusted"}


@dataclass(frozen=True)
class TrustList:
    """A C2PA trust list: the PEM anchors, where they came from, their hash."""

    anchors_pem: str
    tsa_anchors_pem: str
    date: str
    source: str
    sha256: str
    tsa_sha256: str

    def describe(self) -> dict[str, str]:
        return {
            "date": self.date,
            "source": self.source,
            "sha256": self.sha256,
            "tsa_sha256": self.tsa_sha256,
        }


@functools.cache
def shipped_trust_list() -> TrustList:
    """The trust-list snapshot installed with this custody."""
    base = resources.files("custody.metadata") / "trust"
    anchors = (base / TRUST_LIST_FILE).read_bytes()
    tsa = (base / TSA_TRUST_LIST_FILE).read_bytes()
    return TrustList(
        anchors_pem=anchors.decode("ascii"),
        tsa_anchors_pem=tsa.decode("ascii"),
        date=TRUST_LIST_DATE,
        source=TRUST_LIST_SOURCE,
        sha256=hashlib.sha256(anchors).hexdigest(),
        tsa_sha256=hashlib.sha256(tsa).hexdigest(),
    )


def sdk_available() -> bool:
    try:
        import c2pa  # noqa: F401
    except Exception:  # a missing or broken native library: both are "not checked"
        return False
    return True


@functools.cache
def sdk_version() -> str | None:
    """'c2pa-python X (c2pa-rs Y)', or None without the SDK."""
    try:
        import c2pa
    except Exception:
        return None
    return f"c2pa-python {c2pa.__version__} (c2pa-rs {c2pa.sdk_version()})"


def not_checked(reason: str) -> dict[str, Any]:
    return {"state": "not checked", "reason": reason}


@functools.cache
def _context(anchors_pem: str, tsa_anchors_pem: str) -> Any:
    import c2pa

    # One anchor set for signers and time stamps, as c2pa-rs intends ("the C2PA
    # trust anchors and timestamping trust anchors can be added separately"): a
    # signer must still carry a C2PA signing EKU, a time stamp the time-stamping EKU.
    settings = {
        "version": 1,
        "trust": {"trust_anchors": anchors_pem + "\n" + tsa_anchors_pem},
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
    }
    return c2pa.Context.from_dict(settings)


@dataclass(frozen=True)
class C2paResult:
    """What the SDK said about one file: the record's `c2pa` value (None: no
    manifest) and the full manifest-store report to keep beside it."""

    summary: dict[str, Any] | None
    report: bytes | None


def read_c2pa(raw: Any, mime: str, size: int, trust: TrustList | None = None) -> C2paResult:
    """Validate the manifest store of one file (a seekable binary stream).
    Never raises for a bad file: SDK errors become the summary's `errors`."""
    if not sdk_available():
        return C2paResult(not_checked("c2pa-python is not installed"), None)
    import c2pa

    trust = trust or shipped_trust_list()
    raw.seek(0)
    guarded = GuardedFile(
        raw, seconds=MIN_SECONDS + size / BYTES_PER_SECOND, max_bytes=2 * size + (16 << 20)
    )
    try:
        reader = c2pa.Reader(
            mime, guarded, context=_context(trust.anchors_pem, trust.tsa_anchors_pem)
        )
    except ExtractionLimit as e:
        return C2paResult(_failed(str(e), trust), None)
    except c2pa.C2paError as e:
        return C2paResult(_from_error(e, trust), None)
    except Exception as e:  # the SDK wraps a hostile file's failures in many ways
        return C2paResult(_failed(f"{type(e).__name__}: {e}", trust), None)
    try:
        report_text = reader.json()
        remote_url = None if reader.is_embedded() else reader.get_remote_url()
    except Exception as e:
        return C2paResult(_failed(f"{type(e).__name__}: {e}", trust), None)
    finally:
        reader.close()
    report = report_text.encode("utf-8")
    store = json.loads(report_text)
    summary = summarise(store, trust)
    if remote_url:
        summary["remote_url"] = remote_url
    return C2paResult(summary, report)


def _base(trust: TrustList) -> dict[str, Any]:
    return {"sdk": sdk_version(), "trust_list": trust.describe()}


def _failed(message: str, trust: TrustList) -> dict[str, Any]:
    return {
        "state": "not checked",
        "reason": " ".join(message.split())[:300],
        **_base(trust),
    }


_URL = re.compile(r"https?://[^\s\"'<>]+")


def _from_error(e: Exception, trust: TrustList) -> dict[str, Any] | None:
    name = type(e).__name__.lstrip("_")
    text = " ".join(str(e).split())
    if "ManifestNotFound" in name or "ManifestNotFound" in text or "JumbfNotFound" in text:
        return None
    if "RemoteManifest" in name or "RemoteManifest" in text or "remote manifest" in text.lower():
        m = _URL.search(text)
        return {
            "state": "remote, not fetched",
            "remote_url": m.group(0) if m else None,
            **_base(trust),
        }
    if "NotSupported" in name or "NotSupported" in text or "UnsupportedType" in text:
        return None
    # A manifest store is there but the SDK cannot read it (damaged JUMBF or
    # CBOR, a box past the end of the asset): nothing it claims can be relied on.
    return {
        "state": "invalid",
        "failures": [],
        "error": f"{name}: {text}"[:300],
        **_base(trust),
    }


def summarise(store: dict[str, Any], trust: TrustList) -> dict[str, Any]:
    """The record's `c2pa` value from the SDK's manifest-store report."""
    label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    manifest = manifests.get(label) if isinstance(manifests, dict) else None
    manifest = manifest if isinstance(manifest, dict) else {}
    results = store.get("validation_results") or {}
    active = results.get("activeManifest") or {} if isinstance(results, dict) else {}
    failures = _codes(active.get("failure")) if isinstance(active, dict) else []
    successes = _codes(active.get("success")) if isinstance(active, dict) else []
    if not failures:
        failures = _codes(store.get("validation_status"))
    state = _STATES.get(str(store.get("validation_state")), "invalid")
    sig = manifest.get("signature_info") or {}
    actions = _actions(manifest)
    source_types = [a["digital_source_type"] for a in actions if a.get("digital_source_type")]
    ts_codes = [c for c in successes + failures if c.startswith("timeStamp.")]
    return {
        "state": state,
        "failures": failures,
        "active_manifest": label,
        "manifests": len(manifests) if isinstance(manifests, dict) else 0,
        "claim_generator": _claim_generator(manifest),
        "signer": {
            "subject": sig.get("common_name"),
            "issuer": sig.get("issuer"),
            "algorithm": sig.get("alg"),
            "serial": sig.get("cert_serial_number"),
        },
        "signed_at": sig.get("time"),
        "timestamp": {
            "codes": ts_codes,
            "trusted": (
                True
                if "timeStamp.trusted" in successes
                else (False if ts_codes or sig.get("time") else None)
            ),
        },
        "actions": actions,
        "digital_source_type": source_types[0] if source_types else None,
        "capture": _capture(manifest),
        "ingredients": len(manifest.get("ingredients") or []),
        "title": manifest.get("title"),
        "remote_url": None,
        **_base(trust),
    }


def _codes(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(i.get("code")) for i in items if isinstance(i, dict) and i.get("code")]


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name = info[0].get("name")
        version = info[0].get("version")
        if name:
            return f"{name} {version}" if version else str(name)
    value = manifest.get("claim_generator")
    return str(value) if value else None


def _assertions(manifest: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    found = []
    for a in manifest.get("assertions") or []:
        if isinstance(a, dict) and str(a.get("label", "")).startswith(prefix):
            data = a.get("data")
            if isinstance(data, dict):
                found.append(data)
    return found


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for data in _assertions(manifest, "c2pa.actions"):
        for action in data.get("actions") or []:
            if not isinstance(action, dict):
                continue
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k))
            out.append(
                {
                    "action": action.get("action"),
                    "when": action.get("when"),
                    "software_agent": agent,
                    "digital_source_type": action.get("digitalSourceType"),
                }
            )
    return out


# Namespaces of the capture facts a manifest may sign (stds.exif, c2pa.metadata), and the
# prefix each is conventionally written with. A manifest may declare its own prefix in
# `@context` and in any case ("EXIF:GPSLatitude" with {"EXIF": <exif namespace>}), so a key
# is matched by its namespace where the context names one, else by its prefix, and by its
# local name, without regard to case either way.
_EXIF_NS = "http://ns.adobe.com/exif/1.0/"
_XMP_NS = "http://ns.adobe.com/xap/1.0/"
_NAMESPACES = {"exif": _EXIF_NS, "exifex": "http://cipa.jp/exif/1.0/", "xmp": _XMP_NS}
_TIME_KEYS = (
    (_EXIF_NS, "datetimeoriginal"),
    (_EXIF_NS, "datetimedigitized"),
    (_XMP_NS, "createdate"),
)
_PLACE_KEYS = {
    "latitude": (_EXIF_NS, "gpslatitude"),
    "longitude": (_EXIF_NS, "gpslongitude"),
    "altitude": (_EXIF_NS, "gpsaltitude"),
    "gps_time": (_EXIF_NS, "gpstimestamp"),
}


def _namespaced(data: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """An assertion's fields keyed by (namespace, lower-case local name)."""
    context = data.get("@context")
    declared: dict[str, str] = {}
    if isinstance(context, dict):
        declared = {str(k).casefold(): str(v) for k, v in context.items() if isinstance(v, str)}
    fields: dict[tuple[str, str], Any] = {}
    for key, value in data.items():
        prefix, sep, local = str(key).partition(":")
        if not sep or key == "@context":
            continue
        folded = prefix.casefold()
        namespace = declared.get(folded) or _NAMESPACES.get(folded)
        if namespace is None:
            continue
        namespace = namespace.rstrip("#/") + "/"
        fields.setdefault((namespace, local.casefold()), value)
    return fields


def _capture(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The capture time and place the manifest signs (stds.exif / c2pa.metadata),
    as written: kept beside the file's own EXIF, never merged into it.

    Every such assertion of the manifest counts: a maker may sign the place in one
    and the time in another. Where two give the same fact, the first one wins."""
    merged: dict[tuple[str, str], Any] = {}
    for data in _assertions(manifest, "stds.exif") + _assertions(manifest, "c2pa.metadata"):
        for key, value in _namespaced(data).items():
            if value not in (None, "", [], {}):
                merged.setdefault(key, value)
    time_value = next((merged[k] for k in _TIME_KEYS if k in merged), None)
    place = {name: merged.get(key) for name, key in _PLACE_KEYS.items()}
    if not time_value and not (place["latitude"] and place["longitude"]):
        return None
    return {
        "time": str(time_value) if time_value else None,
        **{name: str(value) if value else None for name, value in place.items()},
    }


def record_c2pa(
    raw: Any,
    mime: str,
    rel_path: str,
    size: int,
    record: dict[str, Any],
    sidecars: dict[str, bytes] | None,
) -> None:
    """Set record["c2pa"]; the full report goes into `sidecars` under its bundle path."""
    result = read_c2pa(raw, mime, size)
    summary = result.summary
    if summary is not None and result.report is not None:
        name = report_path(rel_path)
        summary["report"] = name
        summary["report_sha256"] = hashlib.sha256(result.report).hexdigest()
        if sidecars is not None:
            sidecars[name] = result.report
    record["c2pa"] = summary


def report_path(rel_path: str) -> str:
    """Where a file's full manifest-store report is kept in the bundle."""
    return f"custody/c2pa/{rel_path}.json"
