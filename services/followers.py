"""What every inbound message tells the outbound side.

`observe` runs for every message and event, whatever route answers it, inside the
webhook's transaction: it opens the customer-service window, releases held
messages into it, marks unfollows, records subscription-notice consents and
WeChat's delivery reports.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import (
    Channel,
    ConsentStatus,
    Follower,
    FollowerEvent,
    FollowerStatus,
    OutboxMessage,
    OutboxStatus,
    SubscriptionConsent,
)
from services import outbox
from wechat.message import Incoming

# wechat-platform.md §6: a message opens 5 sends for 48 h; a click, scan or follow 3 for a minute.
MESSAGE_WINDOW = (timedelta(hours=48), 5)
EVENT_WINDOW = (timedelta(minutes=1), 3)
USER_MESSAGES = {"text", "image", "voice", "video", "shortvideo", "location", "link"}
WINDOW_EVENTS = {"subscribe", "subscribe_scan", "scan", "click", "scancode_push", "scancode_waitmsg"}


def observe(session: Session, incoming: Incoming, now: datetime) -> None:
    event = (incoming.event or "").lower()
    if incoming.msg_type in USER_MESSAGES:
        _interacted(session, incoming.openid, now, MESSAGE_WINDOW)
    elif event in WINDOW_EVENTS:
        _interacted(session, incoming.openid, now, EVENT_WINDOW)
    elif event == "unsubscribe":
        set_status(session, incoming.openid, FollowerStatus.UNSUBSCRIBED, now, "unfollowed")
    elif event == "templatesendjobfinish":
        record_report(session, incoming.fields.get("MsgID"), str(incoming.fields.get("Status") or ""), now)
    elif event == "masssendjobfinish":
        fields = incoming.fields
        report = f"{fields.get('Status') or ''} {fields.get('SentCount') or 0}/{fields.get('TotalCount') or 0}"
        record_report(session, fields.get("MsgID"), report.strip(), now)
    elif event in ("subscribe_msg_popup_event", "subscribe_msg_change_event"):
        for entry in _entries(incoming.fields):
            record_consent(session, incoming.openid, entry.get("TemplateId"), entry.get("SubscribeStatusString"), now)
    elif event == "subscribe_msg_sent_event":
        for entry in _entries(incoming.fields):
            code = str(entry.get("ErrorCode") or "0")
            report = "success" if code == "0" else f"failed: {entry.get('ErrorStatus') or code}"
            record_report(session, entry.get("MsgID"), report, now)


def _entries(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The List entries of a subscribe_msg_* event: one dict or several, under any wrapper."""
    found: list[dict[str, Any]] = []
    for name in ("SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent", "SubscribeMsgSentEvent"):
        wrapper = fields.get(name)
        entries = wrapper.get("List") if isinstance(wrapper, dict) else None
        if isinstance(entries, dict):
            entries = [entries]
        found.extend(e for e in entries or [] if isinstance(e, dict))
    return found


# --- followers and their window ---------------------------------------------


# The window a message opens is written again only when that changes something: a new
# quota, or an expiry (and last interaction) more than this much later than the stored one.
# A user typing through a form costs one read, not a write per message (issue 16).
WINDOW_SLACK = timedelta(minutes=10)
_FOLLOWER = Follower.__table__
# Built once, values given at execution (compiled once and cached by the engine).
_WINDOW = select(_FOLLOWER.c.status, _FOLLOWER.c.window_expires_at, _FOLLOWER.c.window_quota,
                 _FOLLOWER.c.window_used, _FOLLOWER.c.last_interaction_at).where(_FOLLOWER.c.openid == bindparam("of"))
_SET_WINDOW = update(_FOLLOWER).where(_FOLLOWER.c.openid == bindparam("of"))
_CREATE = {
    dialect: insert(_FOLLOWER).on_conflict_do_nothing(index_elements=["openid"]).returning(_FOLLOWER.c.id)
    for dialect, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def follower(session: Session, openid: str, now: datetime) -> Follower:
    """The follower row, created on first sight (concurrent first messages are fine)."""
    known = find(session, openid)
    if known is not None:
        return known
    _create(session, openid, now)
    return session.scalars(select(Follower).where(Follower.openid == openid)).one()


def _create(session: Session, openid: str, now: datetime, **window: Any) -> bool:
    """Insert the follower (with the window its first message opens); False if it exists."""
    values = {"openid": openid, "status": FollowerStatus.ACTIVE, "window_quota": 0, "window_used": 0,
              "created_at": now, "updated_at": now, **window}
    return session.execute(_CREATE[session.get_bind().dialect.name], values).first() is not None


def find(session: Session, openid: str) -> Follower | None:
    return session.scalars(select(Follower).where(Follower.openid == openid)).first()


def window_open(row: Any, now: datetime) -> bool:
    """`row`: a Follower, or a row with its window columns."""
    return (
        row is not None
        and row.window_expires_at is not None
        and row.window_expires_at > now
        and row.window_used < row.window_quota
    )


def _interacted(session: Session, openid: str, now: datetime, window: tuple[timedelta, int]) -> None:
    # Core statements (cached compilation), not ORM objects: this runs for every message, early,
    # with nothing pending to flush, so on the connection without the ORM's execution layer.
    row = session.connection().execute(_WINDOW, {"of": openid}).first()
    if row is None:
        length, quota = window
        if _create(session, openid, now, last_interaction_at=now, window_expires_at=now + length, window_quota=quota):
            outbox.release_held(session, openid, now)  # messages may wait for someone not seen before
            return
        row = session.execute(_WINDOW, {"of": openid}).one()  # created meanwhile by another message
    if row.status != FollowerStatus.ACTIVE:
        set_status(session, openid, FollowerStatus.ACTIVE, now, "interacted again")
    # Rows are held only while no window is usable, and every opening releases them:
    # with a usable window before this message there is nothing held to look for.
    nothing_held = row.status == FollowerStatus.ACTIVE and window_open(row, now)
    length, quota = window
    values = {}
    # A click or scan must not shorten a 48-hour window that still has room.
    if window is MESSAGE_WINDOW or not (window_open(row, now) and row.window_expires_at >= now + length):
        slack = min(WINDOW_SLACK, length / 6)  # a minute-long click window moves on by 10 s
        if (not window_open(row, now) or row.window_quota != quota or row.window_used != 0
                or _stale(row.window_expires_at, now + length, slack)):
            values.update(window_expires_at=now + length, window_quota=quota, window_used=0)
    if values or _stale(row.last_interaction_at, now, WINDOW_SLACK):
        values.update(last_interaction_at=now, updated_at=now)
        session.execute(_SET_WINDOW, {"of": openid, **values})
        if row.status != FollowerStatus.ACTIVE:  # set_status loaded the entity: let it read the new window
            session.expire(follower(session, openid, now))
    if not nothing_held:
        outbox.release_held(session, openid, now)


def _stale(stored: datetime | None, wanted: datetime, slack: timedelta) -> bool:
    """The stored time trails the wanted one by more than the slack. A window stored a little
    short ends a little early: the safe side of WeChat's own."""
    return stored is None or wanted - stored > slack


def take_window_slot(session: Session, openid: str, now: datetime) -> bool:
    """Book one customer-service message in the open window; False when closed or used up.

    One guarded UPDATE, so two workers cannot both take the last slot.
    """
    result = session.execute(
        update(Follower)
        .where(
            Follower.openid == openid,
            Follower.status == FollowerStatus.ACTIVE,
            Follower.window_expires_at > now,
            Follower.window_used < Follower.window_quota,
        )
        .values(window_used=Follower.window_used + 1, updated_at=now)
    )
    return result.rowcount == 1


def close_window(session: Session, openid: str, now: datetime) -> None:
    """WeChat said the window is closed or used up (45015/45047): believe it."""
    session.execute(
        update(Follower)
        .where(Follower.openid == openid)
        .values(window_used=Follower.window_quota, updated_at=now)
    )


def set_status(session: Session, openid: str, status: FollowerStatus, now: datetime, note: str) -> None:
    """Change a follower's status (with an event row); leaving ACTIVE cancels what waits for them."""
    row = follower(session, openid, now)
    if row.status != status:
        session.add(FollowerEvent(follower_id=row.id, at=now, from_status=row.status, to_status=status, note=note))
        row.status = status
        if status != FollowerStatus.ACTIVE:
            row.window_expires_at = None
    if status != FollowerStatus.ACTIVE:
        outbox.cancel_pending(session, openid, now, f"recipient {status}: {note}")


# --- subscription notices ----------------------------------------------------


def record_consent(session: Session, openid: str, template_id: Any, answer: Any, now: datetime) -> None:
    """accept adds one notice (one-time subscription); reject withdraws them all."""
    if not isinstance(template_id, str) or not template_id or answer not in ("accept", "reject"):
        return
    row = session.scalars(
        select(SubscriptionConsent).where(
            SubscriptionConsent.openid == openid, SubscriptionConsent.template_id == template_id
        )
    ).first()
    if row is None:
        row = SubscriptionConsent(openid=openid, template_id=template_id, remaining=0, status=ConsentStatus(answer))
        session.add(row)
    row.status = ConsentStatus(answer)
    row.remaining = (row.remaining or 0) + 1 if answer == "accept" else 0
    row.updated_at = now


def take_consent(session: Session, openid: str, template_id: str, now: datetime) -> bool:
    """Use one accepted subscription notice; False when the user has none left."""
    result = session.execute(
        update(SubscriptionConsent)
        .where(
            SubscriptionConsent.openid == openid,
            SubscriptionConsent.template_id == template_id,
            SubscriptionConsent.status == ConsentStatus.ACCEPT,
            SubscriptionConsent.remaining > 0,
        )
        .values(remaining=SubscriptionConsent.remaining - 1, updated_at=now)
    )
    return result.rowcount == 1


def reject_consent(session: Session, openid: str, template_id: str, now: datetime) -> None:
    record_consent(session, openid, template_id, "reject", now)


# --- WeChat's delivery reports -----------------------------------------------


def record_report(session: Session, msgid: Any, report: str, now: datetime) -> None:
    """Attach WeChat's verdict to the row it sent; a failure turns the row failed."""
    if msgid is None or str(msgid).strip() == "":
        return
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.wechat_msgid == str(msgid).strip(),
            OutboxMessage.channel.in_((Channel.TEMPLATE, Channel.SUBSCRIPTION, Channel.MASS)),
        )
    ).all()
    for row in rows:
        row.delivery_report = report[:64]
        failed = report.startswith(("failed", "err", "send fail"))
        if failed and row.status == OutboxStatus.SENT:
            outbox.transition(session, row, OutboxStatus.FAILED, now, note=f"WeChat reported {report}")
        else:
            outbox.record_event(session, row, row.status, now, note=f"WeChat reported {report}")
