"""The fault drill: the whole installation on one machine, faults injected mid-run, and a
table of what was lost, doubled or swallowed. One command, loopback only:

    .venv/bin/python bench/drill.py            # 500 users, 10,000 pushes
    .venv/bin/python bench/drill.py --short    # 60 users, 1,000 pushes (CI, under 90 s)

Set-up: a throwaway PostgreSQL database (127.0.0.1:5432, dropped at the end), a spare
Redis database (flushed before and after), the fake WeChat API (tests/fake_wechat_api.py)
on a loopback port, and the real processes from `python -m bot`: `db upgrade`, two
`serve --workers 2` instances, two `worker`s and two `scheduler`s, all with the same
environment and one INSTANCE_DIR (as one installation on one host: the metrics of every
process are added up in its metrics directory). Messages are AES-encrypted (safe mode).

Load: N users follow the account and file a 求助 (10 turns each) with WeChat's retry
behaviour (drill_users.py), alternating between the two servers; meanwhile a publicity
push to the followers goes out through the delivery workers. The push is one outbox row
per person, not one mass send: a mass send is one API call, so it says nothing about
exactly-once. 90% of the rows are template messages (WeChat drops a resend carrying the
same client_msg_id) and 10% go to followers inside their 48-hour reply window as
customer-service messages, which have no client_msg_id: a row a killed worker may have
sent must be left "failed: may have reached the person", never resent.

Faults, while users are mid-conversation: SIGKILL of one gunicorn worker, of one delivery
worker and of the active scheduler (the killed worker and scheduler are started again 2 s
later, as systemd would); `CLIENT PAUSE 3000 ALL` on Redis; `pg_terminate_backend` of
every connection to the drill's database.

Timing in the drill's environment (shorter than production, so the run stays short):
OUTBOX_LEASE_SECONDS --lease (default 10; production default 60); scheduler lock TTL
--lock-ttl (default 20 s, as production; --short uses 10 s), renewed every ttl/6 s (at
least 1 s), standbys polling every 1 s. --faults moves the five faults (seconds after the
users start), e.g. closer together for a smaller crowd (tests/test_drill.py).
Exit status 0 only when every check passes.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import string
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from drill_procs import Proc, Serve, log_time, pause_redis, terminate_connections, throwaway_database  # noqa: E402
from drill_users import Crowd, LateReplies, User  # noqa: E402
from handlers import texts  # noqa: E402
from tests.fake_wechat_api import APP_ID, APP_SECRET, CUSTOM, TEMPLATE, FakeWeChatApi  # noqa: E402
from tests.wechat_peer import WeChatPeer  # noqa: E402

PUSH_KIND = "holiday_reminder"
TEMPLATE_ID = "TPL_DRILL_HOLIDAY"
MAY_HAVE_REACHED = "may have reached the person"
RECOVERY = 5.0  # seconds after a fault that still count as "during faults"


# --- the fake WeChat API, telling the users about their late replies ----------------------


class DrillApi(FakeWeChatApi):
    def __init__(self, late: LateReplies, **kwargs):
        super().__init__(**kwargs)
        self.late = late

    def _deliver(self, path, touser, client_msg_id, body):
        answer = super()._deliver(path, touser, client_msg_id, body)
        if path == CUSTOM and isinstance(touser, str) and touser.startswith("oDrillUser"):
            self.late.add(touser, body["text"]["content"])
        return answer


# --- environment ----------------------------------------------------------------------------


def aes_key() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))


def drill_env(database_url: str, redis_url: str, instance: Path, api: FakeWeChatApi, args) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECHAT_", "DATABASE_URL", "REDIS_URL", "PROMETHEUS_", "OUTBOX_", "SCHEDULER_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=secrets.token_hex(24),
        DATA_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        WECHAT_TOKEN=secrets.token_hex(12),
        WECHAT_APP_ID=APP_ID,
        WECHAT_APP_SECRET=APP_SECRET,
        WECHAT_ENCODING_AES_KEY=aes_key(),
        WECHAT_API_BASE_URL=api.base_url,
        WECHAT_TEMPLATE_IDS=f"{PUSH_KIND}={TEMPLATE_ID}",
        INSTANCE_DIR=str(instance),
        APP_ENV="production",
        LOG_LEVEL="INFO",
        OUTBOX_LEASE_SECONDS=str(args.lease),
        OUTBOX_SEND_RATE=str(args.send_rate),
        SCHEDULER_LOCK_TTL=str(args.lock_ttl),
        SCHEDULER_LOCK_RENEW=str(max(1.0, args.lock_ttl / 6)),
        SCHEDULER_STANDBY_POLL="1",
    )
    return env


# --- the push -------------------------------------------------------------------------------


def queue_push(database_url: str, data_key: str, count: int) -> None:
    """`count` followers and one outbox row each; every tenth inside its reply window."""
    from datetime import timedelta

    from sqlalchemy import insert

    from models import Follower, OutboxEvent, OutboxMessage, OutboxStatus, Recipient, RecipientKind, utcnow
    from models.database import make_engine, make_session_factory
    from models.encrypted import configure_data_key
    from services import outbox

    configure_data_key(data_key)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    now, long_ago = utcnow(), utcnow() - timedelta(days=30)
    rows = []
    for n in range(count):
        talked = n % 10 == 0
        rows.append(dict(openid=f"oDrillFan{n:07d}", last_interaction_at=now if talked else long_ago,
                         window_expires_at=now + timedelta(hours=47) if talked else long_ago + timedelta(hours=48),
                         window_quota=5, window_used=0))
    with sessions.begin() as session:
        session.execute(insert(Follower), rows)
    payload = {"text": "八一建军节将至，双拥办向您致以节日问候！", "fields": {"thing1": "八一建军节问候", "time2": "2026年8月1日"}}
    with sessions.begin() as session:  # the first through the service: it checks the payload and picks the channel
        first = outbox.enqueue(session, kind=PUSH_KIND, recipient=Recipient.person("oDrillFan0000000"), payload=payload,
                               idempotency_key="drill:push:0")
        channel = first.channel
    for start in range(1, count, 2000):  # the rest in bulk, as the same rows and events
        with sessions.begin() as session:
            ids = session.scalars(insert(OutboxMessage).returning(OutboxMessage.id), [
                dict(kind=PUSH_KIND, recipient_kind=RecipientKind.PERSON, recipient=f"oDrillFan{n:07d}", channel=channel, payload=payload,
                     idempotency_key=f"drill:push:{n}", status=OutboxStatus.PENDING, attempts=0, not_before=now,
                     next_attempt_at=now) for n in range(start, min(count, start + 2000))]).all()
            session.execute(insert(OutboxEvent), [dict(outbox_id=i, at=now, from_status=None, to_status="pending",
                                                       note="queued") for i in ids])
    engine.dispose()


# --- faults ---------------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    started: float
    ended: float
    detail: str = ""


class Faults:
    def __init__(self, drill: "Drill"):
        self.drill = drill
        self.done: list[Fault] = []
        self.sending_at_worker_kill: list[int] = []
        self.worker_rows_back_after: float | None = None
        self.errors: list[str] = []
        self._restarts: list[threading.Thread] = []

    def run(self, schedule: list[tuple[float, str]], started: float) -> None:
        for offset, name in schedule:
            wait = started + offset - time.time()
            if wait > 0:
                time.sleep(wait)
            try:
                getattr(self, name)()
            except Exception as exc:
                self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        for restart in self._restarts:
            restart.join()

    def _restart_later(self, name: str, start) -> None:
        """Start a killed process again 2 s later, as systemd would, without holding up the next fault."""
        def later():
            time.sleep(2)
            try:
                start()
            except Exception as exc:
                self.errors.append(f"restart after {name}: {type(exc).__name__}: {exc}")

        thread = threading.Thread(target=later, daemon=True)
        thread.start()
        self._restarts.append(thread)

    def _record(self, name: str, started: float, detail: str, ended: float | None = None) -> None:
        self.done.append(Fault(name, started, ended or time.time(), detail))
        print(f"  fault at +{started - self.drill.users_started:5.1f} s: {name} ({detail})", flush=True)

    def kill_web_worker(self) -> None:
        serve = self.drill.serves[0]
        victim = serve.children()[0]
        at = time.time()
        os.kill(victim, signal.SIGKILL)
        self._record("SIGKILL gunicorn worker", at, f"pid {victim} of {serve.name}")

    def kill_delivery_worker(self) -> None:
        worker = self.drill.workers[0]
        deadline = time.time() + 10
        while not self.drill.sending_rows() and time.time() < deadline:
            time.sleep(0.05)  # kill it with rows in flight, or the fault proves nothing
        at = time.time()
        worker.sigkill()
        self.sending_at_worker_kill = self.drill.sending_rows()
        self._record("SIGKILL delivery worker", at, f"pid {worker.pid}, {len(self.sending_at_worker_kill)} rows sending")
        threading.Thread(target=self._watch_rows_back, args=(at,), daemon=True).start()
        self._restart_later("kill_delivery_worker",
                            lambda: self.drill.workers.append(self.drill.start("worker", ["worker", "--concurrency", "8"])))

    def _watch_rows_back(self, killed: float) -> None:
        ids = set(self.sending_at_worker_kill)
        while time.time() - killed < 300:
            if not ids & set(self.drill.sending_rows()):
                self.worker_rows_back_after = time.time() - killed
                return
            time.sleep(0.5)

    def kill_scheduler(self) -> None:
        active = self.drill.active_scheduler()
        if active is None:
            raise RuntimeError("no active scheduler found")
        at = time.time()
        active.sigkill()
        self._record("SIGKILL active scheduler", at, f"pid {active.pid}")
        self._restart_later("kill_scheduler", lambda: self.drill.schedulers.append(self.drill.start("scheduler", ["scheduler"])))

    def pause_redis(self) -> None:
        at = time.time()
        pause_redis("127.0.0.1", 6379, 3000)
        self._record("Redis CLIENT PAUSE 3000 ALL", at, "3 s", ended=at + 3)

    def terminate_pg(self) -> None:
        at = time.time()
        count = terminate_connections(self.drill.args.pg_server, self.drill.db_name)
        self._record("pg_terminate_backend", at, f"{count} connections")

    def during(self, moment: float) -> bool:
        return any(f.started <= moment <= f.ended + RECOVERY for f in self.done)


# --- the drill ------------------------------------------------------------------------------


class Drill:
    def __init__(self, args, tmp: Path, db_name: str, database_url: str, redis_url: str, api: DrillApi, late):
        self.args, self.tmp, self.db_name, self.database_url = args, tmp, db_name, database_url
        self.redis_url, self.api, self.late = redis_url, api, late
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.env = drill_env(database_url, redis_url, tmp / "instance", api, args)
        self.procs: list[Proc] = []
        self.serves: list[Serve] = []
        self.workers: list[Proc] = []
        self.schedulers: list[Proc] = []
        self.created = self.users_started = time.time()
        self.metric_samples: list[tuple[float, float]] = []
        self.lock_samples: list[tuple[float, str, int]] = []  # when the lock's holder changed
        self._engine = None

    # processes
    def start(self, kind: str, argv: list[str]) -> Proc:
        name = f"{kind}-{sum(1 for p in self.procs if p.name.startswith(kind)) + 1}"
        proc = Proc(name, argv, self.env, self.logs)
        self.procs.append(proc)
        return proc

    def start_all(self) -> None:
        import subprocess

        upgrade = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=Path(__file__).parent.parent,
                                 env=self.env, capture_output=True, text=True, timeout=180)
        if upgrade.returncode != 0:
            raise RuntimeError(f"db upgrade failed:\n{upgrade.stdout}\n{upgrade.stderr}")
        for n in (1, 2):
            serve = Serve(f"serve-{n}", self.env, self.logs, workers=2)
            self.procs.append(serve)
            self.serves.append(serve)
        # Both schedulers at once (each start is about a second of CPU): one takes the lock, the
        # other waits. Which one leads does not matter: the fault kills whichever is active.
        pair = [self.start("scheduler", ["scheduler"]) for _ in range(2)]
        self.schedulers.extend(pair)
        for _ in range(2):
            self.workers.append(self.start("worker", ["worker", "--concurrency", "8"]))
        for serve in self.serves:
            serve.wait_ready()
        deadline = time.monotonic() + 90
        while not (all("scheduler standby" in p.output() for p in pair) and self.active_scheduler() is not None):
            for proc in pair:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited early:\n{proc.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("no scheduler active with the other on standby within 90 s:\n"
                                   + "\n".join(p.output()[-1500:] for p in pair))
            time.sleep(0.1)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.alive():
                proc.popen.terminate()
        for proc in reversed(self.procs):
            proc.stop()
        if self._engine is not None:
            self._engine.dispose()

    # database views
    def engine(self):
        if self._engine is None:
            from models.database import make_engine

            self._engine = make_engine(self.database_url, pool_pre_ping=True)
        return self._engine

    def query(self, sql: str, **params) -> list:
        from sqlalchemy import text
        from sqlalchemy.exc import OperationalError

        for _ in range(5):  # pg_terminate_backend drops our connections too
            try:
                with self.engine().connect() as conn:
                    return conn.execute(text(sql), params).all()
            except OperationalError:
                time.sleep(0.5)
        raise RuntimeError(f"database unreachable for: {sql}")

    def sending_rows(self) -> list[int]:
        return [r[0] for r in self.query("SELECT id FROM outbox_message WHERE status = 'sending'")]

    def active_scheduler(self) -> Proc | None:
        for proc in self.schedulers:
            if not proc.alive():
                continue
            states = [e["msg"] for e in proc.json_lines() if e.get("logger") == "scheduler.process"]
            for msg in reversed(states):
                if msg == "scheduler active":
                    return proc
                if msg.startswith(("scheduler standby", "scheduler lost", "scheduler stopped")):
                    break
        return None

    def first_active_after(self, moment: float) -> float | None:
        """When a scheduler first logged "scheduler active" after `moment`."""
        starts = [log_time(e) for proc in self.schedulers for e in proc.json_lines()
                  if e.get("logger") == "scheduler.process" and e["msg"] == "scheduler active" and log_time(e) > moment]
        return min(starts, default=None)

    def watch_metrics(self, stop: threading.Event) -> None:
        """shuangyong_scheduler_active as /metrics reports it, and the leader lock's holder in
        Redis (pid and ms left), sampled every half second."""
        import redis
        from prometheus_client.parser import text_string_to_metric_families

        store = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        while not stop.is_set():
            try:
                holder, left = store.get("shuangyong:scheduler"), store.pttl("shuangyong:scheduler")
                pid = holder.decode().split(":")[1] if holder else "none"
                if not self.lock_samples or self.lock_samples[-1][1] != pid:
                    self.lock_samples.append((time.time(), pid, left))
            except Exception:
                pass
            try:
                body = requests.get(self.serves[1].url + "/metrics", timeout=3).text
                value = sum(s.value for f in text_string_to_metric_families(body) for s in f.samples
                            if s.name == "shuangyong_scheduler_active")
                self.metric_samples.append((time.time(), value))
            except Exception:
                pass
            stop.wait(0.5)

    def wait_outbox_settled(self, timeout: float) -> bool:
        started = time.time()
        deadline, shown = started + timeout, False
        while time.time() < deadline:
            left = self.query("SELECT count(*) FROM outbox_message WHERE status IN ('pending', 'sending')")[0][0]
            if left == 0:
                return True
            if not shown and time.time() - started > 5:  # what holds the outbox up, for the report
                shown = True
                for row_id, kind, status, attempts, due in self.query(
                        "SELECT id, kind, status, attempts, next_attempt_at - now() AT TIME ZONE 'UTC' FROM outbox_message "
                        "WHERE status IN ('pending', 'sending') ORDER BY id LIMIT 3"):
                    events = self.query("SELECT to_status, note FROM outbox_event WHERE outbox_id = :i ORDER BY id", i=row_id)
                    print(f"  still {status}: row {row_id} ({kind}, {attempts} attempts, due in {due}): "
                          + " → ".join(f"{e[0]}({(e[1] or '')[:60]})" for e in events), flush=True)
            time.sleep(1)
        return False


# --- checks ---------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    value: str
    target: str
    ok: bool | None  # None: shown, not judged


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def handled(drill: Drill, user: User, msg_id: int) -> bool:
    """The message left a stored effect: its dedupe record says it was handled."""
    import redis

    from services.inbound_dedupe import RedisDedupe, dedupe_key

    key = dedupe_key(user.openid, msg_id, 0, None, None)
    rows = drill.query("SELECT status FROM inbound_message WHERE dedupe_key = :k", k=key)
    if rows and str(rows[0][0]).lower().endswith("done"):
        return True
    value = redis.Redis.from_url(drill.redis_url).get("shuangyong:inbound:" + key)
    return value is not None and not value.decode(errors="replace").startswith(RedisDedupe.PROCESSING)


def request_checks(drill: Drill, crowd: Crowd) -> list[Check]:
    stored: dict[str, list[str]] = {}
    for number, openid in drill.query("SELECT number, openid FROM help_request"):
        stored.setdefault(openid, []).append(number)
    doubled = sum(1 for numbers in stored.values() if len(numbers) > 1)
    seen_missing = sum(1 for u in crowd.users for r in u.receipts if r not in stored.get(u.openid, []))
    without_receipt = sum(1 for u in crowd.users for r in stored.get(u.openid, []) if r not in u.receipts)
    got_receipt = sum(1 for u in crowd.users if u.receipts)
    unanswered = [u for u in crowd.users if u.final is not None and u.final.answer is None]
    swallowed = 0
    for user in unanswered:
        final = user.final
        if final.msg_id is None:  # the follow event
            swallowed += 1
        elif final.said == "1" and any(t.answer and "请核对" in t.answer for t in user.turns):
            swallowed += 0 if stored.get(user.openid) else 1
        else:
            swallowed += 0 if handled(drill, user, final.msg_id) else 1
    derailed = [u for u in crowd.users if u.derailed and not (u.final and u.final.answer is None)]
    late = sum(1 for u in crowd.users for t in u.turns if t.how == "late")
    extra = sum(max(0, drill.late.count(u.openid) - sum(1 for t in u.turns if t.how == "late")) for u in crowd.users)
    busy = sum(1 for u in crowd.users for t in u.turns if t.answer == texts.BUSY)
    n = len(crowd.users)
    return [
        Check("requests stored", f"{sum(len(v) for v in stored.values())} for {len(stored)} users", f"{n}", sum(len(v) for v in stored.values()) == n),
        Check("requests doubled (a user with 2+)", str(doubled), "0", doubled == 0),
        Check("receipts seen but not stored", str(seen_missing), "0", seen_missing == 0),
        Check("requests stored, receipt never seen", str(without_receipt), "0", without_receipt == 0),
        Check("users who got their receipt", f"{got_receipt}/{n} ({late} answers came late)", f"{n}/{n}", got_receipt == n),
        Check("final messages unanswered", str(len(unanswered)), "0", len(unanswered) == 0),
        Check("  of which swallowed (no effect)", str(swallowed), "0", swallowed == 0),
        Check("conversations off the rails", str(len(derailed)), "0", not derailed),
        Check("late replies nobody waited for", str(extra), "0", extra == 0),
        Check("系统繁忙 answers (the user sent it again)", str(busy), "—", None),
    ]


def push_checks(drill: Drill, faults: Faults) -> list[Check]:
    rows = drill.query("SELECT id, recipient, status, channel, in_flight_channel, last_errmsg FROM outbox_message "
                       "WHERE kind = :k", k=PUSH_KIND)
    templates = Counter((d.touser, d.client_msg_id) for d in drill.api.delivered(TEMPLATE))
    template_calls = len(drill.api.calls(TEMPLATE))
    custom = Counter(d.touser for d in drill.api.delivered(CUSTOM))
    lost = doubled = may_have = 0
    odd: list[int] = []
    for row_id, recipient, status, channel, in_flight, errmsg in rows:
        status, channel = str(status).lower(), str(channel or in_flight or "").lower()
        got = templates[(recipient, f"sy-outbox-{row_id}")] + custom[recipient]
        if status.endswith("failed") and MAY_HAVE_REACHED in (errmsg or ""):
            may_have += 1
        elif status.endswith("sent"):
            lost += got == 0
        else:
            lost += 1
            odd.append(row_id)
        if got > 1:
            doubled += 1
            odd.append(row_id)
    for row_id in odd[:3]:  # what happened to a lost or doubled row, from its events
        events = drill.query("SELECT to_status, channel, note FROM outbox_event WHERE outbox_id = :i ORDER BY id", i=row_id)
        print(f"  push row {row_id}: " + " → ".join(f"{e[0]}({e[2] or ''})"[:80] for e in events))
    absorbed = template_calls - sum(templates.values())
    back = faults.worker_rows_back_after
    return [
        Check("push rows", str(len(rows)), str(drill.args.pushes), len(rows) == drill.args.pushes),
        Check("pushes lost (not delivered, not flagged)", str(lost), "0", lost == 0),
        Check("pushes delivered twice", str(doubled), "0", doubled == 0),
        Check("resends absorbed by client_msg_id", str(max(0, absorbed)), "any", None),
        Check("failed: may have reached the person", str(may_have), "shown to staff", None),
        Check("dead worker's rows taken back after", "—" if back is None else f"{back:.1f} s", "< 60 s",
              back is not None and back < 60),
    ]


def scheduler_checks(drill: Drill, faults: Faults, ended: float) -> list[Check]:
    intervals: list[tuple[float, float, str]] = []
    for proc in drill.schedulers:
        start = None
        for entry in proc.json_lines():
            if entry.get("logger") != "scheduler.process":
                continue
            msg = entry["msg"]
            if msg == "scheduler active":
                start = log_time(entry)
            elif start is not None and msg.startswith(("scheduler standby", "scheduler lost", "scheduler stopped")):
                intervals.append((start, log_time(entry), proc.name))
                start = None
        if start is not None:
            intervals.append((start, proc.killed_at or ended, proc.name))
    events = sorted([(s, 1) for s, _e, _n in intervals] + [(e, -1) for _s, e, _n in intervals], key=lambda x: (x[0], x[1]))
    most = level = 0
    for _t, step in events:
        level += step
        most = max(most, level)
    kill = next((f for f in faults.done if f.name == "SIGKILL active scheduler"), None)
    took = None
    if kill is not None:
        later = [s for s, _e, _n in intervals if s > kill.started]
        took = min(later) - kill.started if later else None
    after = [v for t, v in drill.metric_samples if kill is None or t > kill.started + (took or 0) + 2]
    limit = 30.0
    return [
        Check("schedulers active at once (logs)", f"at most {most}", "1", most == 1),
        Check("takeover after killing the active one", "none" if took is None else f"{took:.1f} s",
              f"< {limit:.0f} s (lock ttl {drill.args.lock_ttl:g} s)", took is not None and took < limit),
        Check("/metrics scheduler_active after takeover", f"max {max(after):g}" if after else "no samples", "1",
              bool(after) and max(after) == 1),
    ]


def latency_checks(crowd: Crowd, faults: Faults, judge: bool) -> list[Check]:
    attempts = crowd.attempts()
    answered = [a for a in attempts if a.status is not None]
    during = [a.seconds for a in answered if faults.during(a.started)]
    outside = [a.seconds for a in answered if not faults.during(a.started)]
    server_errors = sum(1 for a in attempts if a.status is not None and a.status >= 500)
    timeouts = sum(1 for a in attempts if a.outcome == "timeout")
    broken = sum(1 for a in attempts if a.outcome == "error")
    p99_during = percentile(during, 99)
    # The faults are meant to land mid-conversation: users who had started before the last one and
    # were still sending after it (a shorter --faults schedule must not outrun a smaller crowd).
    last = max((f.started for f in faults.done), default=None)
    mid = 0 if last is None else sum(1 for u in crowd.users if any(a.started < last for t in u.turns for a in t.attempts)
                                     and any(a.started > last for t in u.turns for a in t.attempts))

    def fmt(values):
        return f"p50 {percentile(values, 50) * 1000:.0f} ms, p99 {percentile(values, 99) * 1000:.0f} ms (n={len(values)})"

    return [
        Check("reply latency outside faults", fmt(outside), "—", None),
        Check("reply latency during faults (+5 s)", fmt(during), "p99 < 1000 ms", (p99_during < 1.0) if judge else None),
        Check("HTTP 5xx", str(server_errors), "0", server_errors == 0),
        Check("attempts timed out (5 s) / connection broken", f"{timeouts} / {broken}", "retried", None),
        Check("HTTP attempts in all", str(len(attempts)), "—", None),
        Check("users mid-conversation at the last fault", str(mid), "> 0", None),
    ]


def process_checks(drill: Drill, faults: Faults) -> list[Check]:
    tracebacks = {p.name: p.output().count("Traceback") for p in drill.procs}
    noisy = ", ".join(f"{k} {v}" for k, v in tracebacks.items() if v) or "none"
    return [
        Check("faults injected", f"{len(faults.done)}/5", "5/5", len(faults.done) == 5 and not faults.errors),
        Check("tracebacks in process logs", noisy, "—", None),
    ]


def print_table(checks: list[Check]) -> bool:
    width = max(len(c.name) for c in checks) + 2
    vwidth = max(len(c.value) for c in checks) + 2
    print(f"\n{'check':<{width}}{'result':<{vwidth}}{'target':<28}status")
    print("-" * (width + vwidth + 36))
    for c in checks:
        status = "info" if c.ok is None else ("PASS" if c.ok else "FAIL")
        print(f"{c.name:<{width}}{c.value:<{vwidth}}{c.target:<28}{status}")
    failed = [c for c in checks if c.ok is False]
    print(f"\n{'ALL CHECKS PASSED' if not failed else f'{len(failed)} CHECK(S) FAILED'}")
    return not failed


# --- main -----------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="60 users, 1,000 pushes: a CI-sized run")
    parser.add_argument("--users", type=int)
    parser.add_argument("--pushes", type=int)
    parser.add_argument("--concurrency", type=int, help="users talking at once")
    parser.add_argument("--think", type=float, default=0.3, help="seconds a user takes between turns")
    parser.add_argument("--send-rate", type=float, help="OUTBOX_SEND_RATE for the drill")
    parser.add_argument("--lock-ttl", type=float, help="SCHEDULER_LOCK_TTL (production default 20)")
    parser.add_argument("--lease", type=int, default=10, help="OUTBOX_LEASE_SECONDS (production default 60)")
    parser.add_argument("--faults", help="the five faults' times in seconds after the users start, comma-separated "
                                         "(web worker, delivery worker, scheduler, Redis pause, PostgreSQL)")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-db", type=int, default=14, help="a spare Redis database number (flushed)")
    parser.add_argument("--keep", action="store_true", help="keep the logs directory")
    args = parser.parse_args(argv)
    short = args.short
    args.users = args.users or (60 if short else 500)
    args.pushes = args.pushes or (1000 if short else 10000)
    args.concurrency = args.concurrency or (15 if short else 50)
    args.send_rate = args.send_rate or (60.0 if short else 250.0)
    args.lock_ttl = args.lock_ttl or (10.0 if short else 20.0)
    if args.faults:
        offsets = [float(x) for x in args.faults.split(",")]
        if len(offsets) != 5 or offsets != sorted(offsets):
            parser.error("--faults takes five increasing times, e.g. 3,6,9,13,17")
        args.faults = offsets
    else:
        args.faults = [3, 6, 9, 13, 17] if short else [8, 14, 20, 28, 36]
    return args


def schedule(offsets: list[float]) -> list[tuple[float, str]]:
    names = ("kill_web_worker", "kill_delivery_worker", "kill_scheduler", "pause_redis", "terminate_pg")
    return list(zip(offsets, names))


def main(argv=None) -> int:
    import redis

    args = parse_args(argv)
    wall = time.time()
    print(f"fault drill: {args.users} users ({args.concurrency} at a time), {args.pushes} pushes; "
          f"OUTBOX_LEASE_SECONDS={args.lease}, OUTBOX_SEND_RATE={args.send_rate:g}, scheduler lock ttl {args.lock_ttl:g} s",
          flush=True)
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    tmp = Path(tempfile.mkdtemp(prefix="drill-"))
    late = LateReplies()
    ok = False
    try:
        with DrillApi(late, latency=0.05) as api, throwaway_database(args.pg_server) as (db_name, url):
            drill = Drill(args, tmp, db_name, url, redis_url, api, late)
            try:
                ok = run(drill)
            finally:
                stopping = time.time()
                drill.stop_all()
                print(f"  processes stopped in {time.time() - stopping:.1f} s", flush=True)
                if args.keep or not ok:
                    kept = Path(tempfile.gettempdir()) / f"drill-logs-{int(wall)}"
                    shutil.copytree(drill.logs, kept)
                    print(f"logs: {kept}")
    finally:
        store.flushdb()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wall time {time.time() - wall:.0f} s")
    return 0 if ok else 1


def run(drill: Drill) -> bool:
    args = drill.args
    drill.start_all()
    print(f"  started: {', '.join(f'{p.name} pid {p.pid}' for p in drill.procs)}", flush=True)
    print(f"  processes up after {time.time() - drill.created:.0f} s", flush=True)
    queue_push(drill.database_url, drill.env["DATA_ENCRYPTION_KEY"], args.pushes)
    print(f"  {args.pushes} pushes queued after {time.time() - drill.created:.0f} s", flush=True)
    peer = WeChatPeer(drill.env["WECHAT_TOKEN"], drill.env["WECHAT_ENCODING_AES_KEY"], APP_ID, mode="safe")
    crowd = Crowd([s.url for s in drill.serves], peer, drill.late, args.users, args.concurrency, args.think)
    faults = Faults(drill)
    stop_watch = threading.Event()
    watcher = threading.Thread(target=drill.watch_metrics, args=(stop_watch,), daemon=True)
    watcher.start()
    drill.users_started = time.time()
    talking = threading.Thread(target=crowd.run, daemon=True)
    talking.start()
    faults.run(schedule(args.faults), drill.users_started)
    talking.join()
    print(f"  users done after {time.time() - drill.users_started:.0f} s", flush=True)
    settled = drill.wait_outbox_settled(180)
    print(f"  outbox settled after +{time.time() - drill.users_started:.1f} s", flush=True)
    kill = next((f for f in faults.done if f.name == "SIGKILL active scheduler"), None)
    if kill is not None:  # give the standby its chance to take over before judging
        deadline = kill.started + args.lock_ttl + 30
        while time.time() < deadline and drill.active_scheduler() is None:
            time.sleep(0.5)
    # /metrics is judged from 2 s after the takeover (as in scheduler_checks): wait for a few
    # samples from then on (a /metrics scrape can take a while on a loaded machine), not for a
    # fixed time; samples taken while the users were still talking count.
    takeover = drill.first_active_after(kill.started) if kill is not None else None
    judged_from, deadline = (takeover or time.time()) + 2, time.time() + 30
    while time.time() < deadline and sum(1 for t, _v in drill.metric_samples if t > judged_from) < 3:
        time.sleep(0.2)
    stop_watch.set()
    watcher.join()
    ended = time.time()
    print(f"  /metrics sampled until +{ended - drill.users_started:.1f} s", flush=True)
    for error in faults.errors:
        print(f"  fault failed: {error}")
    checks = request_checks(drill, crowd) + push_checks(drill, faults)
    checks.append(Check("outbox settled (nothing pending/sending)", "yes" if settled else "no", "yes", settled))
    checks += scheduler_checks(drill, faults, ended) + latency_checks(crowd, faults, judge=not args.short)
    checks += process_checks(drill, faults)
    print("  leader lock holder (pid, ms left) from +0 s: " + ", ".join(
        f"+{t - drill.users_started:.1f}s {pid} ({left})" for t, pid, left in drill.lock_samples))
    for user in [u for u in crowd.users if u.derailed][:5]:
        print(crowd.describe(user, drill.users_started))
    return print_table(checks)


if __name__ == "__main__":
    sys.exit(main())
