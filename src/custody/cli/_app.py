"""The object shared by every command: where state lives and how to show things."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..errors import CustodyError, KeyFileError
from ..home import custody_home
from ..keys import Signer, find_key, load_private_key, loose_permissions_warning
from ..render import Renderer


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
        on a terminal, in that order. Never prompts without a terminal."""
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
        if sys.stdin.isatty() and sys.stderr.isatty():
            value: str = click.prompt(
                f"Passphrase {purpose}",
                hide_input=True,
                confirmation_prompt=confirm,
                err=True,
            )
            if not value:
                raise KeyFileError("empty passphrase")
            return value.encode("utf-8")
        raise KeyFileError(
            "a passphrase is needed: set CUSTODY_PASSPHRASE or use --passphrase-file "
            "(no terminal to ask on)"
        )

    def signer(self, *, key: str | None, passphrase_file: Path | None) -> Signer:
        """Choose and unlock one of the user's keys: --key, $CUSTODY_KEY, or the only one."""
        pair = find_key(home=self.home, selector=key or os.environ.get("CUSTODY_KEY"))
        warning = loose_permissions_warning(pair.private_key_path)
        if warning:
            self.render.warning(warning)
        passphrase = (
            self.passphrase(
                passphrase_file=passphrase_file, confirm=False, purpose=f"for key '{pair.key_id}'"
            )
            if pair.encrypted
            else None
        )
        return Signer(pair.name, load_private_key(pair, passphrase))


pass_app = click.make_pass_decorator(App)
