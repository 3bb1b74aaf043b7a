"""最新通知 (from the database) and 联系我们 (from deploy/contact.toml)."""

from __future__ import annotations

from handlers import site
from handlers.display import day
from handlers.message import Context
from services import notices

PREVIEW_CHARS = 80


def latest_notices(ctx: Context) -> str:
    found = notices.latest(ctx.session, ctx.now)
    if not found:
        return "暂时没有新的通知。有新通知时会在这里发布。"
    blocks = []
    for notice in found:
        body = notice.body if len(notice.body) <= PREVIEW_CHARS else notice.body[:PREVIEW_CHARS] + "…"
        blocks.append(f"【{day(notice.published_at)}】{notice.title}\n{body}")
    return "最新通知：\n" + "\n\n".join(blocks)


def contact_us(ctx: Context) -> str:
    card = site.contact(ctx.settings)
    lines = [card.get("office", "双拥办")]
    for key, label in (("phone", "电话"), ("address", "地址"), ("hours", "办公时间")):
        if card.get(key):
            lines.append(f"{label}：{card[key]}")
    if card.get("note"):
        lines.append(card["note"])
    return "\n".join(lines)
