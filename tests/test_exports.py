"""The exports (services.exports) as staff open them: each as Excel in openpyxl with the
expected rows and totals, masked phones and ID numbers unless revealed, a township's own rows
only, ended people only when asked; and `python -m bot export NAME` for each NAME."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli.main import cli
from bot.console.export_files import workbook
from models.beneficiary import Beneficiary, BeneficiaryStatus, EndReason, Household, RegistrationStatus
from models.roster import Area, AreaLevel
from models.staff_account import AuditEntry
from models.visits import PlannedVisit, VisitPlan, VisitStatus, VisitTeam
from services import exports
from services.exports import ExportError, Options
from tests.conftest import DATA_KEY, TOKEN
from tests.scheduler_helpers import seeded_sessions

# Invented people. Full numbers must never appear in a masked export.
WANG_ID, WANG_PHONE = "320102194501011234", "13900001111"  # 男 (17th digit odd)
ZHAO_PHONE = "13800002222"
CHEN_ID, CHEN_PHONE = "320102197003041248", "13700003333"  # 女
ENDED_ID = "320102193001015517"
SECRETS = (WANG_ID, WANG_PHONE, ZHAO_PHONE, CHEN_ID, CHEN_PHONE, ENDED_ID)
VISITED = datetime(2027, 1, 20, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


def person(s, household, name, *categories, relation="户主", verified=True, **extra) -> Beneficiary:
    n = s.scalar(select(Beneficiary.id).order_by(Beneficiary.id.desc()).limit(1)) or 0
    who = Beneficiary(number=f"YF2026-{n + 1:04d}", household=household, name=name, relation="self",
                      relation_to_head=relation, source="import",
                      status=RegistrationStatus.VERIFIED if verified else RegistrationStatus.PENDING, **extra)
    who.statuses = [BeneficiaryStatus(category=c) if isinstance(c, str) else c for c in categories]
    s.add(who)
    s.flush()
    return who


def household(s, town, village, address, **extra) -> Household:
    h = Household(town=town, village=village, address=address, **extra)
    s.add(h)
    s.flush()
    return h


def add_areas(s) -> None:
    """The county's own order of 乡镇 and 村 (not the order of their names)."""
    county = Area(level=AreaLevel.COUNTY, name="城关县")
    s.add(county)
    s.flush()
    for n, (town, villages) in enumerate((("城关镇", ("河口村", "柳营村")), ("青石镇", ("石桥村",)))):
        parent = Area(level=AreaLevel.TOWN, name=town, parent_id=county.id, position=n)
        s.add(parent)
        s.flush()
        s.add_all(Area(level=AreaLevel.VILLAGE, name=v, parent_id=parent.id, position=i) for i, v in enumerate(villages))


def build_world(sessions) -> dict:
    """Four households in two towns, one plan with two teams, one ended and one pending person."""
    with sessions.begin() as s:
        add_areas(s)
        h1 = household(s, "城关镇", "河口村", "河口村3组12号")
        wang = person(s, h1, "王大山", "MARTYR_F", id_number=WANG_ID)
        person(s, h1, "李桂兰", "MARTYR_F", relation="配偶", mobile=WANG_PHONE)
        h1.head_id = wang.id
        h2 = household(s, "城关镇", "柳营村", "柳营村5号", honor_plaque_on=date(2024, 8, 1))
        zhao = person(s, h2, "赵老兵", "DEMOB_OLD", mobile=ZHAO_PHONE, key_care=True, lonely_elderly=True)
        h2.head_id = zhao.id
        h3 = household(s, "青石镇", "石桥村", "石桥村8号", conscript_family=True)
        chen = person(s, h3, "陈秀英", "FAMILY", id_number=CHEN_ID, mobile=CHEN_PHONE)
        person(s, h3, "陈小兵", "SOLDIER", relation="子女")
        h3.head_id = chen.id
        h4 = household(s, "城关镇", "河口村", "河口村1组2号")
        ended = person(s, h4, "孙老伯", BeneficiaryStatus(category="DISABLED", disability_grade=3, disability_cause="war"),
                       id_number=ENDED_ID, ended_on=date(2026, 10, 1), end_reason=EndReason.DIED)
        h4.head_id = ended.id
        h5 = household(s, "城关镇", "河口村", "河口村9号")
        person(s, h5, "周待核", "VETERAN", verified=False)
        east, west = VisitTeam(town="城关镇", name="城关镇走访组"), VisitTeam(town="青石镇", name="青石镇走访组")
        s.add_all([east, west])
        plan = VisitPlan(season="liangjie", year=2027, name="2027年元旦春节走访慰问", holiday_date=date(2027, 2, 6),
                         window_start=date(2027, 1, 15), window_end=date(2027, 2, 20))
        other = VisitPlan(season="bayi", year=2027, name="2027年八一走访慰问", holiday_date=date(2027, 8, 1),
                          window_start=date(2027, 7, 20), window_end=date(2027, 8, 1))
        s.add_all([plan, other])
        s.flush()
        s.add_all([
            PlannedVisit(plan_id=plan.id, household_id=h1.id, team_id=east.id, priority=1, category="MARTYR_F",
                         status=VisitStatus.DONE, visited_at=VISITED, visitors="张书记、李干事", money_cents=50000,
                         goods="米面油", leader="刘县长"),
            PlannedVisit(plan_id=plan.id, household_id=h2.id, team_id=east.id, priority=4, category="DEMOB_OLD"),
            PlannedVisit(plan_id=plan.id, household_id=h3.id, team_id=west.id, priority=10, category="FAMILY",
                         status=VisitStatus.DONE, visited_at=VISITED, visitors="王站长", money_cents=30050),
            PlannedVisit(plan_id=plan.id, household_id=h4.id, team_id=east.id, priority=3, category="DISABLED",
                         status=VisitStatus.CANCELLED),
        ])
        return {"plan": plan.id, "east": east.id, "west": west.id}


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as made:
        yield made


@pytest.fixture
def world(sessions):
    return build_world(sessions)


def run(sessions, slug, **options) -> exports.Export:
    with sessions() as s:
        return exports.build(s, slug, Options(today=date(2026, 12, 1), **options))


def as_book(export):
    from io import BytesIO

    return load_workbook(BytesIO(workbook(export, "城关县", date(2026, 12, 1))))


def cells(book) -> list[str]:
    return [str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]


def data_rows(sheet) -> list[list]:
    """The rows under the header (row 3), as values."""
    return [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]


# --- each export --------------------------------------------------------------------------


def test_visit_ledger_rows_totals_and_title(sessions, world):
    export = run(sessions, "visit-ledger", year=2027, holiday="元旦春节")
    book = as_book(export)
    sheet = book.active
    assert sheet["A1"].value == "城关县走访慰问台账"
    assert "2027年元旦春节走访慰问" in sheet["A2"].value and "2026-12-01" in sheet["A2"].value
    assert [c.value for c in sheet[3]][:6] == ["序号", "户主", "类别", "乡镇（街道）", "村（社区）", "常住地址"]
    rows = data_rows(sheet)
    body, totals = rows[:-1], rows[-1]
    # By town and village; the cancelled household (its person ended) is not on the list.
    assert [(r[1], r[3], r[4]) for r in body] == [("王大山", "城关镇", "河口村"), ("赵老兵", "城关镇", "柳营村"),
                                                  ("陈秀英", "青石镇", "石桥村")]
    wang = body[0]
    assert wang[2] == "烈士遗属" and wang[5] == "河口村3组12号" and wang[6] == "城关镇走访组"
    assert wang[7:] == ["2027-01-20", "张书记、李干事", 500, "米面油", "已走访"]
    assert body[1][-1] == "待走访" and body[1][9] is None
    assert totals[0] == "合计" and totals[1] == "共3户" and totals[7] == "已走访2户" and totals[9] == 800.5
    assert sheet.cell(row=4, column=10).number_format == "#,##0.00"
    assert sheet.freeze_panes == "A4" and sheet.print_title_rows == "$3:$3"
    assert int(sheet.page_setup.paperSize) == 9 and sheet.page_setup.orientation == "landscape"
    assert export.row_count == 3


def test_team_lists_one_sheet_per_team_in_visiting_order_without_id_numbers(sessions, world):
    export = run(sessions, "team-lists", year=2027, holiday="liangjie", reveal=True)
    book = as_book(export)
    assert book.sheetnames == ["城关镇走访组", "青石镇走访组"]
    east = data_rows(book["城关镇走访组"])
    assert [r[2] for r in east[:-1]] == ["王大山", "赵老兵"]  # 烈属 (priority 1) first
    assert east[0][4] == "河口村3组12号" and east[0][5] == WANG_PHONE and east[0][6] == "重点"
    assert east[0][8] == "刘县长" and east[0][10] is None  # the signature cell is left blank
    assert east[-1][:3] == ["合计", None, "共2户"]
    assert book["城关镇走访组"].row_dimensions[4].height >= 30  # room for a signature
    assert WANG_ID not in cells(book) and CHEN_ID not in cells(book)  # visitors never get ID numbers

    one = run(sessions, "team-lists", year=2027, holiday="liangjie", team="青石镇走访组")
    assert [t.title for t in one.tables] == ["青石镇走访组"] and one.row_count == 1


def test_relief_signoff_per_town_with_blank_signatures_and_totals(sessions, world):
    book = as_book(run(sessions, "relief-signoff", year=2027, holiday="春节"))
    assert book.sheetnames == ["城关镇", "青石镇"]
    sheet = book["城关镇"]
    assert [c.value for c in sheet[3]] == ["序号", "姓名", "类别", "村（社区）", "金额（元）", "领取人签名", "领取日期", "备注"]
    rows = data_rows(sheet)
    assert rows[0][:6] == [1, "王大山", "烈士遗属", "河口村", 500, None]
    assert rows[-1][:5] == ["合计", "共2人", None, None, 500]
    assert data_rows(book["青石镇"])[-1][4] == 300.5
    assert sheet.page_setup.orientation == "portrait"


def test_roster_people_gender_flags_head_and_ended_on_request(sessions, world):
    export = run(sessions, "roster", reveal=True)
    rows = export.tables[0].rows
    names = [r[1] for r in rows]
    assert names == ["王大山", "李桂兰", "赵老兵", "陈秀英", "陈小兵"]  # verified, not ended; head first
    wang, li = rows[0], rows[1]
    assert wang[2:5] == ["男", WANG_ID, "烈士遗属"] and li[8] == WANG_PHONE
    assert li[10:] == ["王大山", "配偶"]
    assert rows[2][9] == "重点优抚、孤老、已挂光荣牌" and rows[3][2] == "女" and "义务兵家庭" in rows[4][9]
    assert export.tables[0].totals[:3] == ["合计", "共5人", "3户"]

    with_ended = run(sessions, "roster", include_ended=True)
    sun = next(r for r in with_ended.tables[0].rows if r[1] == "孙老伯")
    assert sun[4] == "残疾军人（因战3级）" and sun[-2:] == ["2026-10-01", "去世"]
    assert sun[3] == "3201**********5517"


def test_conscript_allowance_names_the_soldier_and_the_recipient(sessions, world):
    export = run(sessions, "conscript-allowance", year=2027, reveal=True)
    book = as_book(export)
    rows = data_rows(book.active)
    assert rows[0][1:9] == ["青石镇", "石桥村", "陈小兵", "陈秀英", "父母", CHEN_ID, CHEN_PHONE, "石桥村8号"]
    assert rows[0][9] is None  # the amount is for staff to fill in
    assert rows[-1][:2] == ["合计", "共1户"] and "2027年度" in book.active["A2"].value


# --- masking, scope, errors ------------------------------------------------------------------


@pytest.mark.parametrize("slug", sorted(exports.EXPORTS))
def test_no_full_phone_or_id_number_anywhere_when_not_revealed(sessions, world, slug):
    export = run(sessions, slug, year=2027, holiday="liangjie", include_ended=True)
    found = cells(as_book(export))
    leaked = [value for value in found for secret in SECRETS if secret in value]
    assert not leaked, f"{slug}: {leaked}"


def test_masked_values_keep_the_ends_staff_recognise(sessions, world):
    rows = run(sessions, "roster").tables[0].rows
    assert rows[0][3] == "3201**********1234" and rows[1][8] == "139****1111"


def test_a_township_gets_its_own_town_only(sessions, world):
    ledger = run(sessions, "visit-ledger", year=2027, holiday="liangjie", town="青石镇")
    assert [r[1] for r in ledger.tables[0].rows] == ["陈秀英"] and "青石镇" in ledger.subtitle
    roster = run(sessions, "roster", town="城关镇")
    assert {r[5] for r in roster.tables[0].rows} == {"城关镇"}
    assert run(sessions, "conscript-allowance", town="城关镇").row_count == 0
    with pytest.raises(ExportError, match="没有找到走访组"):  # another town's team is not found
        run(sessions, "team-lists", year=2027, holiday="liangjie", team="青石镇走访组", town="城关镇")


def test_an_unknown_or_ambiguous_plan_is_a_clear_error(sessions, world):
    with pytest.raises(ExportError, match="没有找到2026年.*走访计划"):
        run(sessions, "visit-ledger", year=2026, holiday="liangjie")
    with pytest.raises(ExportError, match="有2个走访计划，请指明节日.*八一"):
        run(sessions, "visit-ledger", year=2027)
    assert run(sessions, "visit-ledger", year=2027, holiday="八一").row_count == 0


def test_text_typed_by_staff_never_becomes_a_formula(sessions, world):
    with sessions.begin() as s:
        s.execute(PlannedVisit.__table__.update().values(goods="=HYPERLINK(\"http://x\",\"点\")"))
    book = as_book(run(sessions, "visit-ledger", year=2027, holiday="liangjie"))
    cell = book.active.cell(row=4, column=11)
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"


def test_audit_row_counts(sessions, world):
    export = run(sessions, "roster")
    with sessions.begin() as s:
        exports.audit_export(s, export, at=VISITED, username="cli")
    with sessions() as s:
        entry = s.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.staff_username) == ("export", "cli")
    assert "优抚对象花名册" in entry.detail and "5行" in entry.detail


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def cli_env(sqlite_url, tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("WECHAT_", "REDIS_", "SCHEDULER_", "CONSOLE_")):
            monkeypatch.delenv(name)
    for name, value in {"DATABASE_URL": sqlite_url, "INSTANCE_DIR": str(tmp_path), "LOG_LEVEL": "WARNING",
                        "SECRET_KEY": "test-secret-key-0123456789", "DATA_ENCRYPTION_KEY": DATA_KEY,
                        "WECHAT_TOKEN": TOKEN, "APP_ENV": "development"}.items():
        monkeypatch.setenv(name, value)
    with seeded_sessions(sqlite_url) as made:
        build_world(made)
        yield made


CLI_CASES = {
    "visit-ledger": (["--year", "2027", "--holiday", "元旦春节"], 3),
    "team-lists": (["--year", "2027", "--holiday", "liangjie", "--team", "城关镇走访组"], 2),
    "relief-signoff": (["--year", "2027", "--holiday", "liangjie"], 3),
    "roster": (["--include-ended"], 6),
    "conscript-allowance": (["--year", "2027"], 1),
}


@pytest.mark.parametrize("slug", sorted(CLI_CASES))
def test_cli_export_writes_a_full_workbook_and_audits_it(cli_env, tmp_path, slug):
    args, rows = CLI_CASES[slug]
    out = tmp_path / f"{slug}.xlsx"
    result = CliRunner().invoke(cli, ["export", slug, *args, "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"{rows} rows" in result.output
    book = load_workbook(out)
    assert sum(len(data_rows(sheet)) - 1 for sheet in book.worksheets) == rows  # minus each totals row
    with cli_env() as s:
        entry = s.scalars(select(AuditEntry)).one()
    assert entry.staff_username == "cli" and f"{rows}行" in entry.detail
    if slug == "roster":  # the operator on the server gets full numbers
        assert WANG_ID in cells(book)


def test_cli_unknown_name_or_plan_says_what_exists(cli_env, tmp_path):
    out = tmp_path / "x.xlsx"
    unknown = CliRunner().invoke(cli, ["export", "ledger", "--out", str(out)])
    assert unknown.exit_code == 2 and "visit-ledger" in unknown.output and "conscript-allowance" in unknown.output
    no_plan = CliRunner().invoke(cli, ["export", "visit-ledger", "--year", "2030", "--holiday", "清明", "--out", str(out)])
    assert no_plan.exit_code == 1 and "没有找到2030年清明的走访计划" in no_plan.output and not out.exists()
    helped = CliRunner().invoke(cli, ["export", "--help"])
    assert all(slug in helped.output for slug in exports.EXPORTS)
