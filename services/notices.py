"""最新通知 shown in the chat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.notice import Notice, Referral


def latest(session: Session, now: datetime, limit: int = 3) -> list[Notice]:
    return list(
        session.scalars(
            # Notices to a group (volunteers, a 乡镇 …) went to them only; cancelled ones never went.
            select(Notice)
            .where(Notice.published_at <= now, Notice.audience == "all", Notice.cancelled_at.is_(None))
            .order_by(Notice.published_at.desc()).limit(limit)
        )
    )


def publish(session: Session, title: str, body: str, now: datetime) -> Notice:
    notice = Notice(title=title, body=body, published_at=now)
    session.add(notice)
    return notice


def record_referral(session: Session, openid: str, code: str, now: datetime) -> None:
    session.add(Referral(openid=openid, code=code[:60], at=now))
