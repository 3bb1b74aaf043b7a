"""FAQ answers corrected and completed; a 烈属 topic.

The answers seeded by 0003 said 光荣牌 were 发放 (they are 悬挂) and left out two of the
three kinds of 遗属; said 抚恤金 never count as household income (only when applying for
社会救助 such as 低保); and did not say who qualifies, when and where to ask. A row still
holding the 0003 text (or keywords) gets the corrected one; a row staff have edited is left
alone. The 烈属 topic is added unless a topic of that name exists.

Revision ID: 0013_faq_answers
Revises: 0012
Create Date: 2026-11-29 14:30:00

"""
import hashlib
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0013_faq_answers'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_WHERE = "乡镇（街道）退役军人服务站"

# The FAQ as of this revision: (topic, keywords, answer), in menu order of 0003; the 烈属 topic
# goes second (position 2, after 优待证; the others move down one). The chat adds the contact card of deploy/contact.toml.
FAQ_DEFAULTS: list[tuple[str, str, str]] = [
    ("优待证", "优待证,优待卡,申领,补办",
     "退役军人，烈士、因公牺牲军人、病故军人的遗属，现役军人家属等优抚对象，都可以申领优待证：\n"
     f"1. 先在户籍地或常住地{_WHERE}完成信息采集（建档立卡）；\n"
     "2. 工作日带身份证、户口簿和身份证明材料到服务站申领，也可网上申请；\n"
     "3. 80岁以上或卧床的老人，可申请工作人员上门办理。\n"
     "补办、信息变更也在服务站办理，办理进度可向服务站或县退役军人事务局询问。"),
    ("光荣牌", "光荣牌,挂牌,悬挂,换牌",
     "光荣牌悬挂在这些家庭的门口，每户一块：\n"
     "烈士遗属、因公牺牲军人遗属、病故军人遗属家庭，现役军人家庭和退役军人家庭。\n"
     f"入伍、退役返乡登记后，由{_WHERE}组织悬挂。\n"
     "光荣牌破损、褪色或搬家后需要更换的，工作日可联系服务站申请更换。"),
    ("义务兵优待金", "优待金,义务兵家庭,义务兵",
     "义务兵服役期间，其家庭享受义务兵家庭优待金。\n"
     "优待金由入伍地县级人民政府按年发放，发放时间和标准以当地规定为准。\n"
     f"想了解发放进度，可在工作日向{_WHERE}或县退役军人事务局询问。"),
    ("诉讼费缓减免", "诉讼费,缓交,减交,免交,打官司,起诉,司法救助",
     "经济困难的军人、军属和退役军人打官司，可以向受理案件的人民法院申请缓交、减交或免交诉讼费，"
     "符合条件的还可申请司法救助。\n"
     "起诉时向法院提出申请即可。需要帮助可在本公众号回复“提交求助”，类别选“法律援助/司法救助”，"
     f"或在工作日到{_WHERE}咨询。"),
    ("法律援助", "法律援助,律师,法律咨询,维权,权益",
     "军人军属、退役军人合法权益受到侵害的，可以向当地法律援助机构申请法律援助，军人军属优先受理。\n"
     f"也可在工作日到{_WHERE}咨询，或在本公众号回复“提交求助”，由工作人员帮您对接。"),
    ("优抚医疗", "医疗,看病,就医,住院,医保,体检,治病",
     "残疾军人、烈士遗属、因公牺牲和病故军人遗属、在乡复员军人、带病回乡退伍军人等优抚对象，"
     "按规定享受医疗优待：就医优先，重点优抚对象的医疗费用可按规定补助。\n"
     "报销比例和补助标准以当地规定为准。\n"
     f"工作日可带上优待证到{_WHERE}或县退役军人事务局咨询。"),
    ("就业创业", "就业,创业,招聘,培训,贷款,贴息,找工作",
     "退役军人可以享受就业创业扶持：专场招聘会、免费技能培训、创业贷款和贴息、税收优惠等。\n"
     f"请在工作日联系县退役军人事务局就业科，或到{_WHERE}登记需求；"
     "招聘会的时间会在“最新通知”里发布。"),
    ("抚恤补助", "抚恤,补助,定期,生活补助,抚恤金,家庭收入",
     "残疾军人，烈士遗属、因公牺牲军人遗属、病故军人遗属，在乡复员军人、带病回乡退伍军人、"
     "参战参试退役人员等，按规定享受定期抚恤或定期生活补助。\n"
     "发放方式和时间按当地规定，标准和到账时间可向县退役军人事务局询问。\n"
     "申请最低生活保障等社会救助时，抚恤金、补助金和优待金不计入家庭收入。\n"
     f"首次申请或信息变更，请在工作日到户籍地{_WHERE}办理。"),
    ("伤残评定", "伤残,评残,残疾军人证,残疾等级,评定",
     "因战、因公、因病致残的军人和退役军人，可以申请评定残疾等级，评定后持《残疾军人证》按等级享受抚恤。\n"
     f"申请由县退役军人事务局受理；需要哪些材料，可在工作日先到{_WHERE}咨询。"),
    ("信息采集", "建档立卡,信息采集,登记,建档",
     "退役军人和其他优抚对象都需要完成信息采集（建档立卡），这是办理优待证等服务的前提。\n"
     "您可以在本公众号回复“优抚登记”先行登记，工作人员核实后会与您联系；"
     f"也可在工作日到户籍地{_WHERE}办理。"),
    ("住房困难", "住房,危房,房子,保障房,修房",
     "住房困难的优抚对象，在危房改造、保障性住房等方面按规定优先照顾。\n"
     "可在本公众号回复“提交求助”，类别选“住房”；"
     f"也可在工作日到{_WHERE}说明情况。"),
    ("子女教育优待", "入学,上学,子女,入托,教育,学校",
     "现役军人子女入学、入托按规定享受优待，烈士子女和因公牺牲军人子女优先。\n"
     f"具体办法以当地教育部门每年公布的为准，报名前可向学校、县教育局或{_WHERE}咨询。"),
    ("烈士褒扬祭扫", "烈士,祭扫,烈士陵园,纪念,扫墓,褒扬",
     "每年清明节和9月30日烈士纪念日，当地组织烈士祭扫活动，欢迎参加。\n"
     "烈士遗属到外地祭扫烈士，可按规定申请补助；"
     f"请在出发前联系{_WHERE}或县退役军人事务局。"),
    ("档案转接", "档案,组织关系,转接,安置",
     "退役军人的档案、组织关系转接和安置事项，由县退役军人事务局办理。\n"
     "请在退役报到时带退役证件和身份证前往，或先在工作日打电话咨询。"),
    ("走访慰问", "慰问,走访,春节,八一,节日,喜报,立功",
     "元旦、春节和八一前后，服务站和志愿者会走访慰问重点优抚对象和义务兵家庭，军人立功后送喜报到家。\n"
     "家里有困难、需要上门走访的，可在本公众号回复“提交求助”说明情况，"
     f"或在工作日联系{_WHERE}。"),
]
MARTYR_FAMILY = (
    "烈属抚恤优待", "烈属,烈士家属,烈士遗属,烈士子女,烈士父母,烈士配偶,烈士爱人,三属,遗属",
    "烈士遗属（烈士的配偶、父母或抚养人、子女，以及由烈士抚养的兄弟姐妹）可以享受，"
    "因公牺牲、病故军人的遗属也一样：\n"
    "1. 光荣牌：家门口悬挂光荣牌，由服务站组织，破损可以更换；\n"
    "2. 抚恤：按规定享受定期抚恤金，按当地规定发放；申请低保等社会救助时不计入家庭收入；\n"
    "3. 优待：可以申领优待证，享受就医优先、住房、子女入学等优待；\n"
    "4. 祭扫：清明节和9月30日烈士纪念日组织祭扫，到外地祭扫可以申请补助。\n"
    f"办理和咨询：工作日到户籍地{_WHERE}，或县退役军人事务局。",
)
MARTYR_FAMILY_POSITION = 2  # second in the menu: the topics from there on move down one

# sha256 (first 16 hex digits) of each 0003 answer, and the 0003 keywords: a row still holding
# them was never edited by staff.
_OLD_ANSWER = {
    "优待证": "09ee0a5495388bba", "光荣牌": "d98d43b322e303b6", "义务兵优待金": "30aa24f01a45aaa9",
    "诉讼费缓减免": "8e5331c15a92f67f", "法律援助": "22a42ae720a21c44", "优抚医疗": "f986e4fa434f4538",
    "就业创业": "c5b273a0040132d4", "抚恤补助": "47433171e6fb1fda", "伤残评定": "f1e0136dd48e92b0",
    "信息采集": "ffebfe70baeec86f", "住房困难": "37d9102b25491b7d", "子女教育优待": "d0316f044a9e8f5b",
    "烈士褒扬祭扫": "9717ad64feec0731", "档案转接": "4b7102c2f8e4ef22", "走访慰问": "34c9252bee1c7df8",
}
_OLD_KEYWORDS = {"光荣牌": "光荣牌,挂牌,悬挂", "抚恤补助": "抚恤,补助,定期,生活补助,抚恤金"}

_faq = sa.table(
    "faq_entry",
    sa.column("id", sa.Integer),
    sa.column("topic", sa.String),
    sa.column("keywords", sa.String),
    sa.column("answer", sa.Text),
    sa.column("position", sa.Integer),
    sa.column("enabled", sa.Boolean),
)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def upgrade() -> None:
    conn = op.get_bind()
    rows = {r.topic: r for r in conn.execute(sa.select(_faq.c.id, _faq.c.topic, _faq.c.keywords, _faq.c.answer))}
    for topic, keywords, answer in FAQ_DEFAULTS:
        row = rows.get(topic)
        if row is None:
            continue  # renamed or deleted by staff
        changes = {}
        if _digest(row.answer) == _OLD_ANSWER.get(topic):
            changes["answer"] = answer
        if row.keywords == _OLD_KEYWORDS.get(topic):
            changes["keywords"] = keywords
        if changes:
            conn.execute(_faq.update().where(_faq.c.id == row.id).values(**changes))
    topic, keywords, answer = MARTYR_FAMILY
    if topic not in rows:
        conn.execute(_faq.update().where(_faq.c.position >= MARTYR_FAMILY_POSITION)
                     .values(position=_faq.c.position + 1))
        conn.execute(_faq.insert().values(topic=topic, keywords=keywords, answer=answer,
                                          position=MARTYR_FAMILY_POSITION, enabled=True))


def downgrade() -> None:
    # The corrected answers stay (they are not wrong under the old schema); only the added
    # topic goes, if staff left it as seeded.
    conn = op.get_bind()
    topic, _keywords, answer = MARTYR_FAMILY
    removed = conn.execute(_faq.delete().where(_faq.c.topic == topic, _faq.c.answer == answer)).rowcount
    if removed:
        conn.execute(_faq.update().where(_faq.c.position > MARTYR_FAMILY_POSITION)
                     .values(position=_faq.c.position - 1))
