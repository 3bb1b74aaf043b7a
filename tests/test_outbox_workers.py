"""Real `python -m bot worker` processes on PostgreSQL against the fake WeChat API:
a worker killed mid-batch loses and doubles nothing; two workers keep one send rate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Recipient
from models import OutboxMessage
from models.database import make_engine, make_session_factory
from services import outbox
from tests.conftest import DATA_KEY, TOKEN, _truncate_all
from tests.fake_wechat_api import APP_ID, APP_SECRET, CUSTOM, TEMPLATE, FakeWeChatApi

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = {"fields": {"thing1": "走访慰问安排", "time2": "2026年1月20日 09:00"}}


@pytest.fixture
def pg(pg_url):
    _truncate_all(pg_url)
    engine = make_engine(pg_url)
    yield make_session_factory(engine)
    engine.dispose()


def _fill(sessions, count: int) -> None:
    with sessions.begin() as session:
        for n in range(count):
            outbox.enqueue(session, kind="holiday_reminder", recipient=Recipient.person(f"oVolunteer{n:06d}"), payload=PAYLOAD,
                           idempotency_key=f"holiday:{n}")


def _start_worker(pg_url: str, api: FakeWeChatApi, tmp_path, concurrency: int, **env) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "INSTANCE_DIR": str(tmp_path),
        "SECRET_KEY": "test-secret-key-0123456789",
        "DATA_ENCRYPTION_KEY": DATA_KEY,
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_API_BASE_URL": api.base_url,
        "WECHAT_TEMPLATE_IDS": "holiday_reminder=TPL_HOLIDAY",
        "APP_ENV": "development",
        "LOG_LEVEL": "WARNING",
        **{k: str(v) for k, v in env.items()},
    }
    if "REDIS_URL" not in env:
        environment.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker", "--concurrency", str(concurrency)],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _started(process: subprocess.Popen) -> str:
    """Wait for the worker's start line (stderr is line-buffered); returns what it wrote so far."""
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith("delivery worker:"):
            return "".join(seen)
    raise AssertionError(f"the worker exited before it started:\n{''.join(seen)}")


def _stop(process: subprocess.Popen, before: str = "") -> str:
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=30)
    return before + err


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _statuses(sessions) -> Counter:
    with sessions() as session:
        return Counter(str(s) for s in session.scalars(select(OutboxMessage.status)))


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(pg_url, pg, api_slow, tmp_path):
    total = 160
    _fill(pg, total)
    # The shortest lease (whole seconds): the restarted worker takes the dead one's rows back after
    # it. Alone, a worker that outlives its own lease on a loaded machine only resends a template
    # (dropped by client_msg_id, counted below) or flags a customer-service message: never a double.
    first = _start_worker(pg_url, api_slow, tmp_path, 8, OUTBOX_SEND_RATE=200, OUTBOX_LEASE_SECONDS=1)
    _wait_for(lambda: len(api_slow.delivered()) >= 60, 30, "the first worker to send some")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    caught = _statuses(pg)
    assert caught["sending"] > 0, "the kill should land in the middle of a batch"
    assert caught["pending"] > 0, caught

    second = _start_worker(pg_url, api_slow, tmp_path, 8, OUTBOX_SEND_RATE=200, OUTBOX_LEASE_SECONDS=1)
    try:
        _wait_for(lambda: _statuses(pg)["sent"] == total, 60, "every row to be sent")
    finally:
        err = _stop(second)
    assert "Traceback" not in err

    delivered = api_slow.delivered(TEMPLATE)
    keys = Counter((d.touser, d.client_msg_id) for d in delivered)
    assert len(keys) == total and max(keys.values()) == 1  # each message reached its person once
    with pg() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    by_person = {d.touser: d for d in delivered}
    assert all(row.wechat_msgid == str(by_person[row.recipient].msgid) for row in rows)
    resent = len(api_slow.calls(TEMPLATE)) - total
    assert resent >= 0  # resends of rows the dead worker had in flight, dropped by client_msg_id
    print(f"\nkilled mid-batch with {caught['sending']} rows sending; {resent} resends absorbed by client_msg_id")


def test_customer_service_messages_are_never_doubled_by_a_killed_worker(pg_url, pg, api_slow, tmp_path):
    """客服消息 carry no client_msg_id: a row the dead worker may have sent is not sent again
    but shown as failed with the reason; every other row is sent exactly once."""
    from datetime import timedelta

    from models import Follower, utcnow

    total, now = 120, utcnow()
    with pg.begin() as session:
        for n in range(total):
            openid = f"oTalking{n:06d}"
            session.add(Follower(openid=openid, last_interaction_at=now, window_expires_at=now + timedelta(hours=48),
                                 window_quota=5, window_used=0))
            outbox.enqueue(session, kind="request_update", recipient=Recipient.person(openid), payload={"text": "您的求助已受理。"},
                           idempotency_key=f"cs:{n}")
    first = _start_worker(pg_url, api_slow, tmp_path, 8, OUTBOX_SEND_RATE=200, OUTBOX_LEASE_SECONDS=1)
    _wait_for(lambda: len(api_slow.delivered()) >= 30, 30, "the first worker to send some")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    second = _start_worker(pg_url, api_slow, tmp_path, 8, OUTBOX_SEND_RATE=200, OUTBOX_LEASE_SECONDS=1)
    try:
        _wait_for(lambda: _statuses(pg)["sent"] + _statuses(pg)["failed"] == total, 60, "every row settled")
    finally:
        _stop(second)
    received = Counter(d.touser for d in api_slow.delivered(CUSTOM))
    assert max(received.values()) == 1  # nobody got it twice
    with pg() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    unknown = [r for r in rows if r.status == "failed"]
    assert all("may have reached the person" in r.last_errmsg for r in unknown)
    assert all(received[r.recipient] == 1 for r in rows if r.status == "sent")
    print(f"\nkilled mid-send: {len(unknown)} rows left for staff to check, none doubled")


@pytest.fixture
def api_slow():
    with FakeWeChatApi(latency=0.1) as fake:
        yield fake


@pytest.mark.parametrize("store", ["database", "redis"])
def test_two_workers_keep_one_send_rate(pg_url, pg, tmp_path, store, request):
    # A 2-second window: 100 messages at 50/s. The rows are queued once both workers are up (each
    # then finds them within one poll), so both take part however slowly the machine starts them.
    rate, total = 50, 100
    env = {"OUTBOX_SEND_RATE": rate}
    if store == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    with FakeWeChatApi(latency=0.01) as api:
        workers = [_start_worker(pg_url, api, tmp_path, 8, **env) for _ in range(2)]
        started = [""] * len(workers)
        try:
            started = [_started(w) for w in workers]
            _fill(pg, total)
            _wait_for(lambda: _statuses(pg)["sent"] == total, 60, "every row to be sent")
        finally:
            logs = [_stop(w, before) for w, before in zip(workers, started)]
        times = sorted(d.at for d in api.delivered(TEMPLATE))

    assert len(times) == total
    handled = [int(log.rsplit("stopped after ", 1)[1].split()[0]) for log in logs]
    assert all(n > 0 for n in handled) and sum(handled) == total  # both workers took part
    elapsed = times[-1] - times[0]
    assert elapsed >= (total - 1) / rate * 0.9, f"{total} messages in {elapsed:.2f} s exceeds {rate}/s"
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= rate * 1.2, f"{busiest} messages within one second"
