"""Time travel in the sandbox: run the scheduler and the delivery "as of" a chosen day.

The simulator's 跳转到这一天 button lands here. The jobs run for everything that
fell due between their watermark and that day at 09:00 Shanghai (jumping twice
to the same day changes nothing), then one sandbox delivery pass settles what is
due by then, so the pushes show up in the chat. Never outside the sandbox: the
delivery's clock would be wrong for the real WeChat.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import utcnow
from models.outbox import Channel, OutboxMessage, OutboxStatus
from models.scheduler_state import JobWatermark
from worker.loop import DeliveryWorker, delivery_config
from scheduler.job_table import JOBS
from scheduler.runner import ensure_seeded, run_due
from services.demo_data import DEMO_OPENID_PREFIX, foreign_rows
from services.local_time import local_date, local_instant

SANDBOX_PREFIXES = (DEMO_OPENID_PREFIX, "oSIM")

TRAVEL_HOUR = "09:00"
MAX_DAYS_AHEAD = 3 * 366


class TravelError(ValueError):
    """A day the sandbox cannot jump to; the message is for the user (Chinese)."""


@dataclass(frozen=True)
class TravelSummary:
    at: datetime  # UTC
    jobs: int
    queued: int
    delivered: int
    errors: tuple[str, ...]


def check_day(day: date, now: datetime) -> datetime:
    today = local_date(now)
    if day < today:
        raise TravelError("只能跳转到今天或以后的日期")
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise TravelError("最多只能跳转到三年以后")
    return max(local_instant(day, TRAVEL_HOUR), now)


def travel(sessions: sessionmaker[Session], settings, day: date) -> TravelSummary:
    if not settings.simulator_available:
        raise TravelError("只有沙盒环境可以跳转时间")
    at = check_day(day, utcnow())
    with sessions() as session:
        real = {kind: n for kind, n in foreign_rows(session, SANDBOX_PREFIXES).items() if kind != "activities"}
    if real:  # jobs and staff alerts of real people must never be moved or marked sent
        raise TravelError("数据库中有真实用户的数据，不能跳转时间")
    ensure_seeded(sessions)
    _start_watermarks(sessions)
    results = run_due(sessions, at)
    delivered = deliver_as_of(sessions, settings, at)
    return TravelSummary(
        at=at,
        jobs=len(results),
        queued=sum(len(r.created) for r in results),
        delivered=delivered,
        errors=tuple(f"{r.job_id}: {r.error}" for r in results if r.error),
    )


def _start_watermarks(sessions: sessionmaker[Session]) -> None:
    """A job that never ran starts from today, not from a day before the jump: the
    days jumped over are lived through (their reminders and plans are made)."""
    with sessions() as session:
        known = set(session.scalars(select(JobWatermark.job_id)))
        for spec in JOBS:
            if spec.id not in known:
                session.add(JobWatermark(job_id=spec.id, covered_until=utcnow(), last_started_at=None,
                                         last_finished_at=None, last_error=None))
        try:
            session.commit()
        except IntegrityError:  # a scheduler started meanwhile and wrote its own: keep it
            session.rollback()


def deliver_as_of(sessions: sessionmaker[Session], settings, at: datetime) -> int:
    """One sandbox delivery pass with the clock at `at`; returns the messages it delivered."""
    before = _sent_count(sessions)
    worker = DeliveryWorker(sessions, delivery_config(settings), None, None, concurrency=2,
                            lease_seconds=settings.outbox_lease_seconds, clock=lambda: at)
    worker.run(threading.Event(), until_idle=True)
    return _sent_count(sessions) - before


def _sent_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status == OutboxStatus.SENT,
                                     OutboxMessage.channel == Channel.SANDBOX)) or 0
