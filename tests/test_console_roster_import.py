"""台账导入 in the console: upload, the column page, the preview with row-by-row errors, confirm
(once, however often it is clicked), the result; refusals a clerk understands; who may import."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models.beneficiary import Beneficiary, Household
from models.roster import ImportBatch, ImportMapping
from models.staff_account import AuditEntry
from tests.console_kit import add_staff, csrf_token
from tests.roster_workbooks import messy

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def office(console, db_url):
    app, sessions, client_for = console(db_url)
    add_staff(sessions, "wangke", "officer")
    add_staff(sessions, "qingshi", "officer", town="青石镇")
    add_staff(sessions, "reader", "viewer")
    return app, sessions, client_for


def upload(client, content: bytes, filename: str = "示范县台账.xlsx"):
    token = csrf_token(client, "/console/roster/import")
    return client.post("/console/roster/import", data={"csrf_token": token, "file": (BytesIO(content), filename)},
                       content_type="multipart/form-data")


def token_of(response) -> str:
    match = re.search(r"/console/roster/import/([A-Za-z0-9_-]{22})/columns", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def accept_columns(client, token: str, changes: dict[int, str] | None = None):
    page = client.get(f"/console/roster/import/{token}/columns").get_data(as_text=True)
    chosen = dict(re.findall(r'<select name="(col\d+)".*?<option value="([^"]*)" selected', page, re.S))
    for index, value in (changes or {}).items():
        chosen[f"col{index}"] = value
    return client.post(f"/console/roster/import/{token}/columns",
                       data={**chosen, "csrf_token": csrf_token(client, f"/console/roster/import/{token}/columns")})


def confirm(client, token: str):
    return client.post(f"/console/roster/import/{token}/confirm",
                       data={"csrf_token": csrf_token(client, "/console/roster/import")})


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def people(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count(Beneficiary.id)))


def test_a_clerk_imports_a_messy_roster_step_by_step(office):
    app, sessions, client_for = office
    client = client_for("wangke")
    assert "台账导入" in client.get("/console/").get_data(as_text=True)  # in the menu
    response = upload(client, messy())
    assert response.status_code == 302
    token = token_of(response)

    columns = client.get(f"/console/roster/import/{token}/columns")
    page = columns.get_data(as_text=True)
    # The header is found under the title row, merged cells read as one header each.
    assert "数据从第4行开始" in page and "残疾等级" in page and "伤残性质" in page
    assert re.search(r'<label for="col3">公民身份号码</label>.*?value="id_number" selected', page, re.S)
    assert re.search(r'<label for="col0">序号</label>.*?<option value="" selected', page, re.S)

    response = accept_columns(client, token)
    assert response.headers["Location"].endswith(f"/console/roster/import/{token}/preview")
    preview = text(client.get(f"/console/roster/import/{token}/preview"))
    assert "现在还没有写入任何数据" in preview
    assert "5 新增 0 更新 0 无变化 4 有错误（不导入）" in preview
    assert "第10行 周* 城关镇城东社区" in preview and "身份证号校验位（最后一位）不对" in preview
    assert "第11行 吴* 青石镇桃花村 青石镇没有“桃花村”这个村（社区）" in preview
    assert "另见第9行（青石镇石桥村）" in preview
    assert "新增的人（5人）" in preview and "确认导入其余5行" in preview
    assert people(sessions) == 0  # nothing written by looking

    done = confirm(client, token)
    assert done.status_code == 302 and "/console/roster/import/batch/" in done.headers["Location"]
    result = text(client.get(done.headers["Location"]))
    assert "新增 5人" in result and "有错误未导入 4行" in result
    with sessions() as session:
        assert session.scalar(select(func.count(Beneficiary.id))) == 5
        assert session.scalar(select(func.count(Household.id))) == 4
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "roster.import"))
        assert entry.staff_username == "wangke"


def test_confirming_twice_writes_once(office):
    app, sessions, client_for = office
    client = client_for("wangke")
    token = token_of(upload(client, messy()))
    accept_columns(client, token)
    first, second = confirm(client, token), confirm(client, token)
    assert first.headers["Location"] == second.headers["Location"]  # the second click shows the same result
    with sessions() as session:
        assert session.scalar(select(func.count(ImportBatch.id))) == 1
        assert session.scalar(select(func.count(Beneficiary.id))) == 5
    assert "这份文件已经导入过了" in text(client.get(second.headers["Location"]))


def test_the_same_headers_map_themselves_next_time(office):
    app, sessions, client_for = office
    client = client_for("wangke")
    token = token_of(upload(client, messy()))
    accept_columns(client, token, {21: "card_number", 20: ""})  # 备注 holds the 优待证号 in this county
    with sessions() as session:
        assert session.scalar(select(func.count(ImportMapping.id))) == 1
    again = token_of(upload(client, messy(), "第二份.xlsx"))
    page = client.get(f"/console/roster/import/{again}/columns").get_data(as_text=True)
    assert "已按上次的对应关系填好" in page
    assert re.search(r'<label for="col21">备注</label>.*?value="card_number" selected', page, re.S)


def test_a_mapping_without_the_village_comes_back_with_the_choices_kept(office):
    app, sessions, client_for = office
    client = client_for("wangke")
    token = token_of(upload(client, messy()))
    response = accept_columns(client, token, {6: "", 21: "card_number", 20: ""})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "请指出哪一列是：村（社区）" in page
    assert re.search(r'<label for="col21">备注</label>.*?value="card_number" selected', page, re.S)


@pytest.mark.parametrize("content, filename, code, says", [
    (b"name,town\n", "roster.csv", 400, "只能导入.xlsx格式"),
    (b"\xd0\xcf\x11\xe0 old excel", "roster.xlsx", 400, "这个文件打不开"),
    (b"PK" + b"\0" * (11 * 1024 * 1024), "big.xlsx", 413, "文件太大了，最大10MB"),
])
def test_a_wrong_file_gets_a_plain_answer_and_nothing_is_kept(office, content, filename, code, says):
    app, sessions, client_for = office
    client = client_for("wangke")
    response = upload(client, content, filename)
    assert response.status_code == code and says in response.get_data(as_text=True)
    folder = app.extensions["shuangyong"].settings.instance_dir / "uploads" / "roster"
    assert not folder.exists() or not any(folder.iterdir())


def test_a_township_account_imports_its_own_town_only(office):
    app, sessions, client_for = office
    client = client_for("qingshi")
    token = token_of(upload(client, messy()))
    accept_columns(client, token)
    preview = text(client.get(f"/console/roster/import/{token}/preview"))
    assert "第4行 王*山 城关镇河口村 不属于青石镇" in preview
    confirm(client, token)
    with sessions() as session:
        towns = set(session.scalars(select(Household.town)))
    assert towns == {"青石镇"}  # 钱多 in 上坪村; the others are another town's or wrong


def test_another_account_cannot_see_or_confirm_my_upload(office):
    app, sessions, client_for = office
    token = token_of(upload(client_for("wangke"), messy()))
    other = client_for("qingshi")
    assert other.get(f"/console/roster/import/{token}/columns").status_code == 404
    assert other.get("/console/roster/import/not-a-token/preview").status_code == 404


def test_a_viewer_may_not_import(office):
    app, sessions, client_for = office
    client = client_for("reader")
    assert client.get("/console/roster/import").status_code == 403
    assert "台账导入" not in client.get("/console/").get_data(as_text=True)


def test_the_template_downloads_as_a_workbook(office):
    app, sessions, client_for = office
    response = client_for("wangke").get("/console/roster/import/template.xlsx")
    assert response.status_code == 200 and response.mimetype == XLSX
    book = load_workbook(BytesIO(response.data))
    assert book.worksheets[0]["A1"].value == "姓名" and "填写说明" in book.sheetnames


# --- in the browser ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_clerk_imports_a_roster_in_the_browser(browser, tmp_path_factory):
    """Upload, columns, preview, confirm on a real `python -m bot serve` (Debian's chromium);
    screenshots of each step go to tests/artifacts/console/."""
    from pathlib import Path

    from models import utcnow
    from models.database import make_engine, make_session_factory
    from models.encrypted import configure_data_key
    from models.staff_account import StaffRole
    from services import staff_accounts
    from tests.browser_kit import stop_soon
    from tests.conftest import DATA_KEY
    from tests.test_serve import Server, bot_env

    artifacts = Path(__file__).resolve().parent / "artifacts" / "console"
    artifacts.mkdir(parents=True, exist_ok=True)
    configure_data_key(DATA_KEY)
    instance = tmp_path_factory.mktemp("roster-import-browser")
    server = Server(bot_env(instance, WECHAT_SANDBOX="1"), workers=1)  # one is enough for a clerk
    engine = make_engine(f"sqlite:///{instance / 'shuangyong.db'}")
    try:
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            staff_accounts.create(session, "liuke", "office-pc-2027", utcnow(), role=StaffRole.OFFICER,
                                  display_name="刘科员")
        workbook = instance / "示范县优抚对象台账.xlsx"
        workbook.write_bytes(messy())
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(server.url + "/console/login")
        page.fill("input[name=username]", "liuke")
        page.fill("input[name=password]", "office-pc-2027")
        page.click("button:has-text('登录')")
        page.click("nav.mainnav >> text=台账导入")
        page.set_input_files("input[type=file]", str(workbook))
        page.screenshot(path=str(artifacts / "roster-import-upload.png"), full_page=True)
        page.click("button:has-text('上传并检查')")
        page.wait_for_selector("text=第1步：核对每一列是什么")
        assert page.locator("#col3").input_value() == "id_number"
        page.screenshot(path=str(artifacts / "roster-import-columns.png"), full_page=True)
        page.click("button:has-text('下一步：逐行检查')")
        page.wait_for_selector("text=有错误的行（4行）")
        assert "青石镇没有“桃花村”这个村（社区）" in page.inner_text("table.errors")
        page.screenshot(path=str(artifacts / "roster-import-preview.png"), full_page=True)
        page.dblclick("button:has-text('确认导入其余5行')")  # an impatient double click
        page.wait_for_selector("h1:has-text('导入结果')")
        assert "5人" in page.inner_text("dl.facts")
        page.screenshot(path=str(artifacts / "roster-import-result.png"), full_page=True)
        context.close()
        with sessions() as session:
            assert session.scalar(select(func.count(Beneficiary.id))) == 5
            assert session.scalar(select(func.count(ImportBatch.id))) == 1
    finally:
        stop_soon(server)
        engine.dispose()


def test_a_waiting_upload_is_encrypted_and_readable_by_its_owner_only(office):
    app, _sessions, client_for = office
    token = token_of(upload(client_for("wangke"), messy()))
    folder = app.extensions["shuangyong"].settings.instance_dir / "uploads" / "roster"
    (waiting,) = folder.glob(f"{token}.xlsx")
    assert waiting.stat().st_mode & 0o777 == 0o600
    stored = waiting.read_bytes()
    assert not stored.startswith(b"PK") and "王大山".encode() not in stored  # not the workbook as sent
