"""人工: hand the user to a person, and relay what they say until staff close the chat.

Asking for a person opens (or reuses) a 人工 thread; from then on whatever the user
sends that is not a menu choice, a command or a form answer goes to that thread,
where staff read and answer it in the console.
"""

from __future__ import annotations

from handlers.flows.common import known_contact
from handlers.message import Context
from services import handover


def hand_over(ctx: Context, during: str | None) -> str:
    known = known_contact(ctx)
    thread, created = handover.open_thread(
        ctx.session, ctx.message.openid, ctx.now, during=during, contact=known, town=known.get("town"),
    )
    if not created:
        return (f"您已在人工服务中（编号{thread.number}），工作人员会尽快回复您。\n"
                "请直接把您的问题发过来，文字、语音、图片都可以。")
    call_back = "\n也可能按您登记的手机号给您打电话。" if known.get("mobile") else ""
    return (f"已为您转接人工服务，编号：\n{thread.number}\n"
            "请直接把您的问题发过来，文字、语音、图片都可以。\n"
            f"工作人员会在1个工作日内在这里回复您。{call_back}\n"
            f"{END_HINT}")


END_WORDS = ("结束人工", "退出人工", "结束人工服务", "不用人工了", "不需要人工了", "结束对话")
END_HINT = "不需要了，可以回复“结束人工”。"
ENDED = "好的，人工服务已结束。\n如还需要帮助，请随时回复“人工”。"


def end(ctx: Context) -> str:
    """取消 or 结束人工 in an open 人工 chat: the user ends it themselves."""
    handover.end_by_user(ctx.session, handover.open_thread_of(ctx.session, ctx.message.openid), ctx.now)
    return ENDED


def has_open_thread(ctx: Context) -> bool:
    return handover.has_open_thread(ctx.session, ctx.message.openid)


def relay(ctx: Context) -> str:
    """A message in an open 人工 chat: kept in the thread for staff."""
    thread = handover.open_thread_of(ctx.session, ctx.message.openid)
    message = ctx.message
    was_waiting = thread.waiting_since is not None
    text = message.text if message.msg_type == "text" else _describe(message)
    handover.record_incoming(ctx.session, thread, ctx.now, msg_type=message.msg_type, text=text,
                             media_id=message.fields.get("MediaId"))
    if was_waiting:
        return "收到，已转给工作人员，请稍候。"
    return "收到，已转给工作人员，他们会在这里回复您。"


def _describe(message) -> str | None:
    fields = message.fields
    if message.msg_type == "location":
        return fields.get("Label") or None
    if message.msg_type == "voice":
        return fields.get("Recognition") or None  # WeChat's own speech-to-text, when switched on
    if message.msg_type == "link":
        return fields.get("Title") or None
    return None
