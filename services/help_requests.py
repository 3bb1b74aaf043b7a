"""Help requests: submission with a number, the status workflow, and the user's rating (回访)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.help_request import HelpRequest, RequestStatus, Urgency
from services import consents, notifications, numbers, status_events

SUBJECT = "help_request"

CATEGORIES = {  # domain.md §1.4
    "living": "生活困难",
    "housing": "住房",
    "medical": "医疗",
    "employment": "就业创业",
    "legal": "法律援助/司法救助",
    "card": "优待证",
    "plaque": "光荣牌",
    "policy": "政策咨询",
    "other": "其他",
    "handover": "人工服务",  # created by "人工" from any chat step
}
STATUS_LABELS = {
    RequestStatus.ACCEPTED: "已受理",
    RequestStatus.TRANSFERRED: "已转办",
    RequestStatus.IN_PROGRESS: "办理中",
    RequestStatus.RESOLVED: "已办结",
    RequestStatus.VISITED: "已回访",
    RequestStatus.REJECTED: "已驳回",
}
ALLOWED = {
    RequestStatus.ACCEPTED: {RequestStatus.TRANSFERRED, RequestStatus.IN_PROGRESS, RequestStatus.RESOLVED, RequestStatus.REJECTED},
    RequestStatus.TRANSFERRED: {RequestStatus.IN_PROGRESS, RequestStatus.RESOLVED, RequestStatus.REJECTED},
    RequestStatus.IN_PROGRESS: {RequestStatus.TRANSFERRED, RequestStatus.RESOLVED, RequestStatus.REJECTED},
    RequestStatus.RESOLVED: {RequestStatus.VISITED, RequestStatus.IN_PROGRESS},
    RequestStatus.VISITED: set(),
    RequestStatus.REJECTED: set(),
}
# How soon someone answers, promised on the receipt (the scheduler escalates past it).
RESPONSE_TIME = {Urgency.URGENT: (timedelta(hours=2), "2小时内"), Urgency.NORMAL: (timedelta(days=1), "1个工作日内")}
DUPLICATE_WINDOW = timedelta(minutes=30)


class TransitionError(ValueError):
    pass


@dataclass(frozen=True)
class RequestDetails:
    category: str
    description: str
    urgency: Urgency
    for_whom: str  # self, family, other
    contact_name: str | None
    contact_phone: str | None
    attachments: list[dict[str, Any]] = field(default_factory=list)


def promised_time(urgency: Urgency) -> str:
    return RESPONSE_TIME[Urgency(urgency)][1]


def find_duplicate(session: Session, openid: str, details: RequestDetails, now: datetime) -> HelpRequest | None:
    """The same request sent again shortly after (a double tap, a retry by hand)."""
    recent = session.scalars(
        select(HelpRequest).where(
            HelpRequest.openid == openid,
            HelpRequest.category == details.category,
            HelpRequest.created_at >= now - DUPLICATE_WINDOW,
        )
    )
    return next((r for r in recent if r.description == details.description), None)


def submit(session: Session, openid: str, details: RequestDetails, now: datetime, source: str = "chat") -> HelpRequest:
    urgency = Urgency(details.urgency)
    request = HelpRequest(
        number=numbers.yearly_number(session, "SY", SUBJECT, now, width=6),
        openid=openid,
        category=details.category,
        description=details.description,
        attachments=list(details.attachments),
        urgency=urgency,
        for_whom=details.for_whom,
        contact_name=details.contact_name,
        contact_phone=details.contact_phone,
        source=source,
        status=RequestStatus.ACCEPTED,
        due_at=now + RESPONSE_TIME[urgency][0],
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    session.flush()
    if source == "chat" and not consents.has_current(session, openid, SUBJECT):
        consents.grant(session, openid, SUBJECT, now)
    status_events.record(session, SUBJECT, request.id, RequestStatus.ACCEPTED, at=now)
    label = CATEGORIES.get(request.category, request.category)
    if urgency == Urgency.URGENT:
        notifications.alert_staff(
            session, "staff_alert", f"urgent_request:{request.number}",
            f"紧急求助 {request.number}（{label}），请在2小时内联系求助人。", number=request.number,
        )
    else:
        notifications.alert_staff(
            session, "staff_alert", f"new_request:{request.number}",
            f"新的求助 {request.number}（{label}），请在1个工作日内受理。", number=request.number,
        )
    return request


def latest_for(session: Session, openid: str, limit: int = 3) -> list[HelpRequest]:
    return list(
        session.scalars(
            select(HelpRequest)
            .where(HelpRequest.openid == openid)
            .order_by(HelpRequest.created_at.desc(), HelpRequest.id.desc())
            .limit(limit)
        )
    )


def by_number(session: Session, openid: str, number: str) -> HelpRequest | None:
    """Only the user's own requests: a number alone shows nothing of someone else's."""
    return session.scalars(
        select(HelpRequest).where(HelpRequest.number == number.upper(), HelpRequest.openid == openid)
    ).first()


def timeline(session: Session, request: HelpRequest):
    return status_events.history(session, SUBJECT, request.id)


def change_status(
    session: Session,
    request: HelpRequest,
    to: RequestStatus,
    now: datetime,
    *,
    actor: str,
    note: str | None = None,
) -> None:
    """Move along the workflow; the user is told by the outbox."""
    if to not in ALLOWED[request.status]:
        raise TransitionError(f"{request.status} → {to} is not allowed")
    previous = request.status
    request.status = to
    request.updated_at = now
    if to == RequestStatus.REJECTED:
        request.reject_reason = note
    event = status_events.record(
        session, SUBJECT, request.id, to, at=now, from_status=previous, actor=actor, note=note
    )
    if request.openid and to != RequestStatus.VISITED:
        text = f"您的求助 {request.number} 状态更新为：{STATUS_LABELS[to]}。"
        if to == RequestStatus.RESOLVED:
            text += f"\n回复“评价 {request.number}”为本次服务打分。"
        notifications.tell_user(
            session, request.openid, "request_update", f"{request.number}:{event.id}", text, number=request.number
        )


def awaiting_rating(session: Session, openid: str) -> list[HelpRequest]:
    return list(
        session.scalars(
            select(HelpRequest)
            .where(HelpRequest.openid == openid, HelpRequest.status == RequestStatus.RESOLVED)
            .order_by(HelpRequest.updated_at.desc())
        )
    )


def rate(session: Session, request: HelpRequest, score: int, comment: str | None, now: datetime) -> None:
    request.rating = score
    request.rating_comment = comment
    change_status(session, request, RequestStatus.VISITED, now, actor="user", note=f"评分 {score}")
