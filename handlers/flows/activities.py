"""活动报名: upcoming activities (numbered), details, sign up → registered or waitlisted;
取消报名; 我的活动; check-in by QR scene."""

from __future__ import annotations

from handlers.forms import Answers, Field, Flow, Form, Stop, register, start
from handlers.display import day_and_time
from handlers.fields import Option
from handlers.message import Context
from models.activity import SignupStatus
from models.volunteer import VolunteerStatus
from services import activities, volunteers


def _upcoming_options(ctx: Context, _a: Answers) -> list[Option]:
    found = activities.upcoming(ctx.session, ctx.now)
    if not found:
        raise Stop("近期没有可报名的活动。有新活动会在“最新通知”里发布。")
    return [Option(str(a.id), f"{day_and_time(a.starts_at)} {a.title}") for a in found]


def _chosen(ctx: Context, a: Answers):
    activity = activities.get(ctx.session, int(a["activity"]))
    if activity is None:
        raise Stop("这个活动已经取消了。回复“活动报名”查看其他活动。")
    return activity


def _describe(ctx: Context, a: Answers) -> str:
    activity = _chosen(ctx, a)
    taken = activities.registered_count(ctx.session, activity.id)
    places = f"名额：{activity.capacity}人，已报{taken}人" + ("（已满，可报名候补）" if taken >= activity.capacity else "")
    lines = [f"活动：{activity.title}", f"时间：{day_and_time(activity.starts_at)}"]
    if activity.place:
        lines.append(f"地点：{activity.place}")
    if activity.description:
        lines.append(f"内容：{activity.description}")
    lines.append(places)
    return "\n".join(lines)


def _status_text(signup, position: int) -> str:
    return "已报名" if signup.status == SignupStatus.REGISTERED else f"候补第{position}位"


def _sign_up(ctx: Context, a: Answers) -> str:
    activity = _chosen(ctx, a)
    if activity.starts_at <= ctx.now:
        return "这个活动已经开始了，不能再报名。回复“活动报名”查看其他活动。"
    volunteer = volunteers.find(ctx.session, ctx.message.openid)
    result = activities.sign_up(ctx.session, activity.id, ctx.message.openid, volunteer.id if volunteer else None, ctx.now)
    if result.already:
        return f"您已经报名过“{activity.title}”，当前状态：{_status_text(result.signup, result.position)}。"
    if result.signup.status == SignupStatus.WAITLISTED:
        return (
            f"“{activity.title}”名额已满，您已进入候补第{result.position}位。\n"
            "有人取消时会按顺序递补，并通知您。"
        )
    return (
        f"报名成功！\n活动：{activity.title}\n时间：{day_and_time(activity.starts_at)}\n"
        "请准时参加，到场后扫签到码签到。不能参加请回复“取消报名”。"
    )


SIGNUP = register(Form(
    "activity", "活动报名",
    (Field("activity", "活动", "近期活动如下，回复序号查看详情：", options=_upcoming_options),),
    _sign_up,
    confirm_line="1 确认报名  2 重新选择  0 取消",
    describe=_describe,
))


def _mine_options(ctx: Context, _a: Answers) -> list[Option]:
    found = activities.mine(ctx.session, ctx.message.openid, ctx.now)
    if not found:
        raise Stop("您目前没有报名的活动。")
    return [Option(str(s.activity_id), f"{day_and_time(s.activity.starts_at)} {s.activity.title}") for s in found]


def _cancel(ctx: Context, a: Answers) -> str:
    activity = _chosen(ctx, a)
    if activities.cancel(ctx.session, activity.id, ctx.message.openid, ctx.now) is None:
        return f"您没有报名“{activity.title}”。"
    return f"已取消“{activity.title}”的报名。期待下次参加！"


CANCEL = register(Form(
    "activity_cancel", "取消报名",
    (Field("activity", "活动", "要取消哪个活动的报名？回复序号：", options=_mine_options),),
    _cancel,
    confirm_line="1 确认取消报名  0 不取消了",
    describe=lambda ctx, a: f"要取消“{_chosen(ctx, a).title}”的报名吗？",
))


def volunteers_only(ctx: Context) -> str | None:
    volunteer = volunteers.find(ctx.session, ctx.message.openid)
    if volunteer is None or volunteer.status in (VolunteerStatus.REJECTED, VolunteerStatus.WITHDRAWN):
        return "参加活动需要先报名拥军志愿者，回复“志愿者报名”开始，约需2分钟。"
    return None


def begin(ctx: Context) -> str:
    return start(ctx, SIGNUP)


def begin_cancel(ctx: Context) -> str:
    return start(ctx, CANCEL)


FLOW = Flow("activity", "活动报名", ("活动", "报名活动", "近期活动"), begin, key="ACTIVITY_SIGNUP", forms=(SIGNUP,),
            guard=volunteers_only)
CANCEL_FLOW = Flow("cancel_signup", "取消报名", ("取消活动",), begin_cancel, forms=(CANCEL,))


def my_activities(ctx: Context) -> str:
    found = activities.mine(ctx.session, ctx.message.openid, ctx.now)
    if not found:
        return "您目前没有报名的活动。回复“活动报名”查看近期活动。"
    lines = [
        f"{day_and_time(s.activity.starts_at)} {s.activity.title}：{_status_text(s, activities.waitlist_position(ctx.session, s))}"
        for s in found
    ]
    return "您报名的活动：\n" + "\n".join(lines) + "\n回复“取消报名”可取消。"


def check_in(ctx: Context, code: str) -> str | None:
    """A check-in QR code was scanned; None when the code names no activity."""
    activity = activities.by_code(ctx.session, code)
    if activity is None:
        return None
    scan = activities.check_in(ctx.session, activity, ctx.message.openid, ctx.now)
    return SCAN_TEXTS[scan.outcome](scan)


def _when(instant) -> str:
    return day_and_time(instant)


Outcome = activities.ScanOutcome
SCAN_TEXTS = {
    Outcome.CHECKED_IN: lambda s: (
        f"签到成功！\n活动：{s.activity.title}\n签到时间：{_when(s.signup.checked_in_at)}\n"
        "感谢您的参与！活动结束离开时请再扫一次签退。"),
    Outcome.ALREADY_IN: lambda s: (
        f"您已在{_when(s.signup.checked_in_at)}签到“{s.activity.title}”，不用再签到。\n"
        "活动结束离开时再扫一次即可签退；没有签退的，按活动时长记服务时长。"),
    Outcome.CHECKED_OUT: lambda s: (
        f"签退成功！\n活动：{s.activity.title}\n签到：{_when(s.signup.checked_in_at)}\n"
        f"签退：{_when(s.signup.checked_out_at)}\n服务时长由工作人员确认后计入。辛苦了！"),
    Outcome.ALREADY_OUT: lambda s: f"您已经签退过“{s.activity.title}”了，辛苦了！",
    Outcome.TOO_EARLY: lambda s: (
        f"活动还没开始，“{s.activity.title}”在{_when(s.activity.starts_at)}开始，"
        f"签到从{_when(s.opens_at)}起。请活动当天再来签到。"),
    Outcome.OVER: lambda s: f"“{s.activity.title}”已经结束，不能签到了。如有疑问请联系现场工作人员。",
    Outcome.CANCELLED: lambda s: f"“{s.activity.title}”已经取消了，不用签到。回复“活动报名”查看其他活动。",
    Outcome.NOT_SIGNED_UP: lambda s: f"您还没有报名“{s.activity.title}”，请联系现场工作人员登记。",
}
