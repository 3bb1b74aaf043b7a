"""The console's 推送记录: outbox rows for people, in words.

Lists the outbox newest first with filters, names each recipient the way staff know
them (a volunteer's or 优抚对象's name, a staff account; never the openid), puts
WeChat's errcodes in words (wechat-platform.md §11), and lets staff retry or cancel a
message. Status changes reuse services.outbox (requeue, transition), as the CLI does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Channel, OutboxEvent, OutboxMessage, OutboxStatus, RecipientKind
from models import Recipient as Addressee  # the outbox's typed recipient; `Recipient` here is how staff see one
from models.outbox import STAFF as STAFF_ROLE
from models.beneficiary import Beneficiary, RegistrationStatus
from models.help_request import HelpRequest
from models.outbound import StaffOpenid
from models.staff_account import StaffAccount
from models.volunteer import Volunteer
from services import outbox
from services.delivery_policy import text_of

STATUS_LABELS: dict[OutboxStatus, str] = {
    OutboxStatus.PENDING: "等待发送",
    OutboxStatus.SENDING: "发送中",
    OutboxStatus.SENT: "已发送",
    OutboxStatus.FAILED: "失败",
    OutboxStatus.CANCELLED: "已取消",
    OutboxStatus.HELD: "暂缓",
    OutboxStatus.EXPIRED: "已过期（未发送）",
}
CHANNEL_LABELS: dict[Channel, str] = {
    Channel.CUSTOMER_SERVICE: "客服消息",
    Channel.TEMPLATE: "模板消息",
    Channel.SUBSCRIPTION: "订阅通知",
    Channel.MASS: "群发",
    Channel.SANDBOX: "沙箱（未真正发送）",
}
# One label per kind of the delivery policy (a test keeps the two in step), plus the CLI's default.
KIND_LABELS: dict[str, str] = {
    "late_reply": "延迟回复",
    "request_update": "求助进度",
    "registration_pending": "登记受理",
    "registration_result": "审核结果",
    "handover_reply": "人工回复",
    "volunteer_task": "志愿者任务",
    "staff_digest": "每日待办",
    "staff_alert": "工作人员提醒",
    "activity_reminder": "活动提醒",
    "holiday_reminder": "节日提醒",
    "publicity": "宣传",
    "activity_update": "活动通知",
    "waitlist_promoted": "候补转正",
    "rating_request": "服务评价",
    "pair_nudge": "结对联系提醒",
    "visit_plan": "走访计划",
    "visit_overdue": "走访逾期",
    "request_escalation": "求助超时提醒",
    "yearly_task": "年度工作提醒",
    "notice": "通知",
}
# WeChat errcodes (wechat-platform.md §11) in words staff can act on.
ERRCODE_WORDS: dict[int, str] = {
    -1: "微信系统繁忙，稍后重试",
    40001: "接口调用凭证无效",
    40014: "接口调用凭证不是最新的",
    42001: "接口调用凭证已过期",
    41001: "缺少接口调用凭证",
    40013: "AppID无效（配置错误）",
    40125: "AppSecret无效（配置错误）",
    40164: "服务器IP不在公众号白名单",
    45009: "今日接口调用次数已用完",
    45011: "调用太频繁，稍后重试",
    40003: "用户标识无效（不是本公众号的关注者）",
    43004: "对方已取消关注",
    43019: "对方已将公众号拉黑",
    48002: "对方已拒收公众号消息",
    45015: "超过48小时未互动，无法发客服消息",
    45047: "客服消息条数已用完，需等对方再次互动",
    43101: "对方拒绝或取消了订阅",
    40037: "模板ID无效",
    47003: "模板字段内容不符合要求（长度或格式）",
    45028: "本月群发次数已用完",
    45065: "重复群发（24小时内已发过）",
    48001: "公众号没有此接口权限",
    45103: "此接口已被微信停用",
}
# The delivery worker's own reasons (English in the database) in words, by their start.
REASON_WORDS: tuple[tuple[str, str], ...] = (
    ("no openids for", "没有绑定微信的工作人员（请在“我的账号”里绑定微信）"),
    ("payload refused", "消息内容不符合微信要求"),
    ("recipient unsubscribed", "对方已取消关注"),
    ("recipient blocked", "对方已拒收公众号消息"),
    ("recipient invalid", "用户标识无效"),
    ("gave up after", "多次重试仍未成功"),
    ("no channel allowed", "没有可用的发送方式"),
    ("customer service:", "无法发送（客服消息窗口已关闭，且没有可用的模板或订阅通知）"),
    ("mass: the", "本月群发次数已用完"),
    ("worker error UndecryptableData", "内容无法解密（写入时的数据密钥已不在配置中，请联系系统管理员）"),
    ("the worker stopped while sending", "发送中途中断，对方可能已收到，为免重复未自动重发（如对方没收到，请点“重发”）"),
)
TEXT_PREVIEW = 30  # characters of a message shown in the list: it may hold personal data
EXPORT_LIMIT = 10_000


def status_label(status: OutboxStatus | str) -> str:
    try:
        return STATUS_LABELS[OutboxStatus(status)]
    except ValueError:
        return "未知"


def channel_label(channel: Channel | str | None) -> str:
    if channel is None:
        return ""
    try:
        return CHANNEL_LABELS[Channel(channel)]
    except ValueError:
        return "其他"


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, "其他消息")


def errcode_words(errcode: int | None) -> str:
    if errcode is None:
        return ""
    return ERRCODE_WORDS.get(errcode, f"错误码{errcode}")


def reason_words(errcode: int | None, errmsg: str | None) -> str:
    """Why a message did not go: WeChat's errcode in words, else the worker's reason in words."""
    if errcode is not None:
        return errcode_words(errcode)
    if not errmsg:
        return ""
    for start, words in REASON_WORDS:
        if errmsg.startswith(start) or f"; {start}" in errmsg:
            return words
    return "发送失败（原因见下方记录）"


# One event of a row's history (services.outbox, services.delivery notes) in words.
EVENT_WORDS: tuple[tuple[str, str], ...] = (
    ("queued", "加入发送队列"),
    ("requeued by an operator", "工作人员重发"),
    ("cancelled by an operator", "工作人员取消"),
    ("recorded in the sandbox", "沙箱模式：已记录，未真正发送"),
    ("released: the user wrote", "对方发来消息，恢复发送"),
    ("expanded to", "已分发给各位工作人员"),
    ("WeChat already had this message", "微信已收到过这条消息"),
    ("window closed, choosing again", "客服消息窗口已关闭，改用其他方式"),
    ("retry in", "稍后自动重试"),
    ("lease ran out mid-send", "发送中途中断，对方可能已收到，未自动重发"),
    ("lease ran out", "发送中断，重新排队"),
    ("sent", "已发送"),
)


def event_words(event: OutboxEvent) -> str:
    """What happened at one step, in words; the raw note stays available as technical detail."""
    note = event.note or ""
    if note.endswith("held until the user writes"):
        return "暂缓：等对方发来消息后再发"
    if note.endswith("waiting for next month"):
        return "本月群发次数已用完，下月再发"
    if note.startswith("recipient "):
        return reason_words(None, note)
    for start, words in EVENT_WORDS:
        if note.startswith(start):
            return words
    if event.errcode is not None:
        return errcode_words(event.errcode)
    return reason_words(None, note) if note else ""


# --- what a message says ---------------------------------------------------------


def payload_text(payload: dict[str, Any] | None) -> str:
    """The message as the person reads it: its text, else its template fields."""
    payload = payload if isinstance(payload, dict) else {}
    text = text_of(payload)
    if text:
        return text
    fields = payload.get("fields")
    if isinstance(fields, dict) and fields:
        return "；".join(str(v) for v in fields.values())
    title = payload.get("title")
    if isinstance(title, str) and title.strip():
        return title
    if payload.get("media_id"):
        return "[图文消息]"
    return ""


def short_text(payload: dict[str, Any] | None, limit: int = TEXT_PREVIEW) -> str:
    flat = " ".join(payload_text(payload).split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


# --- who a message is for ------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """`name` is a person's name, masked when shown; `note` says who they are (or names a group)."""

    name: str | None
    note: str = ""


UNKNOWN = Recipient(None, "未登记用户")
ALL_FOLLOWERS = Recipient(None, "全体关注者")
STAFF = Recipient(None, "工作人员")


def _group(to: Addressee) -> Recipient | None:
    if to.kind == RecipientKind.ALL:
        return ALL_FOLLOWERS
    if to.kind == RecipientKind.TAG:
        return Recipient(None, f"标签{to.value}")
    if to.kind == RecipientKind.ROLE:
        return STAFF if to == STAFF_ROLE else Recipient(None, "工作人员组")
    return None


def recipients(session: Session, values: list[Addressee]) -> dict[Addressee, Recipient]:
    """Who each recipient is, looked up in a few queries for a page of rows.

    An openid is a volunteer's name, else the 优抚对象 registered from it (their own
    name, or marked 代登记人 when a relative registered them), else a linked staff
    account, else a help request's contact, else 未登记用户.
    """
    found: dict[Addressee, Recipient] = {}
    openids = set()
    for value in set(values):
        group = _group(value)
        if group is not None:
            found[value] = group
        else:
            openids.add(value.value)
    if not openids:
        return found
    names: dict[str, Recipient] = {}
    for openid, name in session.execute(select(Volunteer.openid, Volunteer.name).where(Volunteer.openid.in_(openids))):
        names[openid] = Recipient(name, "（志愿者）")
    rest = openids - names.keys()
    if rest:
        people = session.execute(
            select(Beneficiary.registered_by, Beneficiary.name, Beneficiary.relation)
            .where(Beneficiary.registered_by.in_(rest), Beneficiary.status != RegistrationStatus.ERASED)
            .order_by(Beneficiary.id)
        )
        for openid, name, relation in people:
            mine = Recipient(name, "（优抚对象）") if relation == "self" else Recipient(name, "（优抚对象代登记人）")
            if openid not in names or (relation == "self" and names[openid].note != "（优抚对象）"):
                names[openid] = mine
    rest = openids - names.keys()
    if rest:
        for openid, display, username in session.execute(
            select(StaffAccount.wechat_openid, StaffAccount.display_name, StaffAccount.username)
            .where(StaffAccount.wechat_openid.in_(rest))
        ):
            names[openid] = Recipient(display or username, "（工作人员）")
    rest = openids - names.keys()
    if rest:
        for row in session.scalars(select(StaffOpenid).where(StaffOpenid.openid.in_(rest))):
            names.setdefault(row.openid, Recipient(row.label, "（工作人员）") if row.label else STAFF)
    rest = openids - names.keys()
    if rest:
        contacts = session.execute(
            select(HelpRequest.openid, HelpRequest.contact_name)
            .where(HelpRequest.openid.in_(rest), HelpRequest.contact_name.is_not(None))
            .order_by(HelpRequest.id.desc())
        )
        for openid, name in contacts:
            if name:
                names.setdefault(openid, Recipient(name, "（求助联系人）"))
    for openid in openids:
        found[Addressee.person(openid)] = names.get(openid, UNKNOWN)
    return found


# --- the list and one row ------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    status: OutboxStatus | None = None
    kind: str | None = None
    channel: Channel | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive


def _filtered(query, filters: Filters):
    if filters.status is not None:
        query = query.where(OutboxMessage.status == filters.status)
    if filters.kind:
        query = query.where(OutboxMessage.kind == filters.kind)
    if filters.channel is not None:
        query = query.where(OutboxMessage.channel == filters.channel)
    if filters.since is not None:
        query = query.where(OutboxMessage.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(OutboxMessage.created_at < filters.until)
    return query


def search(session: Session, filters: Filters, page: int = 1, per_page: int = 50) -> tuple[list[OutboxMessage], int]:
    """A page of outbox rows, newest first, and how many match."""
    total = session.scalar(_filtered(select(func.count()).select_from(OutboxMessage), filters)) or 0
    rows = session.scalars(
        _filtered(select(OutboxMessage), filters)
        .order_by(OutboxMessage.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total


def get(session: Session, outbox_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, outbox_id)


def history(session: Session, outbox_id: int) -> list[OutboxEvent]:
    return list(session.scalars(
        select(OutboxEvent).where(OutboxEvent.outbox_id == outbox_id).order_by(OutboxEvent.at, OutboxEvent.id)
    ))


# --- retry and cancel ----------------------------------------------------------------


class DeliveryError(ValueError):
    """A retry or cancel that cannot be done; the message is for staff (Chinese)."""


CANCELLABLE = outbox.WAITING  # pending, held: not yet handed to WeChat


def can_retry(row: OutboxMessage) -> bool:
    return row.status in outbox.RETRYABLE


def can_cancel(row: OutboxMessage) -> bool:
    return row.status in CANCELLABLE


def retry(session: Session, row: OutboxMessage, now: datetime) -> None:
    """Queue a failed, cancelled or held message again (services.outbox.requeue, as the CLI)."""
    if not can_retry(row):
        raise DeliveryError(f"这条消息现在是“{status_label(row.status)}”，只有失败、已取消或暂缓的消息可以重发。")
    outbox.requeue(session, [row.id], now)


def cancel(session: Session, row: OutboxMessage, now: datetime, note: str = "cancelled by an operator") -> None:
    """Stop a message that has not gone out yet."""
    session.refresh(row, with_for_update=True)  # the delivery worker may be claiming it right now
    if not can_cancel(row):
        raise DeliveryError(f"这条消息现在是“{status_label(row.status)}”，只有等待发送或暂缓的消息可以取消。")
    outbox.transition(session, row, OutboxStatus.CANCELLED, now, note=note)
