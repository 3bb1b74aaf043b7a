"""Activities as staff run them: create, edit, change the capacity, cancel.

Everyone affected hears about it through the outbox, in the caller's transaction:
a cancellation tells every sign-up, a new time or place tells them too, and a raised
capacity promotes the waitlist in order of arrival (each promoted person is told).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.activity import Activity, ActivitySignup, ActivityStatus, SignupStatus
from services import activities, notifications
from services.local_time import SHANGHAI
from services.workflow import TransitionError, required_text

MAX_CAPACITY = 10_000
TITLE_LIMIT, PLACE_LIMIT, DESCRIPTION_LIMIT, REASON_LIMIT = 60, 100, 1000, 200


@dataclass(frozen=True)
class ActivityDetails:
    title: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    place: str = ""
    description: str = ""
    town: str | None = None


def check(details: ActivityDetails) -> dict[str, str]:
    """Problems per field, in words for staff; empty when the details are fine."""
    problems = {}
    if not details.title.strip():
        problems["title"] = "请填写活动名称。"
    elif len(details.title.strip()) > TITLE_LIMIT:
        problems["title"] = f"活动名称请控制在{TITLE_LIMIT}字以内。"
    if len(details.place.strip()) > PLACE_LIMIT:
        problems["place"] = f"地点请控制在{PLACE_LIMIT}字以内。"
    if len(details.description.strip()) > DESCRIPTION_LIMIT:
        problems["description"] = f"活动内容请控制在{DESCRIPTION_LIMIT}字以内。"
    if details.ends_at <= details.starts_at:
        problems["ends_at"] = "结束时间要晚于开始时间。"
    if not 0 <= details.capacity <= MAX_CAPACITY:
        problems["capacity"] = f"名额请填0到{MAX_CAPACITY}之间的整数。"
    return problems


def _new_code(session: Session) -> str:
    # Short, unguessable and safe inside a QR scene ("checkin_<code>", at most 64 characters).
    while True:
        code = "a" + secrets.token_hex(5)
        if activities.by_code(session, code) is None:
            return code


def create(session: Session, details: ActivityDetails, now: datetime) -> Activity:
    problems = check(details)
    if problems:
        raise TransitionError(next(iter(problems.values())))
    activity = Activity(code=_new_code(session), created_at=now, updated_at=now, status=ActivityStatus.OPEN)
    _apply(activity, details)
    activity.capacity = details.capacity
    session.add(activity)
    session.flush()
    return activity


def _apply(activity: Activity, details: ActivityDetails) -> None:
    activity.title = details.title.strip()
    activity.place = details.place.strip()
    activity.description = details.description.strip()
    activity.starts_at = details.starts_at
    activity.ends_at = details.ends_at
    activity.town = details.town or None


def update(session: Session, activity: Activity, details: ActivityDetails, now: datetime) -> list[str]:
    """Save new details; returns the openids told about a new time or place."""
    problems = check(details)
    if problems:
        raise TransitionError(next(iter(problems.values())))
    if activity.status == ActivityStatus.CANCELLED:
        raise TransitionError("这个活动已经取消了，不能再修改。")
    locked = activities._lock(session, activity.id)
    moved = (locked.starts_at, locked.place) != (details.starts_at, details.place.strip())
    _apply(locked, details)
    locked.updated_at = now
    change_capacity(session, locked, details.capacity, now)
    if not moved:
        return []
    text = change_notice(locked)
    told = []
    for signup in _active_signups(session, locked.id):
        if signup.openid:
            notifications.tell_user(session, signup.openid, "activity_update",
                                    f"changed:{signup.id}:{now.isoformat()}", text, activity_id=locked.id)
            told.append(signup.openid)
    return told


def change_notice(activity: Activity) -> str:
    where = f"，地点：{activity.place}" if activity.place else ""
    return (f"您报名的活动“{activity.title}”时间或地点有调整：{_local(activity.starts_at)}开始{where}。"
            "不能参加请回复“取消报名”。")


def cancel_notice(activity: Activity, reason: str) -> str:
    return f"很抱歉，您报名的活动“{activity.title}”（{_local(activity.starts_at)}）已取消。原因：{reason}"


def _local(instant: datetime) -> str:
    moment = instant.astimezone(SHANGHAI)
    return f"{moment.month}月{moment.day}日{moment:%H:%M}"


def change_capacity(session: Session, activity: Activity, capacity: int, now: datetime) -> list[ActivitySignup]:
    """A new number of places; more places promote the waitlist in order. Returns those promoted.

    Fewer places than people already registered is refused: nobody is taken off a list
    they were told they are on.
    """
    if not 0 <= capacity <= MAX_CAPACITY:
        raise TransitionError(f"名额请填0到{MAX_CAPACITY}之间的整数。")
    locked = activities._lock(session, activity.id)
    taken = activities.registered_count(session, locked.id)
    if capacity < taken:
        raise TransitionError(f"已有{taken}人报名，名额不能少于{taken}。如需减少，请先联系报名的人取消。")
    locked.capacity = capacity
    locked.updated_at = now
    promoted = []
    if locked.status == ActivityStatus.CANCELLED:
        return promoted
    for _ in range(capacity - taken):
        signup = activities._promote_next(session, locked, now)
        if signup is None:
            break
        promoted.append(signup)
    return promoted


def cancel(session: Session, activity: Activity, reason: str, now: datetime, *, actor: str) -> int:
    """Cancel the activity; every sign-up is cancelled and told why. Returns how many were told."""
    reason = required_text(reason, "请填写取消原因，报名的人会收到这条原因。", REASON_LIMIT, "取消原因")
    locked = activities._lock(session, activity.id)
    if locked.status == ActivityStatus.CANCELLED:
        raise TransitionError("这个活动已经取消了。")
    locked.status = ActivityStatus.CANCELLED
    locked.cancel_reason = reason
    locked.updated_at = now
    text = cancel_notice(locked, reason)
    told = 0
    for signup in _active_signups(session, locked.id):
        activities._set(session, signup, SignupStatus.CANCELLED, now, actor=actor, note="活动取消")
        if signup.openid:
            notifications.tell_user(session, signup.openid, "activity_update", f"cancelled:{signup.id}",
                                    text, activity_id=locked.id)
            told += 1
    return told


def _active_signups(session: Session, activity_id: int) -> list[ActivitySignup]:
    return list(session.scalars(
        select(ActivitySignup)
        .where(ActivitySignup.activity_id == activity_id, ActivitySignup.status != SignupStatus.CANCELLED)
        .order_by(ActivitySignup.queue_no)
    ))


def counts(session: Session, activity_ids: list[int]) -> dict[int, dict[SignupStatus, int]]:
    """Sign-ups per activity and status, for a list page."""
    found: dict[int, dict[SignupStatus, int]] = {i: {} for i in activity_ids}
    if not activity_ids:
        return found
    rows = session.execute(
        select(ActivitySignup.activity_id, ActivitySignup.status, func.count(ActivitySignup.id))
        .where(ActivitySignup.activity_id.in_(activity_ids))
        .group_by(ActivitySignup.activity_id, ActivitySignup.status)
    )
    for activity_id, status, n in rows:
        found[activity_id][status] = n
    return found
