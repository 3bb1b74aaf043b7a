"""Facts worth telling someone, written to the outbox in the caller's transaction.

Staff alerts go to the recipient "role:staff" (the delivery side expands it to the
staff on duty); user notices go to the user's openid. The channel given here is
the preferred one; the delivery policy may fall back to another.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import Channel, OutboxMessage
from services.outbox import enqueue

STAFF = "role:staff"


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
        recipient=openid,
        channel=Channel.CUSTOMER_SERVICE,
        payload={"msgtype": "text", "text": text, **data},
        idempotency_key=f"{kind}:{key}",
    )
