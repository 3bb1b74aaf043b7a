"""Export benchmark: the 走访慰问台账 of a 5,000-household plan as Excel, on SQLite and on a
throwaway PostgreSQL database; the 花名册 of the same roster (two people per household) and
the team lists alongside.

The roster (names, phones, ID numbers and addresses encrypted, as stored) and the plan are
loaded first (not timed); then a fresh process per export builds it from the database
(services.exports), writes the .xlsx (bot/console/export_files.py) and audits it, and reports
its wall time and its peak memory (max RSS of that whole process, interpreter included).

    .venv/bin/python bench/export_bench.py                   # both databases
    .venv/bin/python bench/export_bench.py --db sqlite --households 5000

Target (issue 13): export of a 5,000-row 台账 under 10 s and under 300 MB.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

DATA_KEY = base64.urlsafe_b64encode(b"e" * 32).decode()
TOWNS, VILLAGES = 12, 8
CATEGORIES = ["MARTYR_F", "DISABLED", "DEMOB_OLD", "ILL_RETURN", "WAR_TEST", "RURAL_OLD", "FAMILY", "SOLDIER"]
EXPORTS = ("visit-ledger", "roster", "team-lists")


def load(url: str, households: int) -> None:
    from sqlalchemy import insert

    from models.beneficiary import Beneficiary, BeneficiaryStatus, Household, RegistrationStatus
    from models.database import make_engine
    from models.encrypted import configure_data_key
    from models.schema import upgrade
    from models.visits import PlannedVisit, VisitPlan, VisitTeam

    configure_data_key(DATA_KEY)
    upgrade(url)
    engine = make_engine(url)
    visited = datetime(2027, 1, 20, 2, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(insert(VisitTeam), [{"id": t + 1, "town": f"镇{t:02d}", "name": f"镇{t:02d}走访组", "active": True}
                                         for t in range(TOWNS)])
        conn.execute(insert(Household), [
            {"id": i, "town": f"镇{i % TOWNS:02d}", "village": f"村{i % VILLAGES}", "address": f"虚构路{i}号",
             "head_id": None, "conscript_family": i % 40 == 0} for i in range(1, households + 1)])
        people = []
        for i in range(1, households + 1):
            for k, relation in enumerate(("户主", "配偶")):
                pid = 2 * i - 1 + k
                people.append({"id": pid, "number": f"YF2026-{pid:06d}", "household_id": i, "name": f"虚构{pid}",
                               "mobile": f"139{pid:08d}", "id_number": f"3201021950{(pid % 12) + 1:02d}01{pid % 1000:03d}{pid % 10}",
                               "relation": "self", "relation_to_head": relation, "status": RegistrationStatus.VERIFIED,
                               "source": "import"})
        conn.execute(insert(Beneficiary), people)
        conn.execute(Household.__table__.update().values(head_id=Household.id * 2 - 1))
        conn.execute(insert(BeneficiaryStatus), [{"beneficiary_id": p["id"], "category": CATEGORIES[p["id"] % len(CATEGORIES)]}
                                                 for p in people])
        conn.execute(insert(VisitPlan), [{"id": 1, "season": "liangjie", "year": 2027, "name": "2027年元旦春节走访慰问",
                                          "holiday_date": date(2027, 2, 6), "window_start": date(2027, 1, 15),
                                          "window_end": date(2027, 2, 20)}])
        conn.execute(insert(PlannedVisit), [
            {"plan_id": 1, "household_id": i, "team_id": i % TOWNS + 1, "priority": 1 + i % 11,
             "category": CATEGORIES[i % len(CATEGORIES)], "status": "done" if i % 2 else "planned",
             "visited_at": visited if i % 2 else None, "visitors": "张书记、李干事" if i % 2 else None,
             "money_cents": 50000 if i % 2 else None, "goods": "米面油" if i % 3 == 0 else None}
            for i in range(1, households + 1)])
    engine.dispose()


def measure(url: str, slug: str, out: str) -> dict:
    """In a fresh process: build one export, write its .xlsx, audit it; time and memory."""
    from bot.console.export_files import workbook
    from models.database import make_engine, make_session_factory
    from models.encrypted import configure_data_key
    from services import exports

    configure_data_key(DATA_KEY)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    started = time.perf_counter()
    with sessions.begin() as session:
        export = exports.build(session, slug, exports.Options(year=2027, holiday="liangjie", reveal=False,
                                                              today=date(2026, 12, 1)))
        built = time.perf_counter() - started
        Path(out).write_bytes(workbook(export, "城关县", date(2026, 12, 1)))
        exports.audit_export(session, export, at=datetime.now(timezone.utc), username="bench")
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": round(seconds, 2), "query_seconds": round(built, 2), "rows": export.row_count,
            "bytes": Path(out).stat().st_size, "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_measure(url: str, slug: str, out: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--measure", url, slug, out], capture_output=True, text=True,
                          cwd=PROJECT, env={**os.environ, "DATA_ENCRYPTION_KEY": DATA_KEY})
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench(db: str, households: int) -> None:
    from tests.conftest import create_pg_database, drop_pg_database

    tmp = tempfile.TemporaryDirectory()
    url = f"sqlite:///{tmp.name}/bench.db" if db == "sqlite" else create_pg_database()
    try:
        started = time.perf_counter()
        load(url, households)
        loaded = time.perf_counter() - started
        results = {slug: run_measure(url, slug, f"{tmp.name}/{slug}.xlsx") for slug in EXPORTS}
    finally:
        if db == "postgresql":
            drop_pg_database(url)
        tmp.cleanup()
    print(f"{db:<10} {households} households, {2 * households} people, one plan: loaded in {loaded:.1f} s")
    for slug, r in results.items():
        print(f"{db:<10} {slug:<14} {r['rows']:>6} rows  {r['seconds']:>6.2f} s (query {r['query_seconds']:.2f} s)  "
              f"{r['bytes'] / 1024:>6.0f} KB  peak memory (max RSS) {r['max_rss_mb']:.0f} MB")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3], sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--households", type=int, default=5_000)
    args = parser.parse_args()
    for db in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        bench(db, args.households)


if __name__ == "__main__":
    main()
