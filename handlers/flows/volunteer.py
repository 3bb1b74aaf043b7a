"""志愿者报名: name, mobile, area, skills, availability, consent → pending review."""

from __future__ import annotations

from handlers.forms import Answers, Field, Flow, Form, register, start
from handlers.display import mask_mobile
from handlers.fields import Option, mobile, person_name
from handlers.flows.common import area_fields, consent_field, known_contact
from handlers.message import Context
from models.volunteer import VolunteerStatus
from services import volunteers
from services.volunteers import VolunteerDetails

SKILLS = (  # the aliases: what people say they can do ("会修电器 也会开车")
    Option("medical", "医疗", ("医生", "护士", "看病")),
    Option("legal", "法律", ("律师",)),
    Option("counsel", "心理疏导", ("心理", "聊天", "谈心")),
    Option("repair", "维修", ("修理", "电器", "水电", "修东西")),
    Option("driving", "驾驶", ("开车", "司机")),
    Option("arts", "文艺", ("唱歌", "跳舞", "表演")),
    Option("care", "陪护", ("陪伴", "照顾", "陪老人")),
    Option("other", "其他"),
)
AVAILABILITY = (Option("weekday", "工作日", ("平时",)), Option("weekend", "周末"),
                Option("any", "都可以", ("都行", "随时", "什么时候都行")))
STATUS_TEXT = {
    VolunteerStatus.PENDING: "待审核",
    VolunteerStatus.APPROVED: "已通过",
    VolunteerStatus.REJECTED: "未通过",
    VolunteerStatus.WITHDRAWN: "已退出",
}
CONSENT = (
    "为开展志愿服务，我们将保存您的姓名、手机号和所在村社区，仅用于志愿服务联系和服务时长记录，"
    "保存至您退出志愿者队伍后1年。"
)

FIELDS = (
    Field("name", "姓名", "请问您的姓名？", parse=person_name, hint="请输入您的真实姓名，例如 张伟民。"),
    Field(
        "mobile", "手机", lambda ctx, a: f"{a.get('name', '')}您好！请输入您的手机号：", parse=mobile,
        show=mask_mobile, hint="手机号用于活动通知和联系，只有工作人员能看到。",
    ),
    *area_fields(),
    Field(
        "skills", "服务", "您能提供哪些服务？可多选，如“1 3”：", options=SKILLS, multi=True, columns=3,
        hint="选您愿意提供的服务，可以选几项，数字之间用空格隔开。",
    ),
    Field("availability", "时间", "您方便的服务时间：", options=AVAILABILITY, columns=3),
)


def _details(a: Answers) -> VolunteerDetails:
    return VolunteerDetails(a["name"], a["mobile"], a["town"], a["village"], a["skills"], a["availability"])


def submit(ctx: Context, a: Answers) -> str:
    existing = volunteers.find(ctx.session, ctx.message.openid)
    if existing is not None:  # someone who had left signs up again
        volunteers.rejoin(ctx.session, existing, _details(a), ctx.now)
        number = existing.number
    else:
        number = volunteers.register(ctx.session, ctx.message.openid, _details(a), ctx.now).number
    return f"报名成功！编号{number}\n工作人员将在3个工作日内审核，结果会通过本公众号通知您。"


def submit_changes(ctx: Context, a: Answers) -> str:
    volunteer = volunteers.find(ctx.session, ctx.message.openid)
    if volunteer is None:
        return "没有找到您的志愿者信息。回复“志愿者报名”重新报名。"
    volunteers.update_details(ctx.session, volunteer, _details(a), ctx.now)
    return "已更新您的志愿者信息。回复“我的信息”可查看。"


FORM = register(Form("volunteer", "志愿者报名", FIELDS, submit, consent=consent_field(CONSENT),
                     intro="欢迎加入拥军志愿者队伍！报名约需2分钟。"))
EDIT_FORM = register(FORM.for_editing("volunteer_edit", "修改志愿者信息", submit_changes))


def already_signed_up(ctx: Context) -> str | None:
    volunteer = volunteers.find(ctx.session, ctx.message.openid)
    if volunteer is not None and volunteer.status != VolunteerStatus.WITHDRAWN:
        return (
            f"您已经报名过拥军志愿者，编号{volunteer.number}，当前状态：{STATUS_TEXT[volunteer.status]}。\n"
            "回复“我的信息”可查看或修改。"
        )
    return None


def begin(ctx: Context) -> str:
    return start(ctx, FORM, prefill=known_contact(ctx))


FLOW = Flow("volunteer", "志愿者报名", ("志愿者", "报名志愿者", "我要当志愿者", "加入志愿者"), begin,
            key="VOLUNTEER_SIGNUP", forms=(FORM,), guard=already_signed_up)


def begin_changes(ctx: Context) -> str:
    v = volunteers.find(ctx.session, ctx.message.openid)
    current = {
        "name": v.name, "mobile": v.mobile, "town": v.town, "village": v.village,
        "skills": list(v.skills), "availability": v.availability, "consent": True,
    }
    return start(ctx, EDIT_FORM, answers=current, edit=True)
