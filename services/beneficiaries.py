"""优抚对象 registration from the chat (by the person or a family member), verified by staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.beneficiary import Beneficiary, BeneficiaryCategory, BeneficiaryStatus, Household, RegistrationStatus
from services import consents, households, numbers, status_events, workflow
from services.local_time import local_date
from services.workflow import Notice

SUBJECT = "beneficiary"
R = RegistrationStatus
FLOW = workflow.Workflow(SUBJECT, {
    R.PENDING: frozenset({R.VERIFIED, R.REJECTED}),
    R.VERIFIED: frozenset(),
    R.REJECTED: frozenset({R.VERIFIED}),
    R.ERASED: frozenset(),
})
NOTICE_KIND = "registration_result"

# Categories whose downstream process (定期抚恤补助, 优待证 checks) needs the ID number
# (domain.md PI-3: ask for it only where it is needed).
NEEDS_ID_NUMBER = frozenset(
    {
        BeneficiaryCategory.MARTYR_F,
        BeneficiaryCategory.DUTY_F,
        BeneficiaryCategory.ILL_F,
        BeneficiaryCategory.DISABLED,
        BeneficiaryCategory.DEMOB_OLD,
        BeneficiaryCategory.ILL_RETURN,
        BeneficiaryCategory.WAR_TEST,
        BeneficiaryCategory.RURAL_OLD,
        BeneficiaryCategory.MARTYR_CHILD,
    }
)


# PIPL Art. 31 (PI-4): a child under 14's data needs the consent of a parent or other guardian.
CHILD_AGE = 14
GUARDIAN = "guardian"


class GuardianConsentMissing(ValueError):
    """A child under 14 without the guardian's consent: nothing is stored."""


def age_on(id_number: str, today: date) -> int | None:
    """Full years of age on `today` from the birth date in an ID number (characters 7–14);
    None when the number holds no date (an old roster entry, a 15-digit number)."""
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def is_child(id_number: str | None, today: date) -> bool:
    age = age_on(id_number, today) if id_number and len(id_number) == 18 else None
    return age is not None and age < CHILD_AGE


@dataclass(frozen=True)
class BeneficiaryDetails:
    relation: str  # self, spouse, child, parent, sibling, relative, grid
    name: str
    categories: list[str]
    mobile: str
    town: str
    village: str
    address: str
    id_number: str | None
    guardian_consent: bool = False  # the registrant is the child's guardian and agreed (under-14s)


def registered_by(session: Session, openid: str) -> list[Beneficiary]:
    return list(
        session.scalars(
            select(Beneficiary)
            .where(Beneficiary.registered_by == openid, Beneficiary.status != RegistrationStatus.ERASED)
            .options(selectinload(Beneficiary.statuses), selectinload(Beneficiary.household))
            .order_by(Beneficiary.id)
        )
    )


def find_same_person(session: Session, openid: str, name: str) -> Beneficiary | None:
    """The same registrant registering the same name again is a duplicate."""
    return next((b for b in registered_by(session, openid) if b.name == name), None)


def _check_guardian(details: BeneficiaryDetails, now: datetime) -> bool:
    """True when the person is a child under 14 (and the guardian agreed); raises without consent."""
    if not is_child(details.id_number, local_date(now)):
        return False
    if not details.guardian_consent:
        raise GuardianConsentMissing("guardian consent required for a child under 14")
    return True


def register(session: Session, openid: str, details: BeneficiaryDetails, now: datetime) -> Beneficiary:
    child = _check_guardian(details, now)
    household = households.find(session, details.town, details.village, id_number=details.id_number,
                                mobile=details.mobile, address=details.address) or Household(
        town=details.town, village=details.village, address=details.address, created_at=now)
    person = Beneficiary(
        number=numbers.yearly_number(session, "YF", SUBJECT, now, width=4),
        household=household,
        name=details.name,
        mobile=details.mobile,
        id_number=details.id_number,
        registered_by=openid,
        relation=details.relation,
        status=RegistrationStatus.PENDING,
        created_at=now,
        updated_at=now,
        statuses=[BeneficiaryStatus(category=BeneficiaryCategory(c)) for c in details.categories],
    )
    session.add(person)
    session.flush()
    if household.head_id is None:  # the first person of a household heads it until staff say otherwise
        household.head_id, person.relation_to_head = person.id, "户主"
    consents.grant(session, openid, SUBJECT, now)
    if child:
        consents.grant(session, openid, GUARDIAN, now)
    status_events.record(session, SUBJECT, person.id, RegistrationStatus.PENDING, at=now)
    return person


def update_details(session: Session, person: Beneficiary, details: BeneficiaryDetails, now: datetime) -> None:
    """Corrections from the person; a verified record goes back to staff for a check."""
    if _check_guardian(details, now) and not consents.has_current(session, person.registered_by or "", GUARDIAN):
        consents.grant(session, person.registered_by, GUARDIAN, now)
    person.name = details.name
    person.mobile = details.mobile
    person.id_number = details.id_number
    person.relation = details.relation
    person.household.town = details.town
    person.household.village = details.village
    person.household.address = details.address
    wanted = [BeneficiaryCategory(c) for c in details.categories]
    person.statuses = [s for s in person.statuses if s.category in wanted] + [
        BeneficiaryStatus(category=c) for c in wanted if c not in {s.category for s in person.statuses}
    ]
    person.updated_at = now
    if person.status != RegistrationStatus.PENDING:
        change_status(session, person, RegistrationStatus.PENDING, now, actor="user", note="本人修改信息，待重新核实")


def change_status(
    session: Session, person: Beneficiary, to: RegistrationStatus, now: datetime, actor: str, note: str | None = None
) -> None:
    """A move on the person's own word (a correction, erasure) or by a script; nobody is told."""
    workflow.transition(session, FLOW, person, to, now, actor=actor, note=note, check=False)


def verify_notice(person: Beneficiary) -> str:
    return (f"您好，{person.name}的优抚对象登记（{person.number}）已核实。\n"
            "以后走访慰问、政策通知会通过本公众号告诉您。")


def reject_notice(person: Beneficiary, reason: str) -> str:
    return (f"您好，很抱歉，{person.name}的优抚对象登记（{person.number}）未能核实。\n原因：{reason}\n"
            "如有疑问，请回复“人工”。")


def verify(session: Session, person: Beneficiary, now: datetime, *, actor: str) -> None:
    workflow.transition(session, FLOW, person, R.VERIFIED, now, actor=actor, action="verify",
                        notice=Notice(person.registered_by, NOTICE_KIND, verify_notice(person)))


def reject(session: Session, person: Beneficiary, reason: str, now: datetime, *, actor: str) -> None:
    reason = workflow.required_text(reason, "请填写未能核实的原因，登记人会看到这段话。", 300, what="原因")
    workflow.transition(session, FLOW, person, R.REJECTED, now, actor=actor, action="reject", note=reason,
                        notice=Notice(person.registered_by, NOTICE_KIND, reject_notice(person, reason)))
