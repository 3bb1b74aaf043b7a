"""Human-readable numbers (SY2026-000123) from a counter row, unique across processes.

The counter row is incremented with UPDATE … RETURNING, which locks it until the
caller's transaction ends: concurrent submissions queue for a moment instead of
reading the same max() and colliding. A rolled-back transaction gives its number back.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.counter import Counter

LOCAL = ZoneInfo("Asia/Shanghai")


def next_value(session: Session, series: str) -> int:
    bumped = session.execute(
        update(Counter).where(Counter.name == series).values(value=Counter.value + 1).returning(Counter.value)
    ).scalar_one_or_none()
    if bumped is not None:
        return bumped
    try:
        with session.begin_nested():
            session.add(Counter(name=series, value=1))
        return 1
    except IntegrityError:
        # Another transaction created the series first; take the next value after it.
        return next_value(session, series)


def yearly_number(session: Session, prefix: str, kind: str, now: datetime, width: int) -> str:
    """PREFIX + local year + a per-year sequence: SY2026-000123, ZY2026-0042."""
    year = now.astimezone(LOCAL).year
    return f"{prefix}{year}-{next_value(session, f'{kind}:{year}'):0{width}d}"
