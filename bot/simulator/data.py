"""What the simulator page lists: demo users to chat as, activities to scan, pushes delivered."""

from __future__ import annotations


from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models.activity import Activity, ActivityStatus
from models.outbound import Follower, FollowerStatus, StaffOpenid
from models.outbox import Channel, OutboxMessage, OutboxStatus, Recipient
from models.volunteer import Volunteer
from services.delivery_policy import text_of
from services.demo_data import DEMO_OPENID_PREFIX

SIMULATOR_OPENID_PREFIX = "oSIM"  # followers the simulator's 新关注用户 button creates

MAX_USERS = 200
MAX_PUSHES = 50


def _sandbox(column):
    return or_(column.startswith(DEMO_OPENID_PREFIX), column.startswith(SIMULATOR_OPENID_PREFIX))


def users(session: Session) -> list[dict[str, str]]:
    """Sandbox staff, volunteers, then other followers (never a real openid);
    labels carry no personal data (no names)."""
    seen: dict[str, str] = {}
    for openid in session.scalars(
        select(StaffOpenid.openid).where(_sandbox(StaffOpenid.openid)).order_by(StaffOpenid.id).limit(MAX_USERS)
    ):
        seen.setdefault(openid, f"工作人员 · {openid}")
    for number, openid in session.execute(
        select(Volunteer.number, Volunteer.openid).where(Volunteer.openid.is_not(None), _sandbox(Volunteer.openid)).order_by(Volunteer.id).limit(MAX_USERS)
    ):
        seen.setdefault(openid, f"志愿者 {number} · {openid}")
    for openid in session.scalars(
        select(Follower.openid).where(Follower.status == FollowerStatus.ACTIVE, _sandbox(Follower.openid)).order_by(Follower.id).limit(MAX_USERS)
    ):
        seen.setdefault(openid, f"关注用户 · {openid}")
    return [{"openid": openid, "label": label} for openid, label in list(seen.items())[:MAX_USERS]]


def activities(session: Session) -> list[dict[str, str]]:
    rows = session.scalars(
        select(Activity).where(Activity.status == ActivityStatus.OPEN).order_by(Activity.starts_at).limit(50)
    )
    return [{"code": a.code, "title": a.title} for a in rows]


def pushes(session: Session, openid: str, after: int) -> list[dict]:
    """Messages the sandbox delivered to this person after outbox row `after`, oldest first."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.addressed_to(Recipient.person(openid)), OutboxMessage.status == OutboxStatus.SENT,
               OutboxMessage.channel == Channel.SANDBOX, OutboxMessage.id > after)
        .order_by(OutboxMessage.id)
        .limit(MAX_PUSHES)
    )
    return [{"id": row.id, "kind": row.kind, "text": _text(row.payload or {})} for row in rows]


def _text(payload: dict) -> str:
    text = text_of(payload)
    if text is None and payload.get("title"):
        text = str(payload["title"])
    return text or "（一条图文或模板消息）"

