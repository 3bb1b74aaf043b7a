"""Activities: sign-up with a capacity and a waitlist, cancellation with promotion, check-in.

Sign-up and cancellation lock the activity row first (SELECT … FOR UPDATE on
PostgreSQL; SQLite serialises writers anyway), so 50 people pressing "报名" at once
for 20 places give exactly 20 registered and 30 on the waitlist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from models.activity import Activity, ActivitySignup, ActivityStatus, SignupStatus
from services import notifications, status_events, workflow

SUBJECT = "activity_signup"
FLOW = workflow.Workflow(SUBJECT, {
    SignupStatus.REGISTERED: frozenset({SignupStatus.CANCELLED}),
    SignupStatus.WAITLISTED: frozenset({SignupStatus.REGISTERED, SignupStatus.CANCELLED}),
    SignupStatus.CANCELLED: frozenset({SignupStatus.REGISTERED, SignupStatus.WAITLISTED}),
})
LIST_LIMIT = 9  # numbered 1–9 in the chat


@dataclass(frozen=True)
class SignupResult:
    signup: ActivitySignup
    position: int  # place on the waitlist, 0 when registered
    already: bool  # the user had signed up before


def upcoming(session: Session, now: datetime) -> list[Activity]:
    return list(
        session.scalars(
            select(Activity)
            .where(Activity.status == ActivityStatus.OPEN, Activity.starts_at > now)
            .order_by(Activity.starts_at, Activity.id)
            .limit(LIST_LIMIT)
        )
    )


def get(session: Session, activity_id: int) -> Activity | None:
    return session.get(Activity, activity_id)


def registered_count(session: Session, activity_id: int) -> int:
    return session.scalar(
        select(func.count(ActivitySignup.id)).where(
            ActivitySignup.activity_id == activity_id, ActivitySignup.status == SignupStatus.REGISTERED
        )
    ) or 0


def waitlist_position(session: Session, signup: ActivitySignup) -> int:
    if signup.status != SignupStatus.WAITLISTED:
        return 0
    return session.scalar(
        select(func.count(ActivitySignup.id)).where(
            ActivitySignup.activity_id == signup.activity_id,
            ActivitySignup.status == SignupStatus.WAITLISTED,
            ActivitySignup.queue_no <= signup.queue_no,
        )
    ) or 0


def _lock(session: Session, activity_id: int) -> Activity:
    return session.scalars(select(Activity).where(Activity.id == activity_id).with_for_update()).one()


def _signup_of(session: Session, activity_id: int, openid: str) -> ActivitySignup | None:
    return session.scalars(
        select(ActivitySignup).where(ActivitySignup.activity_id == activity_id, ActivitySignup.openid == openid)
    ).first()


def sign_up(session: Session, activity_id: int, openid: str, volunteer_id: int | None, now: datetime) -> SignupResult:
    activity = _lock(session, activity_id)
    signup = _signup_of(session, activity_id, openid)
    if signup is not None and signup.status != SignupStatus.CANCELLED:
        return SignupResult(signup, waitlist_position(session, signup), already=True)
    full = registered_count(session, activity.id) >= activity.capacity
    status = SignupStatus.WAITLISTED if full else SignupStatus.REGISTERED
    previous = signup.status if signup else None
    if signup is None:
        signup = ActivitySignup(activity_id=activity.id, openid=openid, volunteer_id=volunteer_id)
        session.add(signup)
    signup.status = status
    # A returning person queues at the end. Safe as max()+1 because the activity row is locked.
    signup.queue_no = (
        session.scalar(select(func.max(ActivitySignup.queue_no)).where(ActivitySignup.activity_id == activity.id)) or 0
    ) + 1
    signup.created_at = now
    signup.updated_at = now
    session.flush()
    status_events.record(session, SUBJECT, signup.id, status, at=now, from_status=previous)
    return SignupResult(signup, waitlist_position(session, signup), already=False)


def cancel(session: Session, activity_id: int, openid: str, now: datetime) -> ActivitySignup | None:
    """Cancel a sign-up; a freed place goes to the first on the waitlist, who is told."""
    activity = _lock(session, activity_id)
    signup = _signup_of(session, activity_id, openid)
    if signup is None or signup.status == SignupStatus.CANCELLED:
        return None
    freed = signup.status == SignupStatus.REGISTERED
    _set(session, signup, SignupStatus.CANCELLED, now, actor="user")
    if freed:
        _promote_next(session, activity, now)
    return signup


def _promote_next(session: Session, activity: Activity, now: datetime) -> ActivitySignup | None:
    waiting = session.scalars(
        select(ActivitySignup)
        .where(ActivitySignup.activity_id == activity.id, ActivitySignup.status == SignupStatus.WAITLISTED)
        .order_by(ActivitySignup.queue_no)
    ).first()
    if waiting is None:
        return None
    _set(session, waiting, SignupStatus.REGISTERED, now, actor="system", note="候补递补")
    if waiting.openid:
        notifications.tell_user(
            session, waiting.openid, "activity_update", f"promoted:{waiting.id}:{now.isoformat()}",
            f"好消息：您候补的活动“{activity.title}”有空位了，已为您转为正式报名。不能参加请回复“取消报名”。",
            activity_id=activity.id,
        )
    return waiting


def _set(session: Session, signup: ActivitySignup, to: SignupStatus, now: datetime, actor: str, note: str | None = None) -> None:
    workflow.transition(session, FLOW, signup, to, now, actor=actor, note=note)


def mine(session: Session, openid: str, now: datetime) -> list[ActivitySignup]:
    """The user's current sign-ups for activities not yet over."""
    return list(
        session.scalars(
            select(ActivitySignup)
            .join(Activity)
            .where(
                ActivitySignup.openid == openid,
                ActivitySignup.status != SignupStatus.CANCELLED,
                Activity.starts_at > now - timedelta(hours=12),
            )
            .options(joinedload(ActivitySignup.activity))
            .order_by(Activity.starts_at)
        )
    )


def by_code(session: Session, code: str) -> Activity | None:
    return session.scalars(select(Activity).where(Activity.code == code)).first()


# The check-in window: from two hours before the start (people arrive early to help set up)
# until the end; check-out (a second scan) until two hours after the end. An activity with no
# end time recorded is taken to last DEFAULT_LENGTH.
CHECKIN_OPENS_BEFORE = timedelta(hours=2)
CHECKOUT_CLOSES_AFTER = timedelta(hours=2)
MIN_STAY = timedelta(minutes=30)  # a second scan sooner (after the start) is a double scan, not a check-out
DEFAULT_LENGTH = timedelta(hours=3)


class ScanOutcome(StrEnum):
    CHECKED_IN = "checked_in"
    ALREADY_IN = "already_in"  # a second scan too soon to be a check-out
    CHECKED_OUT = "checked_out"
    ALREADY_OUT = "already_out"
    TOO_EARLY = "too_early"
    OVER = "over"
    CANCELLED = "cancelled"
    NOT_SIGNED_UP = "not_signed_up"


@dataclass(frozen=True)
class Scan:
    outcome: ScanOutcome
    activity: Activity
    signup: ActivitySignup | None = None
    opens_at: datetime | None = None  # when check-in opens (TOO_EARLY)


def ends_at(activity: Activity) -> datetime:
    return activity.ends_at or activity.starts_at + DEFAULT_LENGTH


def checkin_opens_at(activity: Activity) -> datetime:
    return activity.starts_at - CHECKIN_OPENS_BEFORE


def check_in(session: Session, activity: Activity, openid: str, now: datetime) -> Scan:
    """A scan of the activity's check-in code: check-in inside the window, a later scan checks out.

    The first check-in counts; a repeated scan changes nothing. Outside the window the
    person is told when to come back (or that it is over), never that they checked in.
    """
    if activity.status == ActivityStatus.CANCELLED:
        return Scan(ScanOutcome.CANCELLED, activity)
    signup = _signup_of(session, activity.id, openid)
    if signup is not None and signup.checked_in_at is not None:
        return _scan_again(signup, activity, now)
    if now < checkin_opens_at(activity):
        return Scan(ScanOutcome.TOO_EARLY, activity, signup, opens_at=checkin_opens_at(activity))
    if now > ends_at(activity):
        return Scan(ScanOutcome.OVER, activity, signup)
    if signup is None or signup.status != SignupStatus.REGISTERED:
        return Scan(ScanOutcome.NOT_SIGNED_UP, activity, signup)
    signup.checked_in_at = now
    signup.updated_at = now
    return Scan(ScanOutcome.CHECKED_IN, activity, signup)


def _scan_again(signup: ActivitySignup, activity: Activity, now: datetime) -> Scan:
    if signup.checked_out_at is not None:
        return Scan(ScanOutcome.ALREADY_OUT, activity, signup)
    # Counted from the start: someone who came early and scans again as it begins is not leaving.
    if now < max(signup.checked_in_at, activity.starts_at) + MIN_STAY or now > ends_at(activity) + CHECKOUT_CLOSES_AFTER:
        return Scan(ScanOutcome.ALREADY_IN, activity, signup)
    signup.checked_out_at = now
    signup.updated_at = now
    return Scan(ScanOutcome.CHECKED_OUT, activity, signup)
