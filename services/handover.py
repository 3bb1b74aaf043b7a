"""人工 hand-over: a chat between a user and staff, kept as a help request of category "handover".

The user's messages after asking for a person land in the thread until staff close
it; staff answers go back through the outbox as customer-service messages inside
WeChat's 48-hour window (the delivery policy falls back to a template or
subscription notice, or holds the answer, when the window has closed).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from models.help_request import OPEN_STATUSES, HandoverMessage, HelpRequest, RequestStatus, Urgency
from models.outbox import OutboxMessage
from models.staff_account import StaffAccount
from services import help_requests, military_terms, notifications, workflow
from services.help_requests import RequestDetails, TransitionError
from services.workflow import Notice

CATEGORY = "handover"
REPLY_KIND = "handover_reply"
MAX_REPLY_CHARS = 600  # a customer-service text may be longer, but a phone screen is not
MEDIA_LABELS = {"voice": "[语音]", "image": "[图片]", "video": "[视频]", "shortvideo": "[视频]",
                "location": "[位置]", "link": "[链接]"}


# Asked for every text no route before it took (issue 16): built once, a plain id, no entity.
_OPEN_THREAD_EXISTS = (
    select(HelpRequest.id)
    # One comparison per status, not IN: an IN list is expanded at every execution.
    .where(HelpRequest.openid == bindparam("openid"), HelpRequest.category == CATEGORY,
           or_(*(HelpRequest.status == status for status in OPEN_STATUSES)))
    .limit(1)
)


def has_open_thread(session: Session, openid: str) -> bool:
    # On the connection, past the ORM's execution layer (issue 16); the flush is what that
    # layer's autoflush did: a thread opened earlier in this message counts.
    session.flush()
    return session.connection().execute(_OPEN_THREAD_EXISTS, {"openid": openid}).first() is not None


def open_thread_of(session: Session, openid: str) -> HelpRequest | None:
    return session.scalars(
        select(HelpRequest)
        .where(HelpRequest.openid == openid, HelpRequest.category == CATEGORY, HelpRequest.status.in_(OPEN_STATUSES))
        .order_by(HelpRequest.id.desc())
        .limit(1)
    ).first()


def open_thread(
    session: Session, openid: str, now: datetime, *, during: str | None, contact: dict, town: str | None,
) -> tuple[HelpRequest, bool]:
    """The user's open 人工 thread, or a new one. Returns (thread, created)."""
    thread = open_thread_of(session, openid)
    if thread is not None:
        thread.waiting_since = thread.waiting_since or now
        return thread, False
    where = f"填写“{during}”时" if during else ""
    details = RequestDetails(
        category=CATEGORY,
        description=f"用户{where}请求人工服务",
        urgency=Urgency.NORMAL,
        for_whom="self",
        contact_name=contact.get("name"),
        contact_phone=contact.get("mobile"),
        town=town,
    )
    thread = help_requests.submit(session, openid, details, now, source="handover")
    thread.waiting_since = now
    return thread, True


def record_incoming(
    session: Session, thread: HelpRequest, now: datetime, *, msg_type: str, text: str | None, media_id: str | None = None,
) -> HandoverMessage:
    message = HandoverMessage(request_id=thread.id, direction="in", msg_type=msg_type, text=military_terms.mask(text),
                              media_id=media_id, at=now)
    session.add(message)
    thread.waiting_since = thread.waiting_since or now
    thread.updated_at = now
    session.flush()
    return message


def reply(session: Session, thread: HelpRequest, staff: StaffAccount, text: str, now: datetime) -> HandoverMessage:
    """A staff answer: stored in the thread and queued to the user; taking a new chat up is 受理."""
    text = (text or "").strip()
    if not text:
        raise TransitionError("请输入要回复的内容。")
    if len(text) > MAX_REPLY_CHARS:
        raise TransitionError(f"回复太长了，请控制在{MAX_REPLY_CHARS}字以内，可以分几次发。")
    if thread.status not in OPEN_STATUSES:
        raise TransitionError("这个会话已经结束，不能再回复。")
    if not thread.openid:
        raise TransitionError("对方已删除个人信息，无法再回复。")
    actor = f"staff:{staff.username}"
    if thread.status == RequestStatus.SUBMITTED:
        workflow.transition(session, help_requests.FLOW, thread, RequestStatus.ACCEPTED, now, actor=actor,
                            action="accept", note="开始人工回复")
    message = HandoverMessage(request_id=thread.id, direction="out", msg_type="text", text=text,
                              staff_id=staff.id, at=now)
    session.add(message)
    session.flush()
    row = notifications.tell_user(session, thread.openid, REPLY_KIND, f"{thread.id}:{message.id}",
                                  f"工作人员回复：\n{text}", number=thread.number)
    message.outbox_id = row.id
    thread.waiting_since = None
    thread.updated_at = now
    return message


def close_notice(thread: HelpRequest) -> str:
    return "本次人工服务已结束，感谢您的耐心。\n如还需要帮助，请随时回复“人工”。"


def close(session: Session, thread: HelpRequest, staff: StaffAccount, now: datetime, note: str | None = None) -> None:
    """End the chat: the user's next messages go back to the normal menu."""
    thread.resolution = (note or "").strip() or "人工服务已结束"
    workflow.transition(session, help_requests.FLOW, thread, RequestStatus.RESOLVED, now,
                        actor=f"staff:{staff.username}", action="close", note=thread.resolution,
                        notice=Notice(thread.openid, REPLY_KIND, close_notice(thread)))
    thread.waiting_since = None


def end_by_user(session: Session, thread: HelpRequest, now: datetime) -> None:
    """The user says they no longer need a person: the chat ends as if staff had closed it, and
    the thread shows staff who ended it. The chat reply tells the user, so no notice is queued."""
    thread.resolution = "用户结束了人工服务"
    workflow.transition(session, help_requests.FLOW, thread, RequestStatus.RESOLVED, now,
                        actor="user", action="user_close", note=thread.resolution)
    thread.waiting_since = None


def messages(session: Session, thread: HelpRequest, limit: int = 200) -> list[tuple[HandoverMessage, OutboxMessage | None]]:
    """The thread, oldest first, each staff answer with its outbox row (sent, held, failed …)."""
    rows = session.execute(
        select(HandoverMessage, OutboxMessage)
        .outerjoin(OutboxMessage, OutboxMessage.id == HandoverMessage.outbox_id)
        .where(HandoverMessage.request_id == thread.id)
        .order_by(HandoverMessage.at.desc(), HandoverMessage.id.desc())
        .limit(limit)
    ).all()
    return [(m, o) for m, o in reversed(rows)]


def shown_text(message: HandoverMessage) -> str:
    if message.msg_type == "text":
        return message.text or ""
    return MEDIA_LABELS.get(message.msg_type, "[消息]") + (f" {message.text}" if message.text else "")
