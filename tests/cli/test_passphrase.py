"""Passphrases as an officer types them (issue 28, item 7): a new one that is too short is
asked again at a terminal and refused from a file or the environment; a wrong one typed at a
terminal is asked again. The terminal is a real pseudo-terminal running the real CLI."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sys
import time
from pathlib import Path

from conftest import PASSPHRASE, Env

# click's prompts, matched whole: a warning line that happens to arrive cut after a
# colon ("custody: warning:") must not be taken for one.
PROMPT = re.compile(rb"(Passphrase for [^\r\n]*|Repeat for confirmation): ?$")


def on_terminal(args: list[str], answers: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run custody on a pseudo-terminal, typing each answer after each passphrase prompt.
    Returns the exit status and everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: custody, with the pty as its controlling terminal
        os.execve(sys.executable, [sys.executable, "-m", "custody", *args], env)
    shown = b""
    answered_at = 0  # what the terminal had shown when the last answer was typed
    pending = list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        # Answer each prompt once, when it has been shown since the last answer.
        if pending and PROMPT.search(shown[answered_at:]):
            os.write(fd, pending.pop(0).encode() + b"\r")
            answered_at = len(shown)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")


def terminal_env(env: Env) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k != "CUSTODY_PASSPHRASE"}
    values.update(CUSTODY_HOME=str(env.home), COLUMNS="80", TERM="xterm")
    return values


def test_a_short_new_passphrase_is_refused_without_a_terminal(env: Env, tmp_path: Path) -> None:
    result = env.run("keygen", "--name", "PC Short", env={"CUSTODY_PASSPHRASE": "sixsix"})
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "custody: error: passphrase too short (6 characters): use at least 12, "
        "e.g. three or four random words"
    ]
    assert not (env.home / "keys").exists() or not list((env.home / "keys").iterdir())
    short = tmp_path / "short.txt"
    short.write_text("elevenchars\n")
    result = env.run("keygen", "--name", "PC Short", "--passphrase-file", short)
    assert result.exit_code == 2 and "(11 characters)" in result.stderr
    # Twelve characters, counted as characters, not bytes: accepted.
    result = env.run("keygen", "--name", "PC Long", env={"CUSTODY_PASSPHRASE": "ключ-ключ-12"})
    assert result.exit_code == 0, result.output


def test_a_short_new_passphrase_is_asked_again_at_a_terminal(env: Env) -> None:
    good = "three random words"
    code, shown = on_terminal(
        ["keygen", "--name", "PC Jane Smith", "--json"],
        ["sixsix", "sixsix", good, good],
        terminal_env(env),
    )
    assert code == 0, shown
    assert "passphrase too short (6 characters)" in shown
    key = json.loads(shown[shown.index("{") : shown.rindex("}") + 1])
    # The key is encrypted with the second, long passphrase.
    from cryptography.hazmat.primitives import serialization

    serialization.load_pem_private_key(Path(key["private_key"]).read_bytes(), good.encode())


def test_a_wrong_passphrase_at_a_terminal_is_asked_again(env: Env, officer: dict) -> None:
    src = env.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    code, shown = on_terminal(
        ["ingest", str(src), "--case", "C1", "--out", str(env.tmp / "b")],
        ["not it", PASSPHRASE],
        terminal_env(env),
    )
    assert code == 0, shown
    assert shown.count("wrong passphrase; try again") == 1
    assert (env.tmp / "b" / "bagit.txt").exists()


def test_three_wrong_passphrases_at_a_terminal_fail_with_one_line(env: Env, officer: dict) -> None:
    src = env.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    code, shown = on_terminal(
        ["ingest", str(src), "--case", "C1", "--out", str(env.tmp / "b")],
        ["one", "two", "three"],
        terminal_env(env),
    )
    assert code == 2, shown
    assert shown.count("wrong passphrase; try again") == 2
    assert "wrong passphrase, or damaged key file" in shown
    assert "Traceback" not in shown
    assert not (env.tmp / "b").exists()
