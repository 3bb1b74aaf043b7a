"""The staff's morning digest (job `staff_digest`): one message on working days with what
waits in the console, instead of one message per registration."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from models.outbox import STAFF
from models import OutboxMessage
from models.beneficiary import BeneficiaryCategory
from models.help_request import Urgency
from scheduler.context import JobRun
from scheduler.jobs import send_staff_digest
from scheduler.runner import run_due
from services import beneficiaries, help_requests, volunteers, work_queue
from services.beneficiaries import BeneficiaryDetails
from services.help_requests import RequestDetails
from services.volunteers import VolunteerDetails
from services.workdays import set_override
from tests.scheduler_helpers import at, outbox_rows, run_days, seeded_sessions

ONLY = ("staff_digest",)


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


def _volunteers(sessions, count: int, when: str = "2026-12-04T15:00") -> None:
    with sessions.begin() as session:
        for n in range(count):
            details = VolunteerDetails(name="张伟民", mobile=f"139{n:08d}", town="城关镇", village="河口村",
                                       skills=["repair"], availability="weekend")
            volunteers.register(session, f"oVolunteer{n:05d}", details, at(when))


def _beneficiary(sessions, when: str = "2026-12-04T15:00") -> None:
    with sessions.begin() as session:
        details = BeneficiaryDetails(relation="self", name="李建国", categories=[BeneficiaryCategory.DEMOB_OLD.value],
                                     mobile="13800138000", town="青石镇", village="青石村", address="青石村1组",
                                     id_number="320102195001011234")
        beneficiaries.register(session, "oBeneficiary001", details, at(when))


def _request(sessions, when: str, openid: str = "oRequester0001") -> None:
    with sessions.begin() as session:
        details = RequestDetails(category="living", description="家里水管坏了，需要帮忙维修。", urgency=Urgency.NORMAL,
                                 for_whom="self", contact_name="王大爷", contact_phone="13912345678", town="城关镇")
        help_requests.submit(session, openid, details, at(when))


def _digests(sessions) -> list[OutboxMessage]:
    return outbox_rows(sessions, kind="staff_digest")


def test_one_digest_on_a_working_day_with_the_counts(sessions):
    _volunteers(sessions, 2)
    _beneficiary(sessions)
    _request(sessions, "2026-12-04T09:00")  # Friday: due Monday 09:00, overdue by Tuesday
    _request(sessions, "2026-12-08T08:30", openid="oRequester0002")  # due Wednesday

    run_due(sessions, at("2026-12-08T09:00"), only=ONLY)  # Tuesday
    [digest] = _digests(sessions)
    assert digest.to == STAFF
    assert digest.idempotency_key == "staff_digest:2026-12-08"
    assert digest.payload["title"] == "今日待办"
    assert digest.payload["text"] == (
        "双拥助手今日待办（12月8日）：\n"
        "求助待受理2件，其中超时1件\n"
        "登记待审核3人（志愿者2，优抚对象1）\n"
        "请登录工作台处理。"
    )
    for name in ("张伟民", "李建国", "王大爷", "139", "138", "水管"):
        assert name not in digest.payload["text"]  # counts only, never a person

    # The console's work queue says the same.
    with sessions() as session:
        queue = work_queue.counts(session, at("2026-12-08T09:00"))
    assert work_queue.digest_text(queue, "12月8日") == digest.payload["text"]


def test_a_second_run_the_same_day_adds_nothing(sessions):
    _volunteers(sessions, 1)
    run_due(sessions, at("2026-12-08T09:00"), only=ONLY)
    run_due(sessions, at("2026-12-08T17:00"), only=ONLY)
    assert len(_digests(sessions)) == 1
    # Even a run that lost its watermark (a crash before it was saved) finds the day's key taken.
    with sessions() as session:
        run = JobRun(session, at("2026-12-08T08:00"), at("2026-12-08T09:30"))
        send_staff_digest(run)
        session.commit()
        assert run.log.created == [] and run.log.existing == 1
    assert len(_digests(sessions)) == 1
    run_due(sessions, at("2026-12-09T09:00"), only=ONLY)  # the next day has its own
    assert [d.idempotency_key for d in _digests(sessions)] == ["staff_digest:2026-12-08", "staff_digest:2026-12-09"]


def test_no_digest_on_weekends_holidays_or_when_nothing_waits(sessions):
    # Nothing waits: a quiet working week sends nothing.
    run_days(sessions, date(2026, 12, 7), date(2026, 12, 11), only=ONLY)
    assert _digests(sessions) == []

    _volunteers(sessions, 1, when="2026-12-11T15:00")
    run_days(sessions, date(2026, 12, 12), date(2026, 12, 13), only=ONLY)  # Saturday and Sunday
    assert _digests(sessions) == []
    with sessions.begin() as session:  # Monday made a day off by the office
        set_override(session, date(2026, 12, 14), False, "调休")
    run_days(sessions, date(2026, 12, 14), date(2026, 12, 14), only=ONLY)
    assert _digests(sessions) == []
    run_days(sessions, date(2026, 12, 15), date(2026, 12, 15), only=ONLY)
    assert [d.idempotency_key for d in _digests(sessions)] == ["staff_digest:2026-12-15"]


def test_no_digest_on_a_statutory_holiday(sessions):
    _volunteers(sessions, 1, when="2026-09-29T15:00")
    run_days(sessions, date(2026, 10, 1), date(2026, 10, 7), only=ONLY)  # 国庆节
    assert _digests(sessions) == []
    run_days(sessions, date(2026, 10, 8), date(2026, 10, 8), only=ONLY)
    assert len(_digests(sessions)) == 1


def test_250_registrations_make_no_staff_messages_only_a_count_in_the_digest(sessions):
    _volunteers(sessions, 250)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # the old flood is gone
    run_due(sessions, at("2026-12-07T09:00"), only=ONLY)
    [digest] = outbox_rows(sessions)
    assert digest.kind == "staff_digest" and digest.to == STAFF
    assert "登记待审核250人（志愿者250，优抚对象0）" in digest.payload["text"]
