"""优抚对象登记 as transcripts: by the person or a family member, ID only where needed."""

from __future__ import annotations

from sqlalchemy import select

from handlers.fields import choose_many
from handlers.flows import beneficiary
from models import OutboxMessage
from models.beneficiary import Beneficiary, BeneficiaryCategory, Household, RegistrationStatus
from models.consent import ConsentRecord
from tests.conversation_fixtures import chat_app, clock, db, new_chat  # noqa: F401
from tests.test_conversation_volunteer import EXIT, TOWNS, UP_TO_SUMMARY, VILLAGES
from tests.transcript import has

CATEGORIES = (
    "请选择身份类别，可多选，如“1 3”：\n1 现役军人  2 军人家属\n3 烈士遗属  4 因公牺牲军人遗属\n"
    "5 病故军人遗属  6 残疾军人\n7 在乡复员军人  8 带病回乡退伍军人\n9 参战参试退役人员  10 60岁以上农村籍退役士兵\n"
    "11 烈士老年子女  12 伤残民兵民工\n13 退役军人"
)
ID_QUESTION = "请输入优抚对象的身份证号（18位），用于核实抚恤优待资格："
CONSENT = (
    "为核实优抚对象身份、提供优抚服务，我们将保存登记的姓名、手机号、地址、身份类别（需要时还有身份证号），"
    "仅用于优抚工作，由退役军人服务站按规定保管，身份证号加密保存。\n回复“同意”继续，回复“取消”退出。"
)
SUMMARY = (
    "请核对：\n为谁登记：父亲或母亲\n姓名：李秀英\n类别：烈士遗属、退役军人\n手机：139****5678\n乡镇/街道：城关镇\n"
    "村/社区：河口村\n地址：河口村3组12号\n身份证：1101**********002X\n1 确认提交  2 修改  0 取消"
)
START = (
    "优抚对象登记约需3分钟，可以为本人或家人登记。\n这次是为谁登记？\n1 自己\n2 老伴（配偶）\n3 父亲或母亲\n4 儿子或女儿\n"
    f"5 其他亲属\n6 网格员/工作人员代办\n{EXIT}"
)
UP_TO_ID = [
    ("优抚登记", START),
    ("3", "请问优抚对象本人的姓名？"),
    ("李秀英", CATEGORIES),
    ("3 13", "请输入联系手机号："),
    ("13912345678", TOWNS),
    ("1", VILLAGES),
    ("3", "请输入详细地址，例如 河口村3组12号："),
    ("河口村3组12号", ID_QUESTION),
]


def test_a_family_member_registers_a_martyrs_widow(new_chat, db):
    chat = new_chat("oFamily1")
    chat.run(UP_TO_ID + [
        ("11010519491231002x", CONSENT),  # a small x is fine
        ("同意", SUMMARY),
        ("1", "登记成功！编号YF2026-0001\n工作人员将在5个工作日内核实，可能会电话联系您，结果会通过本公众号通知您。"),
    ])
    [person] = db.scalars(select(Beneficiary))
    assert (person.name, person.relation, person.registered_by, person.status) == ("李秀英", "child", "oFamily1", RegistrationStatus.PENDING)
    assert person.id_number == "11010519491231002X" and person.mobile == "13912345678"
    with db.session() as session:
        person = session.get(Beneficiary, person.id)
        assert [s.category for s in person.statuses] == [BeneficiaryCategory.MARTYR_F, BeneficiaryCategory.VETERAN]
        assert (person.household.town, person.household.village, person.household.address) == ("城关镇", "河口村", "河口村3组12号")
    raw = str(db.raw("SELECT b.id_number, b.mobile, h.address FROM beneficiary b JOIN household h ON h.id = b.household_id"))
    assert "11010519491231002X" not in raw and "13912345678" not in raw and "河口村3组" not in raw
    [consent] = db.scalars(select(ConsentRecord))
    assert consent.purpose == "beneficiary"
    # No message per registration: staff see it in the console's queue and the morning digest.
    assert list(db.scalars(select(OutboxMessage))) == []


def test_the_id_number_is_asked_only_where_the_category_needs_it(new_chat, db):
    chat = new_chat("oFamily2")
    chat.run(UP_TO_ID[:3] + [
        ("2", "请输入联系手机号："),  # 军人家属 only
        ("13912345678", TOWNS), ("1", VILLAGES), ("3", has("详细地址")),
        ("河口村3组12号", CONSENT),
        ("同意", has("类别：军人家属", "地址：河口村3组12号")),
    ])
    chat.run([("1", has("登记成功！编号YF2026-0001"))])
    [person] = db.scalars(select(Beneficiary))
    assert person.id_number is None


def test_invalid_id_numbers_and_categories_are_named(new_chat):
    chat = new_chat("oFamily3")
    chat.run(UP_TO_ID[:3] + [
        ("14", f"没有看懂“14”。请回复选项前的数字，可多选，用空格隔开，例如“1 3”。\n{CATEGORIES.split('：', 1)[1].lstrip()}\n{EXIT}"),
        ("烈属 退役军人", "请输入联系手机号："),  # the words work too
        ("13912345678", TOWNS), ("1", VILLAGES), ("3", has("详细地址")),
        ("3组", f"请再多写几个字，例如“河口村3组12号”：\n{EXIT}"),
        ("河口村3组12号", ID_QUESTION),
        ("1101051949123100", f"身份证号应为18位，您输入了16位，例如11010519491231002X。请重新输入：\n{EXIT}"),
        ("110105194913310021", f"身份证号里的出生日期（第7到14位）不对，例如11010519491231002X。请重新输入：\n{EXIT}"),
        ("110105194912310021", "这个身份证号的最后一位（校验位）对不上，可能有一位输错了。请核对后重新输入：\n"
                               "身份证号18位，最后一位可能是X。它只用于核实资格，加密保存。\n"
                               "如果填写有困难，回复“人工”请工作人员帮您办理，或回复“取消”退出。"),
        ("返回", "请输入详细地址，例如 河口村3组12号："),
        ("河口村3组12号", ID_QUESTION),
        ("11010519491231002X", CONSENT),
    ])


def test_the_same_person_twice_is_stopped_at_the_name(new_chat, db):
    chat = new_chat("oFamily4")
    chat.run(UP_TO_ID + [("11010519491231002X", CONSENT), ("同意", SUMMARY), ("1", has("登记成功"))])
    chat.run([
        ("优抚登记", START),
        ("3", "请问优抚对象本人的姓名？"),
        ("李秀英", "李秀英已经登记过，编号YF2026-0001，当前状态：待核实。\n如需修改，请回复“我的信息”。"),
        ("2", has("抱歉，我暂时没看懂您的意思。")),  # the form ended there
    ])
    assert db.count(Beneficiary) == 1 and db.count(Household) == 1


def test_changing_categories_on_the_summary_asks_the_id_then(new_chat, db):
    chat = new_chat("oFamily5")
    chat.run(UP_TO_ID[:3] + [
        ("2", "请输入联系手机号："), ("13912345678", TOWNS), ("1", VILLAGES), ("3", has("详细地址")),
        ("河口村3组12号", CONSENT), ("同意", has("类别：军人家属")),
        ("2", has("您要修改哪一项？", "3 类别")),
        ("3", has("请选择身份类别", "（当前：军人家属）")),
        ("2 6", ID_QUESTION),  # 残疾军人 needs the ID number
        ("11010519491231002X", has("类别：军人家属、残疾军人", "身份证：1101**********002X")),
        ("1", has("登记成功")),
    ])
    [person] = db.scalars(select(Beneficiary))
    assert person.id_number == "11010519491231002X"


def test_self_registration_offers_the_volunteers_phone_and_area(new_chat, db):
    chat = new_chat("oFamily6")
    chat.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    chat.run([
        ("优抚登记", START),
        ("1", "请问您的姓名？"),
        ("张伟民", CATEGORIES),
        ("13", "手机：139****5678\n1 沿用  2 重新填写"),
        ("1", "乡镇/街道：城关镇\n1 沿用  2 重新填写"),
        ("1", "村/社区：河口村\n1 沿用  2 重新填写"),
        ("1", "请输入详细地址，例如 河口村3组12号："),
        ("河口村3组12号", CONSENT),
        ("同意", has("为谁登记：自己", "类别：退役军人", "手机：139****5678", "村/社区：河口村")),
    ])


# PI-4 (PIPL Art. 31): a child under 14 needs the guardian's own consent, recorded apart.
CHILD_ID = "110105201805010024"  # born 2018-05-01: 8 years old on the tests' day
GUARDIAN = (
    "优抚对象未满14周岁。按照《个人信息保护法》，孩子的信息要由父母或其他监护人同意后才能保存。\n"
    "您是孩子的监护人，并同意我们保存孩子的信息吗？\n1 我是监护人，同意\n2 我不是监护人"
)
NOT_GUARDIAN = (
    "未满14周岁孩子的信息，需要父母或其他监护人同意才能登记，这次没有保存任何信息。\n"
    "请让孩子的监护人用自己的微信登记，或回复“人工”请工作人员帮助。"
)
UP_TO_CHILD_ID = [
    ("优抚登记", START),
    ("4", "请问优抚对象本人的姓名？"),  # a parent registering their child (儿子或女儿)
    ("王小明", CATEGORIES),
    ("3", "请输入联系手机号："),  # 烈士遗属: the ID number is needed
    ("13912345678", TOWNS), ("1", VILLAGES), ("3", has("详细地址")),
    ("河口村3组12号", ID_QUESTION),
]


def test_a_parent_registers_a_child_under_14_with_the_guardians_consent(new_chat, db, clock):
    chat = new_chat("oParent1")
    chat.run(UP_TO_CHILD_ID + [
        (CHILD_ID, GUARDIAN),
        ("1", CONSENT),
        ("同意", has("为谁登记：儿子或女儿", "姓名：王小明", "身份证：1101**********0024")),
        ("1", has("登记成功！编号YF2026-0001")),
    ])
    [person] = db.scalars(select(Beneficiary))
    assert person.id_number == CHILD_ID
    records = {c.purpose: c for c in db.scalars(select(ConsentRecord))}
    assert set(records) == {"beneficiary", "guardian"}
    assert records["guardian"].version == "2026-1" and records["guardian"].openid == "oParent1"
    assert records["guardian"].granted_at is not None
    chat.run([("导出我的信息", has("【同意】监护人同意（未满14周岁的孩子）告知书2026-1版，12月7日（周一）同意",
                                   "未满14周岁孩子的登记信息：孩子监护人的同意（个人信息保护法第三十一条）"))])


def test_without_the_guardians_consent_nothing_about_the_child_is_stored(new_chat, db):
    chat = new_chat("oParent2")
    chat.run(UP_TO_CHILD_ID + [
        (CHILD_ID, GUARDIAN),
        ("2", NOT_GUARDIAN),
        ("1", has("抱歉，我暂时没看懂您的意思。")),  # the form ended there
    ])
    assert db.count(Beneficiary) == 0 and db.count(Household) == 0 and db.count(ConsentRecord) == 0


def test_a_child_turning_14_that_day_or_an_adult_is_not_asked(new_chat, db):
    chat = new_chat("oParent3")
    chat.run(UP_TO_CHILD_ID[:-1] + [
        ("河口村3组12号", ID_QUESTION),
        ("110105201212070021", CONSENT),  # 14 today (2026-12-07)
        ("同意", has("请核对")), ("1", has("登记成功")),
    ])
    assert [c.purpose for c in db.scalars(select(ConsentRecord))] == ["beneficiary"]


def test_the_service_refuses_a_child_without_guardian_consent(db, clock):
    from services import beneficiaries
    details = beneficiaries.BeneficiaryDetails("parent", "王小明", ["MARTYR_F"], "13912345678", "城关镇", "河口村",
                                               "河口村3组12号", CHILD_ID)
    with db.session() as session:
        try:
            beneficiaries.register(session, "oParent4", details, clock.now)
        except beneficiaries.GuardianConsentMissing:
            pass
        else:
            raise AssertionError("a child's registration was accepted without the guardian's consent")
        session.rollback()
    assert db.count(Beneficiary) == 0


def test_withdrawing_the_guardians_consent_erases_the_childs_registration(new_chat, db):
    chat = new_chat("oParent5")
    chat.run(UP_TO_CHILD_ID + [(CHILD_ID, GUARDIAN), ("1", CONSENT), ("同意", has("请核对")), ("1", has("登记成功"))])
    chat.run([
        ("撤回同意", has("您要撤回哪一项同意？", "监护人同意（未满14周岁的孩子）")),
        ("2", has("未满14周岁孩子的优抚登记失效，孩子的信息将被删除。确定撤回吗？")),
        ("1", has("已撤回您对“监护人同意（未满14周岁的孩子）”的同意")),
    ])
    [person] = db.scalars(select(Beneficiary))
    assert person.id_number is None and person.name != "王小明"


def test_a_roster_id_number_without_a_valid_date_is_not_taken_for_a_child(db, clock):
    from services import beneficiaries
    details = beneficiaries.BeneficiaryDetails("self", "赵老兵", ["VETERAN"], "13912345678", "城关镇", "河口村",
                                               "河口村3组12号", "110105194913310021")  # month 13: an old entry
    with db.session() as session:
        beneficiaries.register(session, "oRoster1", details, clock.now)
        session.commit()
    assert db.count(Beneficiary) == 1


def test_a_son_registering_his_father_in_his_own_words_is_recorded_as_her_child(new_chat, db):
    """"这次是为谁登记？" answered the way people say it: "替我爸登记" is 父亲或母亲, and the record says
    the one who registered is the person's 子女 (the console shows 登记人：子女), not the other way round."""
    chat = new_chat("oSonOfVeteran1")
    chat.run([
        ("优抚登记", START),
        ("替我爸登记", "请问优抚对象本人的姓名？"),
        ("李建国", CATEGORIES),
        ("7", "请输入联系手机号："),
        ("13912345678", TOWNS), ("1", VILLAGES), ("3", has("详细地址")),
        ("河口村3组12号", ID_QUESTION),
        ("11010519370815001X", CONSENT),
        ("同意", has("为谁登记：父亲或母亲", "姓名：李建国", "类别：在乡复员军人")),
        ("1", has("登记成功！")),
    ])
    [person] = db.scalars(select(Beneficiary))
    assert (person.name, person.relation) == ("李建国", "child")
    for n, (said, question) in enumerate((("给我老伴登记", "请问优抚对象本人的姓名？"), ("我儿子", "请问优抚对象本人的姓名？"),
                                          ("我自己", "请问您的姓名？"))):
        new_chat(f"oRelation{n}").run([("优抚登记", START), (said, question)])


def test_categories_as_people_name_them(new_chat, db):
    """退伍军人 is how most people say 退役军人: it must not land on 带病回乡退伍军人 (a different
    entitlement) because that label contains the words; 军嫂 and 在部队 are 军人家属."""
    chat = new_chat("oCategoryWords1")
    chat.run([
        ("优抚登记", START), ("1", "请问您的姓名？"), ("李秀英", CATEGORIES),
        ("烈属，也是退伍军人", "请输入联系手机号："),
        ("13912345678", TOWNS), ("1", VILLAGES), ("3", has("详细地址")),
        ("河口村3组12号", ID_QUESTION), ("11010519491231002X", CONSENT),
        ("同意", has("类别：烈士遗属、退役军人")),
        ("1", has("登记成功！")),
    ])
    [person] = db.scalars(select(Beneficiary))
    with db.session() as session:
        categories = [s.category for s in session.get(Beneficiary, person.id).statuses]
    assert categories == [BeneficiaryCategory.MARTYR_F, BeneficiaryCategory.VETERAN]
    said_as = {"退伍军人": ["VETERAN"], "退役士兵": ["VETERAN"], "老兵": ["VETERAN"], "我是军嫂": ["FAMILY"],
               "我儿子在部队": ["FAMILY"], "带病回乡退伍军人": ["ILL_RETURN"], "参战的": ["WAR_TEST"],
               "伤残": ["DISABLED"], "民兵": ["MILITIA"]}
    assert {said: choose_many(said, beneficiary.CATEGORIES) for said in said_as} == said_as
