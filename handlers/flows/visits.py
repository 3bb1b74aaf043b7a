"""登记走访 by visit team members: the quick "已走访 编号" from their list, and the short form
"走访登记" (pick one of their own households, the 慰问金, a note; "需要跟进" opens a request)."""

from __future__ import annotations

import re

from handlers.forms import SKIP_WORDS, Answers, Field, Flow, Form, Stop, register, start
from handlers.display import day, shorten
from handlers.fields import LONG_TEXT, Invalid, Option, normalize
from handlers.message import Context
from models.beneficiary import Household
from models.visits import PlannedVisit
from services import visit_plans, visit_records
from services.local_time import local_date
from services.visit_lists import KEY_PRIORITY

PATTERN = re.compile(r"已走访\s*(?:编号)?\s*(\d{1,9})")


def record(ctx: Context) -> str:
    match = PATTERN.search(normalize(ctx.message.text))
    if match is None:
        return "请回复“已走访”和编号，例如“已走访12”。编号在走访名单里。"
    visit_id = int(match.group(1))
    try:
        visit, left = visit_plans.record_by_member(ctx.session, visit_id, ctx.message.openid, ctx.now)
    except visit_plans.VisitError as error:
        return str(error)
    village = ctx.session.get(Household, visit.household_id).village
    rest = f"本组还有{left}户待走访。" if left else "本组名单已全部走访完成，辛苦了！"
    return f"已登记：编号{visit_id}（{village}）已走访。谢谢您！{rest}"


# --- 走访登记: a short form over the member's own list ----------------------------------------

LIST_LIMIT = 15  # one message; the rest come once these are recorded
NOTE_LIMIT = LONG_TEXT  # a long story is kept; the summary shows its beginning
NOT_MEMBER = ("“走访登记”是走访组成员登记走访用的，您还不在走访组里。\n"
              "如果您参加了走访慰问，请联系双拥办工作人员把您加入走访组。")
NO_PLAN = "目前没有进行中的走访慰问。有新的走访任务时，会把名单发给您。"
ALL_DONE = "您名单上的各户都已登记走访，辛苦了！"
FOLLOW_OPTIONS = (Option("no", "不需要", ("不用", "没有", "否", "无")),
                  Option("yes", "需要跟进", ("需要", "要", "是", "跟进")))


def _member_and_plan(ctx: Context):
    who = visit_records.member(ctx.session, ctx.message.openid)
    if who is None:
        raise Stop(NOT_MEMBER)
    plan = visit_records.current_plan(ctx.session, local_date(ctx.now))
    if plan is None:
        raise Stop(NO_PLAN)
    return who, plan


def _open(ctx: Context) -> list:
    who, plan = _member_and_plan(ctx)
    return visit_records.open_for(ctx.session, who, plan)


def _line(visit: PlannedVisit, household: Household) -> str:
    """A short line to find the household by: never a name, 身份证号 or category (PI-11)."""
    key = "（重点）" if visit.priority <= KEY_PRIORITY else ""
    return f"{household.village}{' ' + household.address if household.address else ''}{key}"


def _visit_options(ctx: Context, _a: Answers) -> list[Option]:
    rows = _open(ctx)
    if not rows:
        raise Stop(ALL_DONE)
    return [Option(str(visit.id), _line(visit, household)) for visit, household in rows[:LIST_LIMIT]]


def _list_question(ctx: Context, _a: Answers) -> str:
    rows = _open(ctx)
    more = f"（先列出前{LIST_LIMIT}户）" if len(rows) > LIST_LIMIT else ""
    return f"您还有{len(rows)}户待走访{more}。已走访的是哪一户？请回复序号："


def _money(text: str) -> int | None:
    try:
        return visit_records.parse_yuan(text)
    except ValueError as error:
        raise Invalid(f"{error}。没有慰问金请回复“0”：") from None


def _note(text: str) -> str:
    value = " ".join(text.split())  # as typed: NFKC would turn the Chinese comma into ","
    if len(value) > NOTE_LIMIT:
        raise Invalid(f"内容太长了，请控制在{NOTE_LIMIT}字以内，写主要情况就可以：")
    if not value or normalize(value) in SKIP_WORDS:  # only asked this way when there was no 慰问金
        raise Invalid("没有慰问金时，请简单写几个字说明，例如“送了米和油”或“本次只看望”：")
    return value


def _note_of(a: Answers) -> str | None:
    return a.get("note") or a.get("note_why")


def _asks_follow_up(a: Answers) -> bool:
    note = _note_of(a)
    return bool(note) and not visit_records.wants_follow_up(note)


def _follows_up(a: Answers) -> bool:
    return a.get("follow") == "yes" or visit_records.wants_follow_up(_note_of(a))


def _chosen(ctx: Context, a: Answers) -> tuple[PlannedVisit, Household]:
    visit = ctx.session.get(PlannedVisit, int(a["visit"]))
    if visit is None:
        raise Stop("这一户已不在走访名单里了。回复“走访登记”重新选择。")
    return visit, ctx.session.get(Household, visit.household_id)


def _describe(ctx: Context, a: Answers) -> str:
    visit, household = _chosen(ctx, a)
    lines = ["请核对：", f"走访户：{_line(visit, household)}", f"走访日期：{day(ctx.now)}",
             f"慰问金：{visit_records.yuan(a.get('money'))}"]
    if _note_of(a):
        lines.append(f"情况说明：{shorten(_note_of(a))}")
    if _follows_up(a):
        lines.append("需要跟进：是，将转给工作人员")
    return "\n".join(lines)


def _save(ctx: Context, a: Answers) -> str:
    who = visit_records.member(ctx.session, ctx.message.openid)
    if who is None:
        return NOT_MEMBER
    details = visit_records.VisitDetails(
        visited_on=local_date(ctx.now), visitors=who.name or "走访组成员", money_cents=a.get("money"),
        note=_note_of(a), follow_up=_follows_up(a))
    try:
        result = visit_records.record_for_member(ctx.session, int(a["visit"]), ctx.message.openid, details, ctx.now)
    except visit_plans.VisitError as error:
        return f"{error}\n回复“走访登记”重新登记。"
    village = ctx.session.get(Household, result.visit.household_id).village
    if result.already:
        return f"这一户（{village}）已经登记过了，谢谢您！"
    lines = [f"已登记：{village}已走访，慰问金{visit_records.yuan(result.visit.money_cents)}。谢谢您！"]
    if result.request is not None:
        lines += ["您说的困难已转给工作人员跟进，编号：", result.request.number]
    left = len(_open(ctx))
    lines.append(f"您还有{left}户待走访，回复“走访登记”继续。" if left else ALL_DONE)
    return "\n".join(lines)


VISIT_LOG = register(Form(
    "visit_log", "走访登记",
    (
        Field("visit", "走访户", _list_question, options=_visit_options,
              hint="名单是分给您走访的户，重点对象请先走访。回复前面的数字选择已走访的一户。"),
        Field("money", "慰问金", "送了多少慰问金？请回复金额（元），例如“500”。",
              parse=_money, optional=True, show=visit_records.yuan, hint="只填数字，单位是元，例如“500”。"),
        Field("note", "情况说明",
              "请简单说说走访情况，例如“身体还好”。有困难需要工作人员跟进的，请写上“需要跟进”。",
              parse=_note, optional=True, prose=True, when=lambda a: bool(a.get("money"))),
        Field("note_why", "情况说明", "没有慰问金，请简单写一下送了什么，或为什么没有，例如“送了米和油”：",
              parse=_note, prose=True, when=lambda a: "money" in a and not a.get("money")),
        Field("follow", "需要跟进", "这户有需要工作人员跟进的困难吗？", options=FOLLOW_OPTIONS, columns=2,
              when=_asks_follow_up),
    ),
    _save,
    describe=_describe,
))


def members_with_visits_left(ctx: Context) -> str | None:
    """走访登记 is for members of a visit team with households left; anyone else gets a short answer."""
    try:
        return None if _open(ctx) else ALL_DONE
    except Stop as stop:
        return stop.message


def begin(ctx: Context) -> str:
    return start(ctx, VISIT_LOG)


FLOW = Flow("visit_log", "走访登记", ("登记走访", "走访名单", "我的走访名单"), begin, forms=(VISIT_LOG,),
            guard=members_with_visits_left)
