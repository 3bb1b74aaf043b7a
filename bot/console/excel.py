"""Excel exports that stay data: no cell typed by a user or a member of staff becomes a formula.

openpyxl stores any string starting with "=" as a formula, and Excel or WPS treats text
starting with "+", "-" or "@" as one when the cell is edited or the sheet is saved as
CSV. A person's description, a 转办 unit or a name typed on the login page (kept in the
audit log) could otherwise run `=HYPERLINK(…)` or a DDE call on the clerk's PC. Such
text is written as a plain string with Excel's own "quote prefix" (what typing '=1+1
does): shown exactly as typed, never evaluated, even after the cell is edited.
"""

from __future__ import annotations

from typing import Any, Iterable

from openpyxl.worksheet.worksheet import Worksheet

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def append_row(sheet: Worksheet, values: Iterable[Any]) -> None:
    """sheet.append(values), with every text that could be read as a formula kept as text."""
    values = list(values)
    sheet.append([_plain(v) for v in values])
    for cell, value in zip(sheet[sheet.max_row], values):
        if isinstance(value, str) and value.startswith(FORMULA_STARTS):
            cell.value = value
            cell.data_type = "s"
            cell.quotePrefix = True


def _plain(value: Any) -> Any:
    # Appended as "" first: openpyxl would otherwise parse "=…" as a formula on the way in.
    return "" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
