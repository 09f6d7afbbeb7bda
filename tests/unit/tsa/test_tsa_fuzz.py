"""Hostile timestamp tokens: arbitrary damage to a real reply never raises and
never turns an untrusted or invalid token into a trusted one."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.tsa import der
from custody.tsa.token import check_token
from tsa_server import issue_reply, make_query, make_tsa

MESSAGE = b"the bundle's statement.sig"


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, x509.Certificate]:
    authority = make_tsa(tmp_path_factory.mktemp("fuzz-tsa") / "tsa", intermediate=True)
    reply = issue_reply(authority, make_query(MESSAGE))
    return reply, x509.load_pem_x509_certificate(authority.root_pem.read_bytes())


FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(st.data())
def test_damaged_reply_never_raises_and_never_gains_trust(
    genuine: tuple[bytes, x509.Certificate], data: st.DataObject
) -> None:
    reply, root = genuine
    damaged = bytearray(reply)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(damaged)))
    mutated = bytes(damaged[:cut])
    result = check_token(mutated, MESSAGE, [root])
    assert result.status in ("trusted", "untrusted", "invalid")
    if result.status == "trusted":
        # Only bytes outside what the TSA signed may have changed (e.g. a carried
        # copy of a certificate the walk does not need): the TSTInfo is the same.
        _, original = der.parse_reply(reply)
        _, parts = der.parse_reply(mutated)
        assert original is not None and parts is not None
        assert parts.econtent == original.econtent
        assert result.gen_time == check_token(reply, MESSAGE, [root]).gen_time
    with contextlib.suppress(der.DerError):
        der.der_set_order(mutated)


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_invalid(genuine: tuple[bytes, x509.Certificate], blob: bytes) -> None:
    _, root = genuine
    assert check_token(blob, MESSAGE, [root]).status == "invalid"


def test_report_page_shows_the_proven_time(tmp_path: Path) -> None:
    from custody.render.report_html import render_report

    page = render_report(
        {
            "verified": True,
            "signer": {},
            "problems": [],
            "timestamps": [
                {
                    "file": "custody/timestamps/1.tsr",
                    "tsa": "Test TSA",
                    "gen_time": "2026-11-25T12:00:03Z",
                    "accuracy_seconds": 1,
                    "serial": "2",
                    "policy": "1.2.3",
                    "status": "trusted",
                    "detail": "stamped by Test TSA",
                }
            ],
            "signed_no_later_than": "2026-11-25T12:00:04Z",
            "signed_no_later_than_tsa": "Test TSA",
        }
    )
    # The proven time is genTime + accuracy; the token's own time is shown with it.
    assert "Signed no later than <b>2026-11-25T12:00:04Z</b> (UTC: the TSA's time plus" in page
    assert "2026-11-25T12:00:03Z ± 1 s" in page
    assert "custody/timestamps/1.tsr" in page
    assert "Signing time not proven" in render_report({"verified": True, "signer": {}})


def test_damaged_certificate_names_give_a_verdict_never_a_traceback(
    genuine: tuple[bytes, x509.Certificate],
) -> None:
    """Found by exploration (CI seed 193854887): one byte of a certificate's issuer Name
    set to 0 in the reply. The certificate still loads (cryptography parses fields lazily)
    and raised ValueError when its issuer was read. Every such Name in the reply (each
    certificate's issuer and subject, the signer's issuerAndSerialNumber), zeroed in turn:
    a verdict (invalid, or unchanged where the damaged copy is not needed), never a
    traceback."""
    reply, root = genuine
    names = [b"\x30\x36\x31\x16\x30\x14", b"\x30\x33\x31\x16\x30\x14", b"\x30\x2b\x31\x16\x30\x14"]
    places = sorted(i for name in names for i in range(len(reply)) if reply.startswith(name, i))
    assert len(places) >= 5
    for start in places:
        for at in range(start, start + reply[start + 1] + 2):  # every byte of the Name
            damaged = reply[:at] + b"\x00" + reply[at + 1 :]
            result = check_token(damaged, MESSAGE, [root])
            assert result.status in ("trusted", "untrusted", "invalid"), (at, result)


def test_a_certificate_version_out_of_range_is_invalid_not_a_traceback(
    genuine: tuple[bytes, x509.Certificate],
) -> None:
    """Found by comparing custody with the verifier page over damaged tokens:
    cryptography raises InvalidVersion, which is not a ValueError, for a
    certificate whose version is not v1 to v3; it escaped check_token."""
    reply, root = genuine
    version = b"\xa0\x03\x02\x01\x02"  # [0] EXPLICIT INTEGER 2 (v3)
    assert version in reply
    damaged = reply.replace(version, b"\xa0\x03\x02\x01\x49", 1)
    check = check_token(damaged, MESSAGE, [root])
    assert check.status == "invalid"
    assert "a certificate in the token is damaged" in check.detail


def test_a_bit_string_in_the_signers_issuer_name_is_invalid_not_a_traceback(
    genuine: tuple[bytes, x509.Certificate],
) -> None:
    """Found the same way: cryptography raises TypeError (not ValueError) for a
    BIT STRING name value under any attribute but x500UniqueIdentifier, when
    check_token reads the issuer of the certificate with the signer's serial."""
    reply, root = genuine
    name = b"Test TSA Issuing CA"
    common_name = b"\x0c" + bytes([len(name)]) + name
    assert common_name in reply
    as_bits = b"\x03" + bytes([len(name)]) + b"\x00" + name[1:]
    check = check_token(reply.replace(common_name, as_bits, 1), MESSAGE, [root])
    assert check.status == "invalid"
    assert "damaged certificate or structure" in check.detail
