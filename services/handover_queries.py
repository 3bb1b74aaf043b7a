"""The 人工 inbox for staff: which chats wait for an answer, their latest message, and
what will happen to an answer sent now (WeChat's 48-hour window and the fallbacks).

Read-only helpers beside `services.handover` (which holds the moves: reply, close).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models import Channel, FollowerStatus, OutboxMessage, OutboxStatus
from models.help_request import OPEN_STATUSES, HandoverMessage, HelpRequest
from models.staff_account import StaffAccount
from services import followers
from services.delivery_policy import policy_for
from services.handover import CATEGORY, REPLY_KIND, shown_text

WAITING, OPEN, CLOSED = "waiting", "open", "closed"
SHOWS = {WAITING: "待回复", OPEN: "全部进行中", CLOSED: "已结束"}
PREVIEW_CHARS = 30


def inbox(
    session: Session, show: str, *, scope: Sequence[Any] = (), page: int = 1, per_page: int = 50,
) -> tuple[list[HelpRequest], int]:
    """One page of 人工 threads and the total.

    待回复: open threads whose latest message is the user's, longest waiting first.
    全部进行中: every open thread, the waiting ones first. 已结束: most recently closed first.
    """
    query = select(HelpRequest).where(HelpRequest.category == CATEGORY)
    for condition in scope:
        if condition is not None:
            query = query.where(condition)
    if show == CLOSED:
        query = query.where(HelpRequest.status.not_in(OPEN_STATUSES))
        order = (HelpRequest.updated_at.desc(), HelpRequest.id.desc())
    else:
        query = query.where(HelpRequest.status.in_(OPEN_STATUSES))
        if show == WAITING:
            query = query.where(HelpRequest.waiting_since.is_not(None))
        order = (case((HelpRequest.waiting_since.is_(None), 1), else_=0), HelpRequest.waiting_since,
                 HelpRequest.updated_at.desc(), HelpRequest.id.desc())
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*order).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def latest_messages(session: Session, thread_ids: Iterable[int]) -> dict[int, HandoverMessage]:
    """The latest message of each thread (one query for the whole page)."""
    ids = list(thread_ids)
    if not ids:
        return {}
    latest = (select(func.max(HandoverMessage.id)).where(HandoverMessage.request_id.in_(ids))
              .group_by(HandoverMessage.request_id))
    return {m.request_id: m for m in session.scalars(select(HandoverMessage).where(HandoverMessage.id.in_(latest)))}


def preview(message: HandoverMessage | None, limit: int = PREVIEW_CHARS) -> str:
    """A message shortened for a list line; staff answers start with 回复："""
    if message is None:
        return ""
    text = " ".join(shown_text(message).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"回复：{text}" if message.direction == "out" else text


def latest_id(exchange: Sequence[tuple[HandoverMessage, Any]]) -> int:
    """The newest message id on a thread page: the reply form carries it back."""
    return max((m.id for m, _ in exchange), default=0)


def sent_already(session: Session, thread: HelpRequest, text: str, after_id: int) -> bool:
    """The same answer was stored after the page was shown: a double click or a resent
    form, which must not reach the user twice."""
    text = (text or "").strip()
    if not text:
        return False
    newer = session.scalars(
        select(HandoverMessage).where(HandoverMessage.request_id == thread.id, HandoverMessage.direction == "out",
                                      HandoverMessage.id > after_id)
    )
    return any(m.text == text for m in newer)


def staff_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {a.id: a.name for a in session.scalars(select(StaffAccount).where(StaffAccount.id.in_(wanted)))}


def delivery_state(outbox: OutboxMessage | None) -> str:
    """A staff answer's outbox status in words."""
    if outbox is None:
        return ""
    status = outbox.status
    if status == OutboxStatus.SENT:
        if outbox.channel == Channel.SANDBOX:
            return "已发送（演示模式）"
        if outbox.channel in (Channel.TEMPLATE, Channel.SUBSCRIPTION):
            return "已发送（服务通知）"
        return "已发送"
    if status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        return "排队中"
    if status == OutboxStatus.HELD:
        return "等待用户下次发消息（已超过48小时）"
    if status == OutboxStatus.FAILED:
        reason = outbox.last_errmsg or (f"错误码{outbox.last_errcode}" if outbox.last_errcode is not None else "")
        return f"失败：{reason}" if reason else "失败"
    if status == OutboxStatus.CANCELLED:
        return "已取消（对方已取消关注或无法接收）"
    if status == OutboxStatus.EXPIRED:
        return "已过期，未发送"
    return str(status)


@dataclass(frozen=True)
class Outlook:
    """Whether WeChat's customer-service window is open, and what an answer sent now will do."""

    window_open: bool
    text: str


def outlook(
    session: Session, openid: str | None, now: datetime, *, sandbox: bool = False,
    template_ids: Mapping[str, str] | None = None, subscribe_template_ids: Mapping[str, str] | None = None,
) -> Outlook:
    """Mirrors the delivery rules for kind handover_reply (services.delivery.plan): a
    customer-service message inside the window, else a template or subscription notice
    when one is configured, else held until the user writes again."""
    if not openid:
        return Outlook(False, "对方已删除个人信息，无法回复。")
    person = followers.find(session, openid)
    if sandbox:
        return Outlook(True, "演示模式：回复会直接出现在模拟器的聊天里，不经过微信。")
    if person is not None and person.status != FollowerStatus.ACTIVE:
        return Outlook(False, "对方已取消关注公众号，回复无法送达。")
    if followers.window_open(person, now):
        left = person.window_quota - person.window_used
        return Outlook(True, f"对方48小时内发过消息，回复会立即送达（在对方下次发消息前还可以回复{left}条）。")
    used_up = person is not None and person.window_expires_at is not None and person.window_expires_at > now
    why = (f"对方上次发消息后已回复{person.window_quota}条（微信的上限）" if used_up
           else "对方超过48小时没有发消息")
    channels = policy_for(REPLY_KIND).channels
    if Channel.TEMPLATE in channels and (template_ids or {}).get(REPLY_KIND):
        return Outlook(False, f"{why}，回复会改用服务通知发出，通知里只显示回复的开头。")
    if Channel.SUBSCRIPTION in channels and (subscribe_template_ids or {}).get(REPLY_KIND):
        return Outlook(False, f"{why}，对方订阅过通知时回复会以订阅通知发出，否则会在对方下次发消息时送达。")
    return Outlook(False, f"{why}，回复会在对方下次发消息时送达。")
