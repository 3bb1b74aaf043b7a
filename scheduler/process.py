"""`python -m bot scheduler`: one active scheduler, the others wait as standbys.

Loop: wait for the leader lock (polling every `poll` seconds) → run the catch-up for
everything that fell due since each job's watermark → run the job table on
APScheduler's BlockingScheduler (Asia/Shanghai), renewing the lock every
`renew_every` seconds → if the lock is lost, stop the jobs and wait again.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from models import utcnow
from services import metrics
from scheduler.job_table import JOBS, JobSpec
from scheduler.leader import LeaderLock, make_lock
from scheduler.runner import ensure_seeded, run_due, run_job
from services.local_time import SHANGHAI

log = logging.getLogger("scheduler.process")


@dataclass(frozen=True)
class LeaderTiming:
    """Takeover happens within ttl + poll (defaults: 30 s + 5 s, inside the 60 s promise)."""

    # A dead leader is replaced within ttl + poll (about 22 s); renewing every 5 s leaves
    # three missed renewals' grace before a live leader could lose the lock.
    ttl: timedelta = timedelta(seconds=20)
    renew_every: float = 5.0
    poll: float = 2.0

    @classmethod
    def from_env(cls) -> "LeaderTiming":
        return cls(
            ttl=timedelta(seconds=float(os.environ.get("SCHEDULER_LOCK_TTL", "20"))),
            renew_every=float(os.environ.get("SCHEDULER_LOCK_RENEW", "5")),
            poll=float(os.environ.get("SCHEDULER_STANDBY_POLL", "2")),
        )


class SchedulerProcess:
    def __init__(self, engine: Engine, sessions: sessionmaker[Session], redis_url: str | None,
                 timing: LeaderTiming | None = None, batch_size: int = 200, batch_pause: float = 0.0,
                 retention=None):
        self.timing = timing or LeaderTiming.from_env()
        self.sessions = sessions
        self.lock: LeaderLock = make_lock(engine, redis_url, self.timing.ttl)
        self.batch_size, self.batch_pause = batch_size, batch_pause
        self.retention = retention  # services.retention.RetentionPolicy from the settings
        self._stopping = threading.Event()
        self._scheduler: BlockingScheduler | None = None

    def serve_forever(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        try:
            while not self._stopping.is_set():
                if not self._wait_for_leadership():
                    break
                # The leader we replace may have died by SIGKILL, its "active" gauge still on disk:
                # drop dead processes' gauges so /metrics shows one active scheduler, not two.
                metrics.forget_dead_processes()
                metrics.scheduler_active(True)
                try:
                    self._lead()
                finally:
                    metrics.scheduler_active(False)
        finally:
            self.lock.release()
            log.info("scheduler stopped", extra={"holder": self.lock.holder})

    def stop(self) -> None:
        self._stopping.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def _wait_for_leadership(self) -> bool:
        log.info("scheduler standby: waiting for the leader lock", extra={"holder": self.lock.holder})
        while not self._stopping.is_set():
            if self.lock.acquire():
                log.info("scheduler active", extra={"holder": self.lock.holder, "pid": os.getpid()})
                return True
            self._stopping.wait(self.timing.poll)
        return False

    def _lead(self) -> None:
        ensure_seeded(self.sessions)
        scheduler = BlockingScheduler(
            timezone=SHANGHAI,
            executors={"default": ThreadPoolExecutor(1), "leader": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        for spec in JOBS:
            scheduler.add_job(self._run_one, spec.trigger, args=[spec], id=spec.id, name=spec.description)
        scheduler.add_job(self._renew, "interval", seconds=self.timing.renew_every, id="_leader_renew",
                          executor="leader")
        # Catch-up first: whatever fell due while no scheduler was active, once.
        scheduler.add_job(self._catch_up, id="_catch_up", next_run_time=utcnow().astimezone(SHANGHAI))
        self._scheduler = scheduler
        if self._stopping.is_set():
            return
        scheduler.start()  # blocks until shutdown (stop, or leadership lost)
        self._scheduler = None

    def _catch_up(self) -> None:
        results = run_due(self.sessions, utcnow(), batch_size=self.batch_size, batch_pause=self.batch_pause,
                          retention=self.retention)
        for result in results:
            log.info("catch-up", extra={"job": result.job_id, "queued": len(result.created), "error": result.error})

    def _run_one(self, spec: JobSpec) -> None:
        run_job(self.sessions, spec, utcnow(), batch_size=self.batch_size, batch_pause=self.batch_pause,
                retention=self.retention)

    def _renew(self) -> None:
        if not self.lock.renew():
            log.warning("scheduler lost the leader lock: back to standby", extra={"holder": self.lock.holder})
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)
