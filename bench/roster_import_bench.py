"""Roster import benchmark: a generated 10,000-row 台账 (invented people, 1–3 per household,
valid ID numbers, several categories, flags and dates) imported on SQLite and on a throwaway
PostgreSQL database; then the 两节 visit plan for 50,000 households made from an imported roster.

Each import runs in a fresh process (read, preview every row, confirm in one transaction,
commit) and reports its wall time and peak memory (max RSS of that whole process,
interpreter and libraries included). The same file imported a second time (every row
unchanged, nothing written) is timed the same way. For the visit plan, a 50,000-household
roster is imported the same way, 500 volunteers are added, and bench/visit_plan_bench.py
measures the scheduler's `visit_plans` job on it.

    .venv/bin/python bench/roster_import_bench.py                       # both databases
    .venv/bin/python bench/roster_import_bench.py --db sqlite --rows 10000 --plan-households 50000

Targets (roster issue): import < 30 s, peak memory < 300 MB; visit plan < 10 s.
"""

from __future__ import annotations

import argparse
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

from bench import visit_plan_bench  # noqa: E402

DATA_KEY = visit_plan_bench.DATA_KEY
TOWNS, VILLAGES = 20, 12
CATEGORIES = ["烈属", "残疾军人", "在乡复员军人", "带病回乡退伍军人", "两参", "60岁以上农村籍退役士兵", "军属",
              "退役军人", "退役军人", "退役军人"]
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高"
GIVEN = "建国秀英明华红军兰芳伟强丽平志勇德福玉梅海燕文"
HEADERS = ["序号", "姓名", "性别", "身份证号", "联系电话", "乡镇（街道）", "村（社区）", "常住地址", "优抚类别",
           "残疾等级", "伤残性质", "户主", "与户主关系", "义务兵家庭", "重点优抚对象", "光荣牌悬挂日期", "备注"]


def areas() -> dict[str, set[str]]:
    return {f"镇{t:02d}": {f"村{v:02d}" for v in range(VILLAGES)} for t in range(TOWNS)}


def make_workbook(path: Path, households: int, rows: int | None = None) -> int:
    """A 台账 with `households` households (or enough for `rows` rows); returns the row count."""
    from openpyxl import Workbook

    from services import id_check

    rng = random.Random(13)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("花名册")
    sheet.append(["示范县优抚对象花名册（虚构数据）"])
    sheet.append(HEADERS)
    written, serial, home = 0, 0, 0
    while (rows is None and home < households) or (rows is not None and written < rows):
        home += 1
        town, village = f"镇{home % TOWNS:02d}", f"村{home % VILLAGES:02d}"
        address = f"{village}{home // 100}组{home % 100}号"
        size = 1 if rows is None else rng.choice((1, 1, 2, 3))
        head = None
        for member in range(size):
            serial += 1
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            head = head or name
            born = f"{rng.randint(1930, 1990)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            first = f"3301{serial // 1000 % 100:02d}{born}{serial % 1000:03d}"  # unique up to 100,000 rows
            idn = first + id_check.check_digit(first)
            category = rng.choice(CATEGORIES) if member == 0 else rng.choice(("军属", "烈属"))
            disabled = category == "残疾军人"
            sheet.append([serial, name, "男", idn, f"13{serial:09d}", town, village, address, category,
                          f"{rng.randint(1, 10)}级" if disabled else None, "因战" if disabled else None, head,
                          "户主" if member == 0 else "配偶", "是" if category == "军属" else None,
                          "是" if rng.random() < 0.3 else None,
                          f"{rng.randint(2019, 2025)}.8.1" if member == 0 and rng.random() < 0.5 else None, None])
            written += 1
            if rows is not None and written >= rows:
                break
    book.save(path)
    return written


def measure(url: str, path: str) -> dict:
    """In a fresh process: preview + confirm one file, commit; time and memory."""
    from sqlalchemy import func, select

    from models import utcnow
    from models.beneficiary import Beneficiary, Household
    from models.database import make_engine, make_session_factory
    from models.encrypted import configure_data_key
    from services import roster_import

    configure_data_key(DATA_KEY)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    started = time.perf_counter()
    with sessions.begin() as session, open(path, "rb") as stream:
        result = roster_import.preview(session, stream, Path(path).name, areas=areas())
        previewed = time.perf_counter() - started
        roster_import.confirm(session, result, utcnow(), actor="bench", username="bench")
    seconds = time.perf_counter() - started
    with sessions() as session:
        people = session.scalar(select(func.count(Beneficiary.id)))
        homes = session.scalar(select(func.count(Household.id)))
    engine.dispose()
    return {"seconds": round(seconds, 2), "preview_seconds": round(previewed, 2), "counts": result.counts,
            "cpu_seconds": round(time.process_time(), 2),
            "people": people, "households": homes,
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_measure(url: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", url, str(path)], capture_output=True, text=True,
                         cwd=PROJECT, env={**os.environ, "DATA_ENCRYPTION_KEY": DATA_KEY})
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_volunteers(url: str, count: int) -> None:
    from sqlalchemy import insert

    from models.database import make_engine
    from models.encrypted import configure_data_key

    configure_data_key(DATA_KEY)  # volunteer names are encrypted
    from models.volunteer import Volunteer, VolunteerStatus

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(Volunteer), [
            {"number": f"ZY2026-{i:04d}", "openid": f"oBenchVolunteer{i:05d}", "name": f"志愿者{i}",
             "town": f"镇{i % TOWNS:02d}", "village": "村00", "skills": [], "availability": "weekend",
             "status": VolunteerStatus.APPROVED} for i in range(1, count + 1)])
    engine.dispose()


def fresh_database(db: str, tmp: str, name: str) -> str:
    from models.schema import upgrade
    from tests.conftest import create_pg_database

    url = f"sqlite:///{tmp}/{name}.db" if db == "sqlite" else create_pg_database()
    upgrade(url)
    return url


def bench(db: str, rows: int, plan_households: int, volunteers: int) -> None:
    from tests.conftest import drop_pg_database

    tmp = tempfile.TemporaryDirectory()
    urls = []
    try:
        roster = Path(tmp.name) / "台账.xlsx"
        made = make_workbook(roster, 0, rows=rows)
        url = fresh_database(db, tmp.name, "import")
        urls.append(url)
        first, again = run_measure(url, roster), run_measure(url, roster)
        print(f"{db:<10} import {made} rows ({first['households']} households)  {first['seconds']:>6.2f} s "
              f"(preview {first['preview_seconds']:.2f} s, process CPU {first['cpu_seconds']:.1f} s)  "
              f"peak memory {first['max_rss_mb']:.0f} MB  {first['counts']}")
        print(f"{db:<10} again  {made} rows  {again['seconds']:>6.2f} s  (process CPU {again['cpu_seconds']:.1f} s)  "
              f"peak memory {again['max_rss_mb']:.0f} MB  {again['counts']}", flush=True)
        if plan_households:
            big = Path(tmp.name) / "台账-大.xlsx"
            made = make_workbook(big, plan_households)
            url = fresh_database(db, tmp.name, "plan")
            urls.append(url)
            imported = run_measure(url, big)
            print(f"{db:<10} import {made} rows ({imported['households']} households)  {imported['seconds']:>6.2f} s  "
                  f"(process CPU {imported['cpu_seconds']:.1f} s)  peak memory {imported['max_rss_mb']:.0f} MB",
                  flush=True)
            add_volunteers(url, volunteers)
            for label, moment in (("plan", visit_plan_bench.FIRST_RUN), ("re-plan", visit_plan_bench.SECOND_RUN)):
                r = visit_plan_bench.run_measure(url, moment)
                print(f"{db:<10} {label:<7} {r['seconds']:>6.2f} s  visits {r['visits']}  queued {r['queued']}  "
                      f"peak memory {r['max_rss_mb']:.0f} MB")
    finally:
        if db == "postgresql":
            for url in urls:
                drop_pg_database(url)
        tmp.cleanup()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--plan-households", type=int, default=50_000, help="0: skip the visit plan")
    parser.add_argument("--volunteers", type=int, default=500)
    args = parser.parse_args()
    for db in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        bench(db, args.rows, args.plan_households, args.volunteers)


if __name__ == "__main__":
    main()
