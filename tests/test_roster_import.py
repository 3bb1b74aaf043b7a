"""Roster import from a county's Excel 台账: the preview a clerk reads, what confirming writes,
re-importing, the saved column mapping, the command line and the template."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from models.beneficiary import Beneficiary, BeneficiaryCategory as C, DisabilityCause, Household, RegistrationStatus
from models.database import make_engine, make_session_factory
from models.encrypted import blind_index
from models.roster import ImportBatch, RosterChange
from models.staff_account import AuditEntry
from services import beneficiaries, roster_import, roster_sheet, roster_template
from services.beneficiaries import BeneficiaryDetails
from services.roster_sheet import CellError
from tests.conftest import count_rows, make_settings
from tests.roster_workbooks import LI, WANG, X_ID, ZHENG, id_number, messy

NOW = datetime.fromisoformat("2026-12-01T02:00:00+00:00")
AREAS = {"城关镇": {"城东社区", "城西社区", "河口村", "柳营村"}, "青石镇": {"青石社区", "石桥村", "上坪村"},
         "东湖街道": {"东湖社区", "湖滨社区"}}


@pytest.fixture
def sessions(db_url):
    from models.schema import upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def preview(session, content: bytes, **kwargs):
    return roster_import.preview(session, BytesIO(content), "台账.xlsx", areas=AREAS, **kwargs)


def import_(sessions, content: bytes, **kwargs):
    with sessions.begin() as session:
        result = preview(session, content, **kwargs)
        batch = roster_import.confirm(session, result, NOW, actor="cli", username="cli")
        return result, batch.id


def by_row(result) -> dict:
    return {o.row: o for o in result.outcomes}


# --- the preview ----------------------------------------------------------------------------


def test_the_messy_workbook_previews_each_row_with_its_excel_row_number(sessions):
    with sessions() as session:
        result = preview(session, messy())
    rows = by_row(result)
    # Blank rows 6, 12, 13 are not listed; the title and two header rows are not data.
    assert sorted(rows) == [4, 5, 7, 8, 9, 10, 11, 14, 15]
    assert {r for r, o in rows.items() if o.kind == "new"} == {4, 5, 7, 14, 15}
    assert "另见第9行（青石镇石桥村）" in rows[8].errors[0] and "另见第8行（城关镇河口村）" in rows[9].errors[0]
    assert rows[10].errors == ["身份证号校验位（最后一位）不对，可能有一位输错了"]
    assert rows[11].errors == ["青石镇没有“桃花村”这个村（社区）"]
    assert rows[4].name == "王*山" and rows[4].place == "城关镇河口村"
    assert result.counts == {"new": 5, "update": 0, "unchanged": 0, "error": 4}
    assert result.summary() == "共9行：新增5人，更新0人，无变化0人，有错误4行"


def test_a_preview_writes_nothing(sessions, db_url):
    before = count_rows(db_url)
    with sessions.begin() as session:
        preview(session, messy())
    assert count_rows(db_url) == before


def test_confirming_writes_the_good_rows_households_and_statuses(sessions):
    result, batch_id = import_(sessions, messy())
    with sessions() as session:
        people = {p.name: p for p in session.scalars(select(Beneficiary))}
        assert set(people) == {"王大山", "李秀英", "孙小兵", "郑红", "钱多"}
        wang, li, sun = people["王大山"], people["李秀英"], people["孙小兵"]
        assert wang.id_number == WANG and wang.mobile == "13811110001"  # full-width digits made ASCII
        assert sun.id_number == X_ID and sun.id_number.endswith("X") and sun.mobile == "0571-88886666"
        # One household for husband and wife (same address, written with a space once), he is 户主.
        assert li.household_id == wang.household_id and wang.household.head_id == wang.id
        assert (wang.relation_to_head, li.relation_to_head) == ("户主", "配偶")
        assert wang.household.honor_plaque_on == date(2021, 8, 1) and wang.key_care
        assert wang.household.hukou_address == "河口村3组12号"
        martyr = li.statuses[0]
        assert (martyr.category, martyr.deceased_name, martyr.deceased_relation, martyr.deceased_on) == (
            C.MARTYR_F, "李建国", "父亲", date(1951, 3, 2))
        disabled = {s.category: s for s in sun.statuses}
        assert set(disabled) == {C.DISABLED, C.VETERAN}
        assert (disabled[C.DISABLED].disability_grade, disabled[C.DISABLED].disability_cause) == (6, DisabilityCause.WAR)
        assert sun.household.honor_plaque_on == date(2020, 8, 1)
        assert people["郑红"].household.conscript_family and people["钱多"].statuses[0].category == C.WAR_TEST
        assert all(p.status == RegistrationStatus.VERIFIED and p.source == "import" for p in people.values())
        assert len({p.number for p in people.values()}) == 5
        assert session.scalar(select(func.count(Household.id))) == 4
        batch = session.get(ImportBatch, batch_id)
        assert (batch.rows_total, batch.created, batch.updated, batch.unchanged, batch.skipped) == (9, 5, 0, 0, 4)
        assert len(batch.sha256) == 64
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "roster.import"))
        assert entry.subject_id == batch_id and "新增5人" in entry.detail
        assert "王大山" not in entry.detail  # the audit log names no one


def test_importing_the_same_file_twice_changes_nothing(sessions, db_url):
    import_(sessions, messy())
    before = count_rows(db_url)
    with sessions() as session:
        again = preview(session, messy())
    assert {o.kind for o in again.outcomes if not o.errors} == {"unchanged"}
    assert again.counts == {"new": 0, "update": 0, "unchanged": 5, "error": 4}
    _, batch_id = import_(sessions, messy())
    after = count_rows(db_url)
    # Only the record of the attempt: one batch row and one audit row.
    assert {t: after[t] - before[t] for t in after if after[t] != before[t]} == {"import_batch": 1, "audit_log": 1}


def test_a_changed_row_updates_the_person_with_history(sessions):
    import_(sessions, messy())
    book = load_workbook(BytesIO(messy()))
    sheet = book.active
    sheet["E4"] = "13999990000"  # 王大山's new phone
    sheet["K7"] = "4级"  # 孙小兵 re-assessed
    out = BytesIO()
    book.save(out)
    with sessions() as session:
        rows = by_row(preview(session, out.getvalue()))
    assert rows[4].kind == "update" and rows[4].changes == ["联系电话"]
    assert rows[7].kind == "update" and rows[7].changes == ["残疾军人：残疾等级"]
    _, batch_id = import_(sessions, out.getvalue())
    with sessions() as session:
        wang = session.scalar(select(Beneficiary).where(Beneficiary.id_number_bi.is_not(None))
                              .order_by(Beneficiary.id))
        assert wang.mobile == "13999990000"
        change = session.scalar(select(RosterChange).where(RosterChange.field == "mobile"))
        assert (change.old_value, change.new_value, change.actor) == ("13811110001", "13999990000",
                                                                      f"import:{batch_id}")


def test_a_pending_chat_registration_is_confirmed_not_duplicated(sessions):
    with sessions.begin() as session:
        person = beneficiaries.register(session, "oChatUser0000001", BeneficiaryDetails(
            "self", "王大山", ["DEMOB_OLD"], "13811110001", "城关镇", "河口村", "河口村3组12号", WANG), NOW)
        chat_household = person.household_id
    with sessions() as session:
        rows = by_row(preview(session, messy()))
    assert rows[4].kind == "update" and "核实状态→已核实" in rows[4].changes
    import_(sessions, messy())
    with sessions() as session:
        wangs = list(session.scalars(select(Beneficiary).where(Beneficiary.name_bi == person.name_bi)))
        assert len(wangs) == 1 and wangs[0].status == RegistrationStatus.VERIFIED
        li = session.scalar(select(Beneficiary).where(Beneficiary.id_number_bi == blind_index(LI, "id")))
        assert li.household_id == chat_household  # his wife joins the household he registered


def test_someone_else_under_the_same_id_number_is_an_error(sessions):
    with sessions.begin() as session:
        beneficiaries.register(session, "oChatUser0000002", BeneficiaryDetails(
            "self", "王小山", ["VETERAN"], "13811119999", "城关镇", "河口村", "别处1号", WANG), NOW)
    with sessions() as session:
        rows = by_row(preview(session, messy()))
    assert rows[4].errors == ["这个身份证号在名册上是另一个人（王*山），请核对"]


def test_a_township_account_imports_only_its_own_town(sessions):
    with sessions() as session:
        rows = by_row(preview(session, messy(), town="东湖街道"))
    assert rows[14].kind == "new"
    assert rows[4].errors == ["不属于东湖街道，您的账号只能导入本乡镇（街道）的人"]


def test_a_plain_list_forms_households_by_head_and_needs_a_category(sessions):
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "乡镇", "村", "类别", "户主", "与户主关系"])
    sheet.append(["郑红", ZHENG, "东湖街道", "湖滨社区", "军属", "郑红", "户主"])
    sheet.append(["郑小兵", None, "东湖街道", "湖滨社区", "现役军人", "郑红", "子"])
    sheet.append(["无类别", id_number("330102", "19800101", "111"), "东湖街道", "湖滨社区", None, None, None])
    out = BytesIO()
    book.save(out)
    result, _ = import_(sessions, out.getvalue())
    rows = by_row(result)
    assert rows[4].errors == ["缺少优抚类别：新登记的人至少要有一个类别，如“退役军人”"]
    with sessions() as session:
        mother, son = session.scalars(select(Beneficiary).order_by(Beneficiary.id)).all()
        assert son.household_id == mother.household_id and mother.household.head_id == mother.id
        assert son.relation_to_head == "子女" and son.id_number is None


# --- the mapping ----------------------------------------------------------------------------


def test_the_mapping_is_saved_per_header_layout_and_found_again(sessions):
    with sessions() as session:
        workbook, layout, _ = roster_import.read_file(BytesIO(messy()))
        mapping, saved = roster_import.mapping_for(session, layout)
    assert not saved and mapping["公民身份号码"] == "id_number" and mapping["备注"] == ""
    mapping["备注"] = "card_number"
    mapping["优待证号"] = ""
    with sessions.begin() as session:
        roster_import.save_mapping(session, layout, mapping, actor="staff:wangke")
    with sessions() as session:
        again, saved = roster_import.mapping_for(session, roster_import.read_file(BytesIO(messy()))[1])
    assert saved and again["备注"] == "card_number" and again["优待证号"] == ""


def test_a_mapping_without_names_or_with_a_column_twice_is_refused():
    with pytest.raises(roster_import.MappingError, match="请指出哪一列是：姓名"):
        roster_import.check_mapping({"A": "town", "B": "village"})
    with pytest.raises(roster_import.MappingError, match="这些内容选了不止一列：联系电话"):
        roster_import.check_mapping({"A": "name", "B": "town", "C": "village", "D": "mobile", "E": "mobile"})


def test_a_file_that_is_no_roster_gets_a_plain_answer(sessions):
    with sessions() as session, pytest.raises(roster_sheet.SheetError, match="打不开"):
        preview(session, b"not a workbook at all")
    book = Workbook()
    book.active.append(["随便", "一些", "内容"])
    out = BytesIO()
    book.save(out)
    with sessions() as session, pytest.raises(roster_sheet.SheetError, match="没有找到表头"):
        preview(session, out.getvalue())


# --- cells ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (datetime(1950, 3, 2), date(1950, 3, 2)), ("1950.3.2", date(1950, 3, 2)), ("1950年3月2日", date(1950, 3, 2)),
    ("１９５０－０３－０２", date(1950, 3, 2)), ("1950/03/02", date(1950, 3, 2)), ("19500302", date(1950, 3, 2)),
    (18324, date(1950, 3, 2)),  # a date cell that lost its format: Excel's day number
])
def test_dates_in_the_forms_county_files_use(value, expected):
    assert roster_sheet.parse_date(value, "牺牲时间") == expected


def test_cells_that_cannot_be_read_say_what_to_write():
    with pytest.raises(CellError, match="牺牲时间“1951年”看不懂"):
        roster_sheet.parse_date("1951年", "牺牲时间")
    with pytest.raises(CellError, match="优抚类别“三属”不认识"):
        roster_sheet.parse_categories("三属")
    with pytest.raises(CellError, match="残疾等级“11级”不对"):
        roster_sheet.parse_grade("11级")
    with pytest.raises(CellError, match="存成了数字"):
        roster_sheet.parse_id_number(330102195003021235)
    assert roster_sheet.parse_categories("烈属、退役军人/两参") == [C.MARTYR_F, C.VETERAN, C.WAR_TEST]
    assert roster_sheet.parse_grade("六级") == 6 and roster_sheet.parse_flag("√", "孤老") is True


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli_env(sqlite_url, tmp_path, monkeypatch):
    from models.schema import upgrade

    upgrade(sqlite_url)
    settings = make_settings(sqlite_url, tmp_path)
    monkeypatch.setattr("config.Settings.from_env", classmethod(lambda cls, *a, **k: settings))
    return sqlite_url, tmp_path


def run_cli(*args):
    from bot.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_dry_run_prints_the_preview_and_writes_nothing(cli_env):
    url, tmp = cli_env
    path = tmp / "台账.xlsx"
    path.write_bytes(messy())
    before = count_rows(url)
    result = run_cli("roster", "import", str(path), "--dry-run")
    assert result.exit_code == 1, result.output  # errors found
    assert "共9行：新增5人，更新0人，无变化0人，有错误4行" in result.output
    assert "第11行 吴*：青石镇没有“桃花村”这个村（社区）" in result.output
    assert "（试运行，没有写入任何数据）" in result.output
    assert count_rows(url) == before


def test_errors_stop_the_import_unless_told_to_skip_them(cli_env):
    url, tmp = cli_env
    path = tmp / "台账.xlsx"
    path.write_bytes(messy())
    before = count_rows(url)
    refused = run_cli("roster", "import", str(path))
    assert refused.exit_code == 1 and "没有导入" in refused.output and count_rows(url) == before
    done = run_cli("roster", "import", str(path), "--skip-errors")
    assert done.exit_code == 0, done.output
    assert count_rows(url)["beneficiary"] == 5 and "已导入" in done.output
    again = run_cli("roster", "import", str(path), "--skip-errors")
    assert "新增0人，更新0人，无变化5人" in again.output


def test_the_template_imports_once_filled_in(cli_env):
    url, tmp = cli_env
    out = tmp / "模板.xlsx"
    result = run_cli("roster", "template", "--out", str(out))
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert [s.title for s in book.worksheets if s.sheet_state == "visible"] == ["优抚对象", "填写说明"]
    headers = [c.value for c in book["优抚对象"][1]]
    assert headers[:3] == ["姓名", "身份证号", "联系电话"]
    assert any("优抚类别" in str(c.value) for row in book["填写说明"].iter_rows() for c in row)
    dry = run_cli("roster", "import", str(out), "--dry-run")
    assert dry.exit_code == 1  # the invented example row is never imported by mistake
    assert "第2行 张*例：这是模板里虚构的示例行，请删掉或换成真实信息" in dry.output
    sheet = book["优抚对象"]
    sheet["A2"], sheet["B2"] = "刘新兵", id_number("330102", "19900101", "123")
    book.save(out)
    filled = run_cli("roster", "import", str(out), "--dry-run")
    assert filled.exit_code == 0, filled.output
    assert "共1行：新增1人" in filled.output


def test_the_template_lists_categories_and_towns_for_picking():
    book = load_workbook(BytesIO(roster_template.build(AREAS)))
    validations = book["优抚对象"].data_validations.dataValidation
    assert len(validations) >= 2
