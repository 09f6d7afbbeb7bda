"""Every command's --help carries examples, as README.md promises, and each example runs the
command it documents (so a renamed command or option cannot leave a stale example)."""

from __future__ import annotations

import shlex

import click
import pytest
from click.testing import CliRunner

from custody.cli import cli


def leaf_commands() -> list[tuple[str, ...]]:
    ctx = click.Context(cli)
    found: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, (*path, name))
        else:
            found.append(path)

    walk(cli, ())
    return found


def test_the_command_tree_is_walked() -> None:
    commands = leaf_commands()
    assert ("verify",) in commands and ("keys", "export") in commands
    assert len(commands) > 30


@pytest.mark.parametrize("path", leaf_commands(), ids=" ".join)
def test_help_has_examples_of_this_command(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    heads = [i for i, line in enumerate(lines) if line.strip() in ("Example:", "Examples:")]
    assert heads, f"custody {' '.join(path)} --help has no example"
    examples: list[str] = []
    joined = ""
    for line in lines[heads[0] + 1 :]:
        if not line.strip():
            break
        joined += line.strip()
        if joined.endswith("\\"):  # a long example goes on over the next line
            joined = joined[:-1]
            continue
        examples.append(joined)
        joined = ""
    assert examples
    ran = []
    for example in examples:
        words = shlex.split(example, comments=True)
        while words and "=" in words[0] and not words[0].startswith("-"):
            words.pop(0)  # VAR=value before the command
        if not words or words[0] != "custody":
            continue  # a shell line around custody, e.g. sha256sum -c
        command, rest = _resolve(words[1:])
        ran.append(command)
        # Every option an example uses is one that command has.
        known = {opt for param in command.get_params(click.Context(cli)) for opt in param.opts}
        for word in rest:
            if word.startswith("-") and word not in ("-", "--"):
                assert word.split("=")[0] in known, f"{example}: {word} is not an option"
    assert _command(path) in ran, f"no example runs custody {' '.join(path)}"


def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    ctx = click.Context(cli)
    command: click.Command = cli
    while isinstance(command, click.Group):
        sub = command.get_command(ctx, words[0])
        assert sub is not None, f"custody has no command {words[0]!r}"
        command, words = sub, words[1:]
    return command, words


def _command(path: tuple[str, ...]) -> click.Command:
    ctx = click.Context(cli)
    command: click.Command | None = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.get_command(ctx, name)
    assert command is not None
    return command


@pytest.mark.parametrize("path", leaf_commands(), ids=" ".join)
def test_help_fits_80_columns(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)
    long = [line for line in result.output.splitlines() if len(line) > 80]
    assert long == [], f"custody {' '.join(path)} --help is wider than 80 columns"
