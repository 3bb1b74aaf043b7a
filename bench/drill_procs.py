"""The processes of the fault drill: `python -m bot …` children with their own log files,
the throwaway PostgreSQL database, and the fault actions (SIGKILL, Redis pause,
pg_terminate_backend). Loopback only."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Proc:
    """One `python -m bot …` process; stdout and stderr go to its log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name, self.args, self.env = name, args, env
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.popen = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env,
                                      stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.popen.pid
        self.killed_at: float | None = None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def json_lines(self) -> list[dict]:
        lines = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        return lines

    def wait_for(self, text: str, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if text in self.output():
                return time.monotonic() - started
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.output()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: {text!r} not seen within {timeout:.0f} s:\n{self.output()[-3000:]}")

    def children(self) -> list[int]:
        try:
            return [int(p) for p in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]
        except OSError:
            return []

    def sigkill(self) -> None:
        self.killed_at = time.time()
        os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)  # our own child's session only
                self.popen.wait(10)
        self._log.close()


class Serve(Proc):
    def __init__(self, name: str, env: dict[str, str], log_dir: Path, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(name, ["serve", "--port", str(self.port), "--workers", str(workers)], env, log_dir)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.output()[-3000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not come up:\n{self.output()[-3000:]}")


def log_time(entry: dict) -> float:
    return datetime.fromisoformat(entry["ts"]).timestamp()


@contextmanager
def throwaway_database(server: str):
    """A fresh PostgreSQL database, dropped at the end whatever happens."""
    import secrets

    import psycopg

    name = f"drill_{secrets.token_hex(4)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def terminate_connections(server: str, database: str) -> int:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchall()
    return sum(1 for (done,) in rows if done)


def pause_redis(host: str, port: int, millis: int) -> None:
    subprocess.run(["redis-cli", "-h", host, "-p", str(port), "CLIENT", "PAUSE", str(millis), "ALL"],
                   check=True, capture_output=True, timeout=10)
