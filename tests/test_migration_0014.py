"""Revision 0014 types the outbox's recipients: rows written under 0013 ("role:staff", "tag:7",
"all", an openid) come out as role, tag, all and person with bare values, are delivered by
kind, and the downgrade writes the old spelling back."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from models import Recipient
from models.database import make_engine
from models.schema import alembic_config, upgrade
from tests.conftest import create_pg_database, drop_pg_database

OLD = {1: "oUserAlpha0001", 2: "role:staff", 3: "tag:7", 4: "all"}


def _insert(conn, row_id: int, recipient: str) -> None:
    conn.execute(text(
        "INSERT INTO outbox_message (id, kind, recipient, channel, payload, idempotency_key, status, not_before,"
        " attempts, next_attempt_at, created_at, updated_at) VALUES (:id, 'publicity', :recipient, 'mass', '{}',"
        " :key, 'pending', '2026-11-01 01:00:00', 0, '2026-11-01 01:00:00', '2026-11-01 01:00:00',"
        " '2026-11-01 01:00:00')"), {"id": row_id, "recipient": recipient, "key": f"old:{row_id}"})


def _rows(conn, columns: str) -> dict[int, tuple]:
    return {r[0]: tuple(r[1:]) for r in conn.execute(text(f"SELECT id, {columns} FROM outbox_message ORDER BY id"))}


def _round_trip(url: str) -> None:
    upgrade(url, "0013_faq_answers")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for row_id, recipient in OLD.items():
                _insert(conn, row_id, recipient)
        upgrade(url, "0014")
        with engine.connect() as conn:
            typed = _rows(conn, "recipient_kind, recipient")
        assert typed == {1: ("person", "oUserAlpha0001"), 2: ("role", "staff"), 3: ("tag", "7"), 4: ("all", "")}
        assert [Recipient(*typed[i]) for i in (1, 2, 3, 4)] == [
            Recipient.person("oUserAlpha0001"), Recipient.role("staff"), Recipient.tag(7), Recipient.everyone()]

        command.downgrade(alembic_config(url), "0013_faq_answers")
        engine.dispose()
        with engine.connect() as conn:
            assert _rows(conn, "recipient") == {i: (r,) for i, r in OLD.items()}
            columns = [c[0] for c in conn.execute(text("SELECT * FROM outbox_message LIMIT 1")).cursor.description]
        assert "recipient_kind" not in columns
    finally:
        engine.dispose()


def test_0014_types_recipients_and_downgrades_on_sqlite(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'old.db'}")


def test_0014_types_recipients_and_downgrades_on_postgresql(pg_url):
    url = create_pg_database()
    try:
        _round_trip(url)
    finally:
        drop_pg_database(url)
