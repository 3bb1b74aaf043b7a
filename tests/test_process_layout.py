"""The tree says which process is which: the CLI's command modules import only the root
group (never each other), and the worker, the scheduler and the WeChat package run without
Flask. Each check imports in a fresh interpreter, so nothing another test loaded hides a cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scheduler_helpers import PROJECT

CLI = PROJECT / "bot" / "cli"
COMMAND_MODULES = sorted(p.stem for p in CLI.glob("*.py") if p.stem not in ("__init__", "root", "main"))


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_root_group_and_each_command_module_import_no_other_command_module():
    assert {"outbound", "scheduler", "demo", "staff"} <= set(COMMAND_MODULES)
    for name in ["root", *COMMAND_MODULES]:
        others = {f"bot.cli.{m}" for m in COMMAND_MODULES if m != name} | {"bot.cli.main"}
        assert not (_imports(CLI / f"{name}.py") & others), f"bot/cli/{name}.py imports another command module"


def _fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", COMMAND_MODULES)
def test_each_command_module_imports_alone(name):
    result = _fresh(f"import bot.cli.{name} as m; from bot.cli.root import cli; assert m.__name__")
    assert result.returncode == 0, result.stderr[-2000:]


def test_python_m_bot_lists_every_process_command():
    result = subprocess.run([sys.executable, "-m", "bot", "--help"], cwd=PROJECT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    for command in ("serve", "worker", "scheduler", "demo", "outbox", "run-jobs", "staff-user", "db"):
        assert f"  {command} " in result.stdout


def test_worker_scheduler_and_wechat_run_without_flask():
    result = _fresh("import sys, worker.main, scheduler.process, wechat.api, wechat.protocol, wechat.peer, "
                    "wechat.token_store; print(sorted(m for m in sys.modules if m.split('.')[0] == 'flask'))")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
