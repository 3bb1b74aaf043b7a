"""删除我的信息 (PIPL Art. 47): erase what identifies a person, keep anonymous counts.

What is kept, and why, is said to the user: the category, status and dates of
requests, the number of people at activities and the categories of registered
优抚对象 stay as anonymous records for the yearly statistics and 述职报告; nothing left
can be traced back to the person (no name, phone, ID number, address, openid or text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import OutboxMessage, OutboxStatus
from models.activity import ActivitySignup
from models.beneficiary import RegistrationStatus
from models.consent import ConsentRecord
from models.help_request import HelpRequest
from models.notice import Referral
from models.status_event import StatusEvent
from models.volunteer import VolunteerStatus
from services import beneficiaries, care_pairs, help_requests, status_events, volunteers

ERASED_NAME = "（已删除）"


@dataclass(frozen=True)
class Erased:
    volunteer: bool
    beneficiaries: int
    requests: int


def erase(session: Session, openid: str, now: datetime) -> Erased:
    volunteer = volunteers.find(session, openid)
    if volunteer is not None:
        if volunteer.status != VolunteerStatus.WITHDRAWN:
            volunteers.change_status(session, volunteer, VolunteerStatus.WITHDRAWN, now, actor="user", note="本人删除信息")
        volunteer.name, volunteer.mobile, volunteer.openid = ERASED_NAME, None, None

    people = beneficiaries.registered_by(session, openid)
    for person in people:
        status_events.record(
            session, beneficiaries.SUBJECT, person.id, RegistrationStatus.ERASED, at=now,
            from_status=person.status, note="本人删除信息",
        )
        person.status = RegistrationStatus.ERASED
        person.name, person.mobile, person.id_number, person.registered_by = ERASED_NAME, None, None, None
        person.household.address = None

    care_pairs.forget(
        session, now, volunteer_id=volunteer.id if volunteer else None, household_ids=[p.household_id for p in people]
    )

    requests = list(session.scalars(select(HelpRequest).where(HelpRequest.openid == openid)))
    for request in requests:
        request.openid = None
        request.description = request.contact_name = request.contact_phone = None
        request.rating_comment = request.reject_reason = None
        request.attachments = []
    if requests:
        # Staff notes on these requests may quote the person.
        session.execute(
            update(StatusEvent)
            .where(StatusEvent.subject == help_requests.SUBJECT, StatusEvent.subject_id.in_([r.id for r in requests]))
            .values(note=None)
        )

    session.execute(update(ActivitySignup).where(ActivitySignup.openid == openid).values(openid=None))
    session.execute(update(Referral).where(Referral.openid == openid).values(openid=None))
    session.execute(
        update(ConsentRecord).where(ConsentRecord.openid == openid).values(openid=None, withdrawn_at=now)
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient == openid, OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.HELD]))
        .values(status=OutboxStatus.CANCELLED, updated_at=now)
    )
    return Erased(volunteer=volunteer is not None, beneficiaries=len(people), requests=len(requests))
