"""The disclosure package: a BagIt bag holding the original signed statement
and signature, the disclosed files, their leaves with salts and inclusion
proofs, and a disclosure record signed by the disclosing officer.

```
PACKAGE/
  bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt
  data/...                              the disclosed files (and copies)
  custody/statement.json, statement.sig, signer.pub     the original, exact
  custody/disclosure/leaves.jsonl       {"index","leaf","proof"} per disclosed leaf
  custody/disclosure/record.json        RFC 8785; what was disclosed and withheld
  custody/disclosure/record.sig         Ed25519 over record.json's exact bytes
  custody/disclosure/discloser.pub      the discloser's key (never a source of trust)
  custody/disclosure/ledger-proof.json  the ledger entry of this disclosure (optional)
  custody/disclosure/timestamps/N.tsr   RFC 3161 timestamps of record.sig (optional)
  custody/original/...                  a bundle made before commitments: its
                                        manifest, bag-info, metadata (and names)
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import rfc8785

RECORD_FORMAT = "custody/disclosure/v1"
DIR = "custody/disclosure"
LEAVES = f"{DIR}/leaves.jsonl"
RECORD = f"{DIR}/record.json"
RECORD_SIG = f"{DIR}/record.sig"
DISCLOSER_KEY = f"{DIR}/discloser.pub"
LEDGER_PROOF = f"{DIR}/ledger-proof.json"
TIMESTAMPS_DIR = f"{DIR}/timestamps"
ORIGINAL_DIR = "custody/original"

INTACT = "intact"
STRIPPED = "stripped"
REDACTED = "redacted"
DERIVED = "derived"
WHOLE = "whole"
MEMBERS = "members"
"""A ZIP archive disclosed as its members (its own bytes not in the package)."""
TREATMENTS = (INTACT, STRIPPED, REDACTED, DERIVED, WHOLE, MEMBERS)


class PackageError(ValueError):
    """A package file cannot be read as custody writes it."""


def record_bytes(record: dict[str, Any]) -> bytes:
    """The one function that makes the disclosure record's signed bytes."""
    return bytes(rfc8785.dumps(record))


def parse_record(data: bytes) -> dict[str, Any]:
    """The record's fields; raises PackageError unless it is a canonical
    custody disclosure record with the fields a verifier reads."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise PackageError("not UTF-8 JSON") from e
    if not isinstance(obj, dict) or obj.get("format") != RECORD_FORMAT:
        raise PackageError("not a custody disclosure record")
    for name in ("disclosure_id", "bundle_id", "statement_sha256", "to", "officer"):
        if not isinstance(obj.get(name), str):
            raise PackageError(f"field '{name}' missing or not a string")
    for name in ("key_fingerprint", "created", "manifest_sha256"):
        if not isinstance(obj.get(name), str):
            raise PackageError(f"field '{name}' missing or not a string")
    if not isinstance(obj.get("items"), list) or not isinstance(obj.get("withheld"), list):
        raise PackageError("'items' and 'withheld' must be lists")
    if not isinstance(obj.get("committed"), bool):
        raise PackageError("field 'committed' missing")
    try:
        canonical = record_bytes(obj)
    except Exception as e:  # rfc8785's own errors for values it cannot encode
        raise PackageError(f"cannot be canonicalised: {e}") from e
    if canonical != data:
        raise PackageError("not in canonical (RFC 8785) form")
    return obj


def leaves_line(index: int, leaf: bytes, proof: list[bytes]) -> bytes:
    return (
        json.dumps(
            {"index": index, "leaf": leaf.decode("ascii"), "proof": [p.hex() for p in proof]},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        ).encode("ascii")
        + b"\n"
    )


@dataclass(frozen=True)
class DisclosedLeaf:
    index: int
    leaf: bytes
    proof: tuple[bytes, ...]


def parse_leaves(data: bytes) -> dict[int, DisclosedLeaf]:
    """{index: leaf} from leaves.jsonl; raises PackageError naming the line."""
    out: dict[int, DisclosedLeaf] = {}
    if data and not data.endswith(b"\n"):
        raise PackageError("last line has no line ending")
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            obj = json.loads(line.decode("ascii"))
            index = obj["index"]
            leaf = obj["leaf"].encode("ascii")
            proof = tuple(bytes.fromhex(p) for p in obj["proof"])
        except (UnicodeError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise PackageError(f"line {number} is not a disclosed leaf") from e
        if not isinstance(index, int) or isinstance(index, bool) or index in out:
            raise PackageError(f"line {number}: index missing or given twice")
        if leaves_line(index, leaf, list(proof)) != line + b"\n":
            raise PackageError(f"line {number} is not in custody's spelling")
        out[index] = DisclosedLeaf(index, leaf, proof)
    return out


def timestamp_path(number: int) -> str:
    return f"{TIMESTAMPS_DIR}/{number}.tsr"


def timestamp_number(path: str) -> int | None:
    """N of custody/disclosure/timestamps/N.tsr, or None for any other name there."""
    name = path[len(TIMESTAMPS_DIR) + 1 :]
    if not name.endswith(".tsr") or not name[:-4].isdigit() or name[:-4].startswith("0"):
        return None
    return int(name[:-4]) if len(name) <= 13 else None
