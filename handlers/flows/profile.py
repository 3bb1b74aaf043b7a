"""我的信息: the user's own records (phone and ID masked), 修改 with prefill,
导出我的信息 (a copy of everything held), 撤回同意 and 删除我的信息 confirmed twice."""

from __future__ import annotations

from handlers.forms import Answers, Field, Flow, Form, register, start
from handlers.display import day, mask_id, mask_mobile
from handlers.fields import Invalid, Option, normalize
from handlers.flows import beneficiary, volunteer
from handlers.message import Context
from models.volunteer import VolunteerStatus
from services import beneficiaries, help_requests, lawful_basis, personal_data, volunteers
from services.help_requests import STATUS_LABELS

NOTHING = "您还没有登记信息。回复“志愿者报名”或“优抚登记”开始。"


def _labels(options, values) -> str:
    names = {o.value: o.label for o in options}
    return "、".join(names.get(v, v) for v in values)


def _volunteer_lines(v) -> list[str]:
    hours = v.service_minutes / 60
    return [
        f"【志愿者】编号{v.number}（{volunteer.STATUS_TEXT[v.status]}）",
        f"姓名：{v.name}；手机：{mask_mobile(v.mobile)}",
        f"地区：{v.town} {v.village}",
        f"服务：{_labels(volunteer.SKILLS, v.skills)}；时间：{_labels(volunteer.AVAILABILITY, [v.availability])}",
        f"服务时长：{hours:g}小时",
    ]


def _beneficiary_lines(b) -> list[str]:
    relation = _labels(beneficiary.RELATIONS, [b.relation])
    lines = [
        f"【优抚登记】{b.name}（{relation}）编号{b.number}（{beneficiary.STATUS_TEXT[b.status]}）",
        f"类别：{_labels(beneficiary.CATEGORIES, [s.category.value for s in b.statuses])}",
        f"手机：{mask_mobile(b.mobile)}",
    ]
    if b.id_number:
        lines.append(f"身份证：{mask_id(b.id_number)}")
    return lines


def show(ctx: Context) -> str:
    openid = ctx.message.openid
    v = volunteers.find(ctx.session, openid)
    people = beneficiaries.registered_by(ctx.session, openid)
    requests = help_requests.latest_for(ctx.session, openid, limit=1)
    if v is None and not people and not requests:
        return NOTHING
    lines = ["您的信息："]
    if v is not None:
        lines += _volunteer_lines(v)
    for person in people:
        lines += _beneficiary_lines(person)
    if requests:
        lines.append(f"【求助】最近一件：{requests[0].number} {STATUS_LABELS[requests[0].status]}")
    lines.append("回复“修改”更新信息，“导出我的信息”查看全部内容。")
    lines.append("不想再使用时，可回复“撤回同意”或“删除我的信息”。")
    return "\n".join(lines)


# --- 导出我的信息 (PIPL Art. 45) --------------------------------------------------

PURPOSE_LABELS = {
    "volunteer": "志愿者报名", "beneficiary": "优抚登记", "guardian": "监护人同意（未满14周岁的孩子）", "help_request": "求助",
}
EXPORT_REQUESTS = 5  # a chat reply stays short; staff export the rest from the console
EXPORT_TEXT = 20


def export_lines(h: personal_data.Holdings, *, full_id: bool = False) -> list[str]:
    """Everything held about one person: the chat's 导出我的信息 and the console's export."""
    lines: list[str] = []
    if h.volunteer is not None:
        v = h.volunteer
        lines += [f"【志愿者】{v.number}（{volunteer.STATUS_TEXT[v.status]}）{day(v.created_at)}报名",
                  f"姓名：{v.name}；手机：{v.mobile or '（无）'}", f"地区：{v.town} {v.village}",
                  f"服务：{_labels(volunteer.SKILLS, v.skills)}；服务时长{v.service_minutes / 60:g}小时"]
        if v.id_number:  # entered by staff for the national volunteer record
            lines.append(f"身份证：{v.id_number if full_id else mask_id(v.id_number)}")
    for b in h.beneficiaries:
        lines += [f"【优抚登记】{b.number}（{beneficiary.STATUS_TEXT[b.status]}）{day(b.created_at)}登记",
                  f"姓名：{b.name}（{_labels(beneficiary.RELATIONS, [b.relation])}）；手机：{b.mobile or '（无）'}",
                  f"类别：{_labels(beneficiary.CATEGORIES, [s.category.value for s in b.statuses])}",
                  f"身份证：{(b.id_number if full_id else mask_id(b.id_number)) if b.id_number else '（无）'}",
                  f"地址：{b.household.town} {b.household.village} {b.household.address or ''}".rstrip()]
    if h.requests:
        lines.append(f"【求助】共{len(h.requests)}件")
        shown = h.requests if full_id else h.requests[-EXPORT_REQUESTS:]
        for r in shown:
            text = r.description or ""
            text = text if full_id or len(text) <= EXPORT_TEXT else text[:EXPORT_TEXT] + "…"
            lines.append(f"{r.number} {help_requests.category_label(r.category)} {STATUS_LABELS[r.status]}"
                         f"（{day(r.created_at)}）{text}")
    for c in h.consents:
        state = f"，{day(c.withdrawn_at)}已撤回" if c.withdrawn_at else ""
        lines.append(f"【同意】{PURPOSE_LABELS.get(c.purpose, c.purpose)}告知书{c.version}版，{day(c.granted_at)}同意{state}")
    if h.signups or h.handover_messages:
        lines.append(f"【其他】活动报名{h.signups}次；人工对话{h.handover_messages}条")
    lines.append("【处理依据】")
    lines += lawful_basis.lines(personal_data.categories_held(h), "chat")
    return lines


def export(ctx: Context) -> str:
    held = personal_data.holdings(ctx.session, ctx.message.openid)
    if held.empty:
        return "我们没有保存您的个人信息。"
    return "\n".join(["您的信息副本：", *export_lines(held),
                      "身份证号只显示首尾四位；如需完整副本，请回复“人工”联系工作人员。"])


# --- 撤回同意 (PIPL Art. 15) -------------------------------------------------------

WITHDRAW_EFFECT = {
    "volunteer": "退出志愿者队伍，您的姓名、手机号将被删除",
    "beneficiary": "优抚登记失效，登记的姓名、手机号、身份证号和地址将被删除",
    "guardian": "未满14周岁孩子的优抚登记失效，孩子的信息将被删除",
    "help_request": "未办结的求助将停止办理，求助内容和联系方式将被删除",
}


def _consent_options(ctx: Context) -> list[Option]:
    return [Option(c.purpose, PURPOSE_LABELS.get(c.purpose, c.purpose))
            for c in personal_data.active_consents(ctx.session, ctx.message.openid)]


def _withdraw(ctx: Context, a: Answers) -> str:
    if a.get("sure") != "yes":
        return "好的，您的同意没有撤回。"
    personal_data.withdraw(ctx.session, ctx.message.openid, a["purpose"], ctx.now)
    return (f"已撤回您对“{PURPOSE_LABELS[a['purpose']]}”的同意，"
            f"{WITHDRAW_EFFECT[a['purpose']]}。\n撤回前已经办理的事项不受影响。")


WITHDRAW = register(Form(
    "withdraw_consent", "撤回同意",
    (
        Field("purpose", "事项", "您要撤回哪一项同意？", options=lambda ctx, a: _consent_options(ctx)),
        Field("sure", "确认",
              lambda ctx, a: f"撤回后，{WITHDRAW_EFFECT[a['purpose']]}。确定撤回吗？",
              options=(Option("yes", "确定撤回"), Option("no", "不撤回了"))),
    ),
    _withdraw,
    confirm=False,
))


def _nothing_to_withdraw(ctx: Context) -> str | None:
    return None if _consent_options(ctx) else "您目前没有需要撤回的同意。"


def withdraw(ctx: Context) -> str:
    return start(ctx, WITHDRAW)


WITHDRAW_FLOW = Flow("withdraw_consent", "撤回同意", ("撤销同意", "取消同意", "撤回授权"), withdraw,
                     forms=(WITHDRAW,), guard=_nothing_to_withdraw)


# --- 修改 ----------------------------------------------------------------------


def _editable_records(ctx: Context) -> list[Option]:
    openid = ctx.message.openid
    v = volunteers.find(ctx.session, openid)
    options = [Option("volunteer", "志愿者信息")] if v is not None and v.status != VolunteerStatus.WITHDRAWN else []
    options += [Option(f"beneficiary:{b.id}", f"{b.name}的优抚登记") for b in beneficiaries.registered_by(ctx.session, openid)]
    return options


def _open(ctx: Context, choice: str) -> str:
    if choice == "volunteer":
        return volunteer.begin_changes(ctx)
    person_id = int(choice.split(":")[1])
    person = next(b for b in beneficiaries.registered_by(ctx.session, ctx.message.openid) if b.id == person_id)
    return beneficiary.begin_changes(ctx, person)


WHICH = register(Form(
    "profile_which", "修改信息",
    (Field("record", "信息", "您要修改哪一份信息？", options=lambda ctx, a: _editable_records(ctx)),),
    lambda ctx, a: _open(ctx, a["record"]),
    confirm=False,
))


def _nothing_to_change(ctx: Context) -> str | None:
    return None if _editable_records(ctx) else NOTHING


def change(ctx: Context) -> str:
    records = _editable_records(ctx)
    if len(records) == 1:
        return _open(ctx, records[0].value)
    return start(ctx, WHICH)


# Typed inside a form, 修改 changes that form's answers (handlers.forms.controls), not these.
CHANGE_FLOW = Flow("change_info", "修改信息", ("修改", "修改我的信息"), change,
                   forms=(WHICH, volunteer.EDIT_FORM, beneficiary.EDIT_FORM), guard=_nothing_to_change)


# --- 删除我的信息 --------------------------------------------------------------

ERASE_WARNING = (
    "删除后，您的姓名、手机号、身份证号、地址和求助内容都会被清除，无法恢复；"
    "志愿者报名和优抚登记也会失效。\n确定要删除吗？"
)
CONFIRM_WORDS = "确认删除"


def _typed_confirmation(text: str) -> str:
    if normalize(text) != CONFIRM_WORDS:
        raise Invalid(f"如确定删除，请回复“{CONFIRM_WORDS}”四个字；不删除请回复“取消”。")
    return CONFIRM_WORDS


def _erase(ctx: Context, a: Answers) -> str:
    if a["first"] != "yes":
        return "好的，您的信息没有删除。"
    personal_data.erase(ctx.session, ctx.message.openid, ctx.now)
    personal_data.forget_cached_replies(ctx.dedupe, ctx.message.openid)
    return (
        "您的个人信息已删除。\n"
        "为统计服务情况，我们保留了不含个人信息的匿名记录（求助类别和办理结果、活动人数、优抚类别），"
        "这些记录无法再识别到您本人。\n感谢您对双拥工作的支持！"
    )


ERASE = register(Form(
    "erase", "删除我的信息",
    (
        Field("first", "确认", ERASE_WARNING, options=(Option("yes", "确定删除"), Option("no", "不删除了"))),
        Field(
            "second", "再次确认", f"请再次确认：回复“{CONFIRM_WORDS}”四个字。", parse=_typed_confirmation,
            when=lambda a: a.get("first") == "yes",
        ),
    ),
    _erase,
    confirm=False,
))


def _nothing_to_erase(ctx: Context) -> str | None:
    if not _editable_records(ctx) and not help_requests.latest_for(ctx.session, ctx.message.openid, limit=1):
        return "我们没有保存您的个人信息，无需删除。"
    return None


def erase(ctx: Context) -> str:
    return start(ctx, ERASE)


ERASE_FLOW = Flow("erase", "删除我的信息", ("删除信息", "注销"), erase, forms=(ERASE,), guard=_nothing_to_erase)
