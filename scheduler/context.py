"""What a job gets: its session, the window (since, until] it covers, and a sender
that commits in batches, so a long run that is killed keeps what it already queued
(the rerun skips those rows by their idempotency keys)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from services.local_time import local_date
from services.retention import RetentionPolicy
from services.scheduled_pushes import Push, SendLog, send
from services.workdays import WorkCalendar


@dataclass
class JobRun:
    session: Session
    since: datetime  # exclusive, UTC
    until: datetime  # inclusive, UTC: "now" for the job
    dry_run: bool = False
    batch_size: int = 200
    batch_pause: float = 0.0  # seconds after each batch commit (throttle; tests use it to interrupt a run)
    log: SendLog = field(default_factory=SendLog)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    _unsaved: int = 0
    _work: WorkCalendar | None = None

    @property
    def today(self) -> date:
        return local_date(self.until)

    @property
    def work(self) -> WorkCalendar:
        if self._work is None:
            self._work = WorkCalendar(self.session)
        return self._work

    def send(self, push: Push, known: set[str] | None = None, stale_reason: str | None = None) -> bool:
        """Queue the push once; one past its `expires_at` (or with a stale reason) is recorded expired."""
        created = send(self.session, push, self.log, known, now=self.until, stale_reason=stale_reason)
        if created:
            self._unsaved += 1
            if self._unsaved >= self.batch_size:
                self.checkpoint()
        return created

    def checkpoint(self) -> None:
        """Commit what is queued so far (not in a dry run, which is rolled back whole)."""
        if self.dry_run or not self._unsaved:
            return
        self.session.commit()
        self._unsaved = 0
        if self.batch_pause:
            time.sleep(self.batch_pause)
