"""Prometheus metrics (prometheus-client): what the webhook, the delivery worker and the
scheduler did, and — read from the database at each scrape — what waits in the outbox and
how far each scheduled job lags.

Every process of one installation (web workers, delivery workers, schedulers) writes its
counters to files under INSTANCE_DIR/metrics (prometheus-client's multiprocess mode), so
`/metrics` on the web server shows all of them. The directory must be known before the
first metric exists: `python -m bot` calls `prepare_process` first thing, and the metrics
themselves are made on first use.
"""

from __future__ import annotations

import functools
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_process(instance_dir: str | os.PathLike) -> None:
    """Point this process (and the gunicorn workers it forks) at the shared metrics directory."""
    if os.environ.get(MULTIPROC_ENV):
        return
    directory = Path(instance_dir) / "metrics"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return  # a read-only instance dir is reported by the configuration check
    os.environ[MULTIPROC_ENV] = str(directory)


def forget_dead_processes() -> None:
    """Drop the live gauges of processes that are gone (a crash, a restart); counters stay
    summed, as Prometheus expects of them."""
    from prometheus_client import multiprocess

    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_creating = threading.Lock()


def _metrics() -> SimpleNamespace:
    # A fresh worker's first messages arrive on several threads at once; two of them creating
    # the same metric would raise DuplicateTimeseries (found by bench/drill.py).
    with _creating:
        return _made()


@functools.cache
def _made() -> SimpleNamespace:
    from prometheus_client import Counter, Gauge, Histogram

    return SimpleNamespace(
        messages=Counter("shuangyong_messages_total", "Inbound WeChat messages by outcome", ["outcome"]),
        reply=Histogram("shuangyong_reply_seconds", "From receiving a message to answering WeChat",
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 5)),
        fallback=Counter("shuangyong_dedupe_fallback_total", "Messages deduplicated in the database as Redis failed"),
        sends=Counter("shuangyong_sends_total", "Outbox sends by channel and WeChat errcode (0: sent)",
                      ["channel", "errcode"]),
        runs=Counter("shuangyong_scheduler_runs_total", "Scheduled job runs by job and result", ["job", "result"]),
        active=Gauge("shuangyong_scheduler_active", "Schedulers holding the leader lock (should be 1)",
                     multiprocess_mode="livesum"),
    )


# --- what the code records -----------------------------------------------------------


def message(outcome: str, seconds: float | None = None) -> None:
    _metrics().messages.labels(outcome=outcome).inc()
    if seconds is not None:
        _metrics().reply.observe(seconds)


def dedupe_fallback() -> None:
    _metrics().fallback.inc()


def send(channel: str, errcode: int | None) -> None:
    _metrics().sends.labels(channel=channel, errcode=str(errcode or 0)).inc()


def scheduler_run(job: str, ok: bool) -> None:
    _metrics().runs.labels(job=job, result="ok" if ok else "error").inc()


def scheduler_active(active: bool) -> None:
    _metrics().active.set(1 if active else 0)


# --- what a scrape reads ---------------------------------------------------------------


class DatabaseCollector:
    """Outbox rows by status, the age of the oldest due row, each job's lag behind now."""

    def __init__(self, sessions):
        self._sessions = sessions

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import func, select

        from models import OutboxMessage, OutboxStatus
        from models.scheduler_state import JobWatermark

        now = datetime.now(timezone.utc)
        depth = GaugeMetricFamily("shuangyong_outbox_messages", "Outbox rows by status", labels=["status"])
        oldest = GaugeMetricFamily("shuangyong_outbox_oldest_due_seconds", "Age of the oldest due pending row")
        lag = GaugeMetricFamily("shuangyong_scheduler_lag_seconds", "How far each job's watermark is behind now",
                                labels=["job"])
        with self._sessions() as session:
            counts = dict(session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
            due = session.scalar(select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now))
            marks = session.execute(select(JobWatermark.job_id, JobWatermark.covered_until)).all()
        for status in OutboxStatus:
            depth.add_metric([status.value], counts.get(status, 0))
        oldest.add_metric([], (now - due).total_seconds() if due else 0.0)
        for job_id, covered in marks:
            lag.add_metric([job_id], max(0.0, (now - covered).total_seconds()))
        yield from (depth, oldest, lag)


class _ThisProcess:
    """Without a multiprocess directory (tests, `flask run`): this process's own metrics."""

    def collect(self):
        from prometheus_client import REGISTRY

        yield from REGISTRY.collect()


def exposition(sessions) -> tuple[bytes, str]:
    """One scrape in Prometheus's text format: every process's metrics and the database's."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    _metrics()  # a scrape before the first message still lists the metric names
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector(sessions))
    return generate_latest(registry), CONTENT_TYPE_LATEST
