"""查询进度: the latest requests, one request's timeline, and the rating after resolution (回访)."""

from __future__ import annotations

import re
import unicodedata

from handlers.forms import Answers, Field, Flow, Form, register, start
from handlers.display import day, day_and_time
from handlers.fields import Option, free_text
from handlers.message import Context
from models.help_request import RequestStatus
from services import help_requests
from services.help_requests import CATEGORIES, STATUS_LABELS

# "SY2026-000123", typed as "sy2026-123", "ＳＹ２０２６－０００１２３" or inside a sentence.
RECEIPT = re.compile(r"SY\s*(\d{4})\s*[-－—–_ ]?\s*(\d{1,6})(?!\d)", re.IGNORECASE)
SCORES = (
    Option("5", "非常满意"), Option("4", "满意"), Option("3", "一般"), Option("2", "不满意"), Option("1", "很不满意"),
)


def _line(request) -> str:
    return (
        f"{request.number} {CATEGORIES.get(request.category, request.category)}\n"
        f"  {STATUS_LABELS[request.status]}（{day(request.updated_at)}更新）"
    )


def overview(ctx: Context) -> str:
    requests = help_requests.latest_for(ctx.session, ctx.message.openid)
    if not requests:
        return "您还没有提交过求助。回复“提交求助”开始。"
    lines = "\n".join(_line(r) for r in requests)
    return f"您最近的求助：\n{lines}\n回复“进度”和编号查看办理经过，例如“进度{requests[0].number}”。"


def receipt_number(text: str) -> str | None:
    """The request number in a message, however it was typed, as the account writes it."""
    found = RECEIPT.search(unicodedata.normalize("NFKC", text or ""))
    return f"SY{found.group(1)}-{int(found.group(2)):06d}" if found else None


def timeline(ctx: Context) -> str:
    """One request's progress: 进度 SY…, or a receipt number anywhere in a message."""
    number = receipt_number(ctx.message.text)
    request = help_requests.by_number(ctx.session, ctx.message.openid, number)
    if request is None:
        return f"没有找到您名下编号为{number}的求助，请核对编号。回复“查询进度”查看您的求助。"
    steps = [
        f"{day_and_time(e.at)} {STATUS_LABELS[RequestStatus(e.to_status)]}"
        + (f"：{e.note}" if e.note and e.to_status in (RequestStatus.REJECTED, RequestStatus.RESOLVED) else "")
        for e in help_requests.public_timeline(ctx.session, request)
    ]
    text = f"求助{request.number}（{CATEGORIES.get(request.category, request.category)}）\n" + "\n".join(steps)
    if request.status == RequestStatus.RESOLVED:
        text += f"\n已办结。回复“评价{request.number}”为本次服务打分。"
    elif request.status == RequestStatus.VISITED and request.rating:
        text += f"\n您的评分：{request.rating}分，谢谢！"
    return text


def _submit_rating(ctx: Context, a: Answers) -> str:
    request = help_requests.by_number(ctx.session, ctx.message.openid, a["number"])
    if request is None or request.status != RequestStatus.RESOLVED:
        return "这件求助已经评价过了，谢谢您！"
    help_requests.rate(ctx.session, request, int(a["score"]), a.get("comment"), ctx.now)
    return "感谢您的评价！您的意见会转给经办人员，我们会继续改进服务。"


RATING = register(Form(
    "rating", "服务评价",
    (
        Field("score", "评分", "您对这次办理满意吗？", options=SCORES),
        Field(
            "comment", "意见", "还有什么想对我们说的吗？", optional=True, prose=True,
            parse=lambda t: free_text(t, min_chars=1),
        ),
    ),
    _submit_rating,
    confirm=False,
))


def rate(ctx: Context) -> str:
    """评价 [编号]: without a number, the latest resolved request."""
    number = receipt_number(ctx.message.text)
    if number:
        request = help_requests.by_number(ctx.session, ctx.message.openid, number)
        if request is None:
            return f"没有找到您名下编号为{number}的求助，请核对编号。"
    else:
        waiting = help_requests.awaiting_rating(ctx.session, ctx.message.openid)
        request = waiting[0] if waiting else None
        if request is None:
            return "您目前没有待评价的求助。回复“查询进度”查看您的求助。"
    if request.status == RequestStatus.VISITED:
        return f"求助{request.number}已经评价过了，谢谢您！"
    if request.status != RequestStatus.RESOLVED:
        return f"求助{request.number}还在办理中（{STATUS_LABELS[request.status]}），办结后再请您评价。"
    return start(ctx, RATING, answers={"number": request.number}, intro=f"请为求助{request.number}的办理打分：")


RATE_FLOW = Flow("rate", "服务评价", ("评价", "回访", "打分"), rate, forms=(RATING,),
                 pattern=re.compile(r"评价\s*SY\d{4}-\d{3,}", re.IGNORECASE))
