"""Delivering one outbox row: claim, choose a channel, react to the outcome.

The worker loop (worker/loop.py) calls these; the HTTP call to WeChat
happens between `plan` and `record_success`/`record_failure`, outside any
transaction. A row carries its attempt number from the claim on, and every
later write checks it: a worker that lost its lease cannot overwrite the row.
This module decides; every status write goes through services.outbox.
Recipients are typed (models.outbox.RecipientKind): it branches on the kind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import (
    Channel,
    FollowerStatus,
    MassSendBudget,
    OutboxMessage,
    OutboxStatus,
    Recipient,
    RecipientKind,
)
from services import followers, outbox, push_validity, staff_accounts
from services.delivery_policy import (
    QUOTA_DELAY_SECONDS,
    ApiError,
    PayloadError,
    Reaction,
    WhenUnavailable,
    check_fields,
    policy_for,
    reaction_for,
    retry_delay,
    template_fields,
    text_of,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
RECIPIENT_STATUS = {
    40003: (FollowerStatus.INVALID, "openid not of this account"),
    43004: (FollowerStatus.UNSUBSCRIBED, "not following"),
    43019: (FollowerStatus.BLOCKED, "blocked the account"),
    48002: (FollowerStatus.BLOCKED, "refuses messages"),
}


@dataclass(frozen=True)
class DeliveryConfig:
    sandbox: bool
    template_ids: Mapping[str, str] = field(default_factory=dict)
    subscribe_template_ids: Mapping[str, str] = field(default_factory=dict)
    mass_budget: int = 4
    max_attempts: int = 8


@dataclass(frozen=True)
class Send:
    """One message for the transport: everything needed to build WeChat's JSON."""

    row_id: int
    attempt: int
    channel: Channel
    recipient: Recipient  # a person, or all followers / a tag (mass send)
    client_msg_id: str  # the same on every attempt of a row: WeChat drops a resend
    text: str | None = None
    fields: dict[str, str] | None = None
    template_id: str | None = None
    url: str | None = None
    page: str | None = None
    media_id: str | None = None


@dataclass(frozen=True)
class Claimed:
    row_id: int
    attempt: int


# --- claiming ----------------------------------------------------------------


def claim_due(session: Session, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Take up to `limit` due rows for this worker, and take back rows whose lease ran out.

    The ids are selected first (`FOR UPDATE SKIP LOCKED` on PostgreSQL: workers never
    wait for, nor take, each other's rows; SQLite runs one writer at a time) and only
    then updated: an UPDATE over a LIMIT subquery may run the subquery more than once
    on PostgreSQL and take more rows than asked for.
    """
    _take_back_stale(session, _lock_due(session, OutboxStatus.SENDING, now, limit), now)

    # A person waiting for a late reply goes before any campaign: without this a chat answer
    # queued behind a 10,000-row push waited minutes (found by bench/drill.py).
    due = _lock_due(session, OutboxStatus.PENDING, now, limit, OutboxMessage.kind.in_(WAITED_FOR))
    if len(due) < limit:
        due += _lock_due(session, OutboxStatus.PENDING, now, limit - len(due),
                         OutboxMessage.id.notin_([r.id for r in due]) if due else None)
    if not due:
        return []
    claimed = outbox.claim(session, due, now, lease)
    return [Claimed(row_id, attempt) for row_id, attempt in sorted(claimed)]


# Kinds someone is waiting for in the chat right now: claimed before everything else.
WAITED_FOR = ("late_reply",)

# Channels whose resend WeChat does not recognise as one (no client_msg_id).
NOT_IDEMPOTENT = (Channel.CUSTOMER_SERVICE, Channel.SUBSCRIPTION)
OUTCOME_UNKNOWN = ("the worker stopped while sending: the message may have reached the person, so it is not "
                   "sent again by itself (retry it if they did not get it)")


def _take_back_stale(session: Session, stale, now: datetime) -> None:
    """Rows a dead worker left "sending". Not yet on their way, or on a channel where WeChat
    drops a resend (client_msg_id): due again. Maybe sent on a channel where a resend would
    reach the person twice: failed, saying so, for staff to retry if it did not arrive."""
    unknown = [r for r in stale if r.in_flight_channel in NOT_IDEMPOTENT]
    again = [r for r in stale if r.in_flight_channel not in NOT_IDEMPOTENT]
    for rows, status, note, extra in (
        (again, OutboxStatus.PENDING, "lease ran out: taken back", {}),
        (unknown, OutboxStatus.FAILED, f"lease ran out mid-send: {OUTCOME_UNKNOWN}", {"last_errmsg": OUTCOME_UNKNOWN}),
    ):
        outbox.move_locked(session, rows, OutboxStatus.SENDING, status, now, note, **extra)


def _lock_due(session: Session, status: OutboxStatus, now: datetime, limit: int, *also):
    conditions = [c for c in also if c is not None]
    return session.execute(
        select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.in_flight_channel)
        .where(OutboxMessage.status == status, OutboxMessage.next_attempt_at <= now, *conditions)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


# --- choosing a channel ------------------------------------------------------


def plan(session: Session, claimed: Claimed, config: DeliveryConfig, now: datetime) -> Send | None:
    """A Send for the transport, or None when the row was settled here without WeChat
    (expired, sandbox, held, cancelled, failed, expanded to a role's openids, or no longer ours)."""
    row = session.get(OutboxMessage, claimed.row_id, with_for_update=True)
    if row is None or row.status != OutboxStatus.SENDING or row.attempts != claimed.attempt:
        return None
    stale = push_validity.stale_reason(row, now)
    if stale is not None:
        outbox.settle(session, row, OutboxStatus.EXPIRED, now, note=f"expired: {stale}")
        return None
    to = row.to
    if to.kind == RecipientKind.ROLE:
        _expand_role(session, row, now)
        return None
    if config.sandbox:
        outbox.settle(session, row, OutboxStatus.SENT, now, channel=Channel.SANDBOX, note="recorded in the sandbox")
        return None
    if to.is_person:
        person = followers.find(session, to.value)
        if person is not None and person.status != FollowerStatus.ACTIVE:
            outbox.settle(session, row, OutboxStatus.CANCELLED, now, note=f"recipient {person.status}")
            return None

    reasons: list[str] = []
    for channel in policy_for(row.kind, row.channel).channels:
        send = _try_channel(session, row, channel, config, now, reasons)
        if send is not None:
            row.in_flight_channel = channel  # committed before the call to WeChat
            return send  # the row records the channel once WeChat has the message
    return _unavailable(session, row, config, now, reasons)


def _try_channel(
    session: Session, row: OutboxMessage, channel: Channel, config: DeliveryConfig, now: datetime, reasons: list[str]
) -> Send | None:
    payload: dict[str, Any] = row.payload or {}
    to = row.to
    base = {"row_id": row.id, "attempt": row.attempts, "channel": channel, "recipient": to,
            "client_msg_id": f"sy-outbox-{row.id}"}
    text = text_of(payload)
    if channel == Channel.CUSTOMER_SERVICE:
        if not to.is_person or text is None:
            reasons.append("customer service: no text or not one person")
        elif not followers.take_window_slot(session, to.value, now):
            reasons.append("customer service: reply window closed or used up")
        else:
            return Send(**base, text=text)
    elif channel in (Channel.TEMPLATE, Channel.SUBSCRIPTION):
        ids = config.template_ids if channel == Channel.TEMPLATE else config.subscribe_template_ids
        template_id = ids.get(row.kind)
        fields = template_fields(payload)
        if not to.is_person or fields is None or not template_id:
            reasons.append(f"{channel}: no template id for {row.kind} or no fields")
        elif channel == Channel.SUBSCRIPTION and not followers.take_consent(session, to.value, template_id, now):
            reasons.append("subscription: the user has no accepted notice left")
        else:
            return Send(**base, fields=fields, template_id=template_id,
                        url=payload.get("url"), page=payload.get("page"))
    elif channel == Channel.MASS:
        media_id = payload.get("media_id")
        if not to.is_mass or (text is None and not media_id):
            reasons.append("mass: not a group or no content")
        elif not _take_mass_budget(session, now, config.mass_budget):
            reasons.append(f"mass: the {config.mass_budget} mass sends of this month are used")
        else:
            return Send(**base, text=None if media_id else text, media_id=media_id)
    return None


def _unavailable(session: Session, row: OutboxMessage, config: DeliveryConfig, now: datetime, reasons: list[str]) -> None:
    why = "; ".join(reasons) or "no channel allowed"
    if row.to.is_mass and any(r.startswith("mass: the") for r in reasons):
        row.next_attempt_at = _next_month(now)
        outbox.settle(session, row, OutboxStatus.PENDING, now, note=f"{why}; waiting for next month")
    elif row.to.is_person and policy_for(row.kind).when_unavailable == WhenUnavailable.HOLD:
        outbox.settle(session, row, OutboxStatus.HELD, now, note=f"{why}; held until the user writes")
    else:
        row.last_errmsg = why
        outbox.settle(session, row, OutboxStatus.FAILED, now, note=why)
    return None


def _expand_role(session: Session, row: OutboxMessage, now: datetime) -> None:
    openids = staff_accounts.alert_openids(session, row.recipient)
    if not openids:
        row.last_errmsg = (f"no openids for {row.to}: link a console account to WeChat "
                           "(我的账号 → 绑定微信) or add one with `python -m bot staff add OPENID`")
        outbox.settle(session, row, OutboxStatus.FAILED, now, note=row.last_errmsg)
        return
    for openid in openids:
        key = f"{row.idempotency_key}>{openid}"
        if len(key) > 200:
            key = "role>" + hashlib.sha256(key.encode()).hexdigest()
        outbox.enqueue(session, kind=row.kind, recipient=Recipient.person(openid), payload=row.payload, idempotency_key=key,
                       channel=row.channel, expires_at=row.expires_at)
    outbox.settle(session, row, OutboxStatus.SENT, now, note=f"expanded to {len(openids)} recipients")


# --- the mass-send budget ----------------------------------------------------


def _month(now: datetime) -> str:
    return now.astimezone(SHANGHAI).strftime("%Y-%m")


def _next_month(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    first = local.replace(day=1, hour=0, minute=5, second=0, microsecond=0) + timedelta(days=32)
    return first.replace(day=1)


def _take_mass_budget(session: Session, now: datetime, budget: int) -> bool:
    month = _month(now)
    dialect = session.get_bind().dialect.name
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert_(MassSendBudget).values(month=month, used=0).on_conflict_do_nothing(index_elements=["month"]))
    result = session.execute(
        update(MassSendBudget)
        .where(MassSendBudget.month == month, MassSendBudget.used < budget)
        .values(used=MassSendBudget.used + 1)
    )
    return result.rowcount == 1


def _give_back_mass_budget(session: Session, now: datetime, *, exhausted: bool = False, budget: int = 4) -> None:
    month = _month(now)
    values = {"used": budget} if exhausted else {"used": MassSendBudget.used - 1}
    session.execute(update(MassSendBudget).where(MassSendBudget.month == month, MassSendBudget.used > 0).values(**values))


# --- outcomes ----------------------------------------------------------------


def _owned(session: Session, send: Send) -> OutboxMessage | None:
    row = session.get(OutboxMessage, send.row_id, with_for_update=True)
    if row is None or row.status != OutboxStatus.SENDING or row.attempts != send.attempt:
        return None  # the lease ran out and another worker has the row now
    return row




def record_success(session: Session, send: Send, msgid: str | None, now: datetime) -> bool:
    """The common case, kept to one guarded UPDATE and one INSERT (no row load, no decryption)."""
    return outbox.mark_sent(session, send.row_id, send.attempt, send.channel, msgid, now)


def record_failure(session: Session, send: Send, error: ApiError, config: DeliveryConfig, now: datetime) -> Reaction | None:
    """Apply wechat-platform.md §11 to one failed send; returns the reaction taken."""
    row = _owned(session, send)
    if row is None:
        return None
    reaction = reaction_for(error.errcode)
    row.last_errcode = error.errcode
    row.last_errmsg = (error.errmsg or "")[:500]
    note = f"errcode {error.errcode}: {row.last_errmsg}"
    if send.channel == Channel.MASS and reaction != Reaction.ALREADY_SENT:
        _give_back_mass_budget(session, now, exhausted=error.errcode == 45028, budget=config.mass_budget)

    if reaction == Reaction.ALREADY_SENT:
        outbox.settle(session, row, OutboxStatus.SENT, now, errcode=error.errcode, note="WeChat already had this message")
    elif reaction in (Reaction.RETRY, Reaction.QUOTA):
        if row.attempts >= config.max_attempts:
            outbox.settle(session, row, OutboxStatus.FAILED, now, errcode=error.errcode, note=f"gave up after {row.attempts} attempts; {note}")
        else:
            delay = QUOTA_DELAY_SECONDS if reaction == Reaction.QUOTA else retry_delay(row.attempts)
            row.next_attempt_at = now + timedelta(seconds=delay)
            outbox.settle(session, row, OutboxStatus.PENDING, now, errcode=error.errcode, note=f"retry in {delay:g} s; {note}")
    elif reaction == Reaction.RECIPIENT:
        outbox.settle(session, row, OutboxStatus.FAILED, now, errcode=error.errcode, note=note)
        if error.errcode == 43101 and send.template_id:
            followers.reject_consent(session, send.recipient.value, send.template_id, now)
        elif error.errcode in RECIPIENT_STATUS and send.recipient.is_person:
            status, why = RECIPIENT_STATUS[error.errcode]
            followers.set_status(session, send.recipient.value, status, now, f"errcode {error.errcode}: {why}")
    elif reaction == Reaction.FALLBACK:
        if send.recipient.is_person:
            followers.close_window(session, send.recipient.value, now)
        row.next_attempt_at = now
        outbox.settle(session, row, OutboxStatus.PENDING, now, errcode=error.errcode, note=f"window closed, choosing again; {note}")
    else:
        outbox.settle(session, row, OutboxStatus.FAILED, now, errcode=error.errcode, note=note)
    return reaction


def record_crash(session: Session, claimed: Claimed, note: str, config: DeliveryConfig, now: datetime) -> None:
    """Our own code failed on this row (not WeChat): back off like a busy answer, so one
    bad row neither blocks the queue nor comes back every few seconds for ever.
    Plain UPDATEs: the row may be one that cannot even be loaded (an undecryptable payload)."""
    give_up = claimed.attempt >= config.max_attempts
    status = OutboxStatus.FAILED if give_up else OutboxStatus.PENDING
    why = f"gave up after {claimed.attempt} attempts; {note}" if give_up else note
    outbox.back_off(session, claimed.row_id, claimed.attempt, status,
                    now + timedelta(seconds=retry_delay(claimed.attempt) * 30), note, why, now)


def check_send(send: Send) -> None:
    """Last guard before HTTP: a row written around `enqueue` must still fit WeChat's rules."""
    if send.fields is not None:
        check_fields(send.fields)


def record_invalid(session: Session, send: Send, error: PayloadError, now: datetime) -> None:
    row = _owned(session, send)
    if row is not None:
        row.last_errmsg = str(error)
        outbox.settle(session, row, OutboxStatus.FAILED, now, note=f"payload refused: {error}")
