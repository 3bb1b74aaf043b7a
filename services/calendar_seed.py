"""The built-in calendar, reminder rules and city publicity campaign.

Seeding inserts what is missing and never touches a row staff have edited or
disabled; built-in rows are disabled, not deleted, so a later seed does not bring
them back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import CalendarRule, LeapPolicy, RuleKind
from models.publicity import PublicityCampaign, PublicityItem
from models.reminders import Audience, ReminderRule
from services.visit_plans import seed_seasons

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
     "{name}（{date}）还有 {days} 天，请安排走访慰问和拥军优属活动。"),
    ("bayi_staff", "bayi", "holiday_reminder", "14,3", Audience.STAFF,
     "{name}（{date}）还有 {days} 天，请落实八一走访、军政座谈会等活动。"),
    ("yuandan_staff", "yuandan", "holiday_reminder", "14,3", Audience.STAFF,
     "{name}（{date}）还有 {days} 天，请安排元旦走访慰问。"),
    ("qingming_staff", "qingming", "holiday_reminder", "7", Audience.STAFF,
     "{name}（{date}）还有 {days} 天，请组织烈士祭扫活动。"),
    ("lieshi_staff", "lieshi", "holiday_reminder", "7", Audience.STAFF,
     "{name}（{date}）还有 {days} 天，请准备公祭和缅怀活动。"),
    ("guofang_staff", "guofang", "holiday_reminder", "7", Audience.STAFF,
     "{name}（{date}）还有 {days} 天，请安排国防教育宣传。"),
    ("leaders_meeting_1", "task_leaders_meeting_1", "yearly_task", "14", Audience.STAFF,
     "年度任务：{name}请在 {date} 前召开（还有 {days} 天）。"),
    ("leaders_meeting_2", "task_leaders_meeting_2", "yearly_task", "14", Audience.STAFF,
     "年度任务：{name}请在 {date} 前召开（还有 {days} 天）。"),
    ("annual_report", "task_annual_report", "yearly_task", "30,7", Audience.STAFF,
     "年度任务：{name}请在 {date} 前完成（还有 {days} 天）。"),
    ("conscript_allowance", "task_conscript_allowance", "yearly_task", "14", Audience.STAFF,
     "年度任务：{name}，请在 {date} 前核发到户（还有 {days} 天）。"),
    ("xueleifeng_month", "xueleifeng_month", "yearly_task", "10", Audience.STAFF,
     "年度任务：{name}将于 {date} 开始，请提前安排学雷锋做好事活动（还有 {days} 天）。"),
]

# The city 实施方案's publicity calendar (seed document, 方案3), at most 4 items a month.
CITY_CAMPAIGN = ("city_publicity", "市双拥宣传日历")
# code, title, content, (month, day, end_month, end_day) or (rule code, offset)
CITY_ITEMS: list[tuple[str, str, str, tuple]] = [
    ("city_documents", "推进双拥社会化实施意见印发",
     "4月初印发推进双拥社会化实施意见，请各成员单位认真学习落实。", (4, 1, None, None)),
    ("city_knowledge", "社会化拥军知识宣传",
     "社会化拥军情况和普及知识宣传：人人关心国防，人人支持拥军。", (4, 15, None, None)),
    ("city_typical_cases", "社会化拥军典型宣传",
     "4月下旬至5月，宣传社会团体拥军典型事迹，欢迎关注。", (4, 21, 5, 31)),
    ("city_qingming", "清明缅怀先烈", "清明将至，让我们缅怀革命先烈，弘扬英烈精神。", ("qingming", -3)),
    ("city_performances", "拥军慰问演出", "5月至7月，拥军演出队赴基层部队慰问演出。", (5, 1, 7, 31)),
    ("city_volunteer_flag", "双拥志愿者队伍授旗仪式",
     "双拥志愿者队伍授旗仪式在5月举行，欢迎更多志愿者加入拥军志愿服务。", (5, 15, None, None)),
    ("city_community", "社区拥军品牌宣传",
     "5月下旬至6月，宣传社区双拥工作站等社区拥军经验。", (5, 21, 6, 30)),
    ("city_books", "“共沐书香”书籍进军营", "6月中旬开展流动图书室送书进军营活动。", (6, 15, None, None)),
    ("city_showcase_month", "双拥展示月", "7月20日至8月20日为双拥展示月，欢迎参与各项双拥活动。", (7, 20, 8, 20)),
    ("city_hardship_aid", "困难官兵救助", "7月下旬开展驻市区部队困难官兵救助活动。", (7, 21, 7, 31)),
    ("city_bayi", "八一建军节", "热烈庆祝八一建军节！军政座谈会、军事生活日、八一走访等活动陆续开展。",
     ("bayi", 0)),
    ("city_defence_day", "全民国防教育日", "今天是全民国防教育日，人人关心国防，人人支持国防。", ("guofang", 0)),
    ("city_martyrs_day", "烈士纪念日", "今天是烈士纪念日，让我们向英烈致敬。", ("lieshi", 0)),
]


def seed_all(session: Session) -> None:
    """Insert the missing built-in rows (idempotent); the caller commits."""
    rules = _seed_rules(session)
    _seed_reminders(session, rules)
    _seed_publicity(session, rules)
    seed_seasons(session)
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
    existing = set(session.scalars(select(ReminderRule.code)))
    for code, rule_code, kind, leads, audience, message in BUILTIN_REMINDERS:
        if code not in existing:
            session.add(ReminderRule(code=code, calendar_rule_id=rules[rule_code].id, kind=kind, lead_days=leads,
                                     audience=audience, message=message, builtin=True, enabled=True))


def _seed_publicity(session: Session, rules: dict[str, CalendarRule]) -> None:
    code, name = CITY_CAMPAIGN
    campaign = session.scalars(select(PublicityCampaign).where(PublicityCampaign.code == code)).first()
    if campaign is None:
        campaign = PublicityCampaign(code=code, name=name, builtin=True, enabled=True)
        session.add(campaign)
        session.flush()
    existing = set(session.scalars(select(PublicityItem.code)))
    for item_code, title, content, when in CITY_ITEMS:
        if item_code in existing:
            continue
        item = PublicityItem(campaign_id=campaign.id, code=item_code, title=title, content=content,
                             audience="all", channel="mass", enabled=True)
        if isinstance(when[0], str):
            item.calendar_rule_id, item.offset_days = rules[when[0]].id, when[1]
        else:
            item.month, item.day, item.end_month, item.end_day = when
        session.add(item)
