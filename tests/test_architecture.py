"""The shape of the code and of the tests, as docs/architecture.md and docs/testing.md state it.

The import contracts in .importlinter hold (and catch the imports they forbid), and the
`integration` marker selects exactly the tests docs/testing.md says it does, so that
`python -m pytest -m "not integration"` is the fast loop and nothing slow hides in it.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from conftest import INTEGRATION_FILES, INTEGRATION_FIXTURES, INTEGRATION_TESTS, REPO


def lint_imports() -> str | None:
    """The lint-imports command of this environment, or None when it is not installed."""
    beside = Path(sys.executable).parent / "lint-imports"
    return str(beside) if beside.exists() else shutil.which("lint-imports")


needs_import_linter = pytest.mark.skipif(
    lint_imports() is None, reason="import-linter is not installed (pip install -e '.[test]')"
)


def run_lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    command = lint_imports()
    assert command is not None
    return subprocess.run(
        [command, "--no-cache"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_import_linter
def test_the_import_contracts_hold() -> None:
    done = run_lint_imports(REPO, REPO / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    assert "BROKEN" not in done.stdout


# One forbidden import per contract: (module file, line added, the contract it breaks).
BREAKS = [
    ("custody/base/errors.py", "import click", "click is imported only in custody.cli"),
    ("custody/base/models.py", "import rich", "rich is imported only in custody.render"),
    ("custody/base/keys.py", "from custody import ledger", "Layers: cli above"),
    (
        "custody/tlog/merkle.py",
        "from custody.bundle.format import layout",
        "Layers: cli above",
    ),
    ("custody/io/ledger_store.py", "from custody.ops import actions", "Layers: cli above"),
    ("custody/ledger/proof.py", "from custody.team import leaves", "Layers: cli above"),
    ("custody/tlog/merkle.py", "import sqlite3", "The domain and the base reach no network"),
    ("custody/tsa/token.py", "from custody.io.s3 import client", "Layers: cli above"),
    ("custody/bundle/verify/check_time.py", "import urllib.request", "The domain and the base"),
    ("custody/ops/store_push.py", "import psycopg", "SQL, sockets and HTTP only in the adapters"),
    ("custody/ops/store_push.py", "from custody.render import _base", "Only the command line"),
    ("custody/ops/actions.py", "import custody.cli", "Nothing below the command line"),
    (
        "custody/bundle/format/layout.py",
        "from custody.bundle.read import scan",
        "in custody.bundle.",
    ),
    ("custody/tlog/note.py", "from custody.tlog import cosignature", "in custody.tlog."),
]


@needs_import_linter
@pytest.mark.parametrize(("module", "line", "contract"), BREAKS, ids=[b[1] for b in BREAKS])
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    path = tmp_path / "src" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    done = run_lint_imports(tmp_path, tmp_path / "src")
    assert done.returncode == 1, done.stdout + done.stderr
    _, _, broken = done.stdout.partition("Broken contracts")
    assert contract in broken, done.stdout
    if contract.startswith("in "):  # the cycle contract names the package holding the cycle
        assert f"No cycles are allowed {contract}" in broken, done.stdout
    else:
        assert module.removesuffix(".py").replace("/", ".") in broken


# --- the integration marker ------------------------------------------------------------

COLLECTOR = """
import json, os
def pytest_collection_finish(session):
    rows = {
        item.nodeid: {
            "integration": item.get_closest_marker("integration") is not None,
            "fixtures": sorted(getattr(item, "fixturenames", ())),
            "file": item.path.name,
            "function": getattr(item, "originalname", item.name),
        }
        for item in session.items
    }
    with open(os.environ["CUSTODY_COLLECTED"], "w") as f:
        json.dump(rows, f)
"""


@cache
def collected() -> dict[str, dict]:
    """Every test the test command collects, with its marker and fixtures."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "custody_collector.py").write_text(COLLECTOR)
        out = Path(tmp) / "collected.json"
        path = os.pathsep.join(filter(None, [tmp, os.environ.get("PYTHONPATH")]))
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "custody_collector"],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": path, "CUSTODY_COLLECTED": str(out)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return dict(json.loads(out.read_text()))


def test_every_test_with_a_server_or_browser_fixture_is_integration() -> None:
    tests = collected()
    assert any(set(t["fixtures"]) & {"pg", "own_pg"} for t in tests.values())
    unmarked = [
        node
        for node, t in tests.items()
        if set(t["fixtures"]) & INTEGRATION_FIXTURES and not t["integration"]
    ]
    assert unmarked == []


def test_the_named_files_and_tests_are_integration_and_exist() -> None:
    tests = collected().values()
    files = {t["file"] for t in tests}
    named = {f"{t['file']}::{t['function']}" for t in tests}
    assert not INTEGRATION_FILES - files, INTEGRATION_FILES - files
    assert not INTEGRATION_TESTS - named, INTEGRATION_TESTS - named
    for t in tests:
        if t["file"] in INTEGRATION_FILES or f"{t['file']}::{t['function']}" in INTEGRATION_TESTS:
            assert t["integration"], t


def test_the_fast_loop_keeps_the_tests_that_need_nothing() -> None:
    tests = collected().values()
    fast = [t for t in tests if not t["integration"]]
    assert len(fast) > len(tests) / 2
    assert not any(t["file"] == "test_merkle.py" and t["integration"] for t in tests)


# Names that start a server, a browser or node wherever a test (or a helper of its file, or
# a fixture of its file) uses them.
STARTERS = frozenset(
    {
        "browser",
        "print_to_pdf",
        "start_witness",
        "PgServer",
        "S3Server",
        "TsaServer",
        "_chromium",
        "NODE",
    }
)


def starting_tests(path: Path) -> set[str]:
    """The test functions of one file that reach a starter through the file's own functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }

    def names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
        used = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
        return used | {a.arg for a in function.args.args + function.args.kwonlyargs}

    uses = {name: names(f) for name, f in functions.items()}
    starts = {name for name, used in uses.items() if used & STARTERS}
    while True:
        more = {name for name, used in uses.items() if used & starts} - starts
        if not more:
            break
        starts |= more
    return {name for name in starts if name.startswith("test_")}


def test_every_test_that_starts_a_server_or_browser_is_integration() -> None:
    by_function: dict[tuple[str, str], list[bool]] = {}
    for t in collected().values():
        by_function.setdefault((t["file"], t["function"]), []).append(t["integration"])
    found = set()
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        for name in starting_tests(path):
            found.add((path.name, name))
            marks = by_function.get((path.name, name), [])
            assert marks and all(marks), f"{path.name}::{name} starts a server or browser"
    assert ("test_court.py", "test_report_printed_to_pdf_for_a_verified_bundle") in found


# --- the public Python API -------------------------------------------------------------


def test_the_public_api_names_resolve_and_operations_take_keywords() -> None:
    import inspect

    import custody

    assert "verify_with_home" in custody.__all__
    for name in custody.__all__:
        value = getattr(custody, name)
        if inspect.isfunction(value) and not name.startswith("parse_"):
            kinds = {p.kind for p in inspect.signature(value).parameters.values()}
            assert kinds <= {inspect.Parameter.KEYWORD_ONLY}, name
    with pytest.raises(AttributeError):
        _ = custody.no_such_name  # type: ignore[attr-defined]


def test_importing_custody_loads_no_operation() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, custody; print(any(m.startswith('custody.ops') for m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "False"
