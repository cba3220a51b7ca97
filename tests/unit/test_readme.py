"""The README documents every setting and every command option: a new one that is not
described there fails here, not in a user's hands."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup, TyperOption

from app.cli import cli
from app.settings import Settings

README = (Path(__file__).parents[2] / "README.md").read_text()


def section(title: str) -> str:
    """The README's text under `## title`, up to the next heading of the same level."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def commands(group: TyperGroup, prefix: str = "stockql") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, TyperGroup):
            found += commands(command, path)
        else:
            found.append((path, command))
    return found


ROOT = typer.main.get_command(cli)
assert isinstance(ROOT, TyperGroup)
COMMANDS = commands(ROOT)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_configuration_table(name: str) -> None:
    variable = f"`STOCKQL_{name.upper()}`"
    assert variable in section("Configuration"), f"{variable} is not documented in the README"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_command_and_option_is_in_the_commands_section(path: str, command: Any) -> None:
    rows = [line for line in section("Commands").splitlines() if line.startswith(f"| `{path}")]
    assert rows, f"`{path}` has no row in the README's command table"
    documented = " ".join(rows) + section("Commands")
    for parameter in command.params:
        if isinstance(parameter, TyperOption) and parameter.name != "help":
            flag = max(parameter.opts, key=len)
            assert flag in documented, f"`{path} {flag}` is not documented in the README"
