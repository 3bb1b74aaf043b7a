"""优抚对象登记, by the person or a family member: relation, name, categories, mobile, area,
address, ID number (only for categories that need it), consent → pending verification."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from handlers.forms import Answers, Field, Flow, Form, Stop, register, start
from handlers.display import mask_id, mask_mobile, mask_text
from handlers.fields import Option, address, id_number, mobile, person_name
from handlers.flows.common import area_fields, consent_field, known_contact
from handlers.message import Context
from models.beneficiary import RegistrationStatus
from services import beneficiaries, consents
from services.beneficiaries import NEEDS_ID_NUMBER, BeneficiaryDetails
from services.local_time import local_date

# Asked as "for whom"; stored as what the one registering is to the person (Beneficiary.relation:
# "child" = a son or daughter registered their father or mother). Asked the other way round, a son
# registering his mother read "3 子女" as "for my child" and the record said the opposite.
RELATIONS = (
    Option("self", "自己", ("本人", "我自己")),
    Option("spouse", "老伴（配偶）", ("配偶", "老伴", "爱人", "丈夫", "妻子", "老公", "老婆")),
    Option("child", "父亲或母亲", ("父母", "父亲", "母亲", "爸爸", "妈妈", "我爸", "我妈")),
    Option("parent", "儿子或女儿", ("子女", "儿子", "女儿", "孩子")),
    Option("relative", "其他亲属", ("亲属", "兄弟姐妹")),
    Option("grid", "网格员/工作人员代办", ("网格员", "工作人员")),
)
# The one who registered, as staff read it in the console (登记人：子女（代为登记）).
REGISTRANT = {"self": "本人", "spouse": "配偶", "child": "子女", "parent": "父母", "relative": "其他亲属",
              "grid": "网格员/工作人员"}
# domain.md §1.2 (红军失散人员 is kept for old records only and not offered here).
CATEGORIES = (
    Option("SOLDIER", "现役军人"),
    Option("FAMILY", "军人家属", ("军属", "军嫂", "在部队")),  # not 当兵: "我以前当兵的" is a veteran
    Option("MARTYR_F", "烈士遗属", ("烈属",)),
    Option("DUTY_F", "因公牺牲军人遗属"),
    Option("ILL_F", "病故军人遗属"),
    Option("DISABLED", "残疾军人", ("伤残军人", "伤残", "残疾")),  # not 伤残民兵民工, whose label has 伤残
    Option("DEMOB_OLD", "在乡复员军人", ("复员军人",)),
    Option("ILL_RETURN", "带病回乡退伍军人", ("带病回乡",)),
    Option("WAR_TEST", "参战参试退役人员", ("两参", "参战", "参试")),
    Option("RURAL_OLD", "60岁以上农村籍退役士兵"),
    Option("MARTYR_CHILD", "烈士老年子女"),
    Option("MILITIA", "伤残民兵民工"),
    # "退伍军人" is how most people say it: without the alias it matched 带病回乡退伍军人's label.
    Option("VETERAN", "退役军人", ("退伍军人", "退伍", "退役", "老兵", "转业军人", "退役士兵")),
)
STATUS_TEXT = {
    RegistrationStatus.PENDING: "待核实",
    RegistrationStatus.VERIFIED: "已核实",
    RegistrationStatus.REJECTED: "未通过",
    RegistrationStatus.ERASED: "已删除",
}
CONSENT = (
    "为核实优抚对象身份、提供优抚服务，我们将保存登记的姓名、手机号、地址、身份类别"
    "（需要时还有身份证号），仅用于优抚工作，由退役军人服务站按规定保管，身份证号加密保存。"
)


GUARDIAN_QUESTION = (
    "优抚对象未满14周岁。按照《个人信息保护法》，孩子的信息要由父母或其他监护人同意后才能保存。\n"
    "您是孩子的监护人，并同意我们保存孩子的信息吗？"
)
GUARDIAN_OPTIONS = (Option("yes", "我是监护人，同意"), Option("no", "我不是监护人"))
NOT_GUARDIAN = (
    "未满14周岁孩子的信息，需要父母或其他监护人同意才能登记，这次没有保存任何信息。\n"
    "请让孩子的监护人用自己的微信登记，或回复“人工”请工作人员帮助。"
)


TODAY = "_today"  # the day the form began (not a question): ages are counted to it


def _child(a: Answers) -> bool:
    # Ages only grow, so a child at the start is checked again by the service at submission.
    today = date.fromisoformat(a[TODAY]) if a.get(TODAY) else date.today()
    return beneficiaries.is_child(a.get("id_number"), today)


def _guardian_agrees(_ctx: Context, value: str) -> None:
    if value != "yes":
        raise Stop(NOT_GUARDIAN)


def _self(a: Answers) -> bool:
    return a.get("relation") == "self"


def _needs_id(a: Answers) -> bool:
    return bool(NEEDS_ID_NUMBER & set(a.get("categories") or ()))


def _not_registered_yet(ctx: Context, name: str) -> None:
    existing = beneficiaries.find_same_person(ctx.session, ctx.message.openid, name)
    if existing is not None:
        raise Stop(
            f"{name}已经登记过，编号{existing.number}，当前状态：{STATUS_TEXT[existing.status]}。\n"
            "如需修改，请回复“我的信息”。"
        )


FIELDS = (
    Field(
        "relation", "为谁登记", "这次是为谁登记？", options=RELATIONS,
        hint="为自己登记选1；替家人登记，选他是您的什么人，例如替父亲登记选3。",
    ),
    Field(
        "name", "姓名",
        lambda ctx, a: "请问您的姓名？" if _self(a) else "请问优抚对象本人的姓名？",
        parse=person_name, guard=_not_registered_yet, hint="请输入优抚对象本人的姓名，例如 李秀英。",
    ),
    Field(
        "categories", "类别", "请选择身份类别，可多选，如“1 3”：", options=CATEGORIES, multi=True, columns=2,
        hint="一个人可以有几种身份，例如既是烈士遗属又是退役军人，就回复“3 13”。",
    ),
    Field("mobile", "手机", "请输入联系手机号：", parse=mobile, show=mask_mobile),
    *area_fields(),
    Field(
        "address", "地址", "请输入详细地址，例如 河口村3组12号：", parse=address,
        show=lambda v: mask_text(v, 8), accepts_location=True,
        hint="写到门牌号，方便工作人员上门走访。也可以点“+”发送您的位置。",
    ),
    Field(
        "id_number", "身份证", "请输入优抚对象的身份证号（18位），用于核实抚恤优待资格：",
        parse=id_number, show=mask_id, when=_needs_id,
        hint="身份证号18位，最后一位可能是X。它只用于核实资格，加密保存。",
    ),
    Field(
        "guardian", "监护人同意", GUARDIAN_QUESTION, options=GUARDIAN_OPTIONS, when=_child,
        guard=_guardian_agrees, editable=False, in_summary=False,
        hint="孩子的信息属于敏感个人信息，只有监护人同意才能保存。不是监护人请回复2。",
    ),
)


def _details(a: Answers) -> BeneficiaryDetails:
    return BeneficiaryDetails(
        a["relation"], a["name"], a["categories"], a["mobile"], a["town"], a["village"], a["address"], a.get("id_number"),
        guardian_consent=a.get("guardian") == "yes",
    )


def submit(ctx: Context, a: Answers) -> str:
    _not_registered_yet(ctx, a["name"])
    try:
        person = beneficiaries.register(ctx.session, ctx.message.openid, _details(a), ctx.now)
    except beneficiaries.GuardianConsentMissing:
        return NOT_GUARDIAN
    return (
        f"登记成功！编号{person.number}\n"
        "工作人员将在5个工作日内核实，可能会电话联系您，结果会通过本公众号通知您。"
    )


def submit_changes(ctx: Context, a: Answers) -> str:
    person = next((b for b in beneficiaries.registered_by(ctx.session, ctx.message.openid) if b.id == a["id"]), None)
    if person is None:
        return "没有找到这条登记信息。回复“我的信息”查看。"
    try:
        beneficiaries.update_details(ctx.session, person, _details(a), ctx.now)
    except beneficiaries.GuardianConsentMissing:
        return NOT_GUARDIAN
    return f"已更新{person.name}的登记信息，工作人员会重新核实。"


FORM = register(Form("beneficiary", "优抚对象登记", FIELDS, submit, consent=consent_field(CONSENT),
                     intro="优抚对象登记约需3分钟，可以为本人或家人登记。"))
# Changing a record keeps its name check off: the person is registered, by this very record.
EDIT_FORM = register(FORM.for_editing(
    "beneficiary_edit", "修改优抚登记信息", submit_changes,
    fields=tuple(replace(f, guard=None) if f.key == "name" else f for f in FIELDS),
))


def begin(ctx: Context) -> str:
    known = known_contact(ctx)
    return start(ctx, FORM, prefill={k: known[k] for k in ("mobile", "town", "village") if k in known},
                 answers={TODAY: local_date(ctx.now).isoformat()})


def begin_changes(ctx: Context, person) -> str:
    current = {
        "id": person.id, "relation": person.relation, "name": person.name,
        "categories": [s.category.value for s in person.statuses], "mobile": person.mobile,
        "town": person.household.town, "village": person.household.village,
        "address": person.household.address, "consent": True, TODAY: local_date(ctx.now).isoformat(),
    }
    if person.id_number:
        current["id_number"] = person.id_number
    if consents.has_current(ctx.session, ctx.message.openid, beneficiaries.GUARDIAN):
        current["guardian"] = "yes"
    return start(ctx, EDIT_FORM, answers=current, edit=True)


FLOW = Flow("beneficiary", "优抚对象登记", ("优抚登记", "优抚对象", "登记"), begin,
            key="BENEFICIARY_REGISTER", forms=(FORM,))
