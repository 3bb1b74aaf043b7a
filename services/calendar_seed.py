"""The built-in calendar, reminder rules and city publicity campaign.

Seeding inserts what is missing and never touches a row staff have edited or
disabled; built-in rows are disabled, not deleted, so a later seed does not bring
them back.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import CalendarRule, LeapPolicy, RuleKind
from models.publicity import PublicityCampaign, PublicityItem
from models.reminders import Audience, ReminderRule
from services.visit_campaigns import seed_campaigns

S, L, T, W, R = RuleKind.SOLAR, RuleKind.LUNAR, RuleKind.TERM, RuleKind.WEEKDAY, RuleKind.RANGE

# code, name, kind, fields, category
BUILTIN_RULES: list[tuple[str, str, RuleKind, dict, str]] = [
    ("yuandan", "元旦", S, dict(month=1, day=1), "holiday"),
    ("laba", "腊八节", L, dict(month=12, day=8), "holiday"),
    ("xiaonian", "小年（北方）", L, dict(month=12, day=23), "holiday"),
    ("chuxi", "除夕", L, dict(month=12, day=-1), "holiday"),
    ("chunjie", "春节", L, dict(month=1, day=1), "holiday"),
    ("yuanxiao", "元宵节", L, dict(month=1, day=15), "holiday"),
    ("zhengbing_1", "上半年征兵", R, dict(month=2, day=15, end_month=3, end_day=31), "campaign"),
    ("xueleifeng_month", "学雷锋月", R, dict(month=3, day=1, end_month=3, end_day=31), "campaign"),
    ("xueleifeng", "学雷锋纪念日（中国青年志愿者服务日）", S, dict(month=3, day=5), "memorial"),
    ("qingming", "清明（烈士祭扫）", T, dict(term="清明"), "memorial"),
    ("duanwu", "端午节", L, dict(month=5, day=5), "holiday"),
    ("jiandang", "建党节", S, dict(month=7, day=1), "memorial"),
    ("shuangyong_month", "双拥展示月", R, dict(month=7, day=20, end_month=8, end_day=20), "campaign"),
    ("bayi", "八一建军节", S, dict(month=8, day=1), "holiday"),
    ("zhengbing_2", "下半年征兵", R, dict(month=8, day=15, end_month=9, end_day=30), "campaign"),
    ("guofang", "全民国防教育日", W, dict(month=9, nth=3, weekday=5), "memorial"),
    ("zhongqiu", "中秋节", L, dict(month=8, day=15), "holiday"),
    ("lieshi", "烈士纪念日", S, dict(month=9, day=30), "memorial"),
    ("guoqing", "国庆节", S, dict(month=10, day=1), "holiday"),
    ("chongyang", "重阳节（老人节）", L, dict(month=9, day=9), "holiday"),
    # Yearly tasks of the 实施方案; the dates are deadlines staff are expected to adjust.
    ("task_leaders_meeting_1", "双拥领导小组会议（上半年）", S, dict(month=6, day=30), "task"),
    ("task_leaders_meeting_2", "双拥领导小组会议（下半年）", S, dict(month=12, day=15), "task"),
    ("task_annual_report", "成员单位年度述职报告", S, dict(month=12, day=31), "task"),
    ("task_conscript_allowance", "义务兵家庭优待金发放", S, dict(month=7, day=25), "task"),
]

# code, calendar rule, kind, lead days, audience, message
BUILTIN_REMINDERS: list[tuple[str, str, str, str, Audience, str]] = [
    ("chunjie_staff", "chunjie", "holiday_reminder", "21,7,1", Audience.STAFF,
     "{name}（{date}）还有{days}天，请安排走访慰问和拥军优属活动。"),
    ("bayi_staff", "bayi", "holiday_reminder", "14,3", Audience.STAFF,
     "{name}（{date}）还有{days}天，请落实八一走访、军政座谈会等活动。"),
    ("yuandan_staff", "yuandan", "holiday_reminder", "14,3", Audience.STAFF,
     "{name}（{date}）还有{days}天，请安排元旦走访慰问。"),
    ("qingming_staff", "qingming", "holiday_reminder", "7", Audience.STAFF,
     "{name}（{date}）还有{days}天，请组织烈士祭扫活动。"),
    ("lieshi_staff", "lieshi", "holiday_reminder", "7", Audience.STAFF,
     "{name}（{date}）还有{days}天，请准备公祭和缅怀活动。"),
    ("guofang_staff", "guofang", "holiday_reminder", "7", Audience.STAFF,
     "{name}（{date}）还有{days}天，请安排国防教育宣传。"),
    ("leaders_meeting_1", "task_leaders_meeting_1", "yearly_task", "14", Audience.STAFF,
     "年度任务：{name}请在{date}前召开（还有{days}天）。"),
    ("leaders_meeting_2", "task_leaders_meeting_2", "yearly_task", "14", Audience.STAFF,
     "年度任务：{name}请在{date}前召开（还有{days}天）。"),
    ("annual_report", "task_annual_report", "yearly_task", "30,7", Audience.STAFF,
     "年度任务：{name}请在{date}前完成（还有{days}天）。"),
    ("conscript_allowance", "task_conscript_allowance", "yearly_task", "14", Audience.STAFF,
     "年度任务：{name}，请在{date}前核发到户（还有{days}天）。"),
    ("xueleifeng_month", "xueleifeng_month", "yearly_task", "10", Audience.STAFF,
     "年度任务：{name}将于{date}开始，请提前安排学雷锋做好事活动（还有{days}天）。"),
]

# The city 实施方案's publicity calendar (seed document, 方案3), rewritten for the public: what
# followers can join or use, never the plan's internal wording (成员单位, 救助 of troops, 部队 logistics).
# At most PLANNED_PER_MONTH items a month in any year (tests/test_publicity_and_catch_up.py).
CITY_CAMPAIGN = ("city_publicity", "市双拥宣传日历")
# Items of earlier seeds that were internal wording: disabled (migration 0008), never seeded again.
RETIRED_ITEMS = ("city_documents", "city_typical_cases", "city_performances", "city_hardship_aid")
VOLUNTEER_HINT = "在公众号回复“志愿者”即可报名。"
# code, title, content, (month, day, end_month, end_day) or (rule code, offset), valid days, one-off year
CITY_ITEMS: list[tuple[str, str, str, tuple, int, int | None]] = [
    ("city_chunjie", "新春问候", "新春佳节到了！向全县现役军人、退役军人、军烈属和优抚对象拜年，"
     "祝大家身体健康、阖家幸福！", ("chunjie", 0), 1, None),
    ("city_conscription_1", "征兵宣传", "上半年征兵开始了。欢迎符合条件的适龄青年报名参军！"
     "可登录“全国征兵网”报名，或到当地人武部咨询。", ("zhengbing_1", 0), 1, None),
    ("city_xueleifeng", "学雷锋志愿服务", "3月5日是学雷锋纪念日。欢迎报名双拥志愿者，一起为军人军属做好事、办实事。"
     + VOLUNTEER_HINT, ("xueleifeng", 0), 1, None),
    ("city_qingming", "清明缅怀先烈", "清明将至，让我们缅怀革命先烈，弘扬英烈精神。", ("qingming", -3), 3, None),
    ("city_knowledge", "人人支持拥军", "拥军优属是全社会的事。关心身边的军人军属，就是对国防最好的支持。",
     (4, 15, None, None), 7, None),
    ("city_volunteer_flag", "双拥志愿者授旗", "双拥志愿者队伍授旗仪式在5月举行，欢迎更多朋友加入拥军志愿服务。"
     + VOLUNTEER_HINT, (5, 15, None, None), 7, None),
    ("city_community", "社区双拥工作站", "很多社区设有双拥工作站，为军人军属提供帮助。"
     "有困难可以到社区咨询，也可以在公众号回复“求助”。", (5, 25, None, None), 7, None),
    ("city_books", "“共沐书香”送书进军营", "“共沐书香”送书进军营活动开始了，欢迎捐赠适合官兵阅读的好书。",
     (6, 15, None, None), 7, None),
    ("city_showcase_month", "双拥展示月", "7月20日至8月20日是双拥展示月，欢迎参加各项双拥活动。",
     (7, 20, 8, 20), 1, None),
    ("city_bayi", "八一建军节", "今天是八一建军节。向人民子弟兵致敬！向全县退役军人和军属致以节日的问候！",
     ("bayi", 0), 1, None),
    ("city_bayi_100", "建军100周年", "今天是中国人民解放军建军100周年。向人民子弟兵致敬！"
     "向全县退役军人和军属致以节日的问候！", (8, 1, None, None), 1, 2027),
    ("city_conscription_2", "征兵宣传", "下半年征兵开始了。欢迎符合条件的适龄青年报名参军！"
     "可登录“全国征兵网”报名，或到当地人武部咨询。", ("zhengbing_2", 0), 1, None),
    ("city_defence_day", "全民国防教育日", "今天是全民国防教育日，人人关心国防，人人支持国防。", ("guofang", 0), 1, None),
    ("city_martyrs_day", "烈士纪念日", "今天是烈士纪念日，让我们向英烈致敬。", ("lieshi", 0), 1, None),
]


def seed_all(session: Session) -> None:
    """Insert the missing built-in rows (idempotent); the caller commits."""
    rules = _seed_rules(session)
    _seed_reminders(session, rules)
    _seed_publicity(session, rules)
    seed_campaigns(session)
    session.flush()


def _seed_rules(session: Session) -> dict[str, CalendarRule]:
    existing = {r.code: r for r in session.scalars(select(CalendarRule))}
    for code, name, kind, fields, category in BUILTIN_RULES:
        if code not in existing:
            rule = CalendarRule(code=code, name=name, kind=kind, category=category, builtin=True,
                                enabled=True, leap=LeapPolicy.REGULAR, **fields)
            session.add(rule)
            existing[code] = rule
    session.flush()
    return existing


def _seed_reminders(session: Session, rules: dict[str, CalendarRule]) -> None:
    existing = {r.code: r for r in session.scalars(select(ReminderRule))}
    for code, rule_code, kind, leads, audience, message in BUILTIN_REMINDERS:
        row = existing.get(code)
        if row is None:
            session.add(ReminderRule(code=code, calendar_rule_id=rules[rule_code].id, kind=kind, lead_days=leads,
                                     audience=audience, message=message, builtin=True, enabled=True))
        elif row.builtin and row.message != message and _unspaced(row.message) == message:
            row.message = message  # an earlier seed's spaced wording ("还有 {days} 天"), never edited


def _unspaced(message: str) -> str:
    """Earlier seeds put spaces around the placeholders; the words were the same."""
    return _PLACEHOLDER_SPACES.sub(r"\1", message)


_PLACEHOLDER_SPACES = re.compile(r" ?(\{(?:name|date|days)\}) ?")


def _seed_publicity(session: Session, rules: dict[str, CalendarRule]) -> None:
    code, name = CITY_CAMPAIGN
    campaign = session.scalars(select(PublicityCampaign).where(PublicityCampaign.code == code)).first()
    if campaign is None:
        campaign = PublicityCampaign(code=code, name=name, builtin=True, enabled=True)
        session.add(campaign)
        session.flush()
    existing = set(session.scalars(select(PublicityItem.code)))
    for item_code, title, content, when, valid_days, year in CITY_ITEMS:
        if item_code in existing:
            continue
        item = PublicityItem(campaign_id=campaign.id, code=item_code, title=title, content=content,
                             audience="all", channel="mass", enabled=True, valid_days=valid_days, year=year)
        if isinstance(when[0], str):
            item.calendar_rule_id, item.offset_days = rules[when[0]].id, when[1]
        else:
            item.month, item.day, item.end_month, item.end_day = when
        session.add(item)
