"""The self-contained offline verifier page (`custody verifier`).

The page is built from verifier/ (npm, esbuild) into one HTML file that ships
with custody as package data, so writing it needs no Node. See
docs/verifier-page.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from custody.base.errors import EnvironmentFailure
from custody.base.fsutil import environment_error, replace_file
from custody.base.hashing import sha256_bytes

PAGE_NAME = "verify-bundle.html"


@dataclass(frozen=True)
class VerifierPage:
    """The page as written: where, its SHA-256 and its size."""

    path: Path
    sha256: str
    size: int

    def to_json(self) -> dict[str, object]:
        return {"path": str(self.path), "sha256": self.sha256, "bytes": self.size}


def page_bytes() -> bytes:
    """The page's exact bytes, as shipped in this installation of custody.
    Raises EnvironmentFailure when the installation lacks it."""
    try:
        return resources.files(__name__).joinpath(PAGE_NAME).read_bytes()
    except OSError as e:
        raise EnvironmentFailure(
            "this installation of custody has no verifier page (reinstall custody)",
            path=PAGE_NAME,
        ) from e


def write_verifier_page(*, output: Path) -> VerifierPage:
    """Write the verifier page to `output` atomically (a temporary file renamed
    into place). Returns where it went and its SHA-256. Raises
    EnvironmentFailure when it cannot be written."""
    data = page_bytes()
    try:
        replace_file(output, data)
    except OSError as e:
        raise environment_error(e, output) from e
    return VerifierPage(output, sha256_bytes(data), len(data))
