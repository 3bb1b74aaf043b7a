"""Consent records: which notice (version) a person agreed to, for what, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.consent import ConsentRecord

# The versions of the consent notices shown in the chat; bump one when its text changes.
# "guardian": a parent's or guardian's consent for a child under 14 (PIPL Art. 31, PI-4).
NOTICE_VERSIONS = {"volunteer": "2026-1", "beneficiary": "2026-1", "help_request": "2026-1", "guardian": "2026-1"}


def grant(session: Session, openid: str, purpose: str, now: datetime) -> ConsentRecord:
    record = ConsentRecord(openid=openid, purpose=purpose, version=NOTICE_VERSIONS[purpose], granted_at=now)
    session.add(record)
    return record


def has_current(session: Session, openid: str, purpose: str) -> bool:
    return (
        session.scalars(
            select(ConsentRecord.id).where(
                ConsentRecord.openid == openid,
                ConsentRecord.purpose == purpose,
                ConsentRecord.version == NOTICE_VERSIONS[purpose],
                ConsentRecord.withdrawn_at.is_(None),
            )
        ).first()
        is not None
    )
