"""政策咨询: the FAQ table and keyword matching."""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.faq import FaqEntry


def topics(session: Session) -> list[FaqEntry]:
    return list(
        session.scalars(select(FaqEntry).where(FaqEntry.enabled.is_(True)).order_by(FaqEntry.position, FaqEntry.id))
    )


def match(session: Session, question: str) -> FaqEntry | None:
    """The entry whose topic or keywords cover the question best (longest matching words win)."""
    text = unicodedata.normalize("NFKC", question or "").lower()
    if len(text.strip()) < 2:
        return None
    best, best_score = None, 0
    # Plain rows, not entities: every unrecognised text is matched, only the winner is loaded.
    rows = session.execute(
        select(FaqEntry.id, FaqEntry.topic, FaqEntry.keywords)
        .where(FaqEntry.enabled.is_(True))
        .order_by(FaqEntry.position, FaqEntry.id)
    )
    for entry_id, topic, keywords in rows:
        words = [topic, *(w.strip() for w in keywords.split(","))]
        score = sum(len(w) for w in words if w and w.lower() in text)
        if score > best_score:
            best, best_score = entry_id, score
    return session.get(FaqEntry, best) if best is not None else None
