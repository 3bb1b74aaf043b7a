"""登记走访 in the chat: a visit team member replies "已走访 编号" from their list; only their
own team's households, once each."""

from __future__ import annotations

from sqlalchemy import select

from models.status_event import StatusEvent
from models.visits import PlannedVisit, VisitStatus
from scheduler.runner import run_due
from tests.conversation_fixtures import chat_app, clock, db, new_chat  # noqa: F401
from tests.scheduler_helpers import at, seeded_sessions
from tests.test_visit_plans import add_household, add_volunteer


def test_a_volunteer_records_visits_of_their_own_list(new_chat, db):
    with seeded_sessions(db.url) as sessions:
        with sessions.begin() as s:
            add_volunteer(s, "东镇", "oVisitEast0001")
            add_volunteer(s, "西镇", "oVisitWest0001")
            martyr = add_household(s, "东镇", "MARTYR_F", village="二村")
            disabled = add_household(s, "东镇", "DISABLED")
        run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
        with sessions() as s:
            ids = {v.household_id: v.id for v in s.scalars(select(PlannedVisit))}
    first, second = ids[martyr], ids[disabled]
    new_chat("oVisitEast0001").run([
        (f"已走访 {first}", f"已登记：编号{first}（二村）已走访。谢谢您！本组还有 1 户待走访。"),
        (f"已走访 {first}", f"编号{first}已经登记过了，谢谢您！"),
        ("已走访 999999", "编号999999不在您所在走访组的名单里，请核对编号。"),
        ("已走访", "请回复“已走访 编号”，例如“已走访 12”。编号在走访名单里。"),
    ])
    assert new_chat("oVisitWest0001").say(f"已走访 {second}") == f"编号{second}不在您所在走访组的名单里，请核对编号。"
    assert new_chat("oVisitEast0001").say(f"已走访编号{second}") == (
        f"已登记：编号{second}（一村）已走访。谢谢您！本组名单已全部走访完成，辛苦了！")
    with db.session() as s:
        assert {v.id: v.status for v in s.scalars(select(PlannedVisit))} == {first: VisitStatus.DONE,
                                                                             second: VisitStatus.DONE}
        actors = {e.actor for e in s.scalars(select(StatusEvent).where(StatusEvent.subject == "planned_visit"))}
        assert len(actors) == 1 and actors.pop().startswith("volunteer:ZY2027-")
