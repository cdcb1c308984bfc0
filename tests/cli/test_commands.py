"""The CLI, run in process: Every command has help and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from evrevops.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def all_commands() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    out = []

    def walk(cmd, path: tuple[str, ...]) -> None:
        out.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, (*path, name))

    walk(root, ())
    return out


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "evrevops")
def test_every_command_has_help(path):
    r = runner.invoke(app, [*path, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage" in r.output


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for path in all_commands():
        if path:
            assert f"`evrevops {' '.join(path)}" in readme, f"command {' '.join(path)!r} is not in README.md"
