"""Revision 0011 (activities and hours) keeps what was there: activities, sign-ups with their
check-ins and volunteers written under 0009 are unchanged afterwards, and it downgrades cleanly."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from models.database import make_engine
from models.schema import alembic_config, upgrade
from tests.conftest import create_pg_database, drop_pg_database

ROWS = [
    "INSERT INTO volunteer (id, number, openid, name, town, village, skills, availability, status, service_minutes,"
    " created_at, updated_at) VALUES (1, 'ZY2026-0001', 'oOld0001', 'x', '城关镇', '河口村', '[]', 'any', 'approved',"
    " 90, '2026-11-01 01:00:00', '2026-11-01 01:00:00')",
    "INSERT INTO activity (id, code, title, description, place, starts_at, ends_at, capacity, status, created_at)"
    " VALUES (1, 'old-visit', '春节走访慰问', '', '敬老院', '2026-11-20 01:00:00', NULL, 10, 'open', '2026-11-01 01:00:00')",
    "INSERT INTO activity_signup (id, activity_id, openid, volunteer_id, status, queue_no, checked_in_at, created_at,"
    " updated_at) VALUES (1, 1, 'oOld0001', 1, 'registered', 1, '2026-11-20 00:55:00', '2026-11-02 01:00:00',"
    " '2026-11-20 00:55:00')",
]


def _carry_over(url: str) -> None:
    upgrade(url, "0009")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for row in ROWS:
                conn.execute(text(row))
        upgrade(url, "0011")
        with engine.connect() as conn:
            activity = conn.execute(text("SELECT code, title, town, qr_ticket FROM activity")).one()
            signup = conn.execute(text(
                "SELECT status, checked_in_at, checked_out_at, service_minutes, hours_approved_at FROM activity_signup")).one()
            volunteer = conn.execute(text("SELECT number, service_minutes, id_number FROM volunteer")).one()
        assert tuple(activity) == ("old-visit", "春节走访慰问", None, None)
        assert signup[0] == "registered" and str(signup[1]).startswith("2026-11-20 00:55")
        assert tuple(signup[2:]) == (None, None, None)  # hours of an old check-in are computed until approved
        assert tuple(volunteer) == ("ZY2026-0001", 90, None)
        assert {"volunteer_team", "volunteer_team_member"} <= set(inspect(engine).get_table_names())

        command.downgrade(alembic_config(url), "0009")
        engine.dispose()
        tables = set(inspect(engine).get_table_names())
        assert "volunteer_team" not in tables
        assert "qr_ticket" not in {c["name"] for c in inspect(engine).get_columns("activity")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM activity_signup")).scalar() == 1
    finally:
        engine.dispose()


def test_0011_carries_rows_over_on_sqlite(tmp_path):
    _carry_over(f"sqlite:///{tmp_path / 'old.db'}")


def test_0011_carries_rows_over_on_postgresql(pg_url):
    url = create_pg_database()
    try:
        _carry_over(url)
    finally:
        drop_pg_database(url)
