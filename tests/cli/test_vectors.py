"""The shared test vectors (tests/vectors/, docs/adr/0023-shared-test-vectors.md):
`custody verify --json` and the verifier page's own code, run by Node, must
each give every case the report its expected.json states; a rebuild of the
vectors must state the same; every problem kind either verifier can report is
in a vector, or named here with the reason it is not."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import REPO, Env, validate

VECTORS = REPO / "tests" / "vectors"
VERIFIER = REPO / "verifier"
NODE = shutil.which("node")
FINGERPRINT = re.compile(r"^[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$")


def _load_make() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vectors_make", VECTORS / "make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


make = _load_make()
CASES = sorted(p.parent.name for p in VECTORS.glob("*/expected.json"))


def expected(case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / case / "expected.json").read_text())
    return data


def custody_report(case: Path, env: Env) -> tuple[int, dict[str, Any]]:
    result = env.run("verify", *make.custody_args(case))
    report: dict[str, Any] = json.loads(result.stdout)
    return result.exit_code, report


def test_there_is_one_vector_per_case_the_generator_makes() -> None:
    assert sorted(c.name for c in make.CASES) == CASES


@pytest.mark.parametrize("case", CASES)
def test_custody_gives_each_vector_its_expected_report(case: str, tmp_path: Path) -> None:
    env = Env(home=tmp_path / "home", tmp=tmp_path)
    code, report = custody_report(VECTORS / case, env)
    want = {k: v for k, v in expected(case).items() if k not in make.NOT_COMPARED}
    assert make.stable(report, code) == want
    if "error" in report:
        validate("error", report)
        return
    # The whole report, with its pinned field formats (docs/schemas/verify.schema.json).
    validate("verify", report)
    if report["statement_sha256"] is not None:
        # One fingerprint format everywhere (the page's runner checks the same).
        digest = report["statement_sha256"][:16].upper()
        grouped = "-".join(digest[i : i + 4] for i in range(0, 16, 4))
        assert report["bundle_fingerprint"] == grouped
        assert FINGERPRINT.match(grouped)


def test_a_vector_is_small() -> None:
    for case in CASES:
        size = sum(p.stat().st_size for p in (VECTORS / case).rglob("*") if p.is_file())
        assert size < 16_000, (case, size)


needs_faketime = pytest.mark.skipif(
    shutil.which("faketime") is None, reason="needs libfaketime (.ci/setup.d/12-tsa.sh)"
)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The vectors made again from scratch by make.py (once for this file), and
    where custody disagreed with a case."""
    out = tmp_path_factory.mktemp("vectors")
    return out, make.build(out)


@needs_faketime
def test_rebuilding_the_vectors_states_the_same_expectations(
    rebuilt: tuple[Path, list[str]],
) -> None:
    """make.py from scratch: every case as custody sees it, and the same
    expected.json and policy.json bytes as the committed ones (the bundles'
    own bytes differ: new ids, times and unit keys)."""
    out, disagreements = rebuilt
    assert disagreements == []
    for case in CASES:
        for name in ("expected.json", "policy.json"):
            committed = (VECTORS / case / name).read_bytes()
            assert (out / case / name).read_bytes() == committed, (case, name)


def _node_runs_the_page_on(vectors: Path) -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--test", "test/vectors.test.js"],
        cwd=VERIFIER,
        env={**os.environ, "CUSTODY_VECTORS": str(vectors)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    passed = re.search(r"^# pass (\d+)$", done.stdout, re.M)
    assert passed is not None and int(passed.group(1)) > len(CASES) // 2, done.stdout[-2000:]


needs_node = pytest.mark.skipif(
    NODE is None or not (VERIFIER / "node_modules" / "@noble").is_dir(),
    reason="needs node and the verifier's npm packages (cd verifier && npm ci)",
)


@needs_node
def test_the_page_gives_each_vector_its_expected_report() -> None:
    """`node --test verifier/test/`: the page's reading and judging code over
    the committed vectors (verifier/test/vectors.test.js)."""
    _node_runs_the_page_on(VECTORS)


@needs_node
@needs_faketime
def test_the_page_agrees_on_freshly_made_bundles(rebuilt: tuple[Path, list[str]]) -> None:
    out, disagreements = rebuilt
    assert disagreements == []
    _node_runs_the_page_on(out)


# --- every problem kind is in a vector, or said here why not ----------------------------

# Kinds the page reports as well as custody, but that no vector holds yet, and kinds
# only custody reports (docs/adr/0023-shared-test-vectors.md lists them with the same reasons).
NOT_IN_VECTORS = {
    # custody verify, not the page: they need what the page does not take.
    "bad_team_proof": "team log proofs need PostgreSQL; custody verify --team-key only",
    "ledger_mismatch": "needs the verifier's own ledger; custody verify only",
    "bad_metadata": "C2PA manifests in media: custody verify only",
    # Both verifiers, but out of reach: an archive holding a name twice, however
    # spelled, is refused whole before its members are listed (vectors zip-duplicate-name,
    # zip-duplicate-spelled-twice, tar-duplicate-name); the kind is the reader's backstop.
    "duplicate_entry": "refused earlier as a whole archive: never reported in practice",
    # Not bundle verification: custody ledger verify / audit, store, team audit.
    "bad_cosigned_checkpoint": "custody ledger verify (the ledger's cosigned checkpoints) "
    "and custody team verify",
    "bad_checkpoint": "custody ledger verify",
    "checkpoint_mismatch": "custody ledger verify",
    "missing_checkpoint": "custody ledger verify",
    "stale_checkpoint": "custody ledger verify",
    "truncated": "custody ledger verify",
    "cosigned_bad_signature": "custody ledger verify",
    "cosigned_beyond_ledger": "custody ledger verify",
    "cosigned_checkpoint_mismatch": "custody ledger verify",
    # Not bundle verification: a witness's receipt (custody receipt verify and the page's
    # receipt check), tested against both in tests/integration/test_intake.py.
    "not_a_receipt": "receipts, not bundles: tests/integration/test_intake.py",
    # Not bundle verification: disclosure packages (custody verify PACKAGE and the page),
    # each tampering tested against both verifiers in tests/test_disclose*.py.
    "bad_disclosure_leaves": "disclosure packages: tests/test_disclose*.py",
    "bad_disclosure_record": "disclosure packages: tests/test_disclose*.py",
    "bad_disclosure_signature": "disclosure packages: tests/test_disclose*.py",
    "bad_proof": "disclosure packages: tests/test_disclose*.py",
    "counts_mismatch": "disclosure packages: tests/test_disclose*.py",
    "disclosure_mismatch": "disclosure packages: tests/test_disclose*.py",
    "swapped": "disclosure packages: tests/test_disclose*.py",
    "disclosure": "disclosure packages (the page): tests/integration/test_disclose_page.py",
    "untrusted_discloser": "disclosure packages: tests/test_disclose*.py",
}


def _kinds_in_python() -> set[str]:
    kinds = set()
    for path in (REPO / "src" / "custody").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if (
                name == "Problem"
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and re.fullmatch(r"[a-z_]+", first.value)
            ):
                kinds.add(first.value)
    return kinds


def _kinds_in_page() -> set[str]:
    kinds = set()
    for path in (VERIFIER / "src").glob("*.js"):
        if path.name == "main.js":  # the page's own error kinds (input, internal)
            continue
        text = path.read_text(encoding="utf-8")
        kinds |= set(re.findall(r'(?:problem\(|kind: |_PROBLEM = |KIND = )"([a-z_]+)"', text))
    return kinds


def _kinds_in_vectors(verifier: str) -> set[str]:
    kinds = set()
    for case in CASES:
        data = expected(case)
        if verifier in data["verifiers"]:
            kinds |= {kind for kind, _ in data.get("problems", [])}
            if data.get("os_leftovers"):
                kinds.add("os_leftover")
    return kinds


def test_every_problem_kind_is_in_a_vector_or_said_why_not() -> None:
    python = _kinds_in_python() | {"os_leftover"}
    assert "untrusted_signer" in python and "changed" in python  # the scan finds them
    missing = python - _kinds_in_vectors("custody") - set(NOT_IN_VECTORS)
    assert not missing, f"kinds custody reports that no vector holds: {sorted(missing)}"
    page = _kinds_in_page()
    assert "changed" in page
    missing = page - _kinds_in_vectors("page") - set(NOT_IN_VECTORS)
    assert not missing, f"kinds the page reports that no page vector holds: {sorted(missing)}"
    stale = set(NOT_IN_VECTORS) & (_kinds_in_vectors("custody") | _kinds_in_vectors("page"))
    assert not stale, f"in a vector now, not an exception: {sorted(stale)}"


# --- the field formats the schemas pin ----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bundle_fingerprint", "c135c39a7f9a1407"),  # the page's old spelling
        ("bundle_fingerprint", "c135-c39a-7f9a-1407"),
        ("statement_sha256", "C135C39A" * 8),
        ("verified_at", "2026-12-07 22:00:00"),
        ("verified_at", "2026-12-07T22:00:00+00:00"),
        ("signed_no_later_than", "2026-12-07T22:00Z"),
    ],
)
def test_the_verify_schema_pins_its_field_formats(field: str, value: str, tmp_path: Path) -> None:
    from jsonschema import ValidationError

    env = Env(home=tmp_path / "home", tmp=tmp_path)
    _, report = custody_report(VECTORS / "timestamp-trusted", env)
    validate("verify", report)
    assert report["signed_no_later_than"] is not None
    with pytest.raises(ValidationError):
        validate("verify", {**report, field: value})
