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

from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def append_row(sheet: Worksheet, values: Iterable[Any]) -> None:
    """sheet.append(values), with every text that could be read as a formula kept as text.

    Such a value goes in as a ready-made text cell (openpyxl's append takes cells), so no
    lookup of the row afterwards: that lookup (`sheet.max_row`) grew with every row."""
    sheet.append([_plain(sheet, v) for v in values])


def _plain(sheet: Worksheet, value: Any) -> Any:
    if not (isinstance(value, str) and value.startswith(FORMULA_STARTS)):
        return value
    cell = Cell(sheet)
    cell.value = value
    cell.data_type = "s"  # the setter took "=…" for a formula: text, as typed
    cell.quotePrefix = True
    return cell
