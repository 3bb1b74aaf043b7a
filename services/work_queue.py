"""What needs a person today: the counts behind the console's work queue and the daily digest.

One home for "what is waiting", so the dashboard and the staff digest pushed by the
scheduler always agree. `town` limits every count to one 乡镇/街道 (None: the county).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.beneficiary import Beneficiary, Household, RegistrationStatus
from models.help_request import HelpRequest, RequestStatus
from models.outbox import OutboxMessage, OutboxStatus
from models.volunteer import Volunteer, VolunteerStatus

HANDOVER = "handover"


@dataclass(frozen=True)
class WorkQueue:
    new_requests: int  # 待受理, 人工 chats not counted
    overdue_requests: int  # 待受理 past the due time fixed at submission
    pending_volunteers: int
    pending_beneficiaries: int
    handover_waiting: int  # 人工 chats whose latest message is the user's
    failed_pushes: int | None  # None where the viewer may not see the delivery log

    @property
    def pending_registrations(self) -> int:
        return self.pending_volunteers + self.pending_beneficiaries

    @property
    def anything(self) -> bool:
        return bool(self.new_requests or self.pending_registrations or self.handover_waiting or self.failed_pushes)


def _in_town(query, column, town: str | None):
    return query if town is None else query.where(column == town)


def _count(session: Session, query) -> int:
    return session.scalar(query) or 0


def counts(session: Session, now: datetime, town: str | None = None, with_pushes: bool = True) -> WorkQueue:
    count = select(func.count()).select_from(HelpRequest)
    waiting = count.where(HelpRequest.status == RequestStatus.SUBMITTED, HelpRequest.category != HANDOVER)
    return WorkQueue(
        new_requests=_count(session, _in_town(waiting, HelpRequest.town, town)),
        overdue_requests=_count(session, _in_town(waiting.where(HelpRequest.due_at <= now), HelpRequest.town, town)),
        pending_volunteers=_count(session, _in_town(
            select(func.count()).select_from(Volunteer).where(Volunteer.status == VolunteerStatus.PENDING),
            Volunteer.town, town)),
        pending_beneficiaries=_count(session, _in_town(
            select(func.count()).select_from(Beneficiary).join(Beneficiary.household)
            .where(Beneficiary.status == RegistrationStatus.PENDING), Household.town, town)),
        handover_waiting=_count(session, _in_town(
            count.where(HelpRequest.category == HANDOVER, HelpRequest.waiting_since.is_not(None)),
            HelpRequest.town, town)),
        failed_pushes=_count(session, select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.status == OutboxStatus.FAILED)) if with_pushes else None,
    )


def digest_text(queue: WorkQueue, today_label: str) -> str:
    """The staff's morning message: counts only, never a name."""
    lines = [f"双拥助手今日待办（{today_label}）："]
    if queue.new_requests:
        overdue = f"，其中超时{queue.overdue_requests}件" if queue.overdue_requests else ""
        lines.append(f"求助待受理{queue.new_requests}件{overdue}")
    if queue.handover_waiting:
        lines.append(f"人工会话待回复{queue.handover_waiting}个")
    if queue.pending_registrations:
        lines.append(f"登记待审核{queue.pending_registrations}人"
                     f"（志愿者{queue.pending_volunteers}，优抚对象{queue.pending_beneficiaries}）")
    if queue.failed_pushes:
        lines.append(f"推送失败{queue.failed_pushes}条")
    lines.append("请登录工作台处理。")
    return "\n".join(lines)
