"""Console benchmark: page times of the staff console with a county's years of data on PostgreSQL.

A throwaway database gets 100,000 help requests, 50,000 people (households, statuses,
registrations), 1,000,000 status events and 200,000 outbox rows (bulk-loaded with COPY,
not timed). Then each page is requested through the real app in-process (routing,
sign-in, queries, decryption, Jinja rendering — everything but the socket), warm-up
first, and the p50/p95 per page are printed. An admin sees the whole county; a
township officer's pages are scoped to one 乡镇.

    .venv/bin/python bench/console_bench.py                      # the issue's sizes
    .venv/bin/python bench/console_bench.py --requests 20000 --people 10000 --events 200000 --rounds 30

Target (console issue): p95 under 200 ms per page on the 2-core machine.
"""

from __future__ import annotations

import argparse
import base64
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

DATA_KEY = base64.urlsafe_b64encode(b"c" * 32).decode()
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TOWNS = [f"镇{n:02d}" for n in range(20)]
CATEGORIES = ["living", "housing", "medical", "employment", "legal", "card", "plaque", "policy", "other"]
STATUSES = ["submitted", "accepted", "transferred", "in_progress", "resolved", "visited", "rejected"]
WEIGHTS = [3, 2, 2, 5, 10, 70, 8]  # years of history: most requests are long closed
NOW = datetime(2027, 1, 20, 2, 0, tzinfo=timezone.utc)
PASSWORD = "bench-password-42"


def create_database() -> str:
    from sqlalchemy import create_engine, text

    name = f"sy_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    engine.dispose()


def _copy(raw, table: str, columns: tuple[str, ...], rows) -> None:
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def load(url: str, requests: int, people: int, events: int) -> None:
    """Bulk data through COPY; personal fields encrypted as the app would write them."""
    from models.database import make_engine
    from models.encrypted import blind_index, encrypt_text
    from models.schema import upgrade

    upgrade(url)
    rng = random.Random(11)
    engine = make_engine(url)
    naive = NOW.replace(tzinfo=None)
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        _copy(raw, "household", ("id", "town", "village", "created_at"),
              ((i, TOWNS[i % 20], f"村{i % 97:02d}", naive) for i in range(1, people + 1)))
        phone = encrypt_text("17000000000")  # one ciphertext reused: loading speed, not realism of bytes
        _copy(raw, "beneficiary",
              ("id", "number", "household_id", "name", "name_bi", "mobile", "mobile_bi", "relation", "status",
               "registered_by", "created_at", "updated_at"),
              ((i, f"YF2026-{i:06d}", i, encrypt_text(f"虚构{i}"), blind_index(f"虚构{i}", "name"), phone,
                blind_index(f"170{i:08d}", "phone"), "self",
                "pending" if i % 40 == 0 else "verified", f"oBenchPerson{i:06d}", naive, naive)
               for i in range(1, people + 1)))
        _copy(raw, "beneficiary_status", ("beneficiary_id", "category"),
              ((i, rng.choice(("MARTYR_F", "DISABLED", "DEMOB_OLD", "VETERAN"))) for i in range(1, people + 1)))
        _copy(raw, "volunteer",
              ("number", "openid", "name", "name_bi", "mobile_bi", "town", "village", "skills", "availability",
               "status", "service_minutes", "created_at", "updated_at"),
              ((f"ZY2026-{i:05d}", f"oBenchVol{i:05d}", encrypt_text(f"志愿者{i}"), blind_index(f"志愿者{i}", "name"),
                blind_index(f"171{i:08d}", "phone"),
                TOWNS[i % 20], "村00", "[]", "weekend", "pending" if i % 10 == 0 else "approved", 0, naive, naive)
               for i in range(1, 2001)))
        name, description = encrypt_text("王某某"), encrypt_text("老人住房漏雨，需要维修，联系过村里还没有解决。")
        statuses = rng.choices(STATUSES, WEIGHTS, k=requests)
        created = [naive - timedelta(minutes=rng.randrange(60 * 24 * 365 * 3)) for _ in range(requests)]
        _copy(raw, "help_request",
              ("id", "number", "openid", "category", "description", "attachments", "urgency", "for_whom",
               "contact_name", "contact_phone", "contact_phone_bi", "town", "source", "status", "due_at",
               "created_at", "updated_at"),
              ((i, f"SY{2024 + i % 3}-{i:06d}", f"oBenchPerson{i % people + 1:06d}", CATEGORIES[i % 9], description,
                "[]", "urgent" if i % 13 == 0 else "normal", "self", name, phone,
                blind_index(f"170{i % people:08d}", "phone"), TOWNS[i % 20],
                "handover" if i % 50 == 0 else "chat", statuses[i - 1], created[i - 1] + timedelta(days=1),
                created[i - 1], created[i - 1]) for i in range(1, requests + 1)))
        per_request = max(1, events // requests)
        _copy(raw, "status_event", ("subject", "subject_id", "from_status", "to_status", "actor", "action", "at"),
              (("help_request", i, None if k == 0 else "in_progress", "submitted" if k == 0 else "in_progress",
                "user" if k == 0 else "staff:bench", None if k == 0 else "note", created[i - 1] + timedelta(hours=k))
               for i in range(1, requests + 1) for k in range(per_request)))
        payload = encrypt_text('{"msgtype": "text", "text": "您的求助已受理"}')
        _copy(raw, "outbox_message",
              ("kind", "recipient", "channel", "payload", "idempotency_key", "status", "not_before", "attempts",
               "next_attempt_at", "created_at", "updated_at"),
              (("request_update", f"oBenchPerson{i % people + 1:06d}", "customer_service", payload, f"bench:{i}",
                "failed" if i % 500 == 0 else "sent", naive, 1, naive, naive - timedelta(minutes=i), naive)
               for i in range(1, requests * 2 + 1)))
        for table in ("household", "beneficiary", "help_request", "volunteer", "outbox_message"):
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def make_app(url: str, instance: Path):
    from bot import create_app
    from config import Settings

    env = {"DATABASE_URL": url, "INSTANCE_DIR": str(instance), "SECRET_KEY": "bench-secret-key-0123456789",
           "DATA_ENCRYPTION_KEY": DATA_KEY, "WECHAT_TOKEN": "benchtoken", "LOG_LEVEL": "WARNING"}
    app = create_app(Settings.from_env(env, env_file=None))
    app.extensions["shuangyong"].clock = lambda: NOW
    return app


def add_accounts(app) -> None:
    from models.staff_account import StaffRole
    from services import staff_accounts

    with app.extensions["shuangyong"].sessions.begin() as session:
        staff_accounts.create(session, "bench_admin", PASSWORD, NOW, role=StaffRole.ADMIN)
        staff_accounts.create(session, "bench_town", PASSWORD, NOW, role=StaffRole.OFFICER, town=TOWNS[3])


def signed_in_client(app, username: str):
    client = app.test_client()
    html = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
    response = client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, f"sign-in failed for {username}: {response.status_code}"
    return client


def pages(rng: random.Random, requests: int) -> list[tuple[str, callable, str]]:
    def detail():
        return f"/console/requests/{rng.randrange(1, requests + 1)}"

    def town_detail():  # a request of 镇03 (ids ≡ 3 mod 20)
        return f"/console/requests/{rng.randrange(0, requests // 20) * 20 + 3}"

    return [
        ("dashboard (county)", lambda: "/console/", "bench_admin"),
        ("dashboard (one 乡镇)", lambda: "/console/", "bench_town"),
        ("requests: default list", lambda: "/console/requests", "bench_admin"),
        ("requests: filtered, page 5", lambda: f"/console/requests?status=in_progress&category=housing&page={rng.randrange(1, 6)}", "bench_admin"),
        ("requests: 乡镇 officer, overdue", lambda: "/console/requests?overdue=1", "bench_town"),
        ("requests: search by phone", lambda: f"/console/requests?q=170{rng.randrange(1, 50_000):08d}", "bench_admin"),
        ("requests: search by number", lambda: f"/console/requests?q=SY2025-{rng.randrange(1, requests):06d}", "bench_admin"),
        ("request detail", detail, "bench_admin"),
        ("request detail (乡镇 officer)", town_detail, "bench_town"),
        ("registrations", lambda: "/console/registrations?kind=beneficiary", "bench_admin"),
        ("人工 inbox", lambda: "/console/handover", "bench_admin"),
        ("delivery log", lambda: "/console/deliveries?status=failed", "bench_admin"),
    ]


def measure(app, requests: int, rounds: int) -> list[tuple[str, float, float, int]]:
    rng = random.Random(5)
    clients = {name: signed_in_client(app, name) for name in ("bench_admin", "bench_town")}
    results = []
    for label, path, who in pages(rng, requests):
        client = clients[who]
        for _ in range(3):  # warm-up: connections, template compilation, statement caches
            client.get(path())
        times, status = [], 200
        for _ in range(rounds):
            started = time.perf_counter()
            response = client.get(path())
            times.append((time.perf_counter() - started) * 1000)
            status = response.status_code if response.status_code != 200 else status
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
        results.append((label, statistics.median(times), p95, status))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    args = parser.parse_args()

    from models.encrypted import configure_data_key

    configure_data_key(DATA_KEY)
    url = create_database()
    try:
        started = time.perf_counter()
        load(url, args.requests, args.people, args.events)
        print(f"loaded {args.requests:,} requests, {args.people:,} people, {args.events:,} events, "
              f"{args.requests * 2:,} outbox rows in {time.perf_counter() - started:.0f} s")
        with tempfile.TemporaryDirectory() as instance:
            app = make_app(url, Path(instance))
            add_accounts(app)
            results = measure(app, args.requests, args.rounds)
            app.extensions["shuangyong"].close()
        print(f"\n{'page':<34} {'p50':>8} {'p95':>8}  status")
        for label, p50, p95, status in results:
            flag = "" if status == 200 else f"  HTTP {status}"
            print(f"{label:<34} {p50:>6.0f}ms {p95:>6.0f}ms  {'ok' if status == 200 else ''}{flag}")
        worst = max(p95 for _, _, p95, _ in results)
        print(f"\nworst p95: {worst:.0f} ms (target < 200 ms)")
    finally:
        if args.keep:
            print(f"database kept: {url}")
        else:
            drop_database(url)


if __name__ == "__main__":
    main()
