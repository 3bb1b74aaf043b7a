"""The resident ID number rule (GB 11643), shared by the chat form and the roster import:
18 characters, a real birth date, the check digit. Each caller words its own answer."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
LENGTH, CHARS, BIRTH, CHECKSUM = "length", "chars", "birth", "checksum"


def clean(text: str | None) -> str:
    """Full-width digits and letters to ASCII, no spaces, x → X."""
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", text or "")).upper()


def check_digit(first17: str) -> str:
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def problem(value: str, today: date | None = None) -> str | None:
    """What is wrong with a cleaned ID number (LENGTH, CHARS, BIRTH, CHECKSUM), or None."""
    if len(value) != 18:
        return LENGTH
    if not (value[:17].isdigit() and (value[17].isdigit() or value[17] == "X")):
        return CHARS
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return BIRTH
    if born.year < 1900 or born > (today or date.today()):
        return BIRTH
    if value[17] != check_digit(value[:17]):
        return CHECKSUM
    return None
