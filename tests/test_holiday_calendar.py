"""The computed 双拥 calendar: checked against lunar-python (a second, independent
library) for 2026–2035 and against the table of domain.md §1.6."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from lunar_python import Lunar, LunarYear, Solar
from sqlalchemy import select

from models.calendar import CalendarRule, LeapPolicy, RuleKind
from services.calendar_seed import seed_all
from services.holiday_calendar import (
    RuleError,
    add_rule,
    change_rule,
    days_in_year,
    occurrences_in_year,
    rule_by_code,
    set_enabled,
)
from tests.scheduler_helpers import cli_env, seeded_sessions

YEARS = range(2026, 2036)


def _solar(lunar: Lunar) -> date:
    s = lunar.getSolar()
    return date(s.getYear(), s.getMonth(), s.getDay())


def oracle(name: str, year: int) -> date:
    """The day by lunar-python, for Gregorian `year`."""
    if name == "chunjie":
        return _solar(Lunar.fromYmd(year, 1, 1))
    if name == "chuxi":
        last = LunarYear.fromYear(year - 1).getMonth(12).getDayCount()
        return _solar(Lunar.fromYmd(year - 1, 12, last))
    if name == "xiaonian":
        return _solar(Lunar.fromYmd(year - 1, 12, 23))
    if name == "yuanxiao":
        return _solar(Lunar.fromYmd(year, 1, 15))
    if name == "duanwu":
        return _solar(Lunar.fromYmd(year, 5, 5))
    if name == "zhongqiu":
        return _solar(Lunar.fromYmd(year, 8, 15))
    if name == "chongyang":
        return _solar(Lunar.fromYmd(year, 9, 9))
    if name == "qingming":
        s = Solar.fromYmd(year, 6, 1).getLunar().getJieQiTable()["清明"]
        return date(s.getYear(), s.getMonth(), s.getDay())
    if name == "guofang":  # lunar-python knows the day by name
        for offset in range(30):
            day = date(year, 9, 1) + timedelta(days=offset)
            if "全民国防教育日" in Solar.fromYmd(day.year, day.month, day.day).getFestivals():
                return day
    raise AssertionError(f"no oracle for {name} {year}")


@pytest.fixture
def rules(sqlite_url):
    with seeded_sessions(sqlite_url) as sessions:
        with sessions() as session:
            yield session


@pytest.mark.parametrize("code", ["chunjie", "chuxi", "xiaonian", "yuanxiao", "qingming", "duanwu",
                                  "zhongqiu", "chongyang", "guofang"])
def test_days_agree_with_lunar_python_2026_to_2035(rules, code):
    rule = rule_by_code(rules, code)
    for year in YEARS:
        found = [o.start for o in occurrences_in_year(rule, year)]
        assert found == [oracle(code, year)], (code, year)


# domain.md §1.6, verified there with five libraries.
DOMAIN_TABLE = {
    "laba": ["01-26", "01-15", "01-04", "01-22", "01-11", "01-01", "01-20"],
    "xiaonian": ["02-10", "01-30", "01-19", "02-06", "01-26", "01-16", "02-04"],
    "chuxi": ["02-16", "02-05", "01-25", "02-12", "02-02", "01-22", "02-10"],
    "chunjie": ["02-17", "02-06", "01-26", "02-13", "02-03", "01-23", "02-11"],
    "yuanxiao": ["03-03", "02-20", "02-09", "02-27", "02-17", "02-06", "02-25"],
    "qingming": ["04-05", "04-05", "04-04", "04-04", "04-05", "04-05", "04-04"],
    "duanwu": ["06-19", "06-09", "05-28", "06-16", "06-05", "06-24", "06-12"],
    "guofang": ["09-19", "09-18", "09-16", "09-15", "09-21", "09-20", "09-18"],
    "zhongqiu": ["09-25", "09-15", "10-03", "09-22", "09-12", "10-01", "09-19"],
    "chongyang": ["10-18", "10-08", "10-26", "10-16", "10-05", "10-24", "10-12"],
}


@pytest.mark.parametrize("code", sorted(DOMAIN_TABLE))
def test_days_match_the_domain_table(rules, code):
    rule = rule_by_code(rules, code)
    for year, month_day in zip(range(2026, 2033), DOMAIN_TABLE[code]):
        assert [o.start.isoformat() for o in occurrences_in_year(rule, year)] == [f"{year}-{month_day}"]


def test_leap_months_count_only_when_the_rule_says_so(rules):
    duanwu = rule_by_code(rules, "duanwu")
    assert [o.start for o in occurrences_in_year(duanwu, 2028)] == [date(2028, 5, 28)]  # not 闰五月初五
    both = add_rule(rules, code="leap_both", name="五月初五（含闰月）", kind=RuleKind.LUNAR, month=5, day=5,
                    leap=LeapPolicy.BOTH)
    assert [o.start for o in occurrences_in_year(both, 2028)] == [date(2028, 5, 28), date(2028, 6, 27)]
    leap_only = add_rule(rules, code="leap3", name="闰三月初一", kind=RuleKind.LUNAR, month=3, day=1,
                         leap=LeapPolicy.LEAP)
    assert [o.start for o in occurrences_in_year(leap_only, 2031)] == [oracle_leap_first(2031, 3)]
    assert occurrences_in_year(leap_only, 2027) == []  # no 闰三月 that year


def oracle_leap_first(year: int, month: int) -> date:
    return _solar(Lunar.fromYmd(year, -month, 1))  # lunar-python writes a leap month as negative


def test_fixed_days_ranges_and_yearly_tasks(rules):
    days = {o.code: o for o in days_in_year(rules, 2027)}
    assert days["yuandan"].start == date(2027, 1, 1)
    assert days["bayi"].start == date(2027, 8, 1)
    assert days["lieshi"].start == date(2027, 9, 30)
    assert (days["shuangyong_month"].start, days["shuangyong_month"].end) == (date(2027, 7, 20), date(2027, 8, 20))
    assert days["xueleifeng_month"].start == date(2027, 3, 1)
    assert days["task_annual_report"].start == date(2027, 12, 31)


def test_calendar_command_prints_one_day_per_line(sqlite_url, tmp_path, cli):
    result = cli(["calendar", "2027"], cli_env(sqlite_url, tmp_path))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in ("2027-02-06 春节", "2027-02-05 除夕", "2027-01-30 小年（北方）", "2027-09-18 全民国防教育日",
                     "2027-04-05 清明（烈士祭扫）", "2027-07-20 双拥展示月（至2027-08-20）", "2027-08-01 八一建军节"):
        assert expected in lines
    assert lines == sorted(lines)  # by date
    assert "尚未收录" in result.stderr  # 2027 is not in chinese-calendar yet: staff are told


def test_calendar_command_refuses_a_year_out_of_range(sqlite_url, tmp_path, cli):
    result = cli(["calendar", "1850"], cli_env(sqlite_url, tmp_path))
    assert result.exit_code == 2
    assert "年份应在" in result.stderr and result.stdout == ""


def test_staff_add_change_and_disable_rules(rules):
    add_rule(rules, code="county_day", name="县双拥日", kind=RuleKind.SOLAR, month=11, day=8)
    assert date(2027, 11, 8) in [o.start for o in days_in_year(rules, 2027) if o.code == "county_day"]
    change_rule(rules, "county_day", day=9)
    assert [o.start for o in days_in_year(rules, 2027) if o.code == "county_day"] == [date(2027, 11, 9)]
    set_enabled(rules, "chongyang", False)
    assert "chongyang" not in {o.code for o in days_in_year(rules, 2027)}
    seed_all(rules)  # a later seed does not bring a disabled built-in back
    assert rule_by_code(rules, "chongyang").enabled is False
    assert "chongyang" not in {o.code for o in days_in_year(rules, 2027)}


@pytest.mark.parametrize("fields, message", [
    (dict(kind=RuleKind.SOLAR, month=2, day=30), "不是有效的公历日期"),
    (dict(kind=RuleKind.LUNAR, month=13, day=1), "农历月份"),
    (dict(kind=RuleKind.LUNAR, month=12, day=31), "农历日"),
    (dict(kind=RuleKind.TERM, term="春天"), "二十四节气"),
    (dict(kind=RuleKind.WEEKDAY, month=9, nth=6, weekday=5), "第几个"),
    (dict(kind=RuleKind.RANGE, month=7, day=20, end_month=8, end_day=32), "结束日期"),
])
def test_bad_rules_are_refused_with_a_reason_and_change_nothing(rules, fields, message):
    before = rules.scalar(select(CalendarRule.id).order_by(CalendarRule.id.desc()))
    with pytest.raises(RuleError, match=message):
        add_rule(rules, code="bad", name="坏规则", **fields)
    rules.rollback()
    assert rules.scalar(select(CalendarRule.id).order_by(CalendarRule.id.desc())) == before
    assert rule_by_code(rules, "bad") is None


def test_a_bad_change_keeps_the_old_rule(rules):
    with pytest.raises(RuleError):
        change_rule(rules, "bayi", month=2, day=31)
    bayi = rule_by_code(rules, "bayi")
    assert (bayi.month, bayi.day) == (8, 1)
