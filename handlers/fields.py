"""Pure validators for chat answers: text in, a clean value out, or `Invalid` with a
correction that says what was wrong and shows a correct example (conversation-style.md).

Nothing here touches the database or the clock, so every rule is testable on its own.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Sequence

from services import id_check

MOBILE_EXAMPLE = "13800138000"
ID_EXAMPLE = "11010519491231002X"
CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
SEPARATORS = re.compile(r"[\s,，、;；/和及]+")
DIGIT_GROUPS = re.compile(r"\d{2,}(?:[\s\-]+\d+)+")  # digits in groups: never several choices
NEGATIONS = "不没别无"
ORDINAL = re.compile(r"(?:我|就)?(?:选择?|要)?第?(\d+|[零一二两三四五六七八九十]+)(?:个|号|项|条|种)?(?:吧|啊|呀)?")
WORD_CHAR = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])")
TRAILING = "。.！!？?～~ "


class Invalid(ValueError):
    """An answer that cannot be used; `message` is shown to the user as is."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    aliases: tuple[str, ...] = ()


def normalize(text: str) -> str:
    """Full-width digits and letters to ASCII, outer spaces and end punctuation removed."""
    return unicodedata.normalize("NFKC", text or "").strip().strip(TRAILING).strip()


def _number(token: str) -> int | None:
    """"3", "3.", "3、", "三", "十二" → 3, 3, 3, 3, 12; and as people say it: "第二个", "选2", "2号", "1吧"."""
    token = token.rstrip(".、)）")
    said = ORDINAL.fullmatch(token)
    if said:
        token = said.group(1)
    if token.isdigit():
        return int(token)
    if token and all(ch in CN_DIGITS for ch in token):
        if token == "十":
            return 10
        if token.startswith("十") and len(token) == 2:
            return 10 + CN_DIGITS[token[1]]
        if len(token) == 1:
            return CN_DIGITS[token]
    return None


def word_chars(text: str) -> int:
    """How many characters of words a message has: Chinese, letters, digits (no spaces, punctuation)."""
    return len(WORD_CHAR.findall(unicodedata.normalize("NFKC", text or "")))


def said_number(text: str) -> int | None:
    """The number a reply picks, as people type it: "2", "２", "二", "第二个", "选2", "2号"."""
    return _number(normalize(text))


def by_words(text: str, options: Sequence[Option]) -> Option | None:
    """The one option a message names in words (no numbers): "我的手机号换了" names 手机."""
    return _by_words(normalize(text), options)


def _by_words(token: str, options: Sequence[Option]) -> Option | None:
    exact = [o for o in options if token == o.label or token in o.aliases]
    if exact:
        return exact[0]
    # "生活" for "生活困难": accepted when it points at exactly one option.
    partial = [o for o in options if len(token) >= 2 and (token in o.label or o.label in token)]
    if not partial:  # "替我爸登记" says 我爸 (父亲或母亲), "挺急的" 挺急 (紧急)
        partial = [o for o in options if any(len(a) >= 2 and _says(token, a) for a in o.aliases)]
    return partial[0] if len(partial) == 1 else None


def _says(token: str, word: str) -> bool:
    """The word is in the answer and not denied just before it: "不是很急" does not say 很急."""
    at = token.find(word)
    return at >= 0 and not any(ch in NEGATIONS for ch in token[max(0, at - 2):at])


def choose(text: str, options: Sequence[Option]) -> str:
    """One option, by its number, its words or a common variant."""
    token = normalize(text)
    if DIGIT_GROUPS.fullmatch(token):  # "139 0013 9000": a phone number typed again, spaced
        token = re.sub(r"\D", "", token)
    number = _number(token)
    if number is not None:
        if 1 <= number <= len(options):
            return options[number - 1].value
        if number > 99:  # a phone number or an ID typed again, not a choice
            raise Invalid(f"这一步是选择，请回复选项前的数字（1到{len(options)}），例如“1”。")
        raise Invalid(f"没有第{number}项。请回复选项前的数字（1到{len(options)}），例如“1”。")
    option = _by_words(token, options)
    if option is None:
        raise Invalid("没有看懂您的选择。请回复选项前的数字，例如“1”。")
    return option.value


def choose_many(text: str, options: Sequence[Option]) -> list[str]:
    """Several options: "1 3", "1,3", "1、3", or "13" when every option has one digit."""
    tokens = [t for t in SEPARATORS.split(normalize(text)) if t]
    picked: set[str] = set()
    for token in tokens:
        number = _number(token)
        if number is not None and 1 <= number <= len(options):
            picked.add(options[number - 1].value)
        elif token.isdigit() and len(options) <= 9 and all(1 <= int(d) <= len(options) for d in token):
            picked.update(options[int(d) - 1].value for d in token)
        elif (option := _by_words(token, options)) is not None:
            picked.add(option.value)
        else:
            raise Invalid(
                f"没有看懂“{token[:8]}”。请回复选项前的数字，可多选，用空格隔开，例如“1 3”。"
            )
    if not picked:
        raise Invalid("请至少选一项，回复选项前的数字，例如“1 3”。")
    return [o.value for o in options if o.value in picked]


def mobile(text: str) -> str:
    """A mainland mobile number: 11 digits starting 13–19; spaces, dashes and +86 allowed."""
    digits = re.sub(r"[\s\-()（）]", "", normalize(text))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    rule = f"手机号应为11位数字，例如{MOBILE_EXAMPLE}。请重新输入："
    if not digits.isdigit():
        raise Invalid(f"手机号只能是数字。{rule}")
    if len(digits) < 11:
        raise Invalid(f"这个号码好像少了{_count(11 - len(digits))}位。{rule}")
    if len(digits) > 11:
        raise Invalid(f"这个号码好像多了{_count(len(digits) - 11)}位。{rule}")
    if not re.fullmatch(r"1[3-9]\d{9}", digits):
        raise Invalid(f"手机号应以13到19开头。{rule}")
    return digits


def _count(n: int) -> str:
    return "一两三四五六七八九"[n - 1] if 1 <= n <= 9 else str(n)


def id_number(text: str, today: date | None = None) -> str:
    """A mainland resident ID number (GB 11643): 18 characters, valid birth date and check digit."""
    value = re.sub(r"\s", "", normalize(text)).upper()
    example = f"例如{ID_EXAMPLE}。请重新输入："
    wrong = id_check.problem(value, today)
    if wrong == id_check.LENGTH:
        raise Invalid(f"身份证号应为18位，您输入了{len(value)}位，{example}")
    if wrong == id_check.CHARS:
        raise Invalid(f"身份证号前17位是数字，最后一位是数字或X，{example}")
    if wrong == id_check.BIRTH:
        raise Invalid(f"身份证号里的出生日期（第7到14位）不对，{example}")
    if wrong == id_check.CHECKSUM:
        raise Invalid("这个身份证号的最后一位（校验位）对不上，可能有一位输错了。请核对后重新输入：")
    return value


def person_name(text: str) -> str:
    """A real name: 2–20 characters of Chinese, letters, spaces or the middle dot. Spaces typed
    between Chinese characters ("王 建 国", to be read clearly) are not part of the name."""
    value = re.sub(r"\s+", " ", normalize(text)).replace("•", "·").replace(".", "·")
    value = CJK_SPACE.sub("", value)
    if any(ch.isdigit() for ch in value):
        raise Invalid("姓名里好像有数字。请只输入姓名，例如 张伟民：")
    if not 2 <= len(value) <= 20:
        raise Invalid("姓名应为2到20个字，例如 张伟民。请重新输入：")
    if not re.fullmatch(r"[\u3400-\u9fffA-Za-z·\s]+", value):
        raise Invalid("姓名里只能有汉字、字母或“·”，例如 张伟民。请重新输入：")
    return value


LONG_TEXT = 5000  # what a person (or a grandchild typing for them) really writes; summaries shorten it


def free_text(text: str, *, min_chars: int = 4, max_chars: int = LONG_TEXT, example: str = "") -> str:
    value = (text or "").strip()
    if len(value) < min_chars:
        tail = f"，例如“{example}”" if example else ""
        raise Invalid(f"请再多写几个字{tail}：")
    if len(value) > max_chars:
        raise Invalid(f"内容太长了（{len(value)}字），请控制在{max_chars}字以内：")
    return value


def address(text: str) -> str:
    return free_text(text, min_chars=4, max_chars=100, example="河口村3组12号")


AGREE = ("同意", "1", "是", "好", "好的", "可以", "确认", "我同意")


def consent(text: str) -> bool:
    value = normalize(text)
    if value in AGREE:
        return True
    if value in ("不同意", "2", "否", "不"):
        raise Invalid("不同意就无法继续办理。回复“同意”继续，或回复“取消”退出：")
    raise Invalid("请回复“同意”继续，或回复“取消”退出：")
