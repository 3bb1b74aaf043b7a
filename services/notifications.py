"""Facts worth telling someone, written to the outbox in the caller's transaction.

Staff alerts go to the role recipient STAFF (the delivery side expands it to the
staff on duty); user notices go to the user as a person recipient. The channel given here is
the preferred one; the delivery policy may fall back to another.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import Channel, OutboxMessage, Recipient
from models.outbox import STAFF
from services.outbox import enqueue


def alert_staff(session: Session, kind: str, key: str, text: str, **data: Any) -> None:
    enqueue(
        session,
        kind=kind,
        recipient=STAFF,
        channel=Channel.TEMPLATE,
        payload={"text": text, **data},
        idempotency_key=f"{kind}:{key}",
    )


def tell_user(session: Session, openid: str, kind: str, key: str, text: str, **data: Any) -> OutboxMessage:
    return enqueue(
        session,
        kind=kind,
        recipient=Recipient.person(openid),
        channel=Channel.CUSTOMER_SERVICE,
        payload={"msgtype": "text", "text": text, **data},
        idempotency_key=f"{kind}:{key}",
    )
