"""提交求助: category, description (text, voice or picture), urgency, for whom, contact
(prefilled) → a receipt with the request number and the promised response time."""

from __future__ import annotations

from handlers.forms import Answers, Field, Flow, Form, register, start
from handlers.display import mask_mobile
from handlers.fields import Invalid, Option, free_text, mobile, normalize, person_name, word_chars
from handlers.flows.common import consent_field, known_contact
from handlers.message import Context
from models.help_request import Urgency
from services import consents, help_requests, military_terms
from services.help_requests import RequestDetails

CATEGORIES = tuple(Option(code, label, aliases) for code, label, aliases in (
    ("living", "生活困难", ("生活", "没人照顾", "照顾")),
    # Repairs at home are the commonest 住房 help (房屋维修): said by what broke, not by the category.
    ("housing", "住房", ("住房困难", "房子", "维修", "漏雨", "漏水", "水管", "电线", "屋顶")),
    ("medical", "医疗", ("看病", "治病", "住院")),
    ("employment", "就业创业", ("就业", "创业")),
    ("legal", "法律援助/司法救助", ("法律援助", "司法救助", "法律")),
    ("card", "优待证", ()),
    ("plaque", "光荣牌", ()),
    ("policy", "政策咨询", ("咨询",)),
    ("other", "其他", ()),
))
URGENCY = (Option("normal", "一般", ("不急", "不着急", "不太急", "不是很急", "还好")),
           Option("urgent", "紧急", ("很急", "急", "挺急", "着急", "比较急", "特别急", "非常急")))
FOR_WHOM = (Option("self", "本人", ("自己", "我自己")), Option("family", "家人", ("家里人", "老伴", "家里老人")),
            Option("other", "代他人求助", ("他人", "别人")))
CONSENT = "为办理您的求助，我们将保存求助内容和联系方式，仅用于办理和回访，办结后保存3年。"


MILITARY_WARNING = ("为保守军事秘密，请不要填写部队番号、驻地等信息（例如“XX部队”“X营”）。"
                    "请去掉这部分内容后重新输入：")


def _description(text: str) -> str:
    value = free_text(text, min_chars=4, example="老人住房漏雨，需要维修")
    if military_terms.find(value):
        raise Invalid(MILITARY_WARNING)
    return value


FIELDS = (
    Field("category", "类别", "请选择求助类别：", options=CATEGORIES, columns=2,
          hint="不知道选哪一类，就回复“9”（其他），下一步再说明情况。"),
    Field(
        "description", "情况", "请简要说明您遇到的困难，也可以直接发语音或图片：", parse=_description,
        accepts_voice=True, accepts_image=True, prose=True,
        hint="说清楚遇到了什么困难、需要什么帮助就可以，例如“老人住房漏雨，需要维修”。",
    ),
    Field("urgency", "紧急程度", "情况紧急吗？", options=URGENCY, columns=2,
          hint="有安全风险或需要当天处理的，请选“紧急”。"),
    Field("for_whom", "求助对象", "为谁求助？", options=FOR_WHOM),
    Field("contact_name", "联系人", "联系人姓名：", parse=person_name),
    Field("contact_phone", "联系电话", "联系电话（手机）：", parse=mobile, show=mask_mobile),
)


def _details(a: Answers, town: str | None = None) -> RequestDetails:
    return RequestDetails(
        category=a["category"],
        description=a["description"],
        urgency=Urgency(a["urgency"]),
        for_whom=a["for_whom"],
        contact_name=a["contact_name"],
        contact_phone=a["contact_phone"],
        attachments=list(a.get("description:media") or ()),
        town=town,
    )


def receipt(number: str, urgency: str) -> str:
    return (
        f"已收到您的求助，编号：\n{number}\n"
        f"工作人员将在{help_requests.promised_time(Urgency(urgency))}联系您。\n"
        f"回复“进度{number}”可随时查询。"
    )


def submit(ctx: Context, a: Answers) -> str:
    details = _details(a, known_contact(ctx).get("town"))
    duplicate = help_requests.find_duplicate(ctx.session, ctx.message.openid, details, ctx.now)
    if duplicate is not None:
        return f"您刚才已提交过相同的求助，无需重复提交。\n{receipt(duplicate.number, duplicate.urgency)}"
    request = help_requests.submit(ctx.session, ctx.message.openid, details, ctx.now)
    return receipt(request.number, request.urgency)


FORM = register(Form("help_request", "提交求助", FIELDS, submit, consent=consent_field(CONSENT),
                     intro="我们来登记您的求助，约需1分钟。"))


# Shorter openings ("有困难想请你们帮忙") say that there is a problem, not what it is.
TOLD_MIN_CHARS = 12


def _told_already(ctx: Context) -> str | None:
    """The words that started the request, when they already say what is wrong ("家里水管坏了，能不能
    派人来看看"): offered at the description step (1 沿用), not asked for a second time."""
    text = ctx.message.text if ctx.message.msg_type == "text" else None
    if not text or FLOW.matches(normalize(text)):
        return None
    try:
        told = _description(text)
    except Invalid:
        return None
    return told if word_chars(told) >= TOLD_MIN_CHARS else None


def begin(ctx: Context) -> str:
    known = known_contact(ctx)
    preset = {"consent": True} if consents.has_current(ctx.session, ctx.message.openid, "help_request") else {}
    prefill = {"contact_name": known.get("name"), "contact_phone": known.get("mobile"),
               "description": _told_already(ctx)}
    return start(ctx, FORM, prefill=prefill, answers=preset)


FLOW = Flow("request", "提交求助", ("求助", "我要求助"), begin, key="REQUEST_SUBMIT", forms=(FORM,))
