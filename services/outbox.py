"""The outbox: adding messages, and every status change of a row (each with an event row).

Writers call `enqueue` inside the transaction of the change they report. Payload:
`{"text": "…"}` for customer-service (and mass) text, `{"fields": {"thing1": "…"}, "url": "…"}`
for template messages and subscription notices (one line, ≤20 characters per thing
field: see services.delivery_policy), `{"media_id": "…"}` for a mass-sent article. A row
may carry several of them; the channel policy of its kind picks one when it is sent.

This module is the one place an outbox row's status is written: `services.delivery` decides
(claim, channel, reaction to an errcode) and calls the functions below; the worker loop
(worker/loop.py) only calls `services.delivery`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Channel, OutboxEvent, OutboxMessage, OutboxStatus, Recipient, utcnow
from services.delivery_policy import PayloadError, check_payload, policy_for

WAITING = (OutboxStatus.PENDING, OutboxStatus.HELD)
RETRYABLE = (OutboxStatus.FAILED, OutboxStatus.CANCELLED, OutboxStatus.HELD)  # never EXPIRED: it is stale


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: Recipient,
    payload: dict[str, Any],
    idempotency_key: str,
    channel: Channel | None = None,
    not_before: datetime | None = None,
    expires_at: datetime | None = None,
) -> OutboxMessage:
    """Add a message once: a second call with the same key returns the first row.

    Runs inside the caller's transaction, so the message exists exactly when the
    change it reports does. `recipient` says its kind: `Recipient.person(openid)`,
    `Recipient.role("staff")` (every staff openid), `Recipient.everyone()` or
    `Recipient.tag(id)` (mass send). `channel` is a preference; without
    it the kind's policy decides. A payload no allowed channel can carry raises
    PayloadError and adds nothing.
    """
    existing = _by_key(session, idempotency_key)
    if existing is not None:
        return existing
    if not idempotency_key or len(idempotency_key) > 200:
        raise PayloadError("idempotency_key must be 1 to 200 characters")
    if not kind or len(kind) > 48:
        raise PayloadError("kind must be 1 to 48 characters")
    policy = policy_for(kind, channel)
    check_payload(kind, recipient, policy, payload)
    when = not_before or utcnow()
    row = OutboxMessage(
        kind=kind,
        recipient_kind=recipient.kind,
        recipient=recipient.value,
        channel=policy.channels[0],
        payload=payload,
        idempotency_key=idempotency_key,
        status=OutboxStatus.PENDING,
        attempts=0,
        not_before=when,
        next_attempt_at=when,
        expires_at=expires_at,
    )
    try:
        # A savepoint: a concurrent writer of the same key costs only this insert,
        # not the caller's whole transaction.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = _by_key(session, idempotency_key)
        if existing is None:
            raise
        return existing
    record_event(session, row, None, utcnow(), to_status=OutboxStatus.PENDING, note="queued")
    return row


def _by_key(session: Session, idempotency_key: str) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    ).first()


def enqueue_late_reply(session: Session, openid: str, text: str, dedupe_key: str) -> OutboxMessage:
    """A reply that missed WeChat's 5-second window goes out as a customer-service message."""
    return enqueue(
        session,
        kind="late_reply",
        recipient=Recipient.person(openid),
        channel=Channel.CUSTOMER_SERVICE,
        payload={"msgtype": "text", "text": text},
        idempotency_key=f"late_reply:{dedupe_key}",
    )


# --- status changes ----------------------------------------------------------


def record_event(
    session: Session,
    row: OutboxMessage,
    from_status: OutboxStatus | None,
    now: datetime,
    *,
    to_status: OutboxStatus | None = None,
    errcode: int | None = None,
    note: str | None = None,
) -> None:
    session.add(
        OutboxEvent(
            outbox_id=row.id,
            at=now,
            from_status=from_status,
            to_status=to_status or row.status,
            channel=row.channel,
            errcode=errcode,
            note=note,
        )
    )


def transition(
    session: Session,
    row: OutboxMessage,
    status: OutboxStatus,
    now: datetime,
    *,
    errcode: int | None = None,
    note: str | None = None,
) -> None:
    previous = row.status
    row.status = status
    row.updated_at = now
    record_event(session, row, previous, now, errcode=errcode, note=note)


def _move_all(session: Session, rows: list[OutboxMessage], status: OutboxStatus, now: datetime, note: str) -> int:
    for row in rows:
        transition(session, row, status, now, note=note)
        row.next_attempt_at = now
    return len(rows)


def expire(session: Session, row: OutboxMessage, now: datetime, reason: str) -> None:
    """Never send this row: it is past its date or a later one replaces it; the reason is logged."""
    if row.status in WAITING:
        transition(session, row, OutboxStatus.EXPIRED, now, note=f"expired: {reason}")
        row.next_attempt_at = now


def cancel_pending(session: Session, openid: str, now: datetime, note: str) -> int:
    """Nothing more goes to someone who unfollowed or blocked the account."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.addressed_to(Recipient.person(openid)), OutboxMessage.status.in_(WAITING))
        .with_for_update()
    ).all()
    return _move_all(session, list(rows), OutboxStatus.CANCELLED, now, note)


def release_held(session: Session, openid: str, now: datetime) -> int:
    """The user wrote: held messages become due and go out inside the new window."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.addressed_to(Recipient.person(openid)), OutboxMessage.status == OutboxStatus.HELD)
        .with_for_update()
    ).all()
    return _move_all(session, list(rows), OutboxStatus.PENDING, now, "released: the user wrote")


def forget_person(session: Session, openid: str, placeholder: str, now: datetime) -> None:
    """Erasure: nothing more goes to the person, and the rows already sent keep their count
    but neither the openid nor the content (they may name the person)."""
    cancel_pending(session, openid, now, "cancelled: the person's data was erased")
    for row in session.scalars(select(OutboxMessage).where(OutboxMessage.addressed_to(Recipient.person(openid)))):
        row.recipient, row.payload, row.idempotency_key = placeholder, {}, f"erased:{row.id}"


def requeue(session: Session, ids: list[int], now: datetime) -> list[OutboxMessage]:
    """Operator retry of failed, cancelled or held rows. Any other id refuses the whole call."""
    rows = {row.id: row for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise LookupError(f"no outbox message with id {', '.join(map(str, missing))}")
    wrong = [f"{row.id} is {row.status}" for row in rows.values() if row.status not in RETRYABLE]
    if wrong:
        raise ValueError(f"only failed, cancelled or held messages can be retried ({'; '.join(wrong)})")
    for row in rows.values():
        row.attempts = 0
        row.last_errcode = None
        row.last_errmsg = None
    _move_all(session, list(rows.values()), OutboxStatus.PENDING, now, "requeued by an operator")
    return [rows[i] for i in ids]


def status_counts(session: Session) -> dict[str, int]:
    result = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {str(status): count for status, count in result}


def recent(session: Session, status: OutboxStatus | None = None, limit: int = 20) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.updated_at.desc(), OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))



# --- the delivery side's writes (services.delivery decides, these write) ------


def claim(session: Session, rows: list, now: datetime, lease: timedelta) -> list[tuple[int, int]]:
    """Pending rows the caller selected and locked become "sending" under a lease; returns
    (id, attempt) for each, the attempt number every later write of that send checks."""
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_([r.id for r in rows]))
        .values(
            status=OutboxStatus.SENDING,
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + lease,
            in_flight_channel=None,
            updated_at=now,
        )
        .returning(OutboxMessage.id, OutboxMessage.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    _bulk_events(session, rows, OutboxStatus.PENDING, OutboxStatus.SENDING, now, "claimed")
    return [(row.id, row.attempts) for row in claimed]


def move_locked(session: Session, rows: list, from_status: OutboxStatus, status: OutboxStatus, now: datetime,
                note: str, **values: Any) -> None:
    """Move rows the caller selected and locked (id and channel columns only, no decryption)."""
    if not rows:
        return
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_([r.id for r in rows]))
        .values(status=status, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    _bulk_events(session, rows, from_status, status, now, note)


def _bulk_events(session: Session, rows: Iterable, from_status: OutboxStatus | None, to_status: OutboxStatus,
                now: datetime, note: str) -> None:
    rows = list(rows)
    if rows:
        session.execute(
            insert(OutboxEvent),
            [{"outbox_id": r.id, "at": now, "from_status": from_status, "to_status": to_status,
              "channel": r.channel, "note": note} for r in rows],
        )


def settle(
    session: Session,
    row: OutboxMessage,
    status: OutboxStatus,
    now: datetime,
    *,
    channel: Channel | None = None,
    errcode: int | None = None,
    note: str | None = None,
) -> None:
    """The outcome of one loaded row (sent, failed, held, expanded, back to pending)."""
    if channel is not None:
        row.channel = channel
    if status == OutboxStatus.SENT:
        row.sent_at = now
    transition(session, row, status, now, errcode=errcode, note=note)


def mark_sent(session: Session, row_id: int, attempt: int, channel: Channel, msgid: str | None, now: datetime) -> bool:
    """WeChat took the message: one guarded UPDATE and one INSERT (no row load, no decryption).
    False when the lease ran out and another worker has the row now."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.SENDING,
               OutboxMessage.attempts == attempt)
        .values(status=OutboxStatus.SENT, channel=channel, wechat_msgid=msgid, last_errcode=None,
                last_errmsg=None, sent_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.execute(insert(OutboxEvent).values(outbox_id=row_id, at=now, from_status=OutboxStatus.SENDING,
                                               to_status=OutboxStatus.SENT, channel=channel, note="sent"))
    return True


def back_off(session: Session, row_id: int, attempt: int, status: OutboxStatus, next_attempt_at: datetime,
             errmsg: str, note: str, now: datetime) -> bool:
    """A send of ours that crashed: plain guarded UPDATEs, since the row may be one that cannot
    even be loaded (an undecryptable payload)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.SENDING,
               OutboxMessage.attempts == attempt)
        .values(status=status, last_errmsg=errmsg[:500], updated_at=now, next_attempt_at=next_attempt_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.execute(insert(OutboxEvent).values(outbox_id=row_id, at=now, from_status=OutboxStatus.SENDING,
                                               to_status=status, note=note))
    return True
