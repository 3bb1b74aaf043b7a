"""An export (services.exports) as a file: Excel that prints on A4 as it is, or print-ready HTML.

Excel: a title row (county, export name), a line with the plan or filters and the date, the
header (frozen, repeated on every printed page), thin borders, money with two decimals, taller
rows where someone signs; A4, landscape for wide tables, fitted to the page width, page
numbers in the footer. Cells staff or users typed are written formula-safe (excel.append_row).
"""

from __future__ import annotations

import re
from copy import copy
import tomllib
from datetime import date
from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.excel import FORMULA_STARTS
from services.exports import Export, Table

THIN = Side(style="thin", color="000000")
CENTRED = Alignment(horizontal="center", vertical="center", wrap_text=True)
WRAPPED = Alignment(vertical="center", wrap_text=True)
BOLD = Font(bold=True)
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
MONEY_FORMAT = "#,##0.00"
HEADER_ROW = 3
SIGN_ROW_HEIGHT = 36  # points: room for a signature by pen
ROW_HEIGHT = 20
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def county_name(session: Session, settings) -> str:
    """The county of the deployment: the area table's top level, else `county` in deploy/areas.toml."""
    from models.roster import Area, AreaLevel

    name = session.scalar(select(Area.name).where(Area.level == AreaLevel.COUNTY, Area.active.is_(True))
                          .order_by(Area.position, Area.id).limit(1))
    if name:
        return name
    from handlers.site import site_dir

    try:
        with (site_dir(settings) / "areas.toml").open("rb") as handle:
            return str(tomllib.load(handle).get("county", ""))
    except (OSError, tomllib.TOMLDecodeError):
        return ""


def heading(export: Export, county: str) -> str:
    return f"{county}{export.name}"


def section_line(export: Export, table: Table, made_on: date) -> str:
    parts = [export.subtitle]
    if table.title != export.name:
        parts.append(table.title)
    parts.append(f"导出日期：{made_on.isoformat()}")
    return "　".join(p for p in parts if p)


def file_name(export: Export, made_on: date, suffix: str = "xlsx") -> str:
    return f"{export.name}-{export.subtitle.replace('　', '-')}-{made_on:%Y%m%d}.{suffix}".replace("/", "-")


# --- Excel -----------------------------------------------------------------------------------


def workbook(export: Export, county: str, made_on: date) -> bytes:
    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for table in export.tables or [Table(export.name, [], [])]:
        sheet = book.create_sheet(_sheet_name(table.title, used))
        _write_table(sheet, export, table, county, made_on)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(title: str, used: set[str]) -> str:
    base = SHEET_NAME_BAD.sub("-", title).strip("'")[:28] or "Sheet"
    name, n = base, 2
    while name in used:
        name, n = f"{base}{n}", n + 1
    used.add(name)
    return name


def _write_table(sheet: Worksheet, export: Export, table: Table, county: str, made_on: date) -> None:
    width = max(1, len(table.header))
    _put(sheet, 1, [heading(export, county)])
    _put(sheet, 2, [section_line(export, table, made_on)])
    for row in (1, 2):
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    sheet["A1"].font = Font(bold=True, size=16)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center")
    sheet.row_dimensions[1].height = 28
    for cell in _put(sheet, HEADER_ROW, table.header):
        cell.font, cell.alignment, cell.border = BOLD, CENTRED, BOX
    height = SIGN_ROW_HEIGHT if table.sign_columns else ROW_HEIGHT
    styles = _styles(sheet)
    row = HEADER_ROW
    for values in table.rows:
        row += 1
        _body_row(sheet, row, table, values, height, styles[False])
    if table.totals:
        row += 1
        _body_row(sheet, row, table, table.totals, ROW_HEIGHT, styles[True])
    for index, chars in enumerate(table.widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = chars
    _page_setup(sheet, export.landscape)


def _put(sheet: Worksheet, row: int, values: list) -> list:
    """One row by its number (sheet.append and excel.append_row look up the last row on every call,
    which is quadratic on a 5,000-row 台账), text kept as text as excel.append_row does it."""
    cells = []
    for column, value in enumerate(values, start=1):
        if isinstance(value, Decimal):
            value = float(value)
        cell = sheet.cell(row=row, column=column)
        cell.value = value
        if isinstance(value, str) and value.startswith(FORMULA_STARTS):
            cell.data_type = "s"  # shown exactly as typed, never evaluated (see bot/console/excel.py)
            cell.quotePrefix = True
        cells.append(cell)
    return cells


def _styles(sheet: Worksheet) -> dict[bool, tuple]:
    """bold → (plain cell style, money cell style), made once on a scratch cell: assigning a
    Border or an Alignment to each cell hashes it every time (most of the time of a big sheet),
    copying the finished style array does not."""
    probe = sheet.cell(row=1, column=sheet.max_column + 50)
    found = {}
    for bold in (False, True):
        probe.border, probe.alignment, probe.font = BOX, WRAPPED, BOLD if bold else Font()
        probe.number_format = "General"
        plain = copy(probe._style)
        probe.number_format = MONEY_FORMAT
        found[bold] = (plain, copy(probe._style))
    del sheet._cells[(probe.row, probe.column)]
    return found


def _body_row(sheet: Worksheet, row: int, table: Table, values: list, height: int, styles: tuple) -> None:
    plain, money = styles
    sheet.row_dimensions[row].height = height
    for index, cell in enumerate(_put(sheet, row, values)):
        cell._style = copy(money if index in table.money_columns else plain)


def _page_setup(sheet: Worksheet, landscape: bool) -> None:
    sheet.freeze_panes = sheet.cell(row=HEADER_ROW + 1, column=1)
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    setup = sheet.page_setup
    setup.paperSize = sheet.PAPERSIZE_A4
    setup.orientation = sheet.ORIENTATION_LANDSCAPE if landscape else sheet.ORIENTATION_PORTRAIT
    setup.fitToWidth, setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.oddFooter.center.text = "第&P页，共&N页"


# --- print HTML ------------------------------------------------------------------------------


def cell_text(value, money: bool = False) -> str:
    """What a printed cell shows: yuan with two decimals, nothing for None."""
    if value is None:
        return ""
    if money and isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)
