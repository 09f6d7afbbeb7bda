"""Properties of everything custody prints: for any text or bytes in a name or a
metadata value, every output decodes as UTF-8, holds no control character but the
tabs and line feeds custody writes itself, and shows the value so that it can be
read back exactly (docs/json.md, "Names and values from evidence").

The oracle for "read back exactly" is `unvisible` below, written from the rule in
the documentation, not from custody's code: if the two disagree, one of them is
wrong.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import Env
from custody.base.textsafe import visible

FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Never in any output, whatever the evidence holds (tab and line feed are custody's own).
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_ESCAPE = re.compile(r"\\(\\|t|n|r|x[0-9a-f]{2}|u[0-9a-f]{4})")


def unvisible(shown: str) -> str:
    """The documented rule, read backwards: \\\\ \\t \\n \\r; \\xNN below 0x80 is that
    character and from 0x80 a byte that is not UTF-8 (surrogateescape, U+DC80+NN);
    \\uNNNN is that code point. A backslash is never anything else."""

    def back(m: re.Match[str]) -> str:
        code = m.group(1)
        if code in ("\\", "t", "n", "r"):
            return {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}[code]
        value = int(code[1:], 16)
        if code[0] == "x":
            return chr(value if value < 0x80 else 0xDC00 + value)
        return chr(value)

    assert "\\" not in _ESCAPE.sub("", shown), f"a bare backslash in {shown!r}"
    return _ESCAPE.sub(back, shown)


ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)


@FUZZ
@given(value=ANY_TEXT)
@example(value="\x1b[2J\x1b[32mVERIFIED\x1b[0m\r\n\x07\x9b\u202e\u2066\\x1b\udcff\ud800")
def test_visible_is_safe_and_reads_back_exactly(value: str) -> None:
    shown = visible(value)
    assert UNSAFE.search(shown) is None
    assert "\n" not in shown and "\t" not in shown
    shown.encode("utf-8")  # never raises
    assert unvisible(shown) == value
    if UNSAFE.search(value) is None and not any(c in value for c in "\t\n\\"):
        assert shown == value  # every printable letter of every script is itself


# --- the real commands ------------------------------------------------------------


@dataclass(frozen=True)
class Pristine:
    env: Env
    bundle: Path
    metadata: dict


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    tmp = tmp_path_factory.mktemp("output")
    env = Env(home=tmp / "home", tmp=tmp)
    assert env.run("keygen", "--name", "Fuzz Officer").exit_code == 0
    source = tmp / "src"
    source.mkdir()
    (source / "a.txt").write_text("a\n")
    bundle = tmp / "bundle"
    assert env.run("ingest", source, "--case", "F", "--out", bundle, "-q").exit_code == 0
    metadata = json.loads((bundle / "custody" / "metadata.json").read_text())
    return Pristine(env, bundle, metadata)


@pytest.fixture
def work(pristine: Pristine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the pristine bundle for one example (made afresh by `fresh`)."""
    yield tmp_path_factory.mktemp("work") / "bundle"


def fresh(pristine: Pristine, work: Path) -> Path:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(pristine.bundle, work)
    return work


def clean(data: bytes) -> str:
    """Decodable, free of control characters, free of tracebacks."""
    text = data.decode("utf-8")
    found = UNSAFE.search(text)
    assert found is None, f"raw {found.group()!r} in {text!r}"
    assert "Traceback" not in text
    return text


NAME = st.binary(min_size=1, max_size=60).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")
)


@FUZZ
@given(name=NAME)
@example(name=b"\x1b[2J\x1b[32mVERIFIED\x1b[0m\r\n\x07\xc2\x9b\xe2\x80\xae")
@example(name=b"IMG_0001\xff.jpg")
@example(name=b"a\tb\\x1b")
def test_any_planted_name_is_shown_safely(
    pristine: Pristine, work: Path, tmp_path_factory: pytest.TempPathFactory, name: bytes
) -> None:
    bundle = fresh(pristine, work)
    with open(os.path.join(os.fsencode(bundle / "data"), name), "wb") as fh:
        fh.write(b"planted")
    report = tmp_path_factory.mktemp("report") / "r.html"
    text = pristine.env.run("verify", bundle, "--report", report)
    assert text.exit_code == 1
    out = clean(text.stdout_bytes)
    clean(text.stderr_bytes)
    lines = [unvisible(line) for line in out.splitlines()]
    assert any(os.fsdecode(name) in line for line in lines), out
    clean(report.read_bytes())
    as_json = pristine.env.run("verify", bundle, "--json")
    assert as_json.exit_code == 1
    document = json.loads(clean(as_json.stdout_bytes))
    assert document["verified"] is False


@FUZZ
@given(path=ANY_TEXT, make=ANY_TEXT, model=ANY_TEXT, mime=ANY_TEXT)
@example(path="a\tb\nc", make="\x1b[2J", model="\u202eledoM", mime="\x9b31m")
@example(path="IMG\udcff.jpg", make="\ud800", model="\\x1b", mime="")
def test_any_metadata_value_is_shown_safely_and_whole(
    pristine: Pristine, work: Path, path: str, make: str, model: str, mime: str
) -> None:
    """Values in custody/metadata.json, edited by hand (so the bundle no longer
    verifies, and show says so on stderr): the table keeps seven fields a row and
    shows each value so that it reads back exactly."""
    bundle = fresh(pristine, work)
    metadata = json.loads(json.dumps(pristine.metadata))
    record = metadata["files"][0]
    record.update({"path": path, "mime": mime, "device": {"make": make, "model": model}})
    (bundle / "custody" / "metadata.json").write_text(json.dumps(metadata))  # ASCII

    shown = pristine.env.run("show", bundle)
    assert shown.exit_code == 0, shown.output
    clean(shown.stderr_bytes)
    title, *lines = clean(shown.stdout_bytes).splitlines()
    assert title.startswith("# Case F, exhibit none, bundle ")
    rows = [line.split("\t") for line in lines]
    assert len(rows) == 2 and all(len(row) == 9 for row in rows), rows
    row = rows[1]
    assert unvisible(row[0]) == path
    assert unvisible(row[1]) == (mime or "?")
    assert unvisible(row[4]) == " ".join(v for v in (make, model) if v)

    as_json = pristine.env.run("show", bundle, "--json")
    assert as_json.exit_code == 0
    files = json.loads(clean(as_json.stdout_bytes))["files"]
    assert files[0]["device"]["make"] in (make, visible(make))


# Any JSON value where a record has one: metadata.json is edited by hand here, and a
# bundle signed by a key of the attacker's own is shown and reported on all the same.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)
RECORD_KEYS = (
    "path",
    "mime",
    "captured_at",
    "gps",
    "device",
    "duration_s",
    "c2pa",
    "errors",
    "extension_mismatch",
    "details",
)
SHAPED = {
    "gps": st.fixed_dictionaries({"lat": JSON, "lon": JSON, "alt": JSON}),
    "c2pa": st.fixed_dictionaries(
        {"state": JSON, "failures": JSON, "trust_list": JSON, "remote_url": JSON}
    ),
    "details": st.fixed_dictionaries(
        {
            "archive": st.fixed_dictionaries(
                {
                    "members": st.lists(
                        JSON | st.dictionaries(st.sampled_from(RECORD_KEYS), JSON), max_size=3
                    )
                }
            )
        }
    ),
}


@FUZZ
@given(
    values=st.fixed_dictionaries(
        {}, optional={key: SHAPED.get(key, JSON) | JSON for key in RECORD_KEYS}
    )
)
@example(values={"gps": {"lat": "x\x1b[2J", "lon": None}, "device": "not a dict"})
@example(values={"c2pa": {"state": "invalid", "failures": 3, "trust_list": "q"}})
@example(values={"errors": 2, "details": {"archive": {"members": [{"path": "\u202e"}]}}})
def test_any_metadata_record_is_shown_and_reported_without_crashing(
    pristine: Pristine, work: Path, values: dict
) -> None:
    from custody.render.report_html import render_report

    bundle = fresh(pristine, work)
    metadata = json.loads(json.dumps(pristine.metadata))
    metadata["files"][0].update(values)
    (bundle / "custody" / "metadata.json").write_text(json.dumps(metadata))

    shown = pristine.env.run("show", bundle)
    assert shown.exit_code == 0, shown.output
    clean(shown.stderr_bytes)
    title, *lines = clean(shown.stdout_bytes).splitlines()
    assert title.startswith("# Case ")
    rows = [line.split("\t") for line in lines]
    assert all(len(row) == 9 for row in rows), rows
    as_json = pristine.env.run("show", bundle, "--json")
    assert as_json.exit_code == 0
    json.loads(clean(as_json.stdout_bytes))

    # The report is a pure function of verify's JSON: give it the same records.
    report = json.loads(pristine.env.run("verify", pristine.bundle, "--json").stdout)
    report["files"] = [{**report["files"][0], **values}]
    clean(render_report(report).encode("utf-8"))
