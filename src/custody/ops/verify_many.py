"""Verifying many bundles in one process: `custody verify B1 B2 ...`, `--from LIST`.

A registry checking its holdings each night verifies thousands of bundles; one
process per bundle pays the interpreter's and custody's start-up each time, most
of the cost for a small bundle. Here the trust policy is loaded once and whole
bundles are spread over a pool of processes, one per core (the checks are
Python, which threads would not run side by side). Each worker hashes its bundle
on its share of the cores, so that the pool and the hashing threads inside one
verification (custody.base.workers) do not multiply into more threads than cores.

Results come back in input order (a night's output diffs cleanly against the
last), at most a few bundles ahead of the caller: memory stays flat however
long the list is. The workers are forked, so they inherit the policy already
loaded (it holds key and certificate objects that cannot be pickled); where
forking is unsafe (not Linux) bundles are verified one after another here.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.base.errors import EXIT_NOT_VERIFIED, CustodyError, EnvironmentFailure, InputError
from custody.base.models import VerifyReport
from custody.base.workers import default_workers
from custody.bundle.read.reader import scan_bundle
from custody.ops.actions import evaluate_with_home

if TYPE_CHECKING:
    from concurrent.futures import Future

    from custody.ops.disclosure.verify import PackageReport
    from custody.policy import TrustPolicy


@dataclass(frozen=True)
class BundleRef:
    """One bundle to verify: a path or an s3:// URL, and its line in a list file."""

    target: str
    line: int | None = None


@dataclass(frozen=True)
class Unusable:
    """Why a bundle could not be verified at all (not a bundle, unreadable, the
    store unreachable): the error's kind, path, message and exit code."""

    kind: str
    path: str | None
    message: str
    exit_code: int

    @classmethod
    def of(cls, error: CustodyError) -> Unusable:
        return cls(error.kind, error.path, error.message, error.exit_code)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "message": self.message,
            "exit_code": self.exit_code,
        }


@dataclass(frozen=True)
class VerifyOutcome:
    """One bundle's result: its report, or why there is none."""

    ref: BundleRef
    report: VerifyReport | None = None
    error: Unusable | None = None
    package: PackageReport | None = None
    """A disclosure package (custody disclose) is verified as one, not as a bundle."""

    @property
    def exit_code(self) -> int:
        """0 verified, 1 not verified, else the error's code (2 unusable, 3 machine)."""
        if self.error is not None:
            return self.error.exit_code
        if self.package is not None:
            return 0 if self.package.verified else EXIT_NOT_VERIFIED
        assert self.report is not None
        return 0 if self.report.verified else EXIT_NOT_VERIFIED

    def to_json(self) -> dict[str, Any]:
        """The object `custody verify --json` prints for this one target (with
        `kind`: `bundle` or `disclosure`), or an error object naming it."""
        if self.package is not None:
            return self.package.to_json()  # its "kind" is "disclosure"
        if self.report is not None:
            return {**self.report.to_json(), "kind": "bundle"}
        assert self.error is not None
        return {"bundle": self.ref.target, "verified": False, "error": self.error.to_json()}


@dataclass(frozen=True)
class VerifyTally:
    """Counts over a run of outcomes, and the exit code they make together."""

    verified: int = 0
    not_verified: int = 0
    unusable: int = 0
    exit_code: int = 0

    def add(self, outcome: VerifyOutcome) -> VerifyTally:
        code = outcome.exit_code
        return VerifyTally(
            verified=self.verified + (code == 0),
            not_verified=self.not_verified + (code == EXIT_NOT_VERIFIED),
            unusable=self.unusable + (code > EXIT_NOT_VERIFIED),
            exit_code=max(self.exit_code, code),  # the most serious wins
        )

    @property
    def bundles(self) -> int:
        return self.verified + self.not_verified + self.unusable

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": {
                "bundles": self.bundles,
                "verified": self.verified,
                "not_verified": self.not_verified,
                "unusable": self.unusable,
                "exit_code": self.exit_code,
            }
        }


def parse_bundle_list(text: str, *, base: Path, name: str = "") -> list[BundleRef]:
    """Bundles from a list file: one path or s3:// URL per line. Blank lines and
    lines starting with '#' are skipped; relative paths are relative to `base`,
    the list file's folder. Raises InputError, naming the line, for a line that
    names the same path as an earlier one ('./' and doubled '/' aside; the same
    bundle twice is a mistake in the list)."""
    refs: list[BundleRef] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        target = line if _is_s3(line) else str(base / line)  # base / an absolute: itself
        if target in seen:
            raise InputError(
                f"line {number} repeats line {seen[target]} (the same bundle)",
                path=name or None,
            )
        seen[target] = number
        refs.append(BundleRef(target, number))
    return refs


def pool_size(count: int, workers: int | None = None) -> int:
    """Processes to verify `count` bundles with: `workers`, else one per core, never
    more than there are bundles; 1 (no pool) where workers cannot be forked."""
    if not sys.platform.startswith("linux"):
        return 1
    return max(1, min(workers or os.cpu_count() or 1, count))


def verify_many(
    *,
    home: Path,
    bundles: Iterable[BundleRef],
    count: int,
    policy: TrustPolicy,
    endpoint_url: str | None = None,
    workers: int | None = None,
    with_files: bool = False,
) -> Iterator[VerifyOutcome]:
    """Verify each bundle against `policy` (and this user's ledger), yielding one
    outcome per bundle in input order as soon as it and those before it are done.

    `count` is how many bundles there are (to size the pool); `workers` the
    processes to use (default: one per core; 1 verifies here, one after another).
    `with_files` keeps each report's file table (`--json` prints it). A bundle
    that cannot be verified is an outcome with an error, never an exception;
    raises EnvironmentFailure only if a worker process dies."""
    size = pool_size(count, workers)
    here = _Settings(home, policy, endpoint_url, default_workers(), with_files)
    refs = iter(bundles)
    if size <= 1:
        for ref in refs:
            yield _verify_one(ref, here)
        return
    # The first bundle is verified here, before the workers are forked: the modules a
    # verification imports on first use (the ledger and timestamp checks) are then
    # imported once and inherited, not once per worker (15 ms each, measured).
    first = next(refs, None)
    if first is not None:
        yield _verify_one(first, here)
    yield from _pooled(refs, replace(here, hash_threads=max(1, default_workers() // size)), size)


@dataclass(frozen=True)
class _Settings:
    """What every worker needs, handed over once (inherited through fork)."""

    home: Path
    policy: TrustPolicy
    endpoint_url: str | None
    hash_threads: int
    with_files: bool


_settings: _Settings | None = None


def _init_worker(settings: _Settings) -> None:
    global _settings
    _settings = settings
    # Ctrl-C reaches the whole process group: a worker ends at once and quietly (no
    # traceback of its own), and the command reports the interruption once.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _verify_in_worker(ref: BundleRef) -> VerifyOutcome:
    assert _settings is not None
    return _verify_one(ref, _settings)


def _pooled(
    bundles: Iterable[BundleRef], settings: _Settings, size: int
) -> Iterator[VerifyOutcome]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("fork")
    window = size * 2  # bundles in flight: every worker busy, one more queued each
    pending: deque[Future[VerifyOutcome]] = deque()
    pool = ProcessPoolExecutor(
        max_workers=size, mp_context=context, initializer=_init_worker, initargs=(settings,)
    )
    try:
        for ref in bundles:
            pending.append(pool.submit(_verify_in_worker, ref))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool as e:
        raise EnvironmentFailure(
            "a verifying process died (out of memory, or killed); the batch stopped"
        ) from e
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _verify_one(ref: BundleRef, settings: _Settings) -> VerifyOutcome:
    """One bundle's outcome; a CustodyError becomes an Unusable outcome."""
    try:
        if _is_s3(ref.target):
            from custody.ops.store_verify import verify_stored_bundle

            report = verify_stored_bundle(
                home=settings.home,
                source=ref.target,
                policy=settings.policy,
                endpoint_url=settings.endpoint_url,
            )
        else:
            from custody.ops.disclosure.verify import evaluate_package, is_package

            scan = scan_bundle(Path(ref.target), workers=settings.hash_threads)
            if is_package(Path(ref.target)):
                return VerifyOutcome(ref, package=evaluate_package(scan, settings.policy))
            report = evaluate_with_home(home=settings.home, scan=scan, policy=settings.policy)
    except CustodyError as e:
        return VerifyOutcome(ref, error=Unusable.of(e))
    # The file table is built lazily by a closure, which cannot cross processes:
    # build it here when it is wanted, drop it when it is not.
    table = _Rows(tuple(report.files)) if settings.with_files else None
    return VerifyOutcome(ref, report=replace(report, file_table=table))


@dataclass(frozen=True)
class _Rows:
    """A report's file table, built already (picklable, unlike the lazy one)."""

    rows: tuple[dict[str, Any], ...]

    def __call__(self) -> tuple[dict[str, Any], ...]:
        return self.rows


def _is_s3(target: str) -> bool:
    from custody.io.s3.location import is_s3_url

    return is_s3_url(target)
