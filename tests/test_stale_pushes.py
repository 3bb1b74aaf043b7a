"""Nothing is sent stale: a dated greeting only on its day, a countdown with the days left on
the day it goes out, an activity reminder only before the start; after downtime only the
latest reminder of an event. What is not sent is expired, with its reason in the log."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from models import OutboxEvent, OutboxMessage, OutboxStatus
from models.activity import Activity
from models.notice import Notice
from scheduler.runner import run_due
from services import activities, delivery
from services.delivery import DeliveryConfig
from services.reminder_rules import add_reminder_rule
from tests.scheduler_helpers import at, cli_env, outbox_rows, seeded_sessions
from tests.test_visit_plans import add_volunteer


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


def deliver_at(sessions, moment) -> None:
    """A sandbox worker whose clock says `moment` (it was down, or the row waited)."""
    config = DeliveryConfig(sandbox=True)
    with sessions.begin() as s:
        claimed = delivery.claim_due(s, moment, 500, timedelta(minutes=5))
    for item in claimed:
        with sessions.begin() as s:
            delivery.plan(s, item, config, moment)


def notes(sessions, row_id: int) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(OutboxEvent.note).where(OutboxEvent.outbox_id == row_id).order_by(OutboxEvent.id)))


def _by_event(sessions, event: str, event_date: str) -> list[OutboxMessage]:
    return [r for r in outbox_rows(sessions) if r.payload.get("event") == event
            and r.payload.get("event_date") == event_date]


def test_a_late_reminder_says_the_days_left_on_the_day_it_goes_out(sessions):
    with sessions.begin() as s:
        add_volunteer(s, "东镇", "oVolunteerLate01")
        add_reminder_rule(s, code="bayi_volunteers", calendar_code="bayi", lead_days="17", audience="volunteers",
                          message="{name}（{date}）还有{days}天，欢迎参加拥军活动。")
    run_due(sessions, at("2027-07-15T09:00"), only=("calendar_reminders",))
    [row] = outbox_rows(sessions, key_prefix="holiday_reminder:")
    assert row.payload["text"] == "八一建军节（8月1日）还有17天，欢迎参加拥军活动。"
    deliver_at(sessions, at("2027-07-19T09:00"))  # four days late
    [row] = outbox_rows(sessions, key_prefix="holiday_reminder:")
    assert row.status == OutboxStatus.SENT
    assert row.payload["text"] == "八一建军节（8月1日）还有13天，欢迎参加拥军活动。"


def test_a_reminder_not_delivered_before_its_day_is_expired(sessions):
    with sessions.begin() as s:
        add_volunteer(s, "东镇", "oVolunteerLate02")
        add_reminder_rule(s, code="bayi_volunteers", calendar_code="bayi", lead_days="3", audience="volunteers",
                          message="{name}还有 {days} 天。")
    run_due(sessions, at("2027-07-29T09:00"), only=("calendar_reminders",))
    deliver_at(sessions, at("2027-08-01T08:00"))
    [row] = [r for r in outbox_rows(sessions, key_prefix="holiday_reminder:") if r.recipient == "oVolunteerLate02"]
    assert row.status == OutboxStatus.EXPIRED
    assert notes(sessions, row.id)[-1] == "expired: valid until 2027-08-01T00:00+08:00; not sent late"


def test_a_greeting_that_waited_past_its_day_is_expired_not_sent(sessions):
    run_due(sessions, at("2027-09-18T10:00"), only=("publicity",))
    [row] = outbox_rows(sessions, kind="publicity")
    assert row.payload["title"] == "全民国防教育日" and row.status == OutboxStatus.PENDING
    deliver_at(sessions, at("2027-09-19T09:00"))  # e.g. the month's mass sends were used up
    row = outbox_rows(sessions, kind="publicity")[0]
    assert row.status == OutboxStatus.EXPIRED and "valid until 2027-09-19T00:00" in notes(sessions, row.id)[-1]


def test_after_downtime_a_greeting_past_its_day_is_logged_as_expired(sqlite_url, tmp_path, cli):
    with seeded_sessions(sqlite_url) as sessions:
        run_due(sessions, at("2027-07-31T10:00"))
        run_due(sessions, at("2027-09-20T10:00"))  # seven weeks without a scheduler
        publicity = outbox_rows(sessions, kind="publicity")
        assert {r.payload["title"]: r.status for r in publicity} == {
            "建军100周年": "expired", "征兵宣传": "pending", "全民国防教育日": "expired"}  # 征兵 runs to 9/30
        with sessions() as s:
            assert [n.title for n in s.scalars(select(Notice))] == ["征兵宣传"]
    log = cli(["outbox", "--status", "expired"], cli_env(sqlite_url, tmp_path))
    assert log.exit_code == 0, log.stderr
    assert log.stdout.count("expired") >= 2 and "publicity" in log.stdout


def test_after_downtime_only_the_latest_reminder_of_an_event_is_sent(sessions):
    run_due(sessions, at("2027-12-10T09:00"), only=("calendar_reminders",))
    run_due(sessions, at("2027-12-31T09:00"), only=("calendar_reminders",))  # down over 12-17 and 12-29
    rows = _by_event(sessions, "yuandan", "2028-01-01")
    assert sorted((r.idempotency_key.rsplit(":", 1)[1], r.status) for r in rows) == [
        ("14", "expired"), ("3", "pending")]
    [pending] = [r for r in rows if r.status == OutboxStatus.PENDING]
    assert pending.payload["text"] == "元旦（1月1日）还有1天，请安排元旦走访慰问。"


def test_a_waiting_earlier_reminder_is_replaced_by_the_next_one(sessions):
    run_due(sessions, at("2027-12-17T09:00"), only=("calendar_reminders",))  # 14 days before: queued, not sent
    run_due(sessions, at("2027-12-29T09:00"), only=("calendar_reminders",))
    rows = {r.idempotency_key.rsplit(":", 1)[1]: r for r in _by_event(sessions, "yuandan", "2028-01-01")}
    assert (rows["14"].status, rows["3"].status) == ("expired", "pending")
    assert notes(sessions, rows["14"].id)[-1] == "expired: replaced by a later reminder of the same event"
    assert rows["3"].payload["text"] == "元旦（1月1日）还有3天，请安排元旦走访慰问。"


def test_an_activity_reminder_is_not_sent_after_the_start(sessions):
    with sessions.begin() as s:
        activity = Activity(code="books", title="送书进军营", place="", capacity=5, starts_at=at("2027-06-15T09:00"))
        s.add(activity)
        s.flush()
        activities.sign_up(s, activity.id, "oPersonSignedUp1", None, at("2027-06-01T10:00"))
    run_due(sessions, at("2027-06-14T09:00"), only=("activity_reminders",))
    deliver_at(sessions, at("2027-06-15T09:30"))
    [row] = outbox_rows(sessions, kind="activity_reminder")
    assert row.status == OutboxStatus.EXPIRED


def test_an_expired_row_cannot_be_retried(sessions):
    from services import outbox

    run_due(sessions, at("2027-09-18T10:00"), only=("publicity",))
    deliver_at(sessions, at("2027-09-19T09:00"))
    [row] = outbox_rows(sessions, kind="publicity")
    with sessions() as s, pytest.raises(ValueError, match="only failed, cancelled or held"):
        outbox.requeue(s, [row.id], at("2027-09-19T10:00"))
    assert date(2027, 9, 18)  # the greeting's day has passed: it stays expired
