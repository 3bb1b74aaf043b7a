"""Help requests: submission with a number, the staff workflow, and the user's rating (回访).

Every move goes through `services.workflow.transition`, so the chat (评价), the
console (受理, 转办, 指派, 办结 …) and the scheduler record and notify the same way.
Each staff action has a `*_notice` function that returns what the requester will be
told, so the console can show it before the action is taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.help_request import OPEN_STATUSES, HelpRequest, RequestStatus, Urgency
from models.staff_account import StaffAccount
from models.volunteer import Volunteer, VolunteerStatus
from services import consents, military_terms, notifications, numbers, status_events, workflow
from services.local_time import SHANGHAI, local_instant
from services.workdays import WorkCalendar
from services.workflow import Notice, TransitionError  # noqa: F401  (re-exported for callers)

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
S = RequestStatus
FLOW = workflow.Workflow(SUBJECT, {
    S.SUBMITTED: frozenset({S.ACCEPTED, S.TRANSFERRED, S.IN_PROGRESS, S.RESOLVED, S.REJECTED}),
    S.ACCEPTED: frozenset({S.TRANSFERRED, S.IN_PROGRESS, S.RESOLVED, S.REJECTED}),
    S.TRANSFERRED: frozenset({S.TRANSFERRED, S.IN_PROGRESS, S.RESOLVED, S.REJECTED}),
    S.IN_PROGRESS: frozenset({S.TRANSFERRED, S.RESOLVED, S.REJECTED}),
    S.RESOLVED: frozenset({S.VISITED, S.IN_PROGRESS}),
    S.VISITED: frozenset({S.IN_PROGRESS}),
    S.REJECTED: frozenset({S.ACCEPTED}),
})
# The requester's words for each status in the chat (staff see the enum's own label, 待受理).
STATUS_LABELS = {s: s.label for s in RequestStatus} | {RequestStatus.SUBMITTED: "已提交"}
# How soon someone takes it up, promised on the receipt; the scheduler escalates past it.
URGENT_ACCEPT_WITHIN = timedelta(hours=2)
PROMISE = {Urgency.URGENT: "2小时内", Urgency.NORMAL: "1个工作日内"}
DUPLICATE_WINDOW = timedelta(minutes=30)
NOTICE_KIND = "request_update"


@dataclass(frozen=True)
class RequestDetails:
    category: str
    description: str
    urgency: Urgency
    for_whom: str  # self, family, other
    contact_name: str | None
    contact_phone: str | None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    town: str | None = None  # the requester's 乡镇/街道 when known


def category_label(code: str) -> str:
    return CATEGORIES.get(code, "其他")


def promised_time(urgency: Urgency) -> str:
    return PROMISE[Urgency(urgency)]


def acceptance_due(work: WorkCalendar, created_at: datetime, urgency: Urgency) -> datetime:
    """When 受理 is due: 2 hours for urgent requests, else the same time on the next working day."""
    if Urgency(urgency) == Urgency.URGENT:
        return created_at + URGENT_ACCEPT_WITHIN
    created = created_at.astimezone(SHANGHAI)
    day = work.add_workdays(created.date(), 1)
    return local_instant(day, f"{created:%H:%M}")


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
    """A new request, 待受理, with its 受理 deadline computed once on the working-day calendar."""
    urgency = Urgency(details.urgency)
    request = HelpRequest(
        number=numbers.yearly_number(session, "SY", SUBJECT, now, width=6),
        openid=openid,
        category=details.category,
        description=military_terms.mask(details.description),  # PI-12, whatever the channel
        attachments=list(details.attachments),
        urgency=urgency,
        for_whom=details.for_whom,
        contact_name=details.contact_name,
        contact_phone=details.contact_phone,
        town=details.town,
        source=source,
        status=RequestStatus.SUBMITTED,
        due_at=acceptance_due(WorkCalendar(session), now, urgency),
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    session.flush()
    if source in ("chat", "handover") and not consents.has_current(session, openid, SUBJECT):
        consents.grant(session, openid, SUBJECT, now)
    status_events.record(session, SUBJECT, request.id, RequestStatus.SUBMITTED, at=now)
    if urgency == Urgency.URGENT:
        notifications.alert_staff(
            session, "staff_alert", f"urgent_request:{request.number}",
            f"紧急求助{request.number}（{category_label(request.category)}），请在2小时内联系求助人。",
            number=request.number,
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
    """Every event: moves, notes, assignments (the console's view)."""
    return status_events.history(session, SUBJECT, request.id)


def public_timeline(session: Session, request: HelpRequest):
    """What the requester sees: the moves only, never staff notes or assignments."""
    return [e for e in timeline(session, request) if e.from_status != e.to_status]


def is_overdue(request: HelpRequest, now: datetime) -> bool:
    return request.status == RequestStatus.SUBMITTED and request.due_at is not None and request.due_at <= now


# --- what the requester is told ----------------------------------------------------


def accept_notice(request: HelpRequest) -> str:
    return f"您的求助{request.number}已受理，工作人员正在办理，有进展会告诉您。"


def transfer_notice(request: HelpRequest, unit: str) -> str:
    return f"您的求助{request.number}已转交{unit}办理，有进展会告诉您。"


def assign_notice(request: HelpRequest) -> str:
    return f"您的求助{request.number}已安排专人办理，工作人员会尽快联系您。"


def resolve_notice(request: HelpRequest, resolution: str) -> str:
    return (f"您的求助{request.number}已办结。\n办理结果：{resolution}\n"
            f"回复“评价{request.number}”为本次服务打分。")


def reject_notice(request: HelpRequest, reason: str) -> str:
    return (f"很抱歉，您的求助{request.number}未能受理。\n原因：{reason}\n"
            "如有疑问，请回复“人工”。")


def reopen_notice(request: HelpRequest) -> str:
    return f"您的求助{request.number}已重新办理，有进展会告诉您。"


def _notice(request: HelpRequest, text: str) -> Notice:
    return Notice(request.openid, NOTICE_KIND, text)


# --- staff actions ----------------------------------------------------------------


def accept(session: Session, request: HelpRequest, now: datetime, *, actor: str) -> None:
    """受理: a staff member takes the request up."""
    workflow.transition(session, FLOW, request, S.ACCEPTED, now, actor=actor, action="accept",
                        notice=_notice(request, accept_notice(request)))


def transfer(session: Session, request: HelpRequest, unit: str, now: datetime, *, actor: str, note: str | None = None) -> None:
    """转办: passed to a unit (a 成员单位, the court, 住建 …) or a person there, with a note."""
    unit = workflow.required_text(unit, "请填写转办到哪个单位或个人。", 60)
    if request.status == S.TRANSFERRED and request.transferred_to == unit:  # sent twice: tell nobody twice
        raise TransitionError(f"这件求助已经转办至{unit}了。")
    request.transferred_to = unit
    workflow.transition(session, FLOW, request, S.TRANSFERRED, now, actor=actor, action="transfer",
                        note=f"转办至{unit}" + (f"：{note}" if note else ""),
                        notice=_notice(request, transfer_notice(request, unit)))


def assign(
    session: Session,
    request: HelpRequest,
    now: datetime,
    *,
    actor: str,
    staff: StaffAccount | None = None,
    volunteer: Volunteer | None = None,
    note: str | None = None,
) -> None:
    """指派: to a staff member or an approved volunteer; a request not yet taken up becomes 办理中."""
    if (staff is None) == (volunteer is None):
        raise TransitionError("请选择一位工作人员或一名志愿者。")
    if volunteer is not None and volunteer.status != VolunteerStatus.APPROVED:
        raise TransitionError("只能指派给已通过审核的志愿者。")
    if staff is not None and not staff.active:
        raise TransitionError("这个工作人员账号已停用。")
    if request.status in OPEN_STATUSES and (
            (staff is not None and request.assignee_staff_id == staff.id)
            or (volunteer is not None and request.assignee_volunteer_id == volunteer.id)):
        raise TransitionError(f"这件求助已经指派给{staff.name if staff else volunteer.name}了。")  # nobody told twice
    request.assignee_staff_id = staff.id if staff else None
    request.assignee_volunteer_id = volunteer.id if volunteer else None
    who = f"工作人员{staff.name}" if staff else f"志愿者{volunteer.name}（{volunteer.number}）"
    text = f"指派给{who}" + (f"：{note}" if note else "")
    notice = _notice(request, assign_notice(request))
    if request.status in (S.SUBMITTED, S.ACCEPTED):
        workflow.transition(session, FLOW, request, S.IN_PROGRESS, now, actor=actor, action="assign", note=text,
                            notice=notice)
    elif request.status in (S.TRANSFERRED, S.IN_PROGRESS):
        workflow.record_action(session, FLOW, request, now, actor=actor, action="assign", note=text, notice=notice)
    else:
        raise TransitionError(f"当前状态为“{request.status.label}”，不能指派。")
    if volunteer is not None and volunteer.openid:
        notifications.tell_user(
            session, volunteer.openid, "volunteer_task", f"assign:{request.id}:{volunteer.id}:{now:%Y%m%d%H%M%S}",
            f"您好！双拥办请您协助办理求助{request.number}（{category_label(request.category)}"
            f"{'，' + request.town if request.town else ''}）。工作人员会与您联系说明详情，谢谢您！",
        )


def add_note(session: Session, request: HelpRequest, note: str, now: datetime, *, actor: str) -> None:
    """备注: for staff only; the requester is not told."""
    workflow.record_action(session, FLOW, request, now, actor=actor, action="note",
                           note=workflow.required_text(note, "请填写备注内容。", 1000))


def resolve(session: Session, request: HelpRequest, resolution: str, now: datetime, *, actor: str) -> None:
    """办结 with what was done; the requester is told and asked to rate it."""
    resolution = workflow.required_text(resolution, "请填写办理结果，求助人会看到这段话。", 500)
    request.resolution = resolution
    workflow.transition(session, FLOW, request, S.RESOLVED, now, actor=actor, action="resolve", note=resolution,
                        notice=_notice(request, resolve_notice(request, resolution)))
    request.waiting_since = None


def reject(session: Session, request: HelpRequest, reason: str, now: datetime, *, actor: str) -> None:
    """不予受理 with a reason the requester is told."""
    reason = workflow.required_text(reason, "请填写不予受理的原因，求助人会看到这段话。", 300)
    request.reject_reason = reason
    workflow.transition(session, FLOW, request, S.REJECTED, now, actor=actor, action="reject", note=reason,
                        notice=_notice(request, reject_notice(request, reason)))
    request.waiting_since = None


def reopen(session: Session, request: HelpRequest, now: datetime, *, actor: str, note: str | None = None) -> None:
    """重新办理: a closed request back in progress (a rejected one back to 已受理)."""
    to = S.ACCEPTED if request.status == S.REJECTED else S.IN_PROGRESS
    workflow.transition(session, FLOW, request, to, now, actor=actor, action="reopen", note=note,
                        notice=_notice(request, reopen_notice(request)))


SATISFACTION = {5: "非常满意", 4: "满意", 3: "一般", 2: "不满意", 1: "很不满意"}


def follow_up(session: Session, request: HelpRequest, score: int, note: str | None, now: datetime, *, actor: str) -> None:
    """回访 by staff: the person was called back after 办结 and said how satisfied they are.

    Recorded for them (many elderly users never type "评价"); nobody is messaged, they were just called.
    """
    if score not in SATISFACTION:
        raise TransitionError("请选择对方的满意程度。")
    note = (note or "").strip() or None
    if note and len(note) > 500:
        raise TransitionError("内容太长了，请控制在500字以内。")
    request.rating, request.rating_comment = score, note
    workflow.transition(session, FLOW, request, S.VISITED, now, actor=actor, action="follow_up",
                        note=f"回访：{SATISFACTION[score]}" + (f"。{note}" if note else ""))


def change_status(
    session: Session, request: HelpRequest, to: RequestStatus, now: datetime, *, actor: str, note: str | None = None,
) -> None:
    """A plain move along the workflow (demo data, scripts); the requester gets a short status notice."""
    text = f"您的求助{request.number}状态更新为：{RequestStatus(to).label}。"
    if to == S.RESOLVED:
        text += f"\n回复“评价{request.number}”为本次服务打分。"
    if to == S.REJECTED:
        request.reject_reason = note
    notice = None if to == S.VISITED else _notice(request, text)
    workflow.transition(session, FLOW, request, to, now, actor=actor, note=note, notice=notice)


# --- the requester's side ------------------------------------------------------------


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
    workflow.transition(session, FLOW, request, S.VISITED, now, actor="user", action="rate", note=f"评分{score}")
