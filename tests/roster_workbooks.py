"""Workbooks for the roster import tests, built with openpyxl (invented people).

`messy()` is what a county office really sends: a title row merged across the sheet, a
two-row header with merged group cells, full-width digits, a lowercase x, blank rows, Excel
date cells and text dates, a person in two villages, a bad check digit, an unknown village.
"""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

from openpyxl import Workbook

from services import id_check


def id_number(area: str, born: str, seq: str) -> str:
    """A valid invented ID number (check digit computed)."""
    first = f"{area}{born}{seq}"
    return first + id_check.check_digit(first)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in text)


WANG = id_number("330102", "19500302", "123")
LI = id_number("330102", "19520611", "224")
ZHAO = id_number("330102", "19481120", "331")
SUN = id_number("330102", "19600101", "452")
ZHOU = id_number("330102", "19551010", "561")
WU = id_number("330102", "19700707", "672")
ZHENG = id_number("330102", "19650505", "783")
BAD = id_number("330102", "19580808", "894")[:17] + ("0" if id_number("330102", "19580808", "894")[17] != "0" else "1")
X_ID = next(id_number("330102", "19630303", f"{n:03d}") for n in range(1000)
            if id_number("330102", "19630303", f"{n:03d}").endswith("X"))

HEADER_TOP = ["序号", "姓名", "性别", "公民身份号码", "联系电话", "乡镇（街道）", "村（社区）", "常住地址", "户籍地址",
              "优抚类别", "残疾情况", None, "烈士姓名", "与烈士关系", "牺牲时间", "户主", "与户主关系", "义务兵家庭",
              "重点优抚对象", "光荣牌悬挂日期", "优待证号", "备注"]
HEADER_SUB = [None] * 10 + ["残疾等级", "伤残性质"] + [None] * 10


def _row(n, name, sex, idn, phone, town, village, address, hukou, cats, grade=None, cause=None, martyr=None,
         martyr_rel=None, died=None, head=None, rel=None, conscript=None, key=None, plaque=None, card=None, note=None):
    return [n, name, sex, idn, phone, town, village, address, hukou, cats, grade, cause, martyr, martyr_rel, died,
            head, rel, conscript, key, plaque, card, note]


def messy() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "优抚对象花名册"
    sheet.append(["示范县2026年优抚对象花名册"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER_TOP))
    sheet.append(HEADER_TOP)
    sheet.append(HEADER_SUB)
    for column in range(1, 11):  # 序号 … 优抚类别 span both header rows
        sheet.merge_cells(start_row=2, start_column=column, end_row=3, end_column=column)
    sheet.merge_cells(start_row=2, start_column=11, end_row=2, end_column=12)  # 残疾情况 over 等级/性质
    for column in range(13, len(HEADER_TOP) + 1):
        sheet.merge_cells(start_row=2, start_column=column, end_row=3, end_column=column)
    rows = [
        # row 4: 户主, full-width digits in the ID number and phone, an Excel date cell
        _row(1, "王大山", "男", full_width(WANG), full_width("13811110001"), "城关镇", "河口村", "河口村3组12号",
             "河口村3组12号", "在乡复员军人", head="王大山", rel="户主", key="是", plaque=datetime(2021, 8, 1)),
        # row 5: his wife, same household by address; a text date "1950.3.2" style for the martyr
        _row(2, "李秀英", "女", LI, "13811110002", "城关镇", "河口村", "河口村 3组12号", None, "烈属",
             martyr="李建国", martyr_rel="父亲", died="1951.3.2", head="王大山", rel="妻子"),
        None,  # row 6: blank
        # row 7: 残疾军人 with a lowercase x in the ID number, "1953年7月27日"-style text date elsewhere
        _row(3, "孙小兵", "男", X_ID.lower(), "0571-88886666", "城关镇", "柳营村", "柳营村8号", None, "残疾军人、退役军人",
             grade="6级", cause="因战", head="孙小兵", rel="户主", plaque="2020年8月1日"),
        # rows 8 and 9: the same person in two villages
        _row(4, "赵有福", "男", ZHAO, "13811110004", "城关镇", "河口村", "河口村5组1号", None, "退役军人"),
        _row(5, "赵有福", "男", ZHAO, "13811110004", "青石镇", "石桥村", "石桥村2号", None, "退役军人"),
        # row 10: a bad check digit
        _row(6, "周明", "男", BAD, "13811110006", "城关镇", "城东社区", "城东社区1栋", None, "退役军人"),
        # row 11: a village that does not exist in 青石镇
        _row(7, "吴刚", "男", WU, "13811110007", "青石镇", "桃花村", "桃花村1号", None, "退役军人"),
        None, None,  # rows 12, 13: blank
        # row 14: 义务兵家庭, category abbreviation 军属
        _row(8, "郑红", "女", ZHENG, "13811110008", "东湖街道", "湖滨社区", "湖滨路8号", None, "军属", conscript="√",
             head="郑红", rel="户主"),
        # row 15: no ID number, 两参, joins nobody
        _row(9, "钱多", "男", None, "13811110009", "青石镇", "上坪村", "上坪村7号", None, "两参"),
    ]
    for values in rows:
        sheet.append(values if values is not None else [None] * len(HEADER_TOP))
    out = BytesIO()
    book.save(out)
    return out.getvalue()
