"""The 台账 template staff download: the columns the import knows, one invented example row,
pick lists for 优抚类别 and 乡镇/村, and a sheet explaining every column in plain words."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from services.roster_sheet import CATEGORY_LABELS, FIELDS

# (field, explanation) in the order of the template's columns
COLUMNS = (
    ("name", "必填。本人姓名。"),
    ("id_number", "18位身份证号，最后一位可以是X。请把这一列设成“文本”，否则Excel会改掉后几位。"),
    ("mobile", "手机号11位，或座机如0571-88886666。"),
    ("town", "必填。乡镇或街道的名字，要和系统里的一致（可从下拉里选）。"),
    ("village", "必填。村或社区的名字，要和系统里的一致。"),
    ("address", "常住地址，走访时上门的地方。同一户的人填同一个地址，系统会把他们归成一户。"),
    ("hukou_address", "户籍地址，和常住地址一样可以不填。"),
    ("categories", "可以填几个，用顿号隔开，如“烈士遗属、退役军人”。可填：" + "、".join(CATEGORY_LABELS.values())
     + "。也认得常见简称：烈属、军属、两参、伤残军人、复员军人等。"),
    ("disability_grade", "残疾军人、伤残民兵民工填，1到10级，如“6级”。"),
    ("disability_cause", "残疾军人填：因战、因公或因病。"),
    ("deceased_name", "烈士、因公牺牲或病故军人遗属填：那位军人的姓名。"),
    ("deceased_relation", "那位军人是本人的什么人，如父亲、配偶、子女、兄弟姐妹。"),
    ("deceased_on", "牺牲或病故的日期，如1951-03-02或1951年3月2日。"),
    ("head", "这一户户主的姓名。同一户的每个人都填户主的名字。"),
    ("relation_to_head", "本人是户主的什么人：户主、配偶、子女、父母、祖父母、孙子女、兄弟姐妹、儿媳女婿、其他。"),
    ("conscript_family", "义务兵家庭填“是”，发放优待金用。"),
    ("key_care", "享受定期抚恤补助的重点优抚对象填“是”。"),
    ("lonely_elderly", "孤老填“是”。"),
    ("hardship", "生活困难的填“是”。"),
    ("honor_plaque_on", "光荣牌悬挂日期，如2021-08-01。"),
    ("card_number", "优待证号。"),
)
EXAMPLE = {  # invented; the ID number has a valid check digit
    "name": "张示例", "id_number": "11010519491231002X", "mobile": "13800138000", "address": "河口村3组12号",
    "categories": "在乡复员军人", "head": "张示例", "relation_to_head": "户主", "key_care": "是",
    "honor_plaque_on": "2021-08-01",
}
NOTES = (
    "填写说明",
    "第一行是表头，请不要改动；从第二行开始，一人一行。第二行是虚构的例子，导入前请删掉或换成真实信息。",
    "空着的格子表示“不修改”：已在系统里的人，只更新表里填了的内容。",
    "同一个人（身份证号相同）再导入一次不会重复登记；整份表再导入一次，什么也不会改变。",
    "导入前系统会逐行检查，有问题的行会列出原因和行号，确认后才写入。",
)


def build(areas: dict[str, set[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "优抚对象"
    sheet.append([FIELDS[f][0] for f, _ in COLUMNS])
    towns = list(areas)
    example = {**EXAMPLE, "town": towns[0] if towns else "", "village": sorted(areas[towns[0]])[0] if towns else ""}
    sheet.append([example.get(f, "") for f, _ in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for index, (f, _) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = 24 if "address" in f else 14
        if f == "id_number":
            for row in range(2, 2001):  # text, so Excel keeps all 18 digits
                sheet.cell(row, index).number_format = "@"
    sheet.freeze_panes = "A2"
    _pick_lists(book, sheet, areas)
    notes = book.create_sheet("填写说明")
    for line in NOTES:
        notes.append([line])
    notes.append([])
    notes.append(["列", "怎么填"])
    for f, text in COLUMNS:
        notes.append([FIELDS[f][0], text])
    notes.column_dimensions["A"].width = 26
    notes.column_dimensions["B"].width = 90
    notes["A1"].font = Font(bold=True, size=14)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _pick_lists(book: Workbook, sheet, areas: dict[str, set[str]]) -> None:
    """Drop-down lists for 优抚类别 and 乡镇; the lists live on a hidden sheet (no 255-character limit)."""
    lists = book.create_sheet("选项")
    lists.sheet_state = "hidden"
    for row, label in enumerate(CATEGORY_LABELS.values(), start=1):
        lists.cell(row, 1, label)
    for row, town in enumerate(areas, start=1):
        lists.cell(row, 2, town)
    columns = {f: sheet.cell(1, i).column_letter for i, (f, _) in enumerate(COLUMNS, start=1)}
    category = DataValidation(type="list", formula1=f"=选项!$A$1:$A${len(CATEGORY_LABELS)}", allow_blank=True,
                              showErrorMessage=False)  # several categories in one cell stay allowed
    category.add(f"{columns['categories']}2:{columns['categories']}5000")
    sheet.add_data_validation(category)
    if areas:
        town = DataValidation(type="list", formula1=f"=选项!$B$1:$B${len(areas)}", allow_blank=True,
                              showErrorMessage=True, error="请从下拉列表里选乡镇（街道）。")
        town.add(f"{columns['town']}2:{columns['town']}5000")
        sheet.add_data_validation(town)
