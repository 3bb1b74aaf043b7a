"""The lawful basis of each personal field we hold (PIPL Art. 13, 31, 34; domain.md PI-1).

One table, read by 导出我的信息, the console's personal-data copy, docs/security.md and a test
that fails when a personal column is added without a basis here. A category's basis depends
on how the data came in: typed by the person in the chat (`chat`) or entered by staff from the
县/乡 rosters and case files (`staff`).
"""

from __future__ import annotations

from dataclasses import dataclass

# The bases used, as shown to the person (short, plain words; the article in brackets).
BASES = {
    "consent": "您本人的同意（个人信息保护法第十三条、第二十九条）",
    "guardian": "孩子监护人的同意（个人信息保护法第三十一条）",
    "duty": "履行法定职责所必需（个人信息保护法第十三条、第三十四条）",
    "hr": "工作人员管理所必需（个人信息保护法第十三条）",
}


@dataclass(frozen=True)
class Category:
    key: str
    label: str  # what the person reads: the kind of data and its main fields
    fields: tuple[str, ...]  # "table.column"
    chat: str | None  # basis when the person gave it in the chat
    staff: str | None  # basis when staff entered it (rosters, case handling)


CATEGORIES: tuple[Category, ...] = (
    Category("volunteer", "志愿者报名信息（姓名、手机号、地区、服务项目）",
             ("volunteer.name", "volunteer.mobile", "volunteer.town", "volunteer.village", "volunteer.skills",
              "volunteer.availability", "volunteer.openid"),
             chat="consent", staff="duty"),
    Category("beneficiary", "优抚登记信息（姓名、手机号、地址、身份类别）",
             ("beneficiary.name", "beneficiary.mobile", "beneficiary.relation", "beneficiary.registered_by",
              "household.town", "household.village", "household.address", "beneficiary_status.category"),
             chat="consent", staff="duty"),
    # From the county's 台账 (Excel import) or entered by staff: never asked in the chat.
    Category("roster", "优抚对象名册信息（户籍地、优待证号、牺牲或病故军人姓名）",
             ("household.hukou_address", "beneficiary.card_number", "beneficiary_status.deceased_name"),
             chat=None, staff="duty"),
    Category("id_number", "身份证号", ("beneficiary.id_number", "volunteer.id_number"), chat="consent", staff="duty"),
    # The same fields as above, for a person under 14 (their ID number shows it).
    Category("child", "未满14周岁孩子的登记信息", (), chat="guardian", staff="duty"),
    Category("help_request", "求助信息（求助内容、联系人、电话、图片语音、人工对话、评价）",
             ("help_request.description", "help_request.contact_name", "help_request.contact_phone",
              "help_request.attachments", "help_request.rating_comment", "help_request.openid",
              "handover_message.text", "conversation_state.answers"),
             chat="consent", staff="duty"),
    Category("casework", "办理记录（核实和办理结果、工作人员备注、走访记录）",
             ("help_request.resolution", "help_request.reject_reason", "status_event.note", "care_contact.note",
              "planned_visit.note", "visit_photo.data", "roster_change.old_value", "roster_change.new_value"),
             chat="duty", staff="duty"),
    Category("wechat", "微信标识和我们发给您的消息",
             ("follower.openid", "inbound_message.reply", "outbox_message.payload", "outbox_message.recipient",
              "consent_record.openid", "activity_signup.openid", "referral.openid", "conversation_state.openid",
              "subscription_consent.openid"),
             chat="consent", staff=None),
    Category("staff", "工作人员的账号和微信标识", ("staff_openid.label", "staff_openid.openid", "staff_account.wechat_openid",
                                        "visit_team_member.staff_openid"),
             chat=None, staff="hr"),
)
# Columns that look personal but are not about a person.
NOT_PERSONAL = {"access_token.token": "the WeChat API credential of the account"}


def basis(category: str, source: str) -> str | None:
    """The basis code of a category for a source ("chat" or "staff")."""
    found = next(c for c in CATEGORIES if c.key == category)
    return getattr(found, source)


def of_field(field: str, source: str) -> str | None:
    """The basis of one "table.column" for a source; None when not held that way."""
    found = next((c for c in CATEGORIES if field in c.fields), None)
    return getattr(found, source) if found else None


def lines(categories: list[str], source: str) -> list[str]:
    """One line per category held: "志愿者报名信息（…）：您本人的同意（…）"."""
    out = []
    for c in CATEGORIES:
        code = getattr(c, source)
        if c.key in categories and code:
            out.append(f"{c.label}：{BASES[code]}")
    return out
