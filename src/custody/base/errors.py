"""The error hierarchy. Each class carries the process exit code it maps to.

Exit codes (documented in docs/exit-codes.md and every command's --help):
  0  success / verified
  1  not verified: something is wrong with the evidence, signature or trust
  2  usage error, or input that is not what the command needs (not a bundle,
     a bad key file, a wrong passphrase, an unusable source folder)
  3  the environment failed us: disk full, permission denied on output, I/O error
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_NOT_VERIFIED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERRUPTED = 130
"""SIGINT or SIGTERM (128 + SIGINT, as shells report a process stopped by Ctrl-C)."""


class CustodyError(Exception):
    """Base of every error custody reports to a user as one line."""

    exit_code: int = EXIT_USAGE
    kind: str = "error"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def diagnostics(self) -> str:
        """One line for a person: the file (when there is one) and the problem.

        Raw text: a path from evidence may hold any character. Whatever shows it
        (render's error line, the JSON error) makes it visible (custody.base.textsafe)."""
        if self.path is not None:
            return f"{self.path}: {self.message}"
        return self.message


class InputError(CustodyError):
    """The input given to a command is unusable (bad source, not a bundle...)."""

    kind = "input"


class NotABundleError(InputError):
    """The path given as a bundle is not a custody bundle at all."""

    kind = "not_a_bundle"


class KeyFileError(CustodyError):
    """A key cannot be created, found, decrypted or is of the wrong type."""

    kind = "key"


class SourceChangedError(InputError):
    """A source file changed while custody was reading it."""

    kind = "source_changed"


class AlreadyIngested(InputError):
    """The same content was already ingested under the same case and exhibit
    (docs/ledger.md, "One bundle per content"); `ingest --again` makes another."""

    kind = "already_ingested"


class EnvironmentFailure(CustodyError):
    """The machine failed us: disk full, permissions on the output, I/O errors."""

    exit_code = EXIT_ENVIRONMENT
    kind = "environment"


class LedgerDamaged(CustodyError):
    """The ledger no longer matches its signed checkpoint: custody adds nothing
    to it (docs/ledger.md, "Before every append")."""

    exit_code = EXIT_NOT_VERIFIED
    kind = "ledger_damaged"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, with what the interrupted work left behind, in one line.

    A KeyboardInterrupt rather than a CustodyError on purpose: code that
    handles CustodyError (a batch going on to its next source) must never
    swallow it. The CLI prints `custody: interrupted; <message>` and exits 130."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VerificationFailed(CustodyError):
    """Raised by the raising style of verification when a bundle does not verify."""

    exit_code = EXIT_NOT_VERIFIED
    kind = "not_verified"


class BadSignature(VerificationFailed):
    """A signature that does not verify over exactly the bytes given (base/signing.py)."""
