"""Adding messages to the outbox. Delivery belongs to the outbound-messaging worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Channel, OutboxMessage, utcnow


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: str,
    channel: Channel,
    payload: dict[str, Any],
    idempotency_key: str,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Add a message once: a second call with the same key returns the first row.

    Runs inside the caller's transaction, so the message exists exactly when the
    change it reports does.
    """
    existing = session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    ).first()
    if existing is not None:
        return existing
    when = not_before or utcnow()
    row = OutboxMessage(
        kind=kind,
        recipient=recipient,
        channel=channel,
        payload=payload,
        idempotency_key=idempotency_key,
        not_before=when,
        next_attempt_at=when,
    )
    session.add(row)
    session.flush()
    return row


def enqueue_late_reply(session: Session, openid: str, text: str, dedupe_key: str) -> OutboxMessage:
    """A reply that missed WeChat's 5-second window goes out as a customer-service message."""
    return enqueue(
        session,
        kind="late_reply",
        recipient=openid,
        channel=Channel.CUSTOMER_SERVICE,
        payload={"msgtype": "text", "text": text},
        idempotency_key=f"late_reply:{dedupe_key}",
    )
