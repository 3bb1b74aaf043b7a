"""PI-11 (issue 12): a volunteer is told only what the task needs — never the requester's phone,
ID number, name or address, nor another volunteer's phone."""

from __future__ import annotations

from sqlalchemy import select

from models.database import make_engine, make_session_factory
from models.outbox import OutboxMessage
from models.volunteer import VolunteerStatus
from services import beneficiaries, help_requests, volunteers
from services.beneficiaries import BeneficiaryDetails
from services.help_requests import RequestDetails
from services.volunteers import VolunteerDetails
from tests.console_kit import NOW


def test_a_volunteers_task_push_carries_no_one_elses_details(sqlite_url):
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        helper = volunteers.register(s, "oHelper000001", VolunteerDetails("孙志强", "13900002222", "城关镇", "河口村", ["repair"], "any"), NOW)
        other = volunteers.register(s, "oHelper000002", VolunteerDetails("周立新", "13900003333", "城关镇", "河口村", ["care"], "any"), NOW)
        for v in (helper, other):
            volunteers.change_status(s, v, VolunteerStatus.APPROVED, NOW, actor="test")
        beneficiaries.register(s, "oAsker0000001", BeneficiaryDetails(
            "self", "吴桂芳", ["MARTYR_F"], "13700004444", "城关镇", "河口村", "河口村5组8号", "32010219400101002X"), NOW)
        request = help_requests.submit(s, "oAsker0000001", RequestDetails(
            "housing", "屋顶漏雨需要修", "normal", "self", "吴桂芳", "13700004444", town="城关镇"), NOW)
        help_requests.assign(s, request, NOW, actor="staff:test", volunteer=helper)
    with sessions() as s:
        pushes = [m.payload for m in s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "oHelper000001"))]
    engine.dispose()
    assert pushes, "the volunteer was told"
    told = repr(pushes)
    for secret in ("吴桂芳", "13700004444", "32010219400101002X", "河口村5组8号", "13900003333", "周立新"):
        assert secret not in told
