"""The README's first command, run as a newcomer would: in a scratch copy of the project with
a fresh virtual environment, it brings up a server that answers /healthz and the simulator.

Slow (it installs the requirements into a new venv), so it runs in CI (CI=true) or when
README_TEST=1 is set.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (os.environ.get("CI") or os.environ.get("README_TEST")), reason="CI only (set README_TEST=1)"),
]


def first_command() -> str:
    blocks = re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    return blocks[0].strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_first_command_brings_up_the_demo(tmp_path):
    command = first_command()
    assert command.startswith("python3 -m venv .venv") and "python -m bot demo" in command
    copy = tmp_path / "project"
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    copy.mkdir()
    subprocess.run(["tar", "-x", "-C", str(copy)], input=archive.stdout, check=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV"))}
    log = open(tmp_path / "demo.log", "w+")
    process = subprocess.Popen(
        ["bash", "-c", f"{command} --port {port}"], cwd=copy, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if health.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(2)
        log.seek(0)
        output = log.read()
        assert health is not None and health.status_code == 200, output[-3000:]
        assert health.json()["database"] == "ok"
        assert requests.get(f"http://127.0.0.1:{port}/simulator/", timeout=5).status_code == 200
        assert f"http://127.0.0.1:{port}/simulator/" in output
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
