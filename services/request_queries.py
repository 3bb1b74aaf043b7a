"""Finding help requests for staff: the filtered, sorted list, its counts, the export,
and what a request's page shows beside it (who may be assigned, its timeline).

The console's list, its Excel export and its counts read the same `RequestFilter`,
so an export holds exactly the rows the list shows. Area scope comes in as a
WHERE clause from the caller (the console's `access.scope_filter`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from models.encrypted import blind_indexes
from models.help_request import OPEN_STATUSES, HelpRequest, RequestStatus, Urgency
from models.outbox import Channel, OutboxMessage, OutboxStatus, Recipient
from models.staff_account import StaffAccount, StaffRole
from models.status_event import StatusEvent
from models.volunteer import Volunteer, VolunteerStatus
from services import help_requests
from services.handover import MEDIA_LABELS, REPLY_KIND

S = RequestStatus
SOURCES = {"chat": "微信", "handover": "人工", "console": "工作台", "visit": "走访发现"}
# A filter value, not a source: everything but 人工 chats, as the work queue counts them.
NOT_HANDOVER = "requests"
SOURCE_FILTERS = {NOT_HANDOVER: "求助（不含人工会话）", **SOURCES}
SORTS = {"": "待办优先", "created": "最新提交", "due": "受理期限"}
UNASSIGNED, TO_VOLUNTEER, NO_TOWN = "none", "volunteer", "none"
EXPORT_CAP = 10_000
VOLUNTEER_CHOICES = 300  # a select longer than this helps nobody

_FULL_NUMBER = re.compile(r"(?:SY)?(\d{4})-(\d{1,8})", re.IGNORECASE)
_SHORT_NUMBER = re.compile(r"\d{1,6}")
_PHONE = re.compile(r"[\d\s+\-]{7,20}")


# --- the filter ----------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFilter:
    """The list's GET parameters, parsed; unknown values are ignored rather than refused."""

    status: RequestStatus | None = None
    category: str | None = None
    urgency: Urgency | None = None
    town: str | None = None  # a 乡镇 name, or NO_TOWN for requests with none
    overdue: bool = False
    assignee: str | None = None  # a staff id, UNASSIGNED or TO_VOLUNTEER
    source: str | None = None
    q: str | None = None  # a request number (whole or its last digits) or a phone number
    sort: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "RequestFilter":
        def pick(name: str, allowed: Iterable[str]) -> str | None:
            value = (args.get(name) or "").strip()
            return value if value in allowed else None

        assignee = (args.get("assignee") or "").strip()
        status = pick("status", [s.value for s in RequestStatus])
        urgency = pick("urgency", [u.value for u in Urgency])
        return cls(
            status=RequestStatus(status) if status else None,
            category=pick("category", help_requests.CATEGORIES),
            urgency=Urgency(urgency) if urgency else None,
            town=(args.get("town") or "").strip()[:40] or None,
            overdue=args.get("overdue") == "1",
            assignee=assignee if assignee in (UNASSIGNED, TO_VOLUNTEER) or _account_id(assignee) else None,
            source=pick("source", SOURCE_FILTERS),
            q=(args.get("q") or "").strip()[:40] or None,
            sort=pick("sort", SORTS) or "",
        )

    def without_status(self) -> "RequestFilter":
        return replace(self, status=None)


def _account_id(text: str) -> bool:
    """ASCII digits that fit an integer column ("²" is a digit to Python, but not to int())."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def search_kind(text: str | None) -> str | None:
    """"number", "phone", or None for text that is neither (the list then shows nothing)."""
    if not text:
        return None
    if _FULL_NUMBER.fullmatch(text) or _SHORT_NUMBER.fullmatch(text):
        return "number"
    if _PHONE.fullmatch(text):
        return "phone"
    return None


def _search_clause(text: str):
    kind = search_kind(text)
    if kind == "phone":
        return HelpRequest.contact_phone_bi.in_(blind_indexes(text, "phone"))
    if kind != "number":
        return false()
    full = _FULL_NUMBER.fullmatch(text)
    if full:
        year, serial = full.groups()
        return HelpRequest.number == f"SY{year}-{int(serial):06d}"
    return HelpRequest.number.like(f"%-{int(text):06d}")


def _assignee_clause(assignee: str):
    if assignee == UNASSIGNED:
        return and_(HelpRequest.assignee_staff_id.is_(None), HelpRequest.assignee_volunteer_id.is_(None))
    if assignee == TO_VOLUNTEER:
        return HelpRequest.assignee_volunteer_id.is_not(None)
    return HelpRequest.assignee_staff_id == int(assignee)


def overdue_clause(now: datetime):
    """The same rule as `help_requests.is_overdue`: 待受理 past the due time fixed at submission."""
    return and_(HelpRequest.status == S.SUBMITTED, HelpRequest.due_at <= now)


def _conditions(flt: RequestFilter, now: datetime, scope) -> list:
    where = [] if scope is None else [scope]
    if flt.status:
        where.append(HelpRequest.status == flt.status)
    if flt.category:
        where.append(HelpRequest.category == flt.category)
    if flt.urgency:
        where.append(HelpRequest.urgency == flt.urgency)
    if flt.town == NO_TOWN:
        where.append(HelpRequest.town.is_(None))
    elif flt.town:
        where.append(HelpRequest.town == flt.town)
    if flt.overdue:
        where.append(overdue_clause(now))
    if flt.assignee:
        where.append(_assignee_clause(flt.assignee))
    if flt.source == NOT_HANDOVER:
        where.append(HelpRequest.category != "handover")
    elif flt.source:
        where.append(HelpRequest.source == flt.source)
    if flt.q:
        where.append(_search_clause(flt.q))
    return where


def _plain_order(sort: str) -> list:
    if sort == "created":
        return [HelpRequest.created_at.desc(), HelpRequest.id.desc()]
    return [HelpRequest.due_at.is_(None), HelpRequest.due_at, HelpRequest.id]  # "due"


def _open_order(now: datetime) -> list:
    """Open requests: overdue, then the rest of 待受理, then the other open ones; oldest first in each."""
    rank = case((overdue_clause(now), 0), (HelpRequest.status == S.SUBMITTED, 1), else_=2)
    return [rank, HelpRequest.created_at, HelpRequest.id.desc()]


CLOSED_ORDER = (HelpRequest.created_at.desc(), HelpRequest.id.desc())


def _ids(session: Session, where: list, order, offset: int, limit: int) -> list[int]:
    return list(session.scalars(select(HelpRequest.id).where(*where).order_by(*order).offset(offset).limit(limit)))


def _count(session: Session, where: list) -> int:
    return session.scalar(select(func.count()).select_from(HelpRequest).where(*where)) or 0


def _ordered_ids(session: Session, flt: RequestFilter, where: list, now: datetime, offset: int, limit: int) -> list[int]:
    """Ids of one stretch of the list in its order.

    The default order (open ones first, closed ones after, newest first) is two
    index-friendly queries rather than one sort over every row of the county.
    """
    if flt.sort:
        return _ids(session, where, _plain_order(flt.sort), offset, limit)
    is_open = HelpRequest.status.in_(OPEN_STATUSES)
    ids = _ids(session, [*where, is_open], _open_order(now), offset, limit)
    if len(ids) == limit:
        return ids
    open_total = offset + len(ids) if ids else _count(session, [*where, is_open])
    return ids + _ids(session, [*where, ~is_open], CLOSED_ORDER, max(0, offset - open_total), limit - len(ids))


def _rows(session: Session, ids: list[int], chunk: int = 1000) -> list[HelpRequest]:
    found: dict[int, HelpRequest] = {}
    for start in range(0, len(ids), chunk):
        found.update(_by_id(session, HelpRequest, set(ids[start:start + chunk])))
    return [found[i] for i in ids if i in found]


# --- the list, its counts, the export -----------------------------------------------------


def find(session: Session, flt: RequestFilter, now: datetime, *, scope=None, page: int = 1,
         per_page: int = 50) -> tuple[list[HelpRequest], int]:
    """One page of the filtered list and the total count of the whole list."""
    where = _conditions(flt, now, scope)
    ids = _ordered_ids(session, flt, where, now, (page - 1) * per_page, per_page)
    return _rows(session, ids), _count(session, where)


def export_rows(session: Session, flt: RequestFilter, now: datetime, *, scope=None,
                cap: int = EXPORT_CAP) -> list[HelpRequest]:
    """Every row of the filtered list (all pages, in the list's order), at most `cap`."""
    return _rows(session, _ordered_ids(session, flt, _conditions(flt, now, scope), now, 0, cap))


def status_counts(session: Session, flt: RequestFilter, now: datetime, *, scope=None) -> dict[RequestStatus, int]:
    """How many requests of each status the list would show with every other filter kept."""
    where = _conditions(flt.without_status(), now, scope)
    rows = session.execute(
        select(HelpRequest.status, func.count()).where(*where).group_by(HelpRequest.status)
    ).all()
    found = {RequestStatus(status): count for status, count in rows}
    return {status: found.get(status, 0) for status in RequestStatus}


def describe(flt: RequestFilter, staff_names: Mapping[int, str] | None = None) -> str:
    """The filter in words for the audit log: never a phone number or a name of the public."""
    parts = []
    if flt.status:
        parts.append(f"状态={flt.status.label}")
    if flt.category:
        parts.append(f"类别={help_requests.category_label(flt.category)}")
    if flt.urgency:
        parts.append(f"紧急程度={flt.urgency.label}")
    if flt.town:
        parts.append(f"乡镇={'未登记' if flt.town == NO_TOWN else flt.town}")
    if flt.overdue:
        parts.append("仅超时")
    if flt.assignee:
        parts.append(f"经办人={assignee_filter_label(flt.assignee, staff_names or {})}")
    if flt.source:
        parts.append(f"来源={SOURCE_FILTERS[flt.source]}")
    if flt.q:
        parts.append(f"搜索编号={flt.q}" if search_kind(flt.q) == "number" else "按手机号搜索")
    return "；".join(parts) or "全部"


def assignee_filter_label(value: str, staff_names: Mapping[int, str]) -> str:
    if value == UNASSIGNED:
        return "未指派"
    if value == TO_VOLUNTEER:
        return "志愿者"
    return staff_names.get(int(value), f"账号{value}")


# --- people shown beside requests ---------------------------------------------------------


@dataclass(frozen=True)
class Assignee:
    kind: str  # "staff" or "volunteer"
    name: str
    number: str | None = None  # a volunteer's ZY number


def assignees(session: Session, requests: Iterable[HelpRequest]) -> dict[int, Assignee]:
    """Who each request is assigned to, keyed by request id (two queries for a whole page)."""
    requests = list(requests)
    staff_ids = {r.assignee_staff_id for r in requests if r.assignee_staff_id}
    volunteer_ids = {r.assignee_volunteer_id for r in requests if r.assignee_volunteer_id}
    staff, volunteers = _by_id(session, StaffAccount, staff_ids), _by_id(session, Volunteer, volunteer_ids)
    result = {}
    for r in requests:
        if r.assignee_staff_id in staff:
            result[r.id] = Assignee("staff", staff[r.assignee_staff_id].name)
        elif r.assignee_volunteer_id in volunteers:
            v = volunteers[r.assignee_volunteer_id]
            result[r.id] = Assignee("volunteer", v.name, v.number)
    return result


def _by_id(session: Session, model, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))}


def staff_who_act(session: Session) -> list[StaffAccount]:
    """Active accounts that can take a request (not 只读): county-wide ones first."""
    return list(session.scalars(_acting_staff().order_by(StaffAccount.town.is_not(None), StaffAccount.username)))


def staff_for_town(session: Session, town: str | None) -> list[StaffAccount]:
    """Who may take a request of `town`: county-wide accounts and that township's own."""
    area = StaffAccount.town.is_(None) if town is None else or_(StaffAccount.town.is_(None), StaffAccount.town == town)
    return list(session.scalars(
        _acting_staff().where(area).order_by(StaffAccount.town.is_not(None), StaffAccount.username)
    ))


def _acting_staff():
    return select(StaffAccount).where(StaffAccount.active.is_(True), StaffAccount.role != StaffRole.VIEWER)


def staff_may_take(staff: StaffAccount, request: HelpRequest) -> bool:
    """A township account takes requests of its own township only."""
    return staff.town is None or staff.town == request.town


def volunteers_for(session: Session, town: str | None, limit: int = VOLUNTEER_CHOICES) -> list[Volunteer]:
    """Approved volunteers, those of the request's township first, then by village and number (names are encrypted)."""
    own_town_first = [case((Volunteer.town == town, 0), else_=1)] if town else []
    return list(session.scalars(
        select(Volunteer).where(Volunteer.status == VolunteerStatus.APPROVED)
        .order_by(*own_town_first, Volunteer.town, Volunteer.village, Volunteer.number, Volunteer.id).limit(limit)
    ))


def attachment_labels(request: HelpRequest) -> list[str]:
    return [MEDIA_LABELS.get((a or {}).get("type"), "[附件]") for a in (request.attachments or [])]


# --- what staff may do now -------------------------------------------------------------------

REOPENABLE = (S.RESOLVED, S.VISITED, S.REJECTED)


def available_actions(request: HelpRequest) -> list[str]:
    """The staff actions the workflow allows for the request's current status, in page order."""
    status = request.status
    allowed = {
        "accept": status != S.REJECTED and help_requests.FLOW.can(status, S.ACCEPTED),
        "transfer": help_requests.FLOW.can(status, S.TRANSFERRED),
        "assign": status in OPEN_STATUSES,
        "note": True,
        "resolve": help_requests.FLOW.can(status, S.RESOLVED),
        "reject": help_requests.FLOW.can(status, S.REJECTED),
        "follow_up": status == S.RESOLVED,
        "reopen": status in REOPENABLE and bool(help_requests.FLOW.moves_from(status)),
    }
    return [action for action, ok in allowed.items() if ok]


def latest_event_id(session: Session, request: HelpRequest) -> int:
    """The newest status_event of the request (every action writes one): the version a page was showing."""
    return session.scalar(
        select(func.max(StatusEvent.id)).where(StatusEvent.subject == help_requests.SUBJECT,
                                               StatusEvent.subject_id == request.id)) or 0


# --- the timeline -----------------------------------------------------------------------------

ACTION_WORDS = {
    "accept": "受理", "transfer": "转办", "assign": "指派", "note": "备注", "resolve": "办结",
    "reject": "不予受理", "reopen": "重新办理", "rate": "评价", "follow_up": "回访", "reply": "回复",
    "close": "结束会话", "user_close": "本人结束会话",
}
PUSH_STATUS = {
    OutboxStatus.SENT: "已发送", OutboxStatus.PENDING: "等待发送", OutboxStatus.SENDING: "发送中",
    OutboxStatus.HELD: "等待（对方48小时内未发消息）", OutboxStatus.FAILED: "发送失败", OutboxStatus.CANCELLED: "已取消",
    OutboxStatus.EXPIRED: "已过期，未发送",
}
CHANNELS = {
    Channel.CUSTOMER_SERVICE: "客服消息", Channel.TEMPLATE: "模板消息", Channel.SUBSCRIPTION: "订阅通知",
    Channel.MASS: "群发", Channel.SANDBOX: "模拟器",
}
PUSH_KINDS = (help_requests.NOTICE_KIND, REPLY_KIND)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    who: str
    what: str
    note: str | None = None
    push: bool = False  # a message sent to the requester, not a change of the request
    event_id: int = 0  # the event it is (or reports): a push follows its event


_UNANCHORED = 1 << 62


def timeline(session: Session, request: HelpRequest) -> list[TimelineEntry]:
    """Every event of the request and every push sent about it, oldest first."""
    events = help_requests.timeline(session, request)
    names = _staff_names(session, {e.actor for e in events})
    by_id = {e.id: e for e in events}
    entries = [_event_entry(e, names) for e in events]
    entries += [_push_entry(m, by_id) for m in pushes(session, request)]
    return sorted(entries, key=lambda e: (e.at, e.event_id, e.push))


def pushes(session: Session, request: HelpRequest) -> list[OutboxMessage]:
    """Outbox rows about the request: keyed `…help_request:<id>:…` or carrying its number."""
    marker = f"{help_requests.SUBJECT}:{request.id}:"
    # The requester's own rows through the recipient index; a request whose openid was
    # erased falls back to the key alone.
    about = OutboxMessage.addressed_to(Recipient.person(request.openid)) if request.openid \
        else OutboxMessage.idempotency_key.like(f"%{marker}%")
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind.in_(PUSH_KINDS), about).order_by(OutboxMessage.id)
    )
    return [m for m in rows if marker in m.idempotency_key or (m.payload or {}).get("number") == request.number]


def _staff_names(session: Session, actors: set[str]) -> dict[str, str]:
    usernames = {a.split(":", 1)[1] for a in actors if a.startswith("staff:")}
    if not usernames:
        return {}
    rows = session.scalars(select(StaffAccount).where(StaffAccount.username.in_(usernames)))
    return {a.username: a.name for a in rows}


def actor_name(actor: str, names: Mapping[str, str]) -> str:
    if actor.startswith("staff:"):
        username = actor.split(":", 1)[1]
        return names.get(username, username)
    return {"user": "求助人", "system": "系统"}.get(actor, actor)


def _event_entry(event: StatusEvent, names: Mapping[str, str]) -> TimelineEntry:
    if event.action in ACTION_WORDS:
        what = ACTION_WORDS[event.action]
    elif event.from_status is None:
        what = "提交"
    else:
        what = f"状态改为{_status_label(event.to_status)}"
    if event.from_status is not None and event.from_status != event.to_status and event.action:
        what += f"（{_status_label(event.from_status)} → {_status_label(event.to_status)}）"
    return TimelineEntry(event.at, actor_name(event.actor, names), what, event.note, event_id=event.id)


def _status_label(value: str) -> str:
    try:
        return RequestStatus(value).label
    except ValueError:
        return value


def _push_entry(message: OutboxMessage, events: Mapping[int, StatusEvent]) -> TimelineEntry:
    """A push sits right after the event it reports (its key ends with the event's id)."""
    tail = message.idempotency_key.rsplit(":", 1)[-1]
    event = events.get(int(tail)) if tail.isdigit() and f"{help_requests.SUBJECT}:" in message.idempotency_key \
        else None
    status = PUSH_STATUS.get(message.status, str(message.status))
    what = f"通知求助人：{status}（{CHANNELS.get(message.channel, str(message.channel))}）"
    text: Any = (message.payload or {}).get("text")
    return TimelineEntry(event.at if event else message.created_at, "系统", what,
                         text if isinstance(text, str) else None, push=True,
                         event_id=event.id if event else _UNANCHORED)
