"""Running jobs for a moment: what fell due since each job's watermark, once.

Used by the scheduler process (on start: catch-up; then at each trigger) and by
`python -m bot run-jobs --at …`. A job that fails is logged with its error and
its watermark stays, so the next run retries the same window; other jobs go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import utcnow
from models.scheduler_state import JobWatermark
from scheduler.context import JobRun
from services import metrics
from services.retention import RetentionPolicy
from scheduler.job_table import JOBS, JobSpec
from services.calendar_seed import seed_all
from services.scheduled_pushes import Push

log = logging.getLogger("scheduler.runner")


@dataclass
class JobResult:
    job_id: str
    since: datetime
    until: datetime
    created: list[Push] = field(default_factory=list)
    existing: int = 0
    error: str | None = None


def ensure_seeded(sessions: sessionmaker[Session]) -> None:
    """Insert the built-in calendar once; two processes seeding at once is harmless."""
    with sessions() as session:
        try:
            seed_all(session)
            session.commit()
        except IntegrityError:
            session.rollback()


# Built once: the scheduler runs them for every job at every trigger (and a simulated year of
# daily runs, tests/test_year_as_county.py, ten thousand times); the values come at execution.
_MARK = JobWatermark.__table__.c
_WATERMARK = select(_MARK.covered_until).where(_MARK.job_id == bindparam("job"))
# Atomic under the row lock it takes: another runner (an operator's run-jobs) may have gone further
# meanwhile, and the watermark never moves back. `until` is bound as the column (naive UTC).
_UNTIL = bindparam("until", type_=_MARK.covered_until.type)
_ADVANCE = (
    update(JobWatermark.__table__).where(_MARK.job_id == bindparam("job"))
    .values(covered_until=case((_MARK.covered_until < _UNTIL, _UNTIL), else_=_MARK.covered_until),
            last_started_at=bindparam("started"), last_finished_at=bindparam("finished"), last_error=None)
)


def watermark(session: Session, job_id: str) -> datetime | None:
    return session.execute(_WATERMARK, {"job": job_id}).scalar()


def run_due(
    sessions: sessionmaker[Session],
    until: datetime,
    *,
    dry_run: bool = False,
    only: tuple[str, ...] | None = None,
    batch_size: int = 200,
    batch_pause: float = 0.0,
    retention: RetentionPolicy | None = None,
) -> list[JobResult]:
    results = []
    for spec in JOBS:
        if only and spec.id not in only:
            continue
        result = run_job(sessions, spec, until, dry_run=dry_run, batch_size=batch_size, batch_pause=batch_pause,
                         retention=retention)
        if result is not None:
            results.append(result)
    return results


def run_job(
    sessions: sessionmaker[Session],
    spec: JobSpec,
    until: datetime,
    *,
    dry_run: bool = False,
    batch_size: int = 200,
    batch_pause: float = 0.0,
    retention: RetentionPolicy | None = None,
) -> JobResult | None:
    """Run one job for (watermark, until] if its trigger fired in there; None when not due."""
    with sessions() as session:
        since = watermark(session, spec.id) or until - spec.first_window
        if not spec.falls_due(since, until):
            return None
        run = JobRun(session, since, until, dry_run=dry_run, batch_size=batch_size, batch_pause=batch_pause,
                     retention=retention or RetentionPolicy())
        result = JobResult(spec.id, since, until)
        started = utcnow()
        try:
            spec.run(run)
        except Exception as exc:  # one job's failure must not stop the others or the process
            session.rollback()
            result.error = safe_error(exc)
            log.error("job failed", extra={"job": spec.id, "error": result.error})
            if not dry_run:
                metrics.scheduler_run(spec.id, ok=False)
            log.debug("job failure traceback", exc_info=True)
            if not dry_run:
                _record_error(session, spec.id, result.error)
            return result
        result.created, result.existing = run.log.created, run.log.existing
        if dry_run:
            session.rollback()
            return result
        _advance(session, spec.id, until, started)
        session.commit()
        metrics.scheduler_run(spec.id, ok=True)
        log.info("job done", extra={"job": spec.id, "queued": len(result.created), "until": until.isoformat()})
        return result


def safe_error(exc: Exception) -> str:
    """The error's class and first line: database errors carry their SQL parameters
    (openids, payloads) further down, which must not reach logs or the console."""
    origin = getattr(exc, "orig", None) or exc
    first = (str(origin).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:300]


def _advance(session: Session, job_id: str, until: datetime, started: datetime) -> None:
    finished = utcnow()
    moved = session.execute(_ADVANCE, {"job": job_id, "until": until, "started": started, "finished": finished}).rowcount
    if not moved:
        session.add(JobWatermark(job_id=job_id, covered_until=until, last_started_at=started,
                                 last_finished_at=finished, last_error=None))


def _record_error(session: Session, job_id: str, error: str) -> None:
    try:
        updated = session.execute(
            update(JobWatermark).where(JobWatermark.job_id == job_id).values(last_error=error[:2000])
        ).rowcount
        if updated:
            session.commit()
    except Exception:  # keeping the error text is a courtesy; the log line has it already
        session.rollback()
