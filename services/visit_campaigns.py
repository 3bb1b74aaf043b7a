"""走访慰问 campaigns: the rules staff edit, and the plan each gives for a year.

Built in: one 两节 (元旦春节) campaign — one round, one 慰问金 per household — from 腊八 or
1 月 15 日, whichever is earlier, to 元宵; and 八一 (7/20–8/1). Both visit 重点优抚对象 and
义务兵家庭; other 退役军人 households only where the county adds them. A county that runs
元旦 and 春节 apart switches to the separate campaigns, which still merge when their
windows nearly meet (2028, 2031).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.beneficiary import BeneficiaryCategory as C
from models.visits import VisitCampaign
from services import campaign_dates
from services.holiday_calendar import RuleError, occurrences_in_year

# 重点优抚对象 (定期抚恤补助对象) and 义务兵家庭; 退役军人 (VETERAN) only when the county adds it.
DEFAULT_CATEGORIES = ",".join(c.value for c in C if c is not C.VETERAN)
TWO_FESTIVALS, SEPARATE = "liangjie", ("yuandan", "chunjie")
# code, name, holidays, start, end, merge into, merge gap days, enabled
BUILTIN_CAMPAIGNS = [
    (TWO_FESTIVALS, "元旦春节", "yuandan,chunjie", "min(laba, 01-15)", "yuanxiao", None, 0, True),
    ("yuandan", "元旦", "yuandan", "yuandan-12", "yuandan+2", "chunjie", 7, False),
    ("chunjie", "春节", "chunjie", "laba", "yuanxiao", None, 0, False),
    ("bayi", "八一", "bayi", "07-20", "bayi", None, 0, True),
]
LEAD_DAYS = 7


@dataclass(frozen=True)
class PlanSpec:
    season: str  # the campaign code ("yuandan+chunjie" when two merged)
    year: int
    name: str
    holiday_date: date
    window_start: date
    window_end: date
    generate_on: date
    categories: frozenset[str] | None


def seed_campaigns(session: Session) -> None:
    existing = set(session.scalars(select(VisitCampaign.code)))
    for code, name, holidays, start, end, merge_into, gap, enabled in BUILTIN_CAMPAIGNS:
        if code not in existing:
            session.add(VisitCampaign(code=code, name=name, holidays=holidays, start_expr=start, end_expr=end,
                                      lead_days=LEAD_DAYS, categories=DEFAULT_CATEGORIES, merge_into=merge_into,
                                      merge_gap_days=gap, enabled=enabled, builtin=True))
    session.flush()


def use_separate_rounds(session: Session, separate: bool) -> None:
    """元旦 and 春节 as two rounds (True) or one 两节 campaign (False, the default)."""
    for campaign in session.scalars(select(VisitCampaign).where(VisitCampaign.code.in_([TWO_FESTIVALS, *SEPARATE]))):
        campaign.enabled = (campaign.code in SEPARATE) == separate
    session.flush()


def change_campaign(session: Session, code: str, **changes) -> VisitCampaign:
    """Edit a campaign (window, lead days, categories …); RuleError names what is wrong."""
    campaign = session.scalars(select(VisitCampaign).where(VisitCampaign.code == code)).first()
    if campaign is None:
        raise RuleError(f"没有代码为{code}的走访活动")
    for name, value in changes.items():
        if name in ("start_expr", "end_expr"):
            value = campaign_dates.check(session, value)
        elif name == "categories" and value:
            parts = [part.strip().upper() for part in value.split(",") if part.strip()]
            unknown = [part for part in parts if part not in C.__members__]
            if unknown:
                raise RuleError(f"没有这些优抚类别：{'、'.join(unknown)}（可用：{'、'.join(C.__members__)}）")
            value = ",".join(parts)
        elif name not in ("name", "lead_days", "enabled", "holidays", "merge_into", "merge_gap_days"):
            raise RuleError(f"字段{name}不能修改")
        setattr(campaign, name, value)
    session.flush()
    return campaign


# --- which plans, when ----------------------------------------------------------------


def plan_specs(session: Session, year: int) -> list[PlanSpec]:
    """The plans serving holidays of `year`; separate campaigns merged where their windows nearly meet."""
    return _plan_specs(_enabled_campaigns(session), campaign_dates.rules_by_code(session), year)


def _enabled_campaigns(session: Session) -> list[VisitCampaign]:
    return list(session.scalars(select(VisitCampaign).where(VisitCampaign.enabled.is_(True))
                                .order_by(VisitCampaign.id)))


def _plan_specs(campaigns: list[VisitCampaign], rules: campaign_dates.Rules, year: int) -> list[PlanSpec]:
    specs = {c.code: spec for c in campaigns if (spec := campaign_spec(rules, c, year)) is not None}
    for campaign in campaigns:
        first, later = specs.get(campaign.code), specs.get(campaign.merge_into or "")
        if first is None or later is None:
            continue
        if (later.window_start - first.window_end).days <= campaign.merge_gap_days:
            specs.pop(campaign.code)
            specs[later.season] = PlanSpec(
                season=f"{first.season}+{later.season}", year=year,
                name=f"{year}年{campaign.name}{_campaign_name(later)}走访慰问", holiday_date=later.holiday_date,
                window_start=min(first.window_start, later.window_start),
                window_end=max(first.window_end, later.window_end), generate_on=min(first.generate_on, later.generate_on),
                categories=_union(first.categories, later.categories),
            )
    return sorted(specs.values(), key=lambda s: s.window_start)


def specs_around(session: Session, today: date) -> list[PlanSpec]:
    """Plans of this year and next year: every one that can be live today (a window ends
    in the year of its holiday, and is planned at most a year ahead)."""
    campaigns, rules = _enabled_campaigns(session), campaign_dates.rules_by_code(session)  # read once for both years
    return [spec for year in (today.year, today.year + 1) for spec in _plan_specs(campaigns, rules, year)]


def campaign_spec(rules: campaign_dates.Rules, campaign: VisitCampaign, year: int) -> PlanSpec | None:
    codes = [c.strip() for c in campaign.holidays.split(",") if c.strip()]
    anchor_rule = rules.get(codes[-1]) if codes else None
    if anchor_rule is None:
        raise RuleError(f"走访活动{campaign.code}引用了不存在的日历规则")
    anchors = occurrences_in_year(anchor_rule, year)
    if not anchors:
        return None
    holiday = anchors[0].start
    window_start = campaign_dates.resolve(rules, campaign.start_expr, holiday)
    window_end = campaign_dates.resolve(rules, campaign.end_expr, holiday)
    categories = frozenset(c.strip() for c in campaign.categories.split(",") if c.strip()) if campaign.categories else None
    return PlanSpec(campaign.code, year, f"{year}年{campaign.name}走访慰问", holiday, window_start, window_end,
                    window_start - timedelta(days=campaign.lead_days), categories)


def _campaign_name(spec: PlanSpec) -> str:
    return spec.name.removeprefix(f"{spec.year}年").removesuffix("走访慰问")


def _union(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    return None if a is None or b is None else a | b
