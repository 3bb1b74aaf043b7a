"""The scheduler as real processes: one active, a standby that takes over after kill -9,
and a run killed half-way that, restarted, neither loses nor doubles a message."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import utcnow
from models.calendar import RuleKind
from models.scheduler_state import JobWatermark
from scheduler.job_table import JOB_IDS
from services.holiday_calendar import add_rule
from services.reminder_rules import add_reminder_rule
from tests.scheduler_helpers import PROJECT, cli_env, outbox_rows, seeded_sessions, shanghai_now

pytestmark = pytest.mark.slow
# A short lease (a takeover after a kill waits it out), renewed often enough that a loaded machine
# delaying a renewal by 2 s does not lose it; standbys poll often (the takeover waits for a poll too).
LOCK_TTL = 2.5
STANDBY_POLL = 0.2
FAST_LOCK = dict(SCHEDULER_LOCK_TTL=LOCK_TTL, SCHEDULER_LOCK_RENEW=0.5, SCHEDULER_STANDBY_POLL=STANDBY_POLL)


class Scheduler:
    def __init__(self, env: dict[str, str], log_path):
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "scheduler"], cwd=PROJECT, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, text: str, timeout: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if text in self.output():
                return time.monotonic() - start
            assert self.proc.poll() is None, f"scheduler exited early:\n{self.output()}"
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not seen within {timeout}s:\n{self.output()}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


@pytest.fixture
def schedulers():
    started: list[Scheduler] = []

    def start(env, log_path) -> Scheduler:
        s = Scheduler(env, log_path)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.mark.parametrize("lock", ["postgres-advisory", "redis", "sqlite-lease"])
def test_two_schedulers_one_active_and_takeover_after_kill(lock, request, tmp_path, schedulers):
    if lock == "sqlite-lease":
        url = request.getfixturevalue("sqlite_url")
        env = cli_env(url, tmp_path, **FAST_LOCK)
    else:
        url = request.getfixturevalue("pg_url")
        extra = {"REDIS_URL": request.getfixturevalue("redis_url")} if lock == "redis" else {}
        env = cli_env(url, tmp_path, **FAST_LOCK, **extra)
    # Both started at once (a process start is most of the wait): one wins the lock, the other waits.
    pair = [schedulers(env, tmp_path / "a.log"), schedulers(env, tmp_path / "b.log")]
    deadline = time.monotonic() + 30
    while not all("scheduler standby" in s.output() for s in pair) or \
            not any("scheduler active" in s.output() for s in pair):
        assert time.monotonic() < deadline and all(s.proc.poll() is None for s in pair), [s.output() for s in pair]
        time.sleep(0.05)
    first, second = pair if "scheduler active" in pair[0].output() else pair[::-1]
    # A lease: wait until an unrenewed one would have run out: a live leader keeps it. The advisory
    # lock has no lease (it lives as long as the leader's connection): five standby polls that fail.
    time.sleep(LOCK_TTL if lock != "postgres-advisory" else 5 * STANDBY_POLL)
    assert "scheduler active" not in second.output()

    first.kill()
    took = second.wait_for("scheduler active", 60)
    assert took < 60
    # The new leader works: its catch-up leaves a watermark for every job.
    deadline = time.monotonic() + 30
    with seeded_sessions(url) as sessions:
        while time.monotonic() < deadline:
            with sessions() as s:
                if {w.job_id for w in s.scalars(select(JobWatermark))} >= set(JOB_IDS):
                    break
            time.sleep(0.05)
        else:
            raise AssertionError(f"no watermarks after takeover:\n{second.output()}")


def _queue_many_due_reminders(sessions, count: int) -> list[int]:
    """`count` reminder rules for a day tomorrow, due at 00:00 on the working day on or before today."""
    tomorrow = shanghai_now().date() + timedelta(days=1)
    with sessions.begin() as s:
        add_rule(s, code="t_tomorrow", name="测试日", kind=RuleKind.SOLAR, month=tomorrow.month, day=tomorrow.day)
        ids = [add_reminder_rule(s, code=f"t{n}", calendar_code="t_tomorrow", lead_days="1", audience="staff",
                                 kind="yearly_task", message=f"任务{n}：{{name}}", send_time="00:00").id
               for n in range(count)]
        now = utcnow()
        for job_id in JOB_IDS:  # as if a scheduler had run until now, the reminders 10 days back
            s.merge(JobWatermark(job_id=job_id, covered_until=now - timedelta(days=10) if job_id == "calendar_reminders" else now))
    return ids


def _ours(sessions, ids):
    return [r for r in outbox_rows(sessions, kind="yearly_task") if int(r.idempotency_key.split(":")[1]) in ids]


def test_scheduler_killed_mid_run_restarts_without_loss_or_double(db_url, tmp_path, schedulers):
    count = 60
    env = cli_env(db_url, tmp_path, SCHEDULER_BATCH_SIZE=5, SCHEDULER_BATCH_PAUSE=0.3, **FAST_LOCK)
    with seeded_sessions(db_url) as sessions:
        ids = set(_queue_many_due_reminders(sessions, count))
        first = schedulers(env, tmp_path / "a.log")
        deadline = time.monotonic() + 60
        while len(_ours(sessions, ids)) < 10:
            assert time.monotonic() < deadline, first.output()
            time.sleep(0.05)
        first.kill()
        queued_before_restart = len(_ours(sessions, ids))
        assert 10 <= queued_before_restart < count  # really killed in the middle of the run
        with sessions() as s:
            mark = s.get(JobWatermark, "calendar_reminders").covered_until
        assert mark < utcnow() - timedelta(days=9)  # the unfinished run did not move the watermark

        # The restarted run needs no throttle: the pause only made the first one killable mid-way.
        second = schedulers(cli_env(db_url, tmp_path, SCHEDULER_BATCH_SIZE=5, **FAST_LOCK), tmp_path / "b.log")
        deadline = time.monotonic() + 60
        while True:
            with sessions() as s:
                moved = s.get(JobWatermark, "calendar_reminders").covered_until > mark
            if moved:
                break
            assert time.monotonic() < deadline, second.output()
            time.sleep(0.05)
        rows = _ours(sessions, ids)
        assert len(rows) == count  # nothing lost
        assert sorted(int(r.idempotency_key.split(":")[1]) for r in rows) == sorted(ids)  # each rule once
        assert len({r.idempotency_key for r in rows}) == count
        second.stop()
        assert "scheduler stopped" in second.output()


def test_scheduler_with_worker_delivers_what_it_queued(sqlite_url, tmp_path, schedulers):
    from models.outbound import StaffOpenid

    with seeded_sessions(sqlite_url) as sessions:
        ids = set(_queue_many_due_reminders(sessions, 3))
        with sessions.begin() as s:
            s.add(StaffOpenid(role="staff", openid="oStaffOnDuty001"))
        running = Scheduler.__new__(Scheduler)  # started by hand: it needs the extra flag
        running.log_path = tmp_path / "a.log"
        running._log = open(running.log_path, "w")
        running.proc = subprocess.Popen([sys.executable, "-m", "bot", "scheduler", "--with-worker"], cwd=PROJECT,
                                        env=cli_env(sqlite_url, tmp_path, **FAST_LOCK), stdout=running._log,
                                        stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                rows = _ours(sessions, ids)  # the role rows and what delivery expanded them into
                if {int(r.idempotency_key.split(":")[1]) for r in rows} == ids and {r.status for r in rows} == {"sent"}:
                    break
                assert time.monotonic() < deadline, (running.output(), [(r.status, r.last_errmsg) for r in rows])
                time.sleep(0.1)
        finally:
            running.stop()
