"""Activity reminders (24 h, 2 h), request escalation (urgent 2 h, normal 1 working day),
rating requests one day after resolution — all through the scheduler's run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.outbox import STAFF
from models.activity import Activity
from models.help_request import RequestStatus, Urgency
from scheduler.runner import run_due
from services import activities, help_requests
from tests.scheduler_helpers import at, outbox_rows, seeded_sessions


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


def _run_every_quarter(sessions, start: str, end: str, only):
    moment, last = at(start), at(end)
    while moment <= last:
        run_due(sessions, moment, only=only)
        moment += timedelta(minutes=15)


def test_activity_reminders_24h_and_2h_before_to_registered_only(sessions):
    with sessions.begin() as s:
        activity = Activity(code="visit-camp", title="八一慰问演出", place="人民广场", capacity=1,
                            starts_at=at("2027-07-30T15:00"))
        s.add(activity)
        s.flush()
        activities.sign_up(s, activity.id, "oRegistered0001", None, at("2027-07-01T10:00"))
        activities.sign_up(s, activity.id, "oWaitlisted0001", None, at("2027-07-01T10:05"))
    _run_every_quarter(sessions, "2027-07-29T13:00", "2027-07-29T14:45", ("activity_reminders",))
    assert outbox_rows(sessions, kind="activity_reminder") == []  # not yet 24 h before
    _run_every_quarter(sessions, "2027-07-29T15:00", "2027-07-30T15:00", ("activity_reminders",))
    rows = outbox_rows(sessions, kind="activity_reminder")
    assert [(r.recipient, r.idempotency_key.rsplit(":", 1)[1]) for r in rows] == [
        ("oRegistered0001", "24h"), ("oRegistered0001", "2h")]
    assert "7月30日 15:00在人民广场开始" in rows[0].payload["text"]
    run_due(sessions, at("2027-07-30T15:15"), only=("activity_reminders",))
    assert len(outbox_rows(sessions, kind="activity_reminder")) == 2  # and nothing after the start


def test_activity_reminders_follow_cancellation_and_promotion(sessions):
    with sessions.begin() as s:
        activity = Activity(code="books", title="送书进军营", place="", capacity=1, starts_at=at("2027-06-15T09:00"))
        s.add(activity)
        s.flush()
        activities.sign_up(s, activity.id, "oFirstPerson001", None, at("2027-06-01T10:00"))
        activities.sign_up(s, activity.id, "oSecondPerson01", None, at("2027-06-01T10:01"))
    _run_every_quarter(sessions, "2027-06-14T08:45", "2027-06-14T09:00", ("activity_reminders",))
    with sessions.begin() as s:
        activities.cancel(s, activity.id, "oFirstPerson001", at("2027-06-14T12:00"))  # the waitlisted moves up
    _run_every_quarter(sessions, "2027-06-15T06:45", "2027-06-15T07:00", ("activity_reminders",))
    sent = [(r.recipient, r.idempotency_key.rsplit(":", 1)[1]) for r in outbox_rows(sessions, kind="activity_reminder")]
    assert sent == [("oFirstPerson001", "24h"), ("oSecondPerson01", "2h")]


def _submit(s, urgency, when):
    details = help_requests.RequestDetails(category="living", description="测试描述", urgency=urgency,
                                           for_whom="self", contact_name=None, contact_phone=None)
    return help_requests.submit(s, "oRequester00001", details, at(when))


def test_urgent_request_not_taken_up_in_2_hours_escalates_to_staff(sessions):
    with sessions.begin() as s:
        waiting = _submit(s, Urgency.URGENT, "2027-03-10T09:05")
        taken = _submit(s, Urgency.URGENT, "2027-03-10T09:10")
        help_requests.change_status(s, taken, RequestStatus.IN_PROGRESS, at("2027-03-10T10:00"), actor="staff:test")
    _run_every_quarter(sessions, "2027-03-10T09:15", "2027-03-10T11:00", ("request_deadlines",))
    assert outbox_rows(sessions, kind="request_escalation") == []  # not 2 hours yet
    _run_every_quarter(sessions, "2027-03-10T11:15", "2027-03-10T13:00", ("request_deadlines",))
    rows = outbox_rows(sessions, kind="request_escalation")
    assert [r.to for r in rows] == [STAFF]
    assert waiting.number in rows[0].payload["text"] and "2 小时" in rows[0].payload["text"]
    assert taken.number not in rows[0].payload["text"]


def test_normal_request_escalates_after_one_working_day(sessions):
    with sessions.begin() as s:
        request = _submit(s, Urgency.NORMAL, "2027-03-12T16:00")  # a Friday
    run_due(sessions, at("2027-03-13T16:30"), only=("request_deadlines",))  # Saturday: not a working day later
    run_due(sessions, at("2027-03-15T15:45"), only=("request_deadlines",))  # Monday before 16:00
    assert outbox_rows(sessions, kind="request_escalation") == []
    run_due(sessions, at("2027-03-15T16:00"), only=("request_deadlines",))
    rows = outbox_rows(sessions, kind="request_escalation")
    assert len(rows) == 1 and request.number in rows[0].payload["text"] and "1 个工作日" in rows[0].payload["text"]
    run_due(sessions, at("2027-03-15T16:15"), only=("request_deadlines",))
    assert len(outbox_rows(sessions, kind="request_escalation")) == 1  # once


def test_resolved_request_asks_for_a_rating_after_one_day(sessions):
    with sessions.begin() as s:
        request = _submit(s, Urgency.NORMAL, "2027-03-10T09:00")
        help_requests.change_status(s, request, RequestStatus.RESOLVED, at("2027-03-11T10:00"), actor="staff:test")
        rated = _submit(s, Urgency.NORMAL, "2027-03-10T09:30")
        help_requests.change_status(s, rated, RequestStatus.RESOLVED, at("2027-03-11T10:00"), actor="staff:test")
        help_requests.rate(s, rated, 5, None, at("2027-03-11T12:00"))
    _run_every_quarter(sessions, "2027-03-12T09:30", "2027-03-12T10:30", ("request_deadlines",))
    rows = outbox_rows(sessions, kind="rating_request")
    assert [r.recipient for r in rows] == ["oRequester00001"]
    assert f"评价{request.number}" in rows[0].payload["text"]
    assert rated.number not in rows[0].payload["text"]
