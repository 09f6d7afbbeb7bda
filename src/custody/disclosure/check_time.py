"""The RFC 3161 timestamps of a disclosure record (custody/disclosure/
timestamps/N.tsr): each a TSA's signature over record.sig, judged with the
TSA roots the verifier chose, as a bundle's are (bundle/check_time.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from custody.base.models import Problem
from custody.disclosure import package as P
from custody.policy import TrustPolicy
from custody.tsa.status import proven_signing_time, token_status
from custody.tsa.token import TokenCheck, check_token, iso_utc


def check_disclosure_time(
    tokens: Mapping[str, bytes], record_sig: bytes | None, policy: TrustPolicy
) -> tuple[list[Problem], dict[str, Any]]:
    """Problems for tokens that do not stamp this record's signature (or are not
    tokens at all), and the report's `timestamps` and `disclosed_no_later_than`."""
    problems: list[Problem] = []
    statuses = []
    numbered = []
    for path in tokens:
        number = P.timestamp_number(path)
        if number is None:
            problems.append(Problem("bad_timestamp", path, "not a timestamp file name (N.tsr)"))
        else:
            numbered.append((number, path))
    for _, path in sorted(numbered):
        if record_sig is None:
            check = TokenCheck("invalid", "no custody/disclosure/record.sig for it to stamp")
        else:
            check = check_token(tokens[path], record_sig, policy.tsa_roots)
        if check.status == "invalid":
            problems.append(Problem("bad_timestamp", path, check.detail))
        statuses.append(token_status(path, check))
    proven, tsa = proven_signing_time(statuses)
    return problems, {
        "timestamps": [s.to_json() for s in statuses],
        "disclosed_no_later_than": iso_utc(proven),
        "disclosed_no_later_than_tsa": tsa,
    }
