"""登记走访 in the chat: a visit team member replies "已走访 编号" from their list; only their
own team's households, once each."""

from __future__ import annotations

from sqlalchemy import func, select, text

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
        (f"已走访 {first}", f"已登记：编号{first}（二村）已走访。谢谢您！本组还有1户待走访。"),
        (f"已走访 {first}", f"编号{first}已经登记过了，谢谢您！"),
        ("已走访 999999", "编号999999不在您所在走访组的名单里，请核对编号。"),
        ("已走访", "请回复“已走访”和编号，例如“已走访12”。编号在走访名单里。"),
    ])
    assert new_chat("oVisitWest0001").say(f"已走访 {second}") == f"编号{second}不在您所在走访组的名单里，请核对编号。"
    assert new_chat("oVisitEast0001").say(f"已走访编号{second}") == (
        f"已登记：编号{second}（一村）已走访。谢谢您！本组名单已全部走访完成，辛苦了！")
    with db.session() as s:
        assert {v.id: v.status for v in s.scalars(select(PlannedVisit))} == {first: VisitStatus.DONE,
                                                                             second: VisitStatus.DONE}
        actors = {e.actor for e in s.scalars(select(StatusEvent).where(StatusEvent.subject == "planned_visit"))}
        assert len(actors) == 1 and actors.pop().startswith("volunteer:ZY2027-")
        assert all(v.recorded_by.startswith("volunteer:ZY2027-") for v in s.scalars(select(PlannedVisit)))


# --- 走访登记: the short form over a member's own list ------------------------------------------

from models.help_request import HelpRequest  # noqa: E402
from services import visit_records  # noqa: E402
from services.visit_records import VisitDetails  # noqa: E402
from tests.transcript import has  # noqa: E402

IN_WINDOW = at("2027-01-20T10:00")  # a Wednesday inside the 2027 两节 window


def _two_households(db, openid="oVisitLog00001"):
    with seeded_sessions(db.url) as sessions:
        with sessions.begin() as s:
            add_volunteer(s, "东镇", openid)
            martyr = add_household(s, "东镇", "MARTYR_F", village="二村")
            demob = add_household(s, "东镇", "DEMOB_OLD", village="三村")
        run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
        with sessions() as s:
            ids = {v.household_id: v.id for v in s.scalars(select(PlannedVisit))}
    return ids[martyr], ids[demob]


def test_a_volunteer_records_a_visit_with_money_a_note_and_a_follow_up(new_chat, db, clock):
    martyr, demob = _two_households(db)
    clock.now = IN_WINDOW
    new_chat("oVisitLog00001").run([
        ("走访登记", "您还有2户待走访。已走访的是哪一户？请回复序号：\n1 二村 虚构路1号（重点）\n2 三村 虚构路1号\n"
                 "（回复“取消”可随时退出，“返回”上一步）"),
        ("1", "送了多少慰问金？请回复金额（元），例如“500”。\n（没有可回复“跳过”）"),
        ("五百", has("金额请填数字（单位：元）", "例如500")),
        ("５００", "请简单说说走访情况，例如“身体还好”。有困难需要工作人员跟进的，请写上“需要跟进”。\n（没有可回复“跳过”）"),
        ("老人身体还好，屋顶漏雨需要跟进", "请核对：\n走访户：二村 虚构路1号（重点）\n走访日期：1月20日（周三）\n慰问金：500元\n"
                                "情况说明：老人身体还好，屋顶漏雨需要跟进\n需要跟进：是，将转给工作人员\n1 确认提交  2 修改  0 取消"),
        ("1", has("已登记：二村已走访，慰问金500元。谢谢您！\n您说的困难已转给工作人员跟进，编号：\nSY2027-",
                  "您还有1户待走访，回复“走访登记”继续。")),
        ("1", has("暂时没看懂")),  # the confirmation sent twice: the form is over, nothing is recorded again
    ])
    with db.session() as s:
        visit = s.get(PlannedVisit, martyr)
        assert (visit.status, visit.money_cents, visit.note) == (VisitStatus.DONE, 50000, "老人身体还好，屋顶漏雨需要跟进")
        assert visit.visitors.startswith("志愿者") and visit.recorded_by.startswith("volunteer:ZY2027-")
        request = s.get(HelpRequest, visit.follow_up_request_id)
        assert (request.category, request.town, request.source) == ("housing", "东镇", "visit")
        assert s.scalar(select(func.count(HelpRequest.id))) == 1


def test_no_money_asks_why_and_an_explicit_follow_up_choice(new_chat, db, clock):
    martyr, demob = _two_households(db)
    clock.now = IN_WINDOW
    chat = new_chat("oVisitLog00001")
    chat.run([
        ("登记走访", has("您还有2户待走访")),
        ("2", has("送了多少慰问金")),
        ("0", "没有慰问金，请简单写一下送了什么，或为什么没有，例如“送了米和油”："),
        ("跳过", has("没有慰问金时，请简单写几个字说明")),
        ("送了米和油，老人腿脚不便", "这户有需要工作人员跟进的困难吗？\n1 不需要  2 需要跟进"),
        ("2", has("慰问金：无", "情况说明：送了米和油，老人腿脚不便", "需要跟进：是")),
        ("确认", has("已登记：三村已走访，慰问金无。谢谢您！", "编号：\nSY2027-", "您还有1户待走访")),
    ])
    with db.session() as s:
        visit = s.get(PlannedVisit, demob)
        assert visit.money_cents is None and visit.note == "送了米和油，老人腿脚不便"
        assert visit.follow_up_request_id is not None
    chat.run([
        ("走访登记", has("您还有1户待走访", "1 二村 虚构路1号（重点）")),
        ("1", has("送了多少慰问金")),
        ("300", has("请简单说说走访情况")),
        ("跳过", has("慰问金：300元")),
        ("1", has("已登记：二村已走访，慰问金300元。谢谢您！", "您名单上的各户都已登记走访，辛苦了！")),
        ("走访登记", "您名单上的各户都已登记走访，辛苦了！"),
    ])
    with db.session() as s:
        assert s.get(PlannedVisit, martyr).follow_up_request_id is None  # nothing to follow up


def test_a_household_recorded_meanwhile_is_not_recorded_twice(new_chat, db, clock):
    martyr, _ = _two_households(db)
    clock.now = IN_WINDOW
    chat = new_chat("oVisitLog00001")
    chat.run([("走访登记", has("1 二村")), ("1", has("慰问金")), ("200", has("走访情况")), ("跳过", has("请核对"))])
    with db.sessions.begin() as s:  # a colleague recorded it from the console in the meantime
        visit_records.record(s, martyr, VisitDetails(visited_on=IN_WINDOW.date(), visitors="王书记", money_cents=50000),
                             actor="staff:officer", now=IN_WINDOW)
    assert chat.say("1") == "这一户（二村）已经登记过了，谢谢您！"
    with db.session() as s:
        assert s.get(PlannedVisit, martyr).money_cents == 50000


def test_someone_outside_the_teams_gets_a_short_answer(new_chat, db, clock):
    _two_households(db)
    clock.now = IN_WINDOW
    assert new_chat("oNotInATeam0001").say("走访登记") == (
        "“走访登记”是走访组成员登记走访用的，您还不在走访组里。\n如果您参加了走访慰问，请联系双拥办工作人员把您加入走访组。")


def test_a_member_without_a_current_plan_is_told_so(new_chat, db, clock):
    _two_households(db)
    clock.now = at("2027-05-10T10:00")  # months after the window
    assert new_chat("oVisitLog00001").say("走访登记") == "目前没有进行中的走访慰问。有新的走访任务时，会把名单发给您。"


def test_the_addresses_shown_as_choices_are_not_kept_in_plaintext(new_chat, db, clock):
    """The numbered list of a member's households sits in the conversation row while they
    choose: with the answers, encrypted, never in the engine's plain bookkeeping."""
    _two_households(db)
    clock.now = IN_WINDOW
    chat = new_chat("oVisitLog00001")
    assert "1 二村 虚构路1号（重点）" in chat.say("走访登记")
    with db.session() as s:
        answers, scratch = s.execute(text(
            "SELECT CAST(answers AS TEXT), CAST(scratch AS TEXT) FROM conversation_state WHERE openid = :o"),
            {"o": "oVisitLog00001"}).one()
    assert "虚构路" not in scratch and "虚构路" not in answers
    assert "送了多少慰问金" in chat.say("1")  # the numbers still mean the households shown
