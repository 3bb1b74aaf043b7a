"""Helpers for the scheduler tests: sessions on a migrated database, seeded calendar,
the outbox as staff would read it, and CLI subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from models import OutboxMessage
from models.database import make_engine, make_session_factory
from scheduler.runner import ensure_seeded, run_due
from services.local_time import SHANGHAI, local_date, parse_instant
from tests.conftest import DATA_KEY

PROJECT = Path(__file__).resolve().parent.parent


@contextmanager
def seeded_sessions(url: str):
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    ensure_seeded(sessions)
    try:
        yield sessions
    finally:
        engine.dispose()


def at(text: str) -> datetime:
    """Shanghai wall-clock time → aware UTC."""
    return parse_instant(text)


def run_days(sessions, first: date, last: date, hhmm: str = "09:00", only=None) -> None:
    """Run the jobs once a day at hhmm, like a scheduler that never stopped."""
    day = first
    while day <= last:
        run_due(sessions, at(f"{day.isoformat()}T{hhmm}"), only=only)
        day = date.fromordinal(day.toordinal() + 1)


def outbox_rows(sessions, kind: str | None = None, key_prefix: str | None = None) -> list[OutboxMessage]:
    with sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        if key_prefix:
            query = query.where(OutboxMessage.idempotency_key.startswith(key_prefix))
        return list(session.scalars(query))


def send_days(rows) -> list[date]:
    """The Shanghai dates the rows are to go out."""
    return sorted(local_date(row.not_before) for row in rows)


def cli_env(url: str, tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "SCHEDULER_"))}
    env.update({
        "DATABASE_URL": url,
        "INSTANCE_DIR": str(tmp_path),
        "SECRET_KEY": "test-secret-key-0123456789",
        "DATA_ENCRYPTION_KEY": DATA_KEY,
        "WECHAT_TOKEN": "testtoken123",
        "APP_ENV": "development",
        "PYTHONUNBUFFERED": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def shanghai_now() -> datetime:
    return datetime.now(SHANGHAI)
