"""The tree says which process is which: the CLI's command modules import only the root
group (never each other), `python -m bot` loads a command's module only when that command
runs (so a command that serves no web app never imports Flask, the console, the handlers or
wechatpy), and the worker, the scheduler and the WeChat package run without Flask. The import
checks run in fresh interpreters, so nothing another test loaded hides a cycle."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import click

from bot.cli import root
from tests.conftest import DATA_KEY, TOKEN
from tests.scheduler_helpers import PROJECT

CLI = PROJECT / "bot" / "cli"
COMMAND_MODULES = sorted(p.stem for p in CLI.glob("*.py") if p.stem not in ("__init__", "root", "main"))
# What only the web app (or a command that talks to WeChat) needs.
WEB_ONLY = ("flask", "werkzeug", "wechatpy", "bot.console", "bot.runtime", "bot.webhook", "handlers.router",
            "handlers.intents", "wechat.protocol")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _web_only(modules) -> list[str]:
    return sorted(m for m in modules if any(m == w or m.startswith(w + ".") for w in WEB_ONLY))


def test_the_root_group_and_each_command_module_import_no_other_command_module():
    assert {"outbound", "scheduler", "demo", "staff"} <= set(COMMAND_MODULES)
    for name in ["root", "main", *COMMAND_MODULES]:
        others = {f"bot.cli.{m}" for m in COMMAND_MODULES if m != name} | {"bot.cli.main"}
        assert not (_imports(CLI / f"{name}.py") & others), f"bot/cli/{name}.py imports another command module"


# One interpreter for every module: the parent imports no project module (only libraries every
# command module uses, none of the web app's), and each module is imported in a child forked from
# it, so each starts from the same state, alone; the children run side by side.
EACH_ALONE = """
import importlib, os, sys, traceback
import click, cryptography.fernet, dotenv, sqlalchemy.orm
names, web_only = sys.argv[1].split(","), tuple(sys.argv[2].split(","))
children = {}
for name in names:
    pid = os.fork()
    if pid == 0:
        try:
            module = importlib.import_module("bot.cli." + name)
            from bot.cli.root import cli
            loaded = sorted(m for m in sys.modules if any(m == w or m.startswith(w + ".") for w in web_only))
            mine = sorted(n for n, c in cli.commands.items() if c.callback.__module__ == module.__name__)
            os.write(1, f"{name} {' '.join(mine)} | {' '.join(loaded)}\\n".encode())  # one write: children run at once
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    children[pid] = name
failed = [children[pid] for pid in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])]
if failed:
    sys.exit(f"does not import alone: {failed}")
"""


def test_each_command_module_imports_alone_and_registers_the_commands_the_table_names():
    result = subprocess.run([sys.executable, "-c", EACH_ALONE, ",".join(COMMAND_MODULES), ",".join(WEB_ONLY)],
                            cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    registered, web = {}, {}
    for line in result.stdout.splitlines():
        name, commands, loaded = line.split(" ", 1)[0], *line.split(" ", 1)[1].split("|")
        registered[name], web[name] = set(commands.split()), loaded.split()
    assert sorted(registered) == COMMAND_MODULES
    assert all(loaded == [] for loaded in web.values()), web  # importing a command module loads no web app
    for name, commands in registered.items():
        assert commands == {c for c, (module, _help) in root.COMMANDS.items() if module == f"bot.cli.{name}"}


def _loaded(group: click.Group, name: str) -> click.Command:
    return group.get_command(click.Context(group), name)


def test_the_command_list_shows_each_command_as_click_shows_the_loaded_command():
    group = root.LazyGroup(name="bot")  # a second group: the table's stand-ins, nothing loaded yet
    listed = {name: group._listed(name) for name in group.list_commands(click.Context(group))}
    for module in COMMAND_MODULES:
        __import__(f"bot.cli.{module}")
    real = {name: _loaded(root.cli, name) for name in root.cli.list_commands(click.Context(root.cli))}
    assert set(listed) == set(real) == set(root.cli.commands)  # every command, and none the table invents
    for name, command in real.items():
        for limit in (20, 45, 60, 200):  # the terminal's width sets the limit
            assert listed[name].get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)


def _bot(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, list[str]]:
    """`python -m bot ARGS` and the modules it imported (from -X importtime)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "bot", *args], cwd=PROJECT,
                            capture_output=True, text=True, timeout=120, env=env)
    modules = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    return result, modules


def test_python_m_bot_help_lists_every_command_without_loading_them():
    result, modules = _bot("--help")
    assert result.returncode == 0, result.stderr[-2000:]
    for command in ("serve", "worker", "scheduler", "demo", "outbox", "run-jobs", "staff-user", "db"):
        assert f"  {command} " in result.stdout
    assert all(f"  {command}" in result.stdout for command in root.COMMANDS)
    assert "-e, --env-file FILE" in result.stdout and "-A, --app IMPORT" in result.stdout
    assert not [m for m in modules if m.startswith("bot.cli.") and m.split(".")[2] in COMMAND_MODULES]
    assert _web_only(modules) == []
    assert "alembic" not in modules


def test_a_command_that_serves_no_web_app_imports_none_of_it(sqlite_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "REDIS_", "FLASK_"))}
    env.update(DATABASE_URL=sqlite_url, INSTANCE_DIR=str(tmp_path), SECRET_KEY="test-secret-key-0123456789",
               DATA_ENCRYPTION_KEY=DATA_KEY, WECHAT_TOKEN=TOKEN, APP_ENV="development", LOG_LEVEL="WARNING")
    result, modules = _bot("db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "database upgraded to heads" in result.stdout
    assert _web_only(modules) == []
    env["DATABASE_URL"] = "mysql://db.example/bot"  # a configuration error still exits with 2, as before
    result = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=PROJECT, capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 2 and "configuration error" in result.stderr, result.stderr[-2000:]


def test_worker_scheduler_and_wechat_run_without_flask():
    result = subprocess.run([sys.executable, "-c",
                             "import sys, worker.main, scheduler.process, wechat.api, wechat.protocol, wechat.peer, "
                             "wechat.token_store; print(sorted(m for m in sys.modules if m.split('.')[0] == 'flask'))"],
                            cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
