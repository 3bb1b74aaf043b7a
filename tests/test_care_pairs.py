"""定点定人帮困: a pair silent for 30 days nudges its volunteer, once per 30 silent days;
a recorded contact restarts the count. Through the scheduler's run and the operator CLI."""

from __future__ import annotations

from datetime import date

import pytest

from models.beneficiary import Beneficiary, Household, RegistrationStatus
from models.care_pair import ContactMethod
from models.volunteer import Volunteer, VolunteerStatus
from services import care_pairs
from tests.scheduler_helpers import at, cli_env, outbox_rows, run_days, seeded_sessions


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


def _roster(sessions, volunteer_status=VolunteerStatus.APPROVED):
    with sessions.begin() as s:
        household = Household(town="城关镇", village="河口村", address="虚构路1号")
        s.add(household)
        s.flush()
        s.add(Beneficiary(number="YF2026-0001", household_id=household.id, name="测试甲", relation="本人",
                          status=RegistrationStatus.VERIFIED))
        s.add(Volunteer(number="ZY2026-0001", openid="oPairVolunteer01", name="志愿者甲", town="城关镇",
                        village="河口村", skills=[], availability="weekend", status=volunteer_status))


def _pair(sessions, when: str) -> int:
    with sessions.begin() as s:
        return care_pairs.pair(s, "ZY2026-0001", "YF2026-0001", at(when), actor="test").id


def test_silence_of_30_days_nudges_once_then_again_after_30_more(sessions):
    _roster(sessions)
    _pair(sessions, "2027-01-01T10:00")
    run_days(sessions, date(2027, 1, 1), date(2027, 1, 30), hhmm="10:30", only=("pair_nudges",))
    assert outbox_rows(sessions, kind="pair_nudge") == []
    run_days(sessions, date(2027, 1, 31), date(2027, 3, 1), hhmm="10:30", only=("pair_nudges",))
    rows = outbox_rows(sessions, kind="pair_nudge")
    assert len(rows) == 1
    assert rows[0].recipient == "oPairVolunteer01"
    assert "河口村" in rows[0].payload["text"] and "30天" in rows[0].payload["text"]
    assert "测试甲" not in rows[0].payload["text"]  # the household is named by number, not by name
    run_days(sessions, date(2027, 3, 2), date(2027, 3, 2), hhmm="10:30", only=("pair_nudges",))
    rows = outbox_rows(sessions, kind="pair_nudge")
    assert len(rows) == 2 and "60天" in rows[1].payload["text"]


def test_a_recorded_contact_restarts_the_count(sessions):
    _roster(sessions)
    pair_id = _pair(sessions, "2027-01-01T10:00")
    with sessions.begin() as s:
        care_pairs.record_contact(s, pair_id, at("2027-01-25T15:00"), ContactMethod.VISIT, at("2027-01-25T16:00"), note="送去米面油")
    # Thirty days after the visit on 1/25 15:00 is 2/24 15:00: the 10:30 run of 2/25 nudges.
    run_days(sessions, date(2027, 1, 1), date(2027, 2, 24), hhmm="10:30", only=("pair_nudges",))
    assert outbox_rows(sessions, kind="pair_nudge") == []
    run_days(sessions, date(2027, 2, 25), date(2027, 2, 25), hhmm="10:30", only=("pair_nudges",))
    assert len(outbox_rows(sessions, kind="pair_nudge")) == 1


def test_ended_pairs_and_unapproved_volunteers_are_not_nudged(sessions):
    _roster(sessions, volunteer_status=VolunteerStatus.PENDING)
    with sessions.begin() as s, pytest.raises(care_pairs.PairError, match="not approved"):
        care_pairs.pair(s, "ZY2026-0001", "YF2026-0001", at("2027-01-01T10:00"), actor="test")
    with sessions.begin() as s:
        s.query(Volunteer).update({Volunteer.status: VolunteerStatus.APPROVED})
    pair_id = _pair(sessions, "2027-01-01T10:00")
    with sessions.begin() as s:
        care_pairs.end(s, pair_id, at("2027-01-10T10:00"), actor="test")
    run_days(sessions, date(2027, 2, 15), date(2027, 2, 15), hhmm="10:30", only=("pair_nudges",))
    assert outbox_rows(sessions, kind="pair_nudge") == []


def test_a_contact_in_the_future_is_refused(sessions):
    _roster(sessions)
    pair_id = _pair(sessions, "2027-01-01T10:00")
    with sessions.begin() as s, pytest.raises(care_pairs.PairError):
        care_pairs.record_contact(s, pair_id, at("2027-02-01T10:00"), ContactMethod.PHONE, at("2027-01-05T10:00"))


def test_operator_cli_pairs_and_records_contacts(sqlite_url, tmp_path, cli):
    with seeded_sessions(sqlite_url) as sessions:
        _roster(sessions)
    env = cli_env(sqlite_url, tmp_path)
    added = cli(["pair", "add", "zy2026-0001", "YF2026-0001"], env)
    assert added.exit_code == 0, added.stderr
    assert added.stdout.startswith("pair 1:")
    unknown = cli(["pair", "add", "ZY2026-9999", "YF2026-0001"], env)
    assert unknown.exit_code == 1 and "no volunteer ZY2026-9999" in unknown.stderr
    contact = cli(["pair", "contact", "1", "--method", "visit", "--on", "2026-11-20"], env)
    assert contact.exit_code == 0, contact.stderr
    listed = cli(["pair", "list"], env)
    assert "1\tactive\tZY2026-0001\t河口村\tlast contact 2026-11-20" in listed.stdout


def test_erasing_a_volunteer_ends_their_pairs_and_blanks_contact_notes(sessions):
    from sqlalchemy import select

    from models.care_pair import CareContact, CarePair, PairStatus
    from services import personal_data

    _roster(sessions)
    pair_id = _pair(sessions, "2027-01-01T10:00")
    with sessions.begin() as s:
        care_pairs.record_contact(s, pair_id, at("2027-01-05T10:00"), ContactMethod.PHONE, at("2027-01-05T11:00"), note="老人腿脚不便")
    with sessions.begin() as s:
        personal_data.erase(s, "oPairVolunteer01", at("2027-01-06T10:00"))
    with sessions() as s:
        assert s.get(CarePair, pair_id).status == PairStatus.ENDED
        assert s.scalars(select(CareContact.note)).all() == [None]
    run_days(sessions, date(2027, 3, 1), date(2027, 3, 1), hhmm="10:30", only=("pair_nudges",))
    assert outbox_rows(sessions, kind="pair_nudge") == []
