"""`python -m bot`'s group, for the entry point and the tests: the root group (bot/cli/root.py)
imports each command's module on first use, so importing this loads no command module."""

from __future__ import annotations

from bot.cli.root import cli, database_reason

__all__ = ["cli", "database_reason"]
