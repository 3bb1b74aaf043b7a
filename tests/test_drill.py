"""The fault drill (bench/drill.py --short) as a test: real processes (2 web servers, 2 delivery
workers, 2 schedulers) on PostgreSQL + Redis + the fake WeChat API, real SIGKILLs, a Redis
pause and pg_terminate_backend; the drill's own checks must all pass."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.pauses_redis]  # Redis tests wait for it (conftest)
USERS = 40


def _require(what: str, probe) -> None:
    try:
        probe()
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is required in CI but unreachable: {exc}")
        pytest.skip(f"{what} not reachable: {exc}")


@pytest.fixture
def services_up():
    import psycopg
    import redis

    _require("PostgreSQL", lambda: psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3).close())
    _require("Redis", lambda: redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=3).ping())


def _row(output: str, name: str) -> str:
    """The drill table's line for one check."""
    line = next((line for line in output.splitlines() if line.startswith(name)), None)
    assert line is not None, f"no {name!r} row in:\n{output}"
    return line


def test_the_short_drill_passes_every_check(services_up):
    # The short drill made shorter, every check the same. 40 users (14 at a time) and 240 pushes at
    # the drill's 60/s: the delivery worker is still killed with rows in flight (at +2 s). The faults
    # come a second apart (killed processes restart 2 s later in the background), the users still
    # talking at the last one (checked below). A 4 s scheduler lock and a 5 s outbox lease bring the
    # takeover and the dead worker's rows back while the users talk, not half a minute later. As in
    # --short, the scheduler's lock runs out during the Redis pause (+4 s, 3 s), so no live leader's
    # renewal is paused, and pg_terminate_backend (+9 s) comes once the pushes are out: a send cut
    # off by it is retried after a 30 s backoff, which would only make the run wait.
    run = subprocess.run([sys.executable, "bench/drill.py", "--short", "--users", str(USERS), "--concurrency", "14",
                          "--pushes", "240", "--lock-ttl", "4", "--lease", "5", "--faults", "1,2,3,4,9"], cwd=ROOT,
                         capture_output=True, text=True, timeout=400)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "ALL CHECKS PASSED" in output
    # The faults really happened, while users were talking.
    assert len(re.findall(r"fault at \+", output)) == 5, output
    assert re.search(r"SIGKILL delivery worker \(pid \d+, [1-9]\d* rows sending\)", output), output
    # What a user and an operator would check.
    assert f"{USERS} for {USERS} users" in _row(output, "requests stored")
    assert _row(output, "requests doubled").split()[-1] == "PASS"
    assert f"{USERS}/{USERS}" in _row(output, "users who got their receipt")
    assert re.search(r"swallowed \(no effect\)\s+0\s", _row(output, "  of which swallowed"))
    assert re.search(r"pushes lost \(not delivered, not flagged\)\s+0\s", _row(output, "pushes lost"))
    assert re.search(r"pushes delivered twice\s+0\s", _row(output, "pushes delivered twice"))
    assert re.search(r"HTTP 5xx\s+0\s", _row(output, "HTTP 5xx"))
    assert "at most 1" in _row(output, "schedulers active at once")
    assert "max 1" in _row(output, "/metrics scheduler_active")
    assert int(re.search(r"at the last fault\s+(\d+)\s", _row(output, "users mid-conversation")).group(1)) > 0
    took = float(re.search(r"(\d+\.\d) s", _row(output, "takeover after killing")).group(1))
    assert took < 30
