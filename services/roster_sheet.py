"""Reading a county's 台账 workbook: where the header is, which column is which, and each cell
made clean (full-width digits, lowercase x, Excel dates and "1950.3.2" texts, category names).

Rows are streamed (openpyxl read_only): a 10,000-row file is never held as a workbook.
Nothing here touches the database; `services.roster_import` decides what a row means
for the roster.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, BinaryIO, Iterator

from openpyxl import load_workbook

from models.beneficiary import RELATIONS_TO_HEAD, BeneficiaryCategory as C, DisabilityCause
from services import id_check

HEADER_SCAN_ROWS = 15  # a title, a date line and a two-row header fit well inside
MAX_ROWS = 50_000
IGNORE = ""  # a column that is not imported (序号, 性别, 备注 …)

# field → (label shown to staff, header texts found in county 台账)
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("姓名", ("姓名", "优抚对象姓名", "对象姓名", "人员姓名")),
    "id_number": ("身份证号", ("身份证号", "身份证号码", "公民身份号码", "公民身份证号", "身份证", "证件号码")),
    "mobile": ("联系电话", ("联系电话", "电话", "手机", "手机号", "手机号码", "联系方式", "电话号码")),
    "town": ("乡镇（街道）", ("乡镇(街道)", "乡镇", "街道", "镇(街道)", "乡镇街道", "所属乡镇", "镇街")),
    "village": ("村（社区）", ("村(社区)", "村", "社区", "村居", "村社区", "村(居)", "所属村", "村(居)委会")),
    "address": ("常住地址", ("常住地址", "住址", "现住址", "家庭住址", "居住地址", "地址", "详细地址", "常住地",
                         "现居住地址", "家庭地址")),
    "hukou_address": ("户籍地址", ("户籍地址", "户籍地", "户口所在地", "户籍所在地", "户籍住址")),
    "categories": ("优抚类别", ("优抚类别", "人员类别", "类别", "身份类别", "对象类别", "优抚对象类别", "优抚对象类型")),
    "disability_grade": ("残疾等级", ("残疾等级", "伤残等级", "评残等级")),
    "disability_cause": ("伤残性质", ("伤残性质", "残疾性质", "致残原因", "伤残原因", "伤残属别")),
    "deceased_name": ("烈士（牺牲、病故军人）姓名", ("烈士姓名", "牺牲军人姓名", "病故军人姓名", "烈士(牺牲、病故军人)姓名")),
    "deceased_relation": ("与烈士（牺牲、病故军人）关系", ("与烈士关系", "与牺牲军人关系", "与病故军人关系",
                                                   "与烈士(牺牲、病故军人)关系")),
    "deceased_on": ("牺牲（病故）时间", ("牺牲时间", "牺牲日期", "病故时间", "牺牲(病故)时间", "牺牲(病故)日期")),
    "head": ("户主姓名", ("户主", "户主姓名")),
    "relation_to_head": ("与户主关系", ("与户主关系", "与户主的关系")),
    "conscript_family": ("义务兵家庭", ("义务兵家庭", "是否义务兵家庭")),
    "key_care": ("重点优抚对象", ("重点优抚对象", "是否重点优抚对象", "定期抚恤补助", "定补对象")),
    "lonely_elderly": ("孤老", ("孤老", "是否孤老")),
    "hardship": ("生活困难", ("困难", "生活困难", "是否困难", "困难户", "是否生活困难")),
    "honor_plaque_on": ("光荣牌悬挂日期", ("光荣牌悬挂日期", "光荣牌悬挂时间", "光荣牌")),
    "card_number": ("优待证号", ("优待证号", "优待证编号", "优待证号码")),
}
REQUIRED = ("name", "town", "village")
DATE_FIELDS = ("deceased_on", "honor_plaque_on")
FLAG_FIELDS = ("conscript_family", "key_care", "lonely_elderly", "hardship")

CATEGORY_NAMES: dict[str, C] = {
    "现役军人": C.SOLDIER, "军人": C.SOLDIER, "义务兵": C.SOLDIER,
    "军人家属": C.FAMILY, "军属": C.FAMILY, "现役军人家属": C.FAMILY,
    "烈士遗属": C.MARTYR_F, "烈属": C.MARTYR_F, "烈士家属": C.MARTYR_F,
    "因公牺牲军人遗属": C.DUTY_F, "因公牺牲遗属": C.DUTY_F, "因公属": C.DUTY_F, "因公牺牲军人家属": C.DUTY_F,
    "病故军人遗属": C.ILL_F, "病故遗属": C.ILL_F, "病故属": C.ILL_F, "病故军人家属": C.ILL_F,
    "残疾军人": C.DISABLED, "伤残军人": C.DISABLED, "残军": C.DISABLED,
    "在乡复员军人": C.DEMOB_OLD, "复员军人": C.DEMOB_OLD, "老复员军人": C.DEMOB_OLD, "老复员": C.DEMOB_OLD,
    "带病回乡退伍军人": C.ILL_RETURN, "带病回乡": C.ILL_RETURN, "带病回乡退役军人": C.ILL_RETURN,
    "参战退役人员": C.WAR_TEST, "参试退役人员": C.WAR_TEST, "参战参试退役人员": C.WAR_TEST, "两参": C.WAR_TEST,
    "两参人员": C.WAR_TEST, "参战": C.WAR_TEST, "参试": C.WAR_TEST, "参核": C.WAR_TEST, "参核退役人员": C.WAR_TEST,
    "60岁以上农村籍退役士兵": C.RURAL_OLD, "农村籍退役士兵": C.RURAL_OLD, "农村老兵": C.RURAL_OLD,
    "烈士老年子女": C.MARTYR_CHILD, "烈士子女": C.MARTYR_CHILD,
    "红军失散人员": C.RED, "在乡退伍红军老战士": C.RED, "三红": C.RED,
    "伤残民兵民工": C.MILITIA, "伤残民兵": C.MILITIA,
    "退役军人": C.VETERAN, "退伍军人": C.VETERAN, "退役士兵": C.VETERAN, "转业干部": C.VETERAN,
    "复员干部": C.VETERAN, "转业军人": C.VETERAN,
}
CATEGORY_LABELS: dict[C, str] = {
    C.SOLDIER: "现役军人", C.FAMILY: "军人家属", C.MARTYR_F: "烈士遗属", C.DUTY_F: "因公牺牲军人遗属",
    C.ILL_F: "病故军人遗属", C.DISABLED: "残疾军人", C.DEMOB_OLD: "在乡复员军人", C.ILL_RETURN: "带病回乡退伍军人",
    C.WAR_TEST: "参战参试退役人员", C.RURAL_OLD: "60岁以上农村籍退役士兵", C.MARTYR_CHILD: "烈士老年子女",
    C.RED: "红军失散人员", C.MILITIA: "伤残民兵民工", C.VETERAN: "退役军人",
}
CAUSES = {"因战": DisabilityCause.WAR, "战": DisabilityCause.WAR, "因公": DisabilityCause.DUTY,
          "公": DisabilityCause.DUTY, "因病": DisabilityCause.ILLNESS, "病": DisabilityCause.ILLNESS}
RELATION_WORDS = {
    "本人": "户主", "户主本人": "户主", "妻": "配偶", "妻子": "配偶", "丈夫": "配偶", "夫": "配偶", "之妻": "配偶",
    "之夫": "配偶", "子": "子女", "女": "子女", "儿子": "子女", "女儿": "子女", "长子": "子女", "次子": "子女",
    "长女": "子女", "次女": "子女", "之子": "子女", "之女": "子女", "父亲": "父母", "母亲": "父母", "父": "父母",
    "母": "父母", "祖父": "祖父母", "祖母": "祖父母", "孙子": "孙子女", "孙女": "孙子女", "兄": "兄弟姐妹",
    "弟": "兄弟姐妹", "姐": "兄弟姐妹", "妹": "兄弟姐妹", "哥哥": "兄弟姐妹", "弟弟": "兄弟姐妹", "姐姐": "兄弟姐妹",
    "妹妹": "兄弟姐妹", "儿媳": "儿媳女婿", "女婿": "儿媳女婿", **{r: r for r in RELATIONS_TO_HEAD},
}
YES = {"是", "√", "✓", "✔", "有", "y", "yes", "1", "true", "已悬挂"}
NO = {"否", "×", "✗", "无", "不是", "n", "no", "0", "false", "未悬挂"}
CN_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
SPLIT = re.compile(r"[、,;；/+|\s]+|和|及")
DATE_TEXT = re.compile(r"(\d{4})\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*(\d{1,2})\s*日?")
EXCEL_EPOCH = datetime(1899, 12, 30)
PHONE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{7,8}")


class SheetError(ValueError):
    """The file cannot be read as a roster at all (not a workbook, no header row); in Chinese."""


# --- headers -------------------------------------------------------------------------------


def header_text(value: Any) -> str:
    """A header cell compared loosely: full-width to ASCII, no spaces, line breaks or * marks."""
    return re.sub(r"[\s*＊:：]", "", unicodedata.normalize("NFKC", str(value or "")))


_SYNONYMS = {header_text(s): f for f, (_label, names) in FIELDS.items() for s in names}


def guess_field(header: str) -> str:
    """The field a header most likely means ("身份证号码（18位）" → id_number), or IGNORE."""
    text = header_text(header)
    if text in _SYNONYMS:
        return _SYNONYMS[text]
    bare = re.sub(r"\(.*?\)", "", text)  # "身份证号(18位)", "户主(姓名)"
    return _SYNONYMS.get(bare, IGNORE)


def _score(row: tuple) -> int:
    return sum(1 for v in row if v is not None and guess_field(str(v)) != IGNORE)


@dataclass
class Layout:
    """Where the data is: the header texts per column and the first data row (1-based)."""

    sheet: str
    headers: list[str]
    data_starts: int

    @property
    def key(self) -> str:
        """Same headers, same key: a saved mapping is found again for the next file."""
        return hashlib.sha256("\x1f".join(header_text(h) for h in self.headers).encode()).hexdigest()

    def suggestion(self) -> dict[str, str]:
        """header → field for the headers recognised, each field used once (the first column wins)."""
        taken: set[str] = set()
        mapping = {}
        for header in self.headers:
            guess = guess_field(header)
            mapping[header] = guess if guess not in taken else IGNORE
            taken.add(guess)
        return mapping


def _combine(upper: tuple, lower: tuple | None) -> tuple[list[str], bool]:
    """The header texts, and whether `lower` is a second header row (cells under merged group
    titles such as 残疾情况 → 残疾等级 / 伤残性质). A data row is never taken for one: it has a
    value under a recognised header."""
    width = max(len(upper), len(lower or ()))
    up = [str(v).strip() if v is not None else "" for v in upper] + [""] * (width - len(upper))
    if lower is None:
        return up, False
    low = [str(v).strip() if v is not None else "" for v in lower] + [""] * (width - len(lower))
    sub = any(guess_field(t) for t in low if t) and all(
        not t or not guess_field(u) for u, t in zip(up, low))
    if not sub:
        return up, False
    return [t or u for u, t in zip(up, low)], True


def _unique(headers: list[str]) -> list[str]:
    while headers and not headers[-1]:
        headers.pop()
    seen: dict[str, int] = {}
    result = []
    for index, text in enumerate(headers, start=1):
        text = text or f"第{index}列"
        seen[text] = seen.get(text, 0) + 1
        result.append(text if seen[text] == 1 else f"{text}（{seen[text]}）")
    return result


def open_workbook(stream: BinaryIO):
    try:
        return load_workbook(stream, read_only=True, data_only=True)
    except Exception:  # zipfile.BadZipFile, KeyError, InvalidFileException …: all mean "not a workbook"
        raise SheetError("这个文件打不开，请确认是Excel文件（.xlsx），不是.xls或改了后缀的其他文件。") from None


def find_layout(workbook) -> Layout:
    """The first sheet with a recognisable header row within its first rows."""
    for sheet in workbook.worksheets:
        top = list(sheet.iter_rows(min_row=1, max_row=HEADER_SCAN_ROWS, values_only=True))
        scores = [_score(r) for r in top]
        if not scores or max(scores) < 2:
            continue
        at = scores.index(max(scores))
        headers, two_rows = _combine(top[at], top[at + 1] if at + 1 < len(top) else None)
        return Layout(sheet.title, _unique(headers), at + (3 if two_rows else 2))
    raise SheetError("在表格前几行没有找到表头（如“姓名”“身份证号”“乡镇”“村”），请检查是不是选错了文件。")


# --- cells ---------------------------------------------------------------------------------


def text(value: Any) -> str:
    """A cell as clean text: full-width to ASCII, spaces trimmed, 12.0 → "12"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(value))).strip()


class CellError(ValueError):
    """A cell that cannot be used; the message names the column and is shown as is."""


def parse_date(value: Any, label: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and 1 <= value < 80_000:  # a date cell that lost its format
        return (EXCEL_EPOCH + timedelta(days=int(value))).date()
    raw = text(value)
    match = DATE_TEXT.fullmatch(raw) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", raw)
    if match:
        try:
            return date(*(int(g) for g in match.groups()))
        except ValueError:
            pass
    raise CellError(f"{label}“{raw}”看不懂，请写成如1950年3月2日或1950-03-02")


def parse_flag(value: Any, label: str) -> bool:
    raw = text(value).lower()
    if raw in YES:
        return True
    if raw in NO:
        return False
    raise CellError(f"{label}“{raw}”看不懂，请填“是”或“否”")


def parse_categories(value: Any) -> list[C]:
    found: list[C] = []
    for token in (t for t in SPLIT.split(text(value)) if t):
        category = CATEGORY_NAMES.get(token)
        if category is None:
            raise CellError(f"优抚类别“{token}”不认识，可填：" + "、".join(CATEGORY_LABELS.values()))
        if category not in found:
            found.append(category)
    return found


def parse_grade(value: Any) -> int:
    raw = text(value).replace("级", "").replace("等", "")
    grade = int(raw) if raw.isdigit() else CN_NUMBERS.get(raw)
    if grade is None or not 1 <= grade <= 10:
        raise CellError(f"残疾等级“{text(value)}”不对，应为1到10级，例如“6级”")
    return grade


def parse_id_number(value: Any) -> str:
    if isinstance(value, (int, float)):
        raise CellError("身份证号被Excel存成了数字，后几位可能已经丢失；请把这一列设成“文本”后重新填写")
    number = id_check.clean(text(value))
    wrong = id_check.problem(number)
    if wrong == id_check.CHECKSUM:
        raise CellError("身份证号校验位（最后一位）不对，可能有一位输错了")
    if wrong == id_check.BIRTH:
        raise CellError("身份证号里的出生日期（第7到14位）不对")
    if wrong:
        raise CellError(f"身份证号应为18位（最后一位可以是X），这里是{len(number)}位")
    return number


def parse_phone(value: Any) -> str:
    raw = re.sub(r"[\s()（）]", "", text(value))
    raw = raw[3:] if raw.startswith("+86") else raw
    if not PHONE.fullmatch(raw):
        raise CellError(f"联系电话“{text(value)}”不对，手机号应为11位，座机写成如0571-88886666")
    return raw


def _choice(value: Any, words: dict, label: str, allowed: str):
    raw = text(value)
    if raw not in words:
        raise CellError(f"{label}“{raw}”不认识，可填：{allowed}")
    return words[raw]


PARSERS = {
    "id_number": parse_id_number,
    "mobile": parse_phone,
    "categories": parse_categories,
    "disability_grade": parse_grade,
    "disability_cause": lambda v: _choice(v, CAUSES, "伤残性质", "因战、因公、因病"),
    "relation_to_head": lambda v: _choice(v, RELATION_WORDS, "与户主关系", "、".join(RELATIONS_TO_HEAD)),
    **{f: (lambda v, f=f: parse_date(v, FIELDS[f][0])) for f in DATE_FIELDS},
    **{f: (lambda v, f=f: parse_flag(v, FIELDS[f][0])) for f in FLAG_FIELDS},
}
MAX_TEXT = {"name": 20, "town": 40, "village": 40, "address": 100, "hukou_address": 100, "deceased_name": 20,
            "deceased_relation": 16, "head": 20, "card_number": 40}


def parse_cell(field_name: str, value: Any) -> Any:
    if field_name in PARSERS:
        return PARSERS[field_name](value)
    cleaned = text(value)
    if field_name in ("address", "hukou_address"):
        cleaned = cleaned.replace(" ", "")  # "河口村 3组12号" is the same home as "河口村3组12号"
    limit = MAX_TEXT.get(field_name, 100)
    if len(cleaned) > limit:
        raise CellError(f"{FIELDS[field_name][0]}太长（{len(cleaned)}字），最多{limit}字")
    return cleaned


# --- rows ----------------------------------------------------------------------------------


@dataclass
class SheetRow:
    number: int  # the Excel row number staff see at the left of the sheet
    values: dict[str, Any] = field(default_factory=dict)  # field → clean value (blank cells absent)
    errors: list[str] = field(default_factory=list)


def read_rows(workbook, layout: Layout, mapping: dict[str, str]) -> Iterator[SheetRow]:
    """Each non-blank row of the data, cleaned; a cell that cannot be used is an error of its row."""
    columns = [(i, mapping.get(h, IGNORE)) for i, h in enumerate(layout.headers)]
    columns = [(i, f) for i, f in columns if f]
    sheet = workbook[layout.sheet]
    count = 0
    for number, cells in enumerate(sheet.iter_rows(min_row=layout.data_starts, values_only=True),
                                   start=layout.data_starts):
        row = SheetRow(number)
        for index, field_name in columns:
            value = cells[index] if index < len(cells) else None
            if value is None or text(value) == "":
                continue
            try:
                row.values[field_name] = parse_cell(field_name, value)
            except CellError as error:
                row.errors.append(str(error))
                row.values.setdefault("_raw_" + field_name, text(value))
        if not row.values:
            continue  # blank row (or only 序号/备注)
        count += 1
        if count > MAX_ROWS:
            raise SheetError(f"一次最多导入{MAX_ROWS}行，请把表格分成几个文件。")
        yield row
