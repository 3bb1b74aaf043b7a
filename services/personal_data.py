"""The person's rights (PIPL Art. 44–47): what we hold (导出我的信息), withdrawing a consent
(撤回同意) and 删除我的信息: erase what identifies a person, keep anonymous counts.

What is kept, and why, is said to the user: the category, status and dates of
requests, the number of people at activities and the categories of registered
优抚对象 stay as anonymous records for the yearly statistics and 述职报告; nothing left
can be traced back to the person (no name, phone, ID number, address, openid or text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from models import InboundMessage
from models.encrypted import blind_indexes
from models.activity import ActivitySignup
from models.beneficiary import Beneficiary, RegistrationStatus
from models.consent import ConsentRecord
from models.help_request import OPEN_STATUSES, HandoverMessage, HelpRequest, RequestStatus
from models.notice import Referral
from models.outbound import Follower
from models.status_event import StatusEvent
from models.volunteer import Volunteer, VolunteerStatus
from services import beneficiaries, care_pairs, help_requests, outbox, status_events, volunteers
from services.local_time import local_date

ERASED_NAME = "（已删除）"
ERASED_RECIPIENT = "erased"
ERASED_NOTE = "本人删除信息"
WITHDRAWN_NOTE = "本人撤回同意"
PURPOSES = ("volunteer", "beneficiary", "guardian", "help_request")


@dataclass(frozen=True)
class Erased:
    volunteer: bool
    beneficiaries: int
    requests: int


@dataclass(frozen=True)
class Holdings:
    """Everything held about one openid, for 导出我的信息 and the console's export."""

    volunteer: Volunteer | None
    beneficiaries: list[Beneficiary]
    requests: list[HelpRequest]
    consents: list[ConsentRecord]
    signups: int
    handover_messages: int
    follows: bool

    @property
    def empty(self) -> bool:
        return self.volunteer is None and not self.beneficiaries and not self.requests and not self.consents


def categories_held(h: Holdings) -> list[str]:
    """The data categories (services/lawful_basis.py) held about a person, for their basis."""
    held = ["wechat"]
    if h.volunteer is not None:
        held.append("volunteer")
    if h.beneficiaries:
        held.append("beneficiary")
    if any(b.id_number for b in h.beneficiaries) or (h.volunteer is not None and h.volunteer.id_number):
        held.append("id_number")
    if any(c.purpose == "guardian" and c.withdrawn_at is None for c in h.consents):
        held.append("child")
    if h.requests:
        held.append("help_request")
    if h.beneficiaries or h.requests:
        held.append("casework")
    return held


def holdings(session: Session, openid: str) -> Holdings:
    requests = list(session.scalars(select(HelpRequest).where(HelpRequest.openid == openid).order_by(HelpRequest.id)))
    handover_messages = 0
    if requests:
        handover_messages = session.scalar(select(func.count()).select_from(HandoverMessage).where(
            HandoverMessage.request_id.in_([r.id for r in requests]), HandoverMessage.text.is_not(None))) or 0
    return Holdings(
        volunteer=volunteers.find(session, openid),
        beneficiaries=beneficiaries.registered_by(session, openid),
        requests=requests,
        consents=list(session.scalars(select(ConsentRecord).where(ConsentRecord.openid == openid)
                                      .order_by(ConsentRecord.granted_at, ConsentRecord.id))),
        signups=session.scalar(select(func.count()).select_from(ActivitySignup)
                               .where(ActivitySignup.openid == openid)) or 0,
        handover_messages=handover_messages,
        follows=session.scalar(select(Follower.id).where(Follower.openid == openid)) is not None,
    )


def active_consents(session: Session, openid: str) -> list[ConsentRecord]:
    """The consents not withdrawn, one per purpose (the latest)."""
    latest: dict[str, ConsentRecord] = {}
    for record in session.scalars(select(ConsentRecord).where(
            ConsentRecord.openid == openid, ConsentRecord.withdrawn_at.is_(None)).order_by(ConsentRecord.granted_at)):
        latest[record.purpose] = record
    return [latest[p] for p in PURPOSES if p in latest]


def withdraw(session: Session, openid: str, purpose: str, now: datetime) -> int:
    """撤回同意 (PIPL Art. 15): processing for that purpose stops and what was collected for it
    is erased (what was done before stays lawful: anonymous records remain). Returns the
    number of records erased."""
    session.execute(update(ConsentRecord).where(
        ConsentRecord.openid == openid, ConsentRecord.purpose == purpose, ConsentRecord.withdrawn_at.is_(None),
    ).values(withdrawn_at=now))
    if purpose == "volunteer":
        volunteer = volunteers.find(session, openid)
        if volunteer is None:
            return 0
        _erase_volunteer(session, volunteer, now, WITHDRAWN_NOTE)
        care_pairs.forget(session, now, volunteer_id=volunteer.id)
        return 1
    if purpose == "beneficiary":
        people = beneficiaries.registered_by(session, openid)
        _erase_beneficiaries(session, people, now, WITHDRAWN_NOTE)
        care_pairs.forget(session, now, household_ids=[p.household_id for p in people])
        return len(people)
    if purpose == "guardian":
        # Without the guardian's consent a child's registration cannot be kept (PIPL Art. 31).
        children = [p for p in beneficiaries.registered_by(session, openid)
                    if beneficiaries.is_child(p.id_number, local_date(now))]
        _erase_beneficiaries(session, children, now, WITHDRAWN_NOTE)
        care_pairs.forget(session, now, household_ids=[p.household_id for p in children])
        return len(children)
    if purpose == "help_request":
        return len(_erase_requests(session, openid, now, WITHDRAWN_NOTE))
    raise ValueError(f"unknown purpose {purpose!r}")


def _erase_volunteer(session: Session, volunteer: Volunteer, now: datetime, note: str) -> None:
    if volunteer.status != VolunteerStatus.WITHDRAWN:
        volunteers.change_status(session, volunteer, VolunteerStatus.WITHDRAWN, now, actor="user", note=note)
    volunteer.name, volunteer.mobile, volunteer.openid = ERASED_NAME, None, None
    volunteer.id_number = None  # entered by staff for the national record


def _erase_beneficiaries(session: Session, people: list[Beneficiary], now: datetime, note: str) -> None:
    for person in people:
        status_events.record(
            session, beneficiaries.SUBJECT, person.id, RegistrationStatus.ERASED, at=now,
            from_status=person.status, note=note,
        )
        person.status = RegistrationStatus.ERASED
        person.name, person.mobile, person.id_number, person.registered_by = ERASED_NAME, None, None, None
        person.household.address = None


def anonymise_request(session: Session, request: HelpRequest, now: datetime) -> None:
    """Blank what identifies the requester: contact, texts, attachments, staff notes, 人工 messages."""
    request.openid = None
    request.description = request.contact_name = request.contact_phone = None
    request.rating_comment = request.reject_reason = request.resolution = None
    request.attachments = []
    request.anonymised_at = now
    # Staff notes on the request and the 人工 chat may quote the person.
    session.execute(update(StatusEvent).where(
        StatusEvent.subject == help_requests.SUBJECT, StatusEvent.subject_id == request.id).values(note=None))
    session.execute(update(HandoverMessage).where(HandoverMessage.request_id == request.id)
                    .values(text=None, media_id=None))


def _erase_requests(session: Session, openid: str, now: datetime, note: str) -> list[HelpRequest]:
    """Open requests are withdrawn (nobody can be contacted about them any more), then every
    request of the person is anonymised; category, status and dates stay for the statistics."""
    requests = list(session.scalars(select(HelpRequest).where(HelpRequest.openid == openid)))
    for request in requests:
        anonymise_request(session, request, now)
        if request.status in OPEN_STATUSES:
            status_events.record(session, help_requests.SUBJECT, request.id, RequestStatus.REJECTED, at=now,
                                 from_status=request.status, note=note)
            request.status = RequestStatus.REJECTED
            request.updated_at = now
    return requests


def erase_volunteer(session: Session, volunteer: Volunteer, now: datetime) -> None:
    """Staff erasing a record not linked to a WeChat user (a roster import)."""
    _erase_volunteer(session, volunteer, now, ERASED_NOTE)
    care_pairs.forget(session, now, volunteer_id=volunteer.id)


def erase_beneficiary(session: Session, person: Beneficiary, now: datetime) -> None:
    _erase_beneficiaries(session, [person], now, ERASED_NOTE)
    care_pairs.forget(session, now, household_ids=[person.household_id])


def forget_cached_replies(dedupe, openid: str) -> int:
    """Cached webhook replies outside the database (a Redis dedupe store) may quote the person."""
    return dedupe.forget_sender(blind_indexes(openid, "openid")) if dedupe is not None else 0


def erase(session: Session, openid: str, now: datetime) -> Erased:
    volunteer = volunteers.find(session, openid)
    if volunteer is not None:
        _erase_volunteer(session, volunteer, now, ERASED_NOTE)

    people = beneficiaries.registered_by(session, openid)
    _erase_beneficiaries(session, people, now, ERASED_NOTE)

    care_pairs.forget(
        session, now, volunteer_id=volunteer.id if volunteer else None, household_ids=[p.household_id for p in people]
    )

    requests = _erase_requests(session, openid, now, ERASED_NOTE)

    session.execute(update(ActivitySignup).where(ActivitySignup.openid == openid).values(openid=None))
    session.execute(update(Referral).where(Referral.openid == openid).values(openid=None))
    session.execute(
        update(ConsentRecord).where(ConsentRecord.openid == openid).values(openid=None, withdrawn_at=now)
    )
    # Pushes already made to the person may name them: keep the row (delivery counts), not its content.
    outbox.forget_person(session, openid, ERASED_RECIPIENT, now)
    # The conversation_state row is the chat's per-user lock, held by this very message: the form is
    # cleared by the dialog engine, and the bare row (openid only) goes with the nightly retention run.
    session.execute(delete(Follower).where(Follower.openid == openid))
    # Replies cached for WeChat's retries may quote the person (a Redis dedupe store: the
    # caller also runs forget_cached_replies).
    session.execute(update(InboundMessage).where(InboundMessage.sender_bi.in_(blind_indexes(openid, "openid")))
                    .values(reply=None))
    return Erased(volunteer=volunteer is not None, beneficiaries=len(people), requests=len(requests))
