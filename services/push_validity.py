"""Nothing is sent stale: each scheduled push may carry a "valid until" (a dated greeting:
its day; a reminder: before its event; an activity reminder: before the start), checked
again when it is about to go out, and a countdown's wording ("还有 N 天") is computed then.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from models import OutboxMessage
from services.local_time import SHANGHAI, chinese_date, local_date, local_instant


def render_countdown(message: str, name: str, day: date, days: int) -> str:
    return message.format(name=name, date=chinese_date(day), days=days)


def countdown(message: str, name: str, day: date) -> dict[str, str]:
    """The payload part that lets the sender recompute the wording on the day it sends."""
    return {"message": message, "name": name, "date": day.isoformat()}


def end_of_day(day: date) -> datetime:
    """The first instant after `day` (Asia/Shanghai): "valid through that day"."""
    return local_instant(day + timedelta(days=1), "00:00")


def before_day(day: date) -> datetime:
    """The first instant of `day`: "valid until the day comes"."""
    return local_instant(day, "00:00")


def stale_reason(row: OutboxMessage, now: datetime) -> str | None:
    """Why the row must not go out at `now`, or None (then a countdown's text is refreshed)."""
    if row.expires_at is not None and now >= row.expires_at:
        until = row.expires_at.astimezone(SHANGHAI).isoformat(timespec="minutes")
        return f"valid until {until}; not sent late"
    payload: dict[str, Any] = row.payload or {}
    timer = payload.get("countdown")
    if isinstance(timer, dict):
        day = date.fromisoformat(timer["date"])
        text = render_countdown(timer["message"], timer["name"], day, (day - local_date(now)).days)
        if text != payload.get("text"):
            row.payload = {**payload, "text": text}
    return None
