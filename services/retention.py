"""Retention (PIPL Art. 19, domain.md PI-6): nothing is kept longer than its purpose needs.

- transcripts (人工 chat messages) of requests closed more than `transcript_days` ago: deleted;
- chat form drafts and the per-user lock rows idle for `transcript_days`: deleted;
- dedupe records (and the replies cached with them) past their expiry: deleted;
- requests closed more than `closed_request_years` ago: anonymised (contact, texts, notes,
  attachments blanked; category, status and dates kept for the statistics).

The scheduler's nightly job `retention` runs `apply` and logs the counts; so does
`python -m bot retention`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import InboundMessage
from models.conversation import ConversationState
from models.help_request import OPEN_STATUSES, HandoverMessage, HelpRequest
from services import personal_data

BATCH = 500


@dataclass(frozen=True)
class RetentionPolicy:
    transcript_days: int = 30
    closed_request_years: int = 3

    @classmethod
    def from_settings(cls, settings) -> "RetentionPolicy":
        return cls(settings.retention_days, settings.closed_request_retention_years)


@dataclass(frozen=True)
class RetentionResult:
    transcripts: int
    drafts: int
    dedupe: int
    anonymised: int

    def line(self) -> str:
        return (f"retention: {self.transcripts} transcript messages and {self.drafts} chat drafts deleted, "
                f"{self.dedupe} dedupe records expired, {self.anonymised} closed requests anonymised")


def _closed_before(cutoff: datetime):
    return (HelpRequest.status.not_in(OPEN_STATUSES), HelpRequest.updated_at < cutoff)


def _deleted(session: Session, statement) -> int:
    return session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0


def apply(session: Session, now: datetime, policy: RetentionPolicy = RetentionPolicy()) -> RetentionResult:
    """Purge and anonymise what is past its time; the caller commits."""
    recent = now - timedelta(days=policy.transcript_days)
    closed_ids = select(HelpRequest.id).where(*_closed_before(recent))
    # Each DELETE's row count is the number purged (no separate COUNT first).
    transcripts = _deleted(session, delete(HandoverMessage).where(HandoverMessage.request_id.in_(closed_ids)))
    drafts = _deleted(session, delete(ConversationState).where(ConversationState.updated_at < recent))
    dedupe = _deleted(session, delete(InboundMessage).where(InboundMessage.expires_at <= now))

    old = now - timedelta(days=round(365.25 * policy.closed_request_years))
    anonymised = 0
    while True:
        rows = list(session.scalars(select(HelpRequest).where(*_closed_before(old), HelpRequest.anonymised_at.is_(None))
                                    .order_by(HelpRequest.id).limit(BATCH)))
        if not rows:
            break
        for request in rows:
            personal_data.anonymise_request(session, request, now)
        session.flush()
        anonymised += len(rows)
    return RetentionResult(transcripts, drafts, dedupe, anonymised)
