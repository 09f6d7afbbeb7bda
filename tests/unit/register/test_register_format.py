"""Reading register files: everything a hostile or broken register can be."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.base.errors import InputError
from custody.register.format import KeyRegister, compare_registers
from custody.register.parse import parse_register
from register_helpers import body, key_json, register_file, revocation_json, unit_json

NOW = datetime(2026, 12, 1, tzinfo=UTC)
UNIT = Ed25519PrivateKey.generate()
OFFICER = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()


def parse(data: bytes) -> object:
    return parse_register(data, source="register.json", now=NOW)


def two_versions() -> tuple[bytes, bytes]:
    v1 = body(1, unit_json(UNIT), [])
    v2 = body(2, unit_json(UNIT), [key_json(OFFICER)], previous=v1)
    return v1, v2


def refused(data: bytes) -> str:
    with pytest.raises(InputError) as e:
        parse(data)
    line = e.value.diagnostics()
    assert line.startswith("register.json: not a valid key register: ")
    assert "\n" not in line
    return line


def test_a_good_register_reads_back() -> None:
    v1, v2 = two_versions()
    register = parse_register(register_file([(v1, [UNIT]), (v2, [UNIT])]), source=None, now=NOW)
    assert register.version == 2
    assert register.key(key_json(OFFICER)["fingerprint"]) is not None
    assert register.register_id == unit_json(UNIT)["fingerprint"]


def test_truncated() -> None:
    v1, v2 = two_versions()
    data = register_file([(v1, [UNIT]), (v2, [UNIT])])
    assert "truncated" in refused(data[: len(data) // 2])


def test_signed_by_an_unknown_key() -> None:
    v1, v2 = two_versions()
    assert "unknown key" in refused(register_file([(v1, [UNIT]), (v2, [OTHER])]))


def test_unsigned_version() -> None:
    v1, v2 = two_versions()
    assert "not signed by its unit key" in refused(register_file([(v1, [UNIT]), (v2, [])]))


def test_forged_signature() -> None:
    v1, v2 = two_versions()
    doc = json.loads(register_file([(v1, [UNIT]), (v2, [UNIT])]))
    doc["versions"][1]["signatures"] = doc["versions"][0]["signatures"]
    assert "does not verify" in refused(json.dumps(doc).encode())


def test_edited_signed_text() -> None:
    v1, v2 = two_versions()
    doc = json.loads(register_file([(v1, [UNIT]), (v2, [UNIT])]))
    doc["versions"][1]["signed"] = doc["versions"][1]["signed"].replace("2029", "2039")
    assert "does not verify" in refused(json.dumps(doc).encode())


def test_fingerprint_listed_twice() -> None:
    import rfc8785

    v1 = body(1, unit_json(UNIT), [key_json(OFFICER)])
    v2 = body(2, unit_json(UNIT), [key_json(OFFICER, name="Again")], previous=v1)
    assert "listed twice in the register" in refused(register_file([(v1, [UNIT]), (v2, [UNIT])]))
    obj = json.loads(v1)
    obj["added"].append(dict(obj["added"][0]))
    twice = bytes(rfc8785.dumps(obj))
    assert "listed twice in 'added'" in refused(register_file([(twice, [UNIT])]))


def test_valid_until_before_valid_from() -> None:
    v1 = body(1, unit_json(UNIT), [key_json(OFFICER, valid_until="2025-01-01T00:00:00Z")])
    assert "is before valid_from" in refused(register_file([(v1, [UNIT])]))


def test_revocation_dated_in_the_future() -> None:
    v1 = body(1, unit_json(UNIT), [key_json(OFFICER)])
    late = revocation_json(OFFICER, since="2027-06-01T00:00:00Z")
    v2 = body(2, unit_json(UNIT), previous=v1, revoked=[late])
    assert "dated in the future" in refused(register_file([(v1, [UNIT]), (v2, [UNIT])]))
    v2 = body(2, unit_json(UNIT), previous=v1, revoked=[late], issued="2027-07-01T00:00:00Z")
    assert "in the future" in refused(register_file([(v1, [UNIT]), (v2, [UNIT])]))


def test_compromise_after_revocation_and_unknown_reason() -> None:
    v1 = body(1, unit_json(UNIT), [key_json(OFFICER)])
    late = revocation_json(
        OFFICER, "compromised", since="2026-01-10T00:00:00Z", revoked_at="2026-01-05T00:00:00Z"
    )
    v2 = body(2, unit_json(UNIT), previous=v1, revoked=[late])
    assert "after it was revoked" in refused(register_file([(v1, [UNIT]), (v2, [UNIT])]))
    odd = revocation_json(OFFICER, "lost")
    v2 = body(2, unit_json(UNIT), previous=v1, revoked=[odd])
    assert "is not one of" in refused(register_file([(v1, [UNIT]), (v2, [UNIT])]))
    early = revocation_json(
        OFFICER, "retired", since="2026-01-01T00:00:00Z", revoked_at="2026-01-05T00:00:00Z"
    )
    v2 = body(2, unit_json(UNIT), previous=v1, revoked=[early])
    assert "takes effect when it is made" in refused(register_file([(v1, [UNIT]), (v2, [UNIT])]))


def test_revoking_an_unlisted_key_or_twice() -> None:
    v1 = body(1, unit_json(UNIT), [key_json(OFFICER)])
    stray = body(2, unit_json(UNIT), previous=v1, revoked=[revocation_json(OTHER)])
    assert "does not list" in refused(register_file([(v1, [UNIT]), (stray, [UNIT])]))
    v2 = body(2, unit_json(UNIT), previous=v1, revoked=[revocation_json(OFFICER)])
    v3 = body(3, unit_json(UNIT), previous=v2, revoked=[revocation_json(OFFICER, "retired")])
    data = register_file([(v1, [UNIT]), (v2, [UNIT]), (v3, [UNIT])])
    assert "again" in refused(data)
    good = parse_register(register_file([(v1, [UNIT]), (v2, [UNIT])]), source=None, now=NOW)
    revocation = good.keys[0].revocation
    assert revocation is not None and revocation.reason == "superseded"


def test_broken_link_and_wrong_number() -> None:
    v1, v2 = two_versions()
    stray = body(2, unit_json(UNIT), [key_json(OFFICER)], previous=b"something else")
    assert "does not name version 1" in refused(register_file([(v1, [UNIT]), (stray, [UNIT])]))
    assert "says it is version 2" in refused(register_file([(v2, [UNIT])]))


def test_not_canonical() -> None:
    v1 = body(1, unit_json(UNIT), [])
    pretty = json.dumps(json.loads(v1), indent=1).encode()
    assert "canonical" in refused(register_file([(pretty, [UNIT])]))


def test_rotation_needs_both_keys() -> None:
    new_unit = Ed25519PrivateKey.generate()
    v1 = body(1, unit_json(UNIT), [key_json(OFFICER)])
    v2 = body(2, unit_json(new_unit), previous=v1)
    assert "previous unit key" in refused(register_file([(v1, [UNIT]), (v2, [new_unit])]))
    assert "its unit key" in refused(register_file([(v1, [UNIT]), (v2, [UNIT])]))
    rotated = parse_register(
        register_file([(v1, [UNIT]), (v2, [UNIT, new_unit])]), source=None, now=NOW
    )
    assert rotated.unit_fingerprints == (
        unit_json(UNIT)["fingerprint"],
        unit_json(new_unit)["fingerprint"],
    )
    # A thief with only the new key cannot start a register of their own under the old id.
    v2_thief = body(2, unit_json(OTHER), [key_json(OTHER)], previous=v1)
    assert "previous unit key" in refused(register_file([(v1, [UNIT]), (v2_thief, [OTHER])]))


def test_rollback_and_fork_name_both_versions() -> None:
    v1, v2 = two_versions()
    old = parse_register(register_file([(v1, [UNIT])]), source="old.json", now=NOW)
    new = parse_register(register_file([(v1, [UNIT]), (v2, [UNIT])]), source="new.json", now=NOW)
    assert compare_registers(old, new) == "extends"
    assert compare_registers(new, new) == "same"
    with pytest.raises(InputError) as e:
        compare_registers(new, old)
    assert "rollback: version 1 is older than the trusted version 2" in e.value.diagnostics()
    other_v2 = body(2, unit_json(UNIT), [key_json(OTHER)], previous=v1)
    fork = parse_register(
        register_file([(v1, [UNIT]), (other_v2, [UNIT])]), source="fork.json", now=NOW
    )
    with pytest.raises(InputError) as e:
        compare_registers(new, fork)
    line = e.value.diagnostics()
    assert "fork: its version 2" in line and "trusted version 2" in line


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"format": "custody/key-register-file/v1"}',
        b"null",
        b'{"format": "custody/key-register-file/v1", "versions": [{"signed": 1, '
        b'"signatures": []}]}',
        b'{"format": "custody/key-register-file/v1", "versions": [], "versions": []}',
    ],
)
def test_hostile_files_are_one_line(data: bytes) -> None:
    refused(data)


def _good_file() -> bytes:
    v1, v2 = two_versions()
    revoke = body(3, unit_json(UNIT), previous=v2, revoked=[revocation_json(OFFICER)])
    return register_file([(v1, [UNIT]), (v2, [UNIT]), (revoke, [UNIT])])


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    position=st.integers(min_value=0),
    value=st.integers(min_value=0, max_value=255),
    cut=st.booleans(),
)
def test_damaged_registers_are_refused_in_one_line(position: int, value: int, cut: bool) -> None:
    data = bytearray(_GOOD)
    index = position % len(data)
    if cut:
        del data[index:]
    else:
        data[index] = value
    try:
        register = parse(bytes(data))
    except InputError as e:
        assert "\n" not in e.diagnostics()
        return
    assert isinstance(register, KeyRegister)  # a change that left it valid (e.g. white space)


@settings(max_examples=60)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_any_json_is_refused_in_one_line(value: object) -> None:
    doc = {"format": "custody/key-register-file/v1", "versions": [value]}
    with pytest.raises(InputError):
        parse(json.dumps(doc).encode())
    with pytest.raises(InputError):
        parse(
            json.dumps(
                {
                    "format": "custody/key-register-file/v1",
                    "versions": [{"signed": json.dumps(value), "signatures": []}],
                }
            ).encode()
        )


_GOOD = _good_file()
