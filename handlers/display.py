"""How values are shown in chat: masked personal data, dates in Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")
WEEKDAYS = "一二三四五六日"


def mask_mobile(value: str | None) -> str:
    if not value:
        return "（未填写）"
    return f"{value[:3]}****{value[-4:]}" if len(value) >= 7 else "****"


def mask_id(value: str | None) -> str:
    if not value:
        return "（未填写）"
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}" if len(value) > 8 else "****"


def mask_text(value: str | None, keep: int = 6) -> str:
    """An address or a description shortened for a summary line."""
    if not value:
        return "（未填写）"
    return value if len(value) <= keep else value[:keep] + "…"


SUMMARY_CHARS = 60


def shorten(text: str, keep: int = SUMMARY_CHARS) -> str:
    """A long free-text answer in a summary: its beginning and how long it is."""
    return text if len(text) <= keep else f"{text[:keep]}…（共{len(text)}字）"


def local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL)


def day(moment: datetime) -> str:
    """1月20日（周三）"""
    moment = local(moment)
    return f"{moment.month}月{moment.day}日（周{WEEKDAYS[moment.weekday()]}）"


def clock(moment: datetime) -> str:
    """上午9:00 / 下午2:30"""
    moment = local(moment)
    hour = moment.hour
    part = "上午" if hour < 12 else "下午" if hour < 18 else "晚上"
    shown = hour if hour <= 12 else hour - 12
    return f"{part}{shown}:{moment.minute:02d}"


def day_and_time(moment: datetime) -> str:
    return f"{day(moment)}{clock(moment)}"
