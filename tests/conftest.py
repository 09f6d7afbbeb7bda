"""Shared fixtures: a private $CUSTODY_HOME, an officer's key, evidence folders, bundles.

Everything is real: real files in tmp_path, real Ed25519 keys, the real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from custody.cli import cli

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
EXAMPLES = REPO / "examples" / "evidence"
PASSPHRASE = "correct horse battery staple"

# Property-based tests draw the same examples on every run and every machine, in
# CI and out of it, so the test command fails only for a reason. No example
# database: a run depends on nothing a previous run left behind.
settings.register_profile(
    "default", derandomize=True, database=None, max_examples=300, deadline=None, print_blob=True
)
# Exploration is a separate, explicit step (fuzz/explore): fresh examples drawn
# from --hypothesis-seed, printed by the script, so a failure is reproduced from
# the log alone with the same seed.
settings.register_profile(
    "explore",
    derandomize=False,
    database=None,
    max_examples=int(os.environ.get("CUSTODY_EXPLORE_EXAMPLES", "3000")),
    deadline=None,
    print_blob=True,
)
# The fast loop (-m "not integration") draws fewer of the same derandomized examples: a
# developer's edit-test cycle, not the test command, which CI runs with "default".
settings.register_profile(
    "fast", derandomize=True, database=None, max_examples=50, deadline=None, print_blob=True
)
# --hypothesis-profile on the command line, read after this file, takes precedence.
settings.load_profile("default")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("markexpr", "") == "not integration" and not config.getoption(
        "hypothesis_profile", None
    ):
        settings.load_profile("fast")


# --- the fast loop: `python -m pytest -m "not integration"` (docs/testing.md) ---------------

# A test is an integration test when it uses one of these fixtures (each starts a real
# server or browser) or lives in one of these files (every test in them starts a server, a
# browser, node, or kills and restarts real custody processes).
INTEGRATION_FIXTURES = frozenset(
    {
        "pg",  # PostgreSQL (tests/pg_server.py)
        "own_pg",
        "s3_server",  # SeaweedFS S3 (tests/s3_server.py)
        "tsa_server",  # the RFC 3161 TSA over HTTP (tests/tsa_server.py)
        "driver",  # headless Chromium (tests/browser_page.py)
        "witness",  # the witness server over HTTP (tests/witness_server.py)
    }
)
INTEGRATION_FILES = frozenset(
    {
        "test_intake.py",  # the intake server (tests/intake_server.py) and Chromium
        "test_intake_shared.py",  # two intake servers sharing PostgreSQL and S3
        "test_verifier_page.py",  # Chromium
        "test_verifier_page_timestamps.py",  # Chromium and the TSA server
        "test_verifier_page_scale.py",  # Chromium on a zip of 15,000 members
        "test_archive_readings_page.py",  # Chromium
        "test_report_pdf.py",  # Chromium prints the report, pdftotext reads it
        "test_timestamp_parity.py",  # node runs the page's verifier
        "test_witness.py",  # witness servers over HTTP, kill -9 and restart
        "test_team.py",  # PostgreSQL
        "test_similar_team.py",  # PostgreSQL
        "test_similar_store.py",  # the S3 server
        "test_team_witness.py",  # PostgreSQL and a witness server
        "test_store.py",  # the S3 server
        "test_store_pack.py",  # the S3 server, and one killed mid-push
        "test_interrupt.py",  # SIGINT/SIGTERM to real ingests
        "test_interrupted.py",  # kill -9 at each fault point, then the next commands
        "test_resume.py",  # kill -9 and Ctrl-C of real ingests, then resumed
        "test_crash.py",  # kill -9 at random moments, concurrent ingests
        "test_disclose_page.py",  # Chromium runs the page on disclosure packages
    }
)

# And these tests in files that are otherwise fast, by file and function name.
INTEGRATION_TESTS = frozenset(
    {
        # pip installs custody into a fresh virtual environment, as a new user does.
        "test_docs.py::test_readme_quick_start_runs_on_a_fresh_copy",
        # Chromium, started by the test itself (browser_page.browser, chromium --print-to-pdf).
        "test_names.py::test_the_page_gives_custody_verify_s_verdict",
        "test_court.py::test_report_printed_to_pdf_for_a_verified_bundle",
        "test_court.py::test_report_printed_to_pdf_for_a_tampered_bundle",
        # node runs the page's code over the shared vectors; rebuilding them starts the
        # test TSA server and a witness server (tests/vectors/make.py).
        "test_vectors.py::test_the_page_gives_each_vector_its_expected_report",
        "test_vectors.py::test_the_page_agrees_on_freshly_made_bundles",
        "test_vectors.py::test_rebuilding_the_vectors_states_the_same_expectations",
    }
)


def is_integration(item: pytest.Item) -> bool:
    """Whether a collected test needs a server, a browser, node or long subprocess runs."""
    if item.path.name in INTEGRATION_FILES:
        return True
    function = getattr(item, "originalname", item.name)
    if f"{item.path.name}::{function}" in INTEGRATION_TESTS:
        return True
    return not INTEGRATION_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_integration(item):
            item.add_marker(pytest.mark.integration)


@dataclass
class Env:
    """One user's custody environment: a home directory and a way to run custody."""

    home: Path
    tmp: Path

    def run(
        self,
        *args: str | os.PathLike[str],
        input: str | None = None,
        env: dict[str, str | None] | None = None,
    ) -> Result:
        full_env: dict[str, str | None] = {
            "CUSTODY_HOME": str(self.home),
            "CUSTODY_PASSPHRASE": PASSPHRASE,
            "CUSTODY_KEY": None,
        }
        full_env.update(env or {})
        runner = CliRunner()
        return runner.invoke(
            cli, [str(a) for a in args], env=full_env, input=input, catch_exceptions=False
        )

    def run_json(self, *args: str | os.PathLike[str]) -> tuple[Result, dict]:
        result = self.run(*args, "--json")
        return result, json.loads(result.stdout)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(home=tmp_path / "home", tmp=tmp_path)


@pytest.fixture
def officer(env: Env) -> dict:
    """A key for 'PC Jane Smith, War Crimes Team', created through the CLI."""
    result, data = env.run_json("keygen", "--name", "PC Jane Smith, War Crimes Team")
    assert result.exit_code == 0, result.output
    return data


def make_evidence(root: Path) -> Path:
    """A source folder with the kinds of names and files a witness's phone produces."""
    root.mkdir(parents=True)
    shutil.copytree(EXAMPLES, root, dirs_exist_ok=True)
    (root / "empty.txt").write_bytes(b"")
    (root / "-leading dash [1] (copy).txt").write_text("dash\n")
    nfc = unicodedata.normalize("NFC", "Café.txt")
    nfd = unicodedata.normalize("NFD", "Café.txt")
    (root / nfc).write_text("composed\n")
    (root / nfd).write_text("decomposed\n")
    (root / "Свидетель 证人 شاهد.txt").write_text("unicode\n")
    deep = root
    for i in range(30):
        deep = deep / f"level-{i:02d}"
    deep.mkdir(parents=True)
    (deep / "deep.bin").write_bytes(os.urandom(70_000))
    os.utime(root / "empty.txt", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    return root


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    return make_evidence(tmp_path / "evidence")


@pytest.fixture
def ingest(env: Env, officer: dict) -> Callable[..., tuple[Result, dict]]:
    def do(source: Path, *extra: str) -> tuple[Result, dict]:
        result = env.run(
            "ingest", source, "--case", "ICC-2026-014", "--exhibit", "JS/1", "--json", *extra
        )
        data = json.loads(result.stdout) if result.stdout.strip() else {}
        return result, data

    return do


@pytest.fixture
def bundle(env: Env, evidence: Path, ingest: Callable[..., tuple[Result, dict]]) -> Path:
    result, data = ingest(evidence, "--out", str(env.tmp / "out"))
    assert result.exit_code == 0, result.output
    return Path(data["bundle"])


def validate(name: str, document: object) -> None:
    """Check a --json output against its schema in docs/schemas/."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = REPO / "docs" / "schemas"
    schema = json.loads((schemas / f"{name}.schema.json").read_text())
    registry: Registry = Registry().with_resources(
        (p.name, Resource.from_contents(json.loads(p.read_text())))
        for p in schemas.glob("*.schema.json")
    )
    Draft202012Validator(schema, registry=registry).validate(document)


def tree_snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every entry below root with its content (or link target), mode and mtime."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            if p.is_symlink():
                content = os.readlink(p).encode()
            elif p.is_file():
                content = p.read_bytes()
            else:
                content = b""
            snap[str(p.relative_to(root))] = (content, st.st_mode, st.st_mtime_ns)
    return snap


def refresh_tag_manifest(bundle: Path) -> None:
    """Recompute tagmanifest-sha256.txt the way a careful forger would."""
    import hashlib

    lines = []
    for line in (bundle / "tagmanifest-sha256.txt").read_text().splitlines():
        name = line[66:]
        if (bundle / name).exists():
            lines.append(hashlib.sha256((bundle / name).read_bytes()).hexdigest() + "  " + name)
    (bundle / "tagmanifest-sha256.txt").write_text("\n".join(lines) + "\n")


# --- a real PostgreSQL for the team-log tests (tests/pg_server.py) -------------------------


@pytest.fixture(scope="session")
def pg() -> Iterator[Any]:
    """One server for the session; each test makes its own database in it.
    No fsync: a killed process never loses the OS's page cache, and the tests
    that kill the server itself use own_pg, with fsync."""
    from pg_server import PgServer  # psycopg only where PostgreSQL is used

    server = PgServer(fsync=False)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def own_pg() -> Iterator[Any]:
    """A server of this test's own, for tests that stop or kill it."""
    from pg_server import PgServer

    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()
