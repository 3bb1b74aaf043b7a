"""Encryption at rest (issue 12): no plaintext name, phone, ID number or address in the SQLite
file or a pg_dump, searched byte-wise; exact search through blind indexes; key rotation
re-encrypts everything, resumably, and an old backup still opens with the old key."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Text, select, text, type_coerce, update
from sqlalchemy.engine import make_url

from models import utcnow
from models.beneficiary import Beneficiary
from models.database import make_engine, make_session_factory
from models.encrypted import configure_data_key
from models.volunteer import Volunteer
from services import beneficiaries, help_requests, registration_queries, volunteers
from services.beneficiaries import BeneficiaryDetails
from services.blind_indexes import backfill
from services.key_rotation import remaining, rotate, rotate_batch, encrypted_tables
from services.volunteers import VolunteerDetails
from tests.conftest import DATA_KEY

NAME_V, PHONE_V = "欧阳晓梅", "13912345678"
NAME_B, PHONE_B, ID_B, ADDRESS_B = "司马振国", "13698765432", "32010219450101123X", "河口村三组十七号"
CONTACT = "慕容秋菊"
SECRETS = [NAME_V, PHONE_V, NAME_B, PHONE_B, ID_B, ADDRESS_B, CONTACT]
KEY_A = DATA_KEY
KEY_B = base64.urlsafe_b64encode(b"b" * 32).decode()


def _people(sessions) -> None:
    now = utcnow()
    with sessions.begin() as session:
        volunteers.register(session, "oVOL1", VolunteerDetails(NAME_V, PHONE_V, "城关镇", "河口村", ["care"], "any"), now)
        beneficiaries.register(session, "oBEN1", BeneficiaryDetails(
            "self", NAME_B, ["MARTYR_F"], PHONE_B, "城关镇", "河口村", ADDRESS_B, ID_B), now)
        help_requests.submit(session, "oBEN1", help_requests.RequestDetails(
            category="life", description="家里屋顶漏雨", urgency="normal", for_whom="family",
            contact_name=CONTACT, contact_phone=PHONE_B), now)


def _sqlite_bytes(url: str) -> bytes:
    path = Path(make_url(url).database)
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def _found(blob: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode("utf-8") in blob]


def test_no_plaintext_in_the_sqlite_file(sqlite_url):
    engine = make_engine(sqlite_url)
    _people(make_session_factory(engine))
    engine.dispose()  # the last close folds the WAL into the file
    blob = _sqlite_bytes(sqlite_url)
    assert _found(blob) == []
    assert Path(make_url(sqlite_url).database).stat().st_mode & 0o777 == 0o600


def test_no_plaintext_in_a_pg_dump(pg_url):
    from tests.conftest import _truncate_all

    _truncate_all(pg_url)
    engine = make_engine(pg_url)
    _people(make_session_factory(engine))
    engine.dispose()
    url = make_url(pg_url)
    dump = subprocess.run(["pg_dump", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
                           "-U", url.username or "postgres", "--data-only", url.database],
                          capture_output=True, check=True).stdout
    assert b"COPY public.volunteer" in dump
    assert _found(dump) == []


def test_exact_search_by_name_phone_and_id_number(db_url):
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    _people(sessions)
    with sessions() as session:
        def hits(kind, q):
            return [r.number for r in registration_queries.listing(session, kind, status=None, search=q)[0]]
        assert len(hits("volunteer", NAME_V)) == 1 and len(hits("volunteer", " 欧阳 晓梅 ")) == 1
        assert len(hits("volunteer", PHONE_V)) == 1 and hits("volunteer", "欧阳") == []
        assert len(hits("beneficiary", ID_B.lower())) == 1 and len(hits("beneficiary", NAME_B)) == 1
        assert hits("beneficiary", NAME_V) == []
    engine.dispose()


def test_names_written_before_0009_are_encrypted_by_the_upgrade_step(sqlite_url):
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    _people(sessions)
    with sessions.begin() as session:  # as a database upgraded from 0007 holds them: plaintext, no index
        session.execute(update(Volunteer.__table__).values(name=type_coerce(NAME_V, Text), name_bi=None))
    with sessions.begin() as session:
        assert backfill(session) >= 1
    with sessions() as session:
        assert session.scalar(select(Volunteer.name)) == NAME_V
        assert session.scalar(select(Volunteer.id).where(Volunteer.name_bi.in_(
            [registration_queries.blind_indexes(NAME_V, "name")[0]]))) is not None
    engine.dispose()
    assert _found(_sqlite_bytes(sqlite_url)) == []


def test_rotation_re_encrypts_everything_and_old_backups_still_open(sqlite_url, tmp_path):
    configure_data_key(f"a:{KEY_A}")
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    _people(sessions)
    engine.dispose()
    backup = tmp_path / "backup.db"
    shutil.copyfile(make_url(sqlite_url).database, backup)

    configure_data_key(f"b:{KEY_B},a:{KEY_A}")
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    # Interrupted after one batch of one row: the next run carries on.
    table, columns = encrypted_tables()[0]
    with sessions.begin() as session:
        rotate_batch(session, table, columns, None, batch=1)
    report = rotate(sessions, batch=2)
    assert report.key_id == "b" and report.total_rows > 0
    assert rotate(sessions).total_rows == 0  # nothing left to do
    with sessions() as session:
        assert remaining(session) == {}
        stored = session.scalars(select(type_coerce(Volunteer.name, Text))).all()
        assert all(v.startswith("b$") for v in stored)
    engine.dispose()

    configure_data_key(f"b:{KEY_B}")  # the old key is gone from the live set-up
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(Beneficiary.id_number)) == ID_B
        hits = registration_queries.listing(session, "beneficiary", status=None, search=NAME_B)[0]
        assert [b.name for b in hits] == [NAME_B]
    engine.dispose()
    assert _found(_sqlite_bytes(sqlite_url)) == []

    configure_data_key(f"a:{KEY_A}")  # the backup, with the key kept beside it
    engine = make_engine(f"sqlite:///{backup}")
    with make_session_factory(engine)() as session:
        assert session.scalar(select(Volunteer.name)) == NAME_V
        assert session.scalar(select(Beneficiary.mobile)) == PHONE_B
    engine.dispose()


def test_rotate_keys_command(sqlite_url, tmp_path, cli):
    engine = make_engine(sqlite_url)
    _people(make_session_factory(engine))
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_URL", "REDIS_URL"))}
    env.update(DATABASE_URL=sqlite_url, INSTANCE_DIR=str(tmp_path), SECRET_KEY="rotate-test-secret-key-01",
               WECHAT_TOKEN="token123", DATA_ENCRYPTION_KEY=f"new:{KEY_B},{KEY_A}")
    run = cli(["rotate-keys", "--batch", "3"], env)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip().startswith("key new: ") and run.stdout.strip().endswith("values under other keys: 0")
    again = cli(["rotate-keys"], env)
    assert " 0 rows (0 values) re-encrypted" in again.stdout
    for secret in SECRETS:
        assert secret not in run.stdout + run.stderr


def test_a_new_connection_keeps_the_sqlite_locks_of_the_ones_already_open(tmp_path):
    """Opening a second pooled connection must not drop this process's POSIX locks on the
    file (closing any descriptor of it would): another process would then take itself for
    the last user, checkpoint the WAL away, and the open connections would read stale rows."""
    url = f"sqlite:///{tmp_path / 'locks.db'}"
    engine = make_engine(url)
    with engine.begin() as setup:
        setup.exec_driver_sql("CREATE TABLE note (body TEXT)")
        setup.exec_driver_sql("INSERT INTO note VALUES ('old')")

    def body(connection) -> str:
        try:
            return connection.exec_driver_sql("SELECT body FROM note").scalar_one()
        finally:
            connection.rollback()  # BEGIN IMMEDIATE holds the write lock until then

    def write(value: str) -> None:
        writer = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                  "c.execute('UPDATE note SET body = ?', (sys.argv[2],)); c.commit(); c.close()")
        subprocess.run([sys.executable, "-c", writer, str(tmp_path / "locks.db"), value], check=True, timeout=30)

    with engine.connect() as first:
        assert body(first) == "old"
        with engine.connect() as second:  # a new connection while the first is open
            assert body(second) == "old"
            for value in ("mid", "new"):
                write(value)
                assert (body(first), body(second)) == (value, value)
    engine.dispose()


def test_visit_notes_and_photos_are_encrypted_and_old_notes_get_encrypted(sqlite_url):
    """A visit's note may tell of health or hardship and a photo shows a face and a home: neither
    is readable in the file; a note written in plaintext before they were encrypted is encrypted
    by the backfill that `db upgrade` and `serve` run."""
    from datetime import date

    from models.beneficiary import Household
    from models.visits import PlannedVisit, VisitPhoto, VisitPlan

    configure_data_key(DATA_KEY)
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    note, photo = "老人腿脚不便，家中生活困难", b"\xff\xd8\xff\xe0JFIF-secret-face"
    with sessions.begin() as session:
        household = Household(town="城关镇", village="河口村")
        plan = VisitPlan(season="chunjie", year=2027, name="春节走访", holiday_date=date(2027, 2, 6),
                         window_start=date(2027, 1, 15), window_end=date(2027, 2, 12))
        session.add_all([household, plan])
        session.flush()
        visit = PlannedVisit(plan_id=plan.id, household_id=household.id, priority=1, category="MARTYR_F", note=note)
        session.add(visit)
        session.flush()
        session.add(VisitPhoto(visit_id=visit.id, content_type="image/jpeg", data=photo, uploaded_by="staff:1"))
    with sessions.begin() as session:
        other = Household(town="城关镇", village="柳营村")
        session.add(other)
        session.flush()
        old = PlannedVisit(plan_id=plan.id, household_id=other.id, priority=2, category="DISABLED")
        session.add(old)
        session.flush()
        session.execute(update(PlannedVisit.__table__).where(PlannedVisit.id == old.id)
                        .values(note=type_coerce("旧记录：住院治疗中", Text)))  # as before 0010
    with sessions.begin() as session:
        assert backfill(session) >= 1
    with sessions() as session:
        assert session.get(PlannedVisit, visit.id).note == note
        assert session.get(PlannedVisit, old.id).note == "旧记录：住院治疗中"
        assert session.scalars(select(VisitPhoto.data)).one() == photo
    engine.dispose()
    blob = _sqlite_bytes(sqlite_url)
    assert "腿脚不便".encode() not in blob and "住院治疗".encode() not in blob and b"secret-face" not in blob
