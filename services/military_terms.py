"""PI-12 military confidentiality: no 部队番号 or 驻地 is collected or pushed. Free text that
names a unit designation or a location of troops is masked before it is stored; the chat
warns the user and asks again (handlers/flows/help_request.py).

Deliberately narrow, to spare ordinary words (一团糟, 连续): numbered units written with
digits or 第…, five-digit 部队 codes, and what follows 驻地/驻扎/番号.
"""

from __future__ import annotations

import re

MASK = "＊＊"
_NUMERALS = "0-9０-９"
PATTERNS = (
    re.compile(rf"[{_NUMERALS}]{{4,6}}\s*部队"),  # 61234部队
    re.compile(rf"第?[{_NUMERALS}]+\s*(?:集团军|师|旅|团|营|连|分队)"),  # 3营, 第12集团军
    re.compile(r"第[一二三四五六七八九十百零〇两]+(?:集团军|师|旅|团|营|连)"),  # 第三十八集团军
    re.compile(r"(?:番号|驻地|驻扎在|驻扎于|驻防在|驻防于)[是为在：: ]*[^，。,.\s；;！!？?]{0,12}"),
)


def find(text: str | None) -> list[str]:
    if not text:
        return []
    return [m.group(0) for pattern in PATTERNS for m in pattern.finditer(text)]


def mask(text: str | None) -> str | None:
    if not text:
        return text
    for pattern in PATTERNS:
        text = pattern.sub(MASK, text)
    return text
