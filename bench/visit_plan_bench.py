"""Visit-plan benchmark: generating a 两节 (元旦春节) 走访慰问 plan for 50,000 households and 500
volunteers, on SQLite and on a throwaway PostgreSQL database.

The roster is loaded first (not timed); then a fresh process runs the scheduler's
`visit_plans` job at the plan's generation moment — roster query, team assignment,
50,000 planned visits, team lists to the outbox — and reports its wall time and its
peak memory (max RSS of that whole process, interpreter included).
A second run a day later (regeneration: nothing new) is timed the same way.

    .venv/bin/python bench/visit_plan_bench.py                   # both databases
    .venv/bin/python bench/visit_plan_bench.py --db sqlite --households 50000 --volunteers 500

Target (scheduler issue): under 10 s and under 300 MB.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

DATA_KEY = base64.urlsafe_b64encode(b"b" * 32).decode()
TOWNS = 20
CATEGORIES = ["MARTYR_F", "DISABLED", "DEMOB_OLD", "ILL_RETURN", "WAR_TEST", "RURAL_OLD", "FAMILY", "VETERAN",
              "VETERAN", "VETERAN"]
FIRST_RUN, SECOND_RUN = "2027-01-08T08:30", "2027-01-09T08:30"  # 7 days before the 两节 window (1/15)


def load_roster(url: str, households: int, volunteers: int) -> None:
    from sqlalchemy import insert

    from models.beneficiary import Beneficiary, BeneficiaryStatus, Household, RegistrationStatus
    from models.database import make_engine
    from models.encrypted import configure_data_key
    from models.schema import upgrade
    from models.volunteer import Volunteer, VolunteerStatus

    configure_data_key(DATA_KEY)  # names are encrypted on the way in
    upgrade(url)
    rng = random.Random(7)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(Household), [{"id": i, "town": f"镇{i % TOWNS:02d}", "village": f"村{i % 97:02d}"}
                                         for i in range(1, households + 1)])
        conn.execute(insert(Beneficiary), [
            {"id": i, "number": f"YF2026-{i:06d}", "household_id": i, "name": f"虚构{i}", "relation": "本人",
             "status": RegistrationStatus.VERIFIED if i % 25 else RegistrationStatus.PENDING}
            for i in range(1, households + 1)])
        statuses = []
        for i in range(1, households + 1):
            for category in rng.sample(CATEGORIES, rng.choice((1, 1, 2))):
                statuses.append({"beneficiary_id": i, "category": category})
        conn.execute(insert(BeneficiaryStatus), statuses)
        conn.execute(insert(Volunteer), [
            {"number": f"ZY2026-{i:04d}", "openid": f"oBenchVolunteer{i:05d}", "name": f"志愿者{i}",
             "town": f"镇{i % TOWNS:02d}", "village": "村00", "skills": [], "availability": "weekend",
             "status": VolunteerStatus.APPROVED}
            for i in range(1, volunteers + 1)])
    engine.dispose()


def measure(url: str, moment: str) -> dict:
    """Run in a fresh process: the visit_plans job at `moment`; time and memory."""
    from sqlalchemy import func, select

    from models.database import make_engine, make_session_factory
    from models.encrypted import configure_data_key
    from models.visits import PlannedVisit
    from scheduler.job_table import job_by_id
    from scheduler.runner import ensure_seeded, run_job
    from services.local_time import parse_instant

    configure_data_key(DATA_KEY)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    ensure_seeded(sessions)
    started = time.perf_counter()
    result = run_job(sessions, job_by_id("visit_plans"), parse_instant(moment))
    seconds = time.perf_counter() - started
    with sessions() as s:
        visits = s.scalar(select(func.count(PlannedVisit.id)))
    engine.dispose()
    assert result is not None and result.error is None, result
    return {"seconds": round(seconds, 2), "visits": visits, "queued": len(result.created),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_measure(url: str, moment: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", url, moment], capture_output=True, text=True,
                         cwd=PROJECT, env={**os.environ, "DATA_ENCRYPTION_KEY": DATA_KEY})
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(db: str, households: int, volunteers: int) -> None:
    from tests.conftest import create_pg_database, drop_pg_database

    tmp = tempfile.TemporaryDirectory()
    url = f"sqlite:///{tmp.name}/bench.db" if db == "sqlite" else create_pg_database()
    try:
        started = time.perf_counter()
        load_roster(url, households, volunteers)
        loaded = time.perf_counter() - started
        first = run_measure(url, FIRST_RUN)
        again = run_measure(url, SECOND_RUN)
    finally:
        if db == "postgresql":
            drop_pg_database(url)
        tmp.cleanup()
    print(f"{db:<10} roster {households} households / {volunteers} volunteers loaded in {loaded:.1f} s")
    for label, r in (("generate", first), ("regenerate", again)):
        print(f"{db:<10} {label:<10} {r['seconds']:>6.2f} s  visits {r['visits']}  queued {r['queued']:>4}  "
              f"peak memory (max RSS) {r['max_rss_mb']:.0f} MB")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--volunteers", type=int, default=500)
    args = parser.parse_args()
    for db in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        bench(db, args.households, args.volunteers)


if __name__ == "__main__":
    main()
