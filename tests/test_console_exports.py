"""导出台账 in the console as a clerk uses it: the page with each export's filters, Excel that opens
in openpyxl with the expected rows, the print page with its rows and signature column; masking
by role (and full numbers only on request, audited), a township's own rows only, viewers kept out."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.console import access
from models.staff_account import AuditEntry, StaffRole
from services import exports
from tests.console_kit import add_staff
from tests.test_exports import SECRETS, WANG_ID, WANG_PHONE, build_world, cells, data_rows


@pytest.fixture
def site(console, sqlite_url):
    app, sessions, client_for = console(sqlite_url)
    ids = build_world(sessions)
    for username, role, town in (("officer", "officer", None), ("admin", "admin", None), ("viewer", "viewer", None),
                                 ("qingshi", "officer", "青石镇")):
        add_staff(sessions, username, role, town)
    return sessions, client_for, ids


def book_of(response):
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return load_workbook(BytesIO(response.data))


def audits(sessions) -> list[AuditEntry]:
    with sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id)))


def test_the_page_lists_every_export_with_its_filters_and_two_buttons(site):
    sessions, client_for, ids = site
    html = client_for("officer").get("/console/exports").get_data(as_text=True)
    for slug, module in exports.EXPORTS.items():
        assert f'id="export-{slug}"' in html and module.NAME in html
        assert f"/console/exports/{slug}.xlsx" in html and f"/console/exports/{slug}/print" in html
    assert html.count(">导出Excel</button>") == 5 and html.count(">打印</button>") == 5
    assert "城关镇走访组" in html and "包括已终止优抚的人员" in html
    # The plan being visited next is chosen already (not the newest one, 八一).
    assert html.count(f'<option value="{ids["plan"]}" selected>2027年元旦春节走访慰问</option>') == 3
    assert "显示完整电话和身份证号" in html  # an officer may reveal, on request
    assert ">导出台账</a>" in html and ">统计</a>" in html  # in the menu


def test_excel_of_the_ledger_has_the_plan_rows_and_is_audited_with_its_count(site):
    sessions, client_for, ids = site
    response = client_for("officer").get(f"/console/exports/visit-ledger.xlsx?plan={ids['plan']}")
    book = book_of(response)
    rows = data_rows(book.active)
    assert [r[1] for r in rows[:-1]] == ["王大山", "赵老兵", "陈秀英"] and rows[-1][9] == 800.5
    assert "attachment" in response.headers["Content-Disposition"]
    [entry] = audits(sessions)
    assert entry.staff_username == "officer" and "走访慰问台账（Excel）" in entry.detail and "3行" in entry.detail


def test_masked_by_default_full_numbers_on_request_and_audited(site):
    sessions, client_for, ids = site
    client = client_for("officer")
    masked = book_of(client.get(f"/console/exports/team-lists.xlsx?plan={ids['plan']}"))
    assert "139****1111" in cells(masked) and WANG_PHONE not in cells(masked)
    full = book_of(client.get(f"/console/exports/team-lists.xlsx?plan={ids['plan']}&full=1"))
    assert WANG_PHONE in cells(full)
    roster = book_of(client.get("/console/exports/roster.xlsx?full=1"))
    assert WANG_ID in cells(roster)
    details = [e.detail for e in audits(sessions)]
    assert "含完整电话和身份证号" not in details[0] and "含完整电话和身份证号" in details[1]


def test_a_role_that_may_not_reveal_gets_masked_values_in_every_export(site, monkeypatch):
    """Should a county let officers export but not reveal, nothing in any file gives a full number away."""
    sessions, client_for, ids = site
    monkeypatch.setitem(access.RULES, "reveal", frozenset({StaffRole.ADMIN}))
    client = client_for("officer")
    assert "显示完整电话和身份证号" not in client.get("/console/exports").get_data(as_text=True)
    for slug in exports.EXPORTS:
        query = f"plan={ids['plan']}&full=1&ended=1&year=2027"
        found = cells(book_of(client.get(f"/console/exports/{slug}.xlsx?{query}")))
        printed = client.get(f"/console/exports/{slug}/print?{query}").get_data(as_text=True)
        leaked = [s for s in SECRETS if any(s in value for value in found) or s in printed]
        assert not leaked, f"{slug}: {leaked}"


def test_the_print_page_has_the_rows_a_page_per_team_and_tall_signature_cells(site):
    sessions, client_for, ids = site
    client = client_for("officer")
    html = client.get(f"/console/exports/relief-signoff/print?plan={ids['plan']}").get_data(as_text=True)
    assert "<h1>城关县慰问金签领表</h1>" in html
    assert html.count('<section class="sheet"') == 2  # 城关镇 and 青石镇, each on its own page
    assert '<th scope="col" class="sign">领取人签名</th>' in html
    assert html.count('<tr class="sign-row">') == 3 and html.count('<td class="sign"></td>') == 6
    assert "王大山" in html and "陈秀英" in html and '<th class="num">500.00</th>' in html
    assert "export-print.css" in html and "export-landscape.css" not in html  # 签领表 prints upright
    teams = client.get(f"/console/exports/team-lists/print?plan={ids['plan']}").get_data(as_text=True)
    assert "城关镇走访组" in teams and "青石镇走访组" in teams and "export-landscape.css" in teams
    assert "走访人签名" in teams and "河口村3组12号" in teams and "139****1111" in teams
    assert [e.detail.split("：")[0] for e in audits(sessions)] == ["慰问金签领表（打印）", "走访组走访名单（打印）"]


def test_a_township_account_exports_its_own_town_only(site):
    sessions, client_for, ids = site
    client = client_for("qingshi")
    page = client.get("/console/exports").get_data(as_text=True)
    assert "城关镇走访组" not in page and "青石镇走访组" in page
    ledger = data_rows(book_of(client.get(f"/console/exports/visit-ledger.xlsx?plan={ids['plan']}")).active)
    assert [r[1] for r in ledger[:-1]] == ["陈秀英"]
    roster = book_of(client.get("/console/exports/roster.xlsx"))
    assert {r[5] for r in data_rows(roster.active)[:-1]} == {"青石镇"}
    other = client.get(f"/console/exports/team-lists.xlsx?plan={ids['plan']}&team={ids['east']}")
    assert other.status_code == 302  # another town's team: not found, said on the page
    assert "没有找到走访组" in client.get(other.headers["Location"]).get_data(as_text=True)


def test_viewers_cannot_export_and_bad_addresses_change_nothing(site):
    sessions, client_for, ids = site
    viewer = client_for("viewer")
    assert viewer.get("/console/exports").status_code == 403
    assert viewer.get("/console/exports/roster.xlsx").status_code == 403
    assert viewer.get("/console/exports/roster/print").status_code == 403
    assert ">导出台账</a>" not in viewer.get("/console/").get_data(as_text=True)
    officer = client_for("officer")
    assert officer.get("/console/exports/passwords.xlsx").status_code == 404
    gone = officer.get("/console/exports/visit-ledger.xlsx?plan=999")
    assert gone.status_code == 302
    assert "没有找到这个走访计划" in officer.get(gone.headers["Location"]).get_data(as_text=True)
    assert audits(sessions) == []


def test_without_any_plan_the_visit_exports_say_so(console, sqlite_url):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "officer", "officer")
    html = client_for("officer").get("/console/exports").get_data(as_text=True)
    assert html.count("还没有走访计划，暂时无法导出。") == 3
    assert len(re.findall(r">导出Excel</button>", html)) == 2  # roster and 优待金 still work
