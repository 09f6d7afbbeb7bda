"""The object shared by every command: where state lives and how to show things."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from custody.base.errors import CustodyError, KeyFileError
from custody.base.home import custody_home
from custody.base.keys import Signer, find_key, load_private_key, loose_permissions_warning
from custody.render import Renderer


class App:
    """Per-invocation state passed to commands with pass_obj."""

    def __init__(self) -> None:
        self.home: Path = custody_home()
        self.render = Renderer()

    def configure(self, *, json_output: bool = False, quiet: bool = False) -> Renderer:
        self.render = Renderer(json_output=json_output, quiet=quiet)
        return self.render

    def fail(self, error: CustodyError) -> None:
        if self.render.json_output:
            self.render.json(
                {"error": {"kind": error.kind, "path": error.path, "message": error.message}}
            )
        self.render.error(error.diagnostics())

    def passphrase(self, *, passphrase_file: Path | None, confirm: bool, purpose: str) -> bytes:
        """The passphrase from --passphrase-file, $CUSTODY_PASSPHRASE, or a prompt
        on a terminal, in that order. Never prompts without a terminal.

        `confirm` marks a new passphrase: it is asked twice at a terminal, and one
        shorter than MIN_PASSPHRASE characters is asked again there and refused
        from a file or the environment."""
        given = self._given_passphrase(passphrase_file)
        if given is not None:
            if confirm:
                problem = weak_passphrase(given)
                if problem:
                    raise KeyFileError(problem)
            return given
        for _ in range(PROMPT_TRIES):
            value = self._prompt(purpose, confirm=confirm)
            problem = weak_passphrase(value) if confirm else None
            if not problem:
                return value
            self.render.warning(problem)
        raise KeyFileError("no acceptable passphrase given")

    def _given_passphrase(self, passphrase_file: Path | None) -> bytes | None:
        """The passphrase from --passphrase-file or $CUSTODY_PASSPHRASE, if either is set."""
        if passphrase_file is not None:
            try:
                text = passphrase_file.read_bytes()
            except OSError as e:
                raise KeyFileError(
                    f"cannot read passphrase file ({e.strerror})", path=str(passphrase_file)
                ) from e
            line = text.splitlines()[0] if text.splitlines() else b""
            if not line:
                raise KeyFileError("passphrase file is empty", path=str(passphrase_file))
            return line
        env = os.environ.get("CUSTODY_PASSPHRASE")
        if env:
            return env.encode("utf-8")
        return None

    def _prompt(self, purpose: str, *, confirm: bool) -> bytes:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise KeyFileError(
                "a passphrase is needed: set CUSTODY_PASSPHRASE or use --passphrase-file "
                "(no terminal to ask on)"
            )
        value: str = click.prompt(
            f"Passphrase {purpose}", hide_input=True, confirmation_prompt=confirm, err=True
        )
        if not value:
            raise KeyFileError("empty passphrase")
        return value.encode("utf-8")

    def signer(self, *, key: str | None, passphrase_file: Path | None) -> Signer:
        """Choose and unlock one of the user's keys: --key, $CUSTODY_KEY, or the only one.

        A wrong passphrase typed at a terminal is asked again, up to PROMPT_TRIES times;
        one from a file or the environment fails at once."""
        pair = find_key(home=self.home, selector=key or os.environ.get("CUSTODY_KEY"))
        warning = loose_permissions_warning(pair.private_key_path)
        if warning:
            self.render.warning(warning)
        if not pair.encrypted:
            return Signer(pair.name, load_private_key(pair, None))
        given = self._given_passphrase(passphrase_file)
        if given is not None:
            return Signer(pair.name, load_private_key(pair, given))
        purpose = f"for key '{pair.key_id}'"
        for attempt in range(1, PROMPT_TRIES + 1):
            passphrase = self._prompt(purpose, confirm=False)
            try:
                return Signer(pair.name, load_private_key(pair, passphrase))
            except KeyFileError as e:
                if attempt == PROMPT_TRIES or "wrong passphrase" not in e.message:
                    raise
                self.render.warning("wrong passphrase; try again")
        raise AssertionError("unreachable")  # pragma: no cover


MIN_PASSPHRASE = 12
"""Characters a new passphrase needs at least: three or four random words pass easily."""
PROMPT_TRIES = 3


def weak_passphrase(passphrase: bytes) -> str | None:
    """Why a new passphrase is refused, or None. Length is counted in characters."""
    length = len(passphrase.decode("utf-8", "replace"))
    if length < MIN_PASSPHRASE:
        return (
            f"passphrase too short ({length} characters): use at least {MIN_PASSPHRASE}, "
            "e.g. three or four random words"
        )
    return None


pass_app = click.make_pass_decorator(App)
