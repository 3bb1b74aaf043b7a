"""Chinese typography in what people read: no space between a Chinese character and a number or
a Latin letter ("还有17天", "共54户", "求助SY2026-000001已受理"), and no internal code
(snake_case, UPPER_CASE) in user text.

The texts come from every string literal and f-string of services/, scheduler/,
handlers/texts.py and handlers/display.py that holds Chinese (docstrings, regular expressions
and log lines left out; an f-string's placeholders read as "0"), and from texts rendered with
sample values: reminders, request notices, visit lists, publicity items, the FAQ as a migrated
database holds it and as the chat shows it.
"""

from __future__ import annotations

import ast
import re
import tomllib
from datetime import date, datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from handlers import display, texts
from models.database import make_engine, make_session_factory
from models.faq import FaqEntry
from models.schema import PROJECT_ROOT
from services import calendar_seed, faq, help_requests, reminder_rules, visit_lists
from tests.conversation_fixtures import migration_faq

_CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff01-\uff0f\uff1a-\uff20]"
_CJK_THEN_LATIN = re.compile(_CJK + r" +[A-Za-z0-9]")
# A number before a space is a numbered choice ("1 城关镇", "1 医疗  2 法律") when it starts a line
# or follows the two spaces between columns; anything else before a space and a Chinese character is wrong.
_CHOICE = re.compile(r"(?:^| {2,})\d{1,2} +(?=" + _CJK + ")", re.MULTILINE)
_LATIN_THEN_CJK = re.compile(r"[A-Za-z0-9] +(?=" + _CJK + ")")
_INTERNAL_CODE = re.compile(r"(?<![\w/.])(?:[a-z][a-z0-9]*_[a-z0-9_]+|[A-Z][A-Z0-9]*_[A-Z0-9_]+)(?![\w/.])")


def problems(text: str) -> list[str]:
    """What is wrong in one user text (empty: fine)."""
    plain = _CHOICE.sub("\n", text)  # numbered choices and their column gaps are fine
    found = [m.group() for m in _CJK_THEN_LATIN.finditer(plain)]
    found += [m.group() for m in _LATIN_THEN_CJK.finditer(plain)]
    found += [f"code {m.group()}" for m in _INTERNAL_CODE.finditer(text)]
    return found


def test_the_check_finds_spaces_and_codes_and_keeps_numbered_choices():
    assert problems("春节还有 17 天") == ["有 1", "7 "]
    assert problems("您的求助 SY2026-000001 已受理") == ["助 S", "1 "]
    assert problems("编号12 河口村") == ["2 "]
    assert problems("回复 POLICY_FAQ 查看") == ["复 P", "Q ", "code POLICY_FAQ"]
    assert problems("状态：visit_plan") == ["code visit_plan"]
    for fine in ("春节还有17天，共54户。", "1 城关镇\n2 青石镇", "1 医疗  2 法律  3 心理疏导", "1 确认提交  2 修改  0 取消",
                 "求助SY2026-000001已受理", "工作日 上午8:30-12:00", "链接：https://example.org/a_b"):
        assert problems(fine) == [], fine


# --- strings in the source ----------------------------------------------------------------------

SOURCES = sorted([*(PROJECT_ROOT / "services").rglob("*.py"), *(PROJECT_ROOT / "scheduler").glob("*.py"),
                  *(PROJECT_ROOT / "worker").glob("*.py"), *(PROJECT_ROOT / "handlers").rglob("*.py"),
                  *(PROJECT_ROOT / "bot" / "console").glob("*.py")])
_HAS_CHINESE = re.compile(r"[\u4e00-\u9fff]")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_NOT_TEXT_CALLS = {"compile", "search", "match", "fullmatch", "sub", "split", "findall", "finditer",  # re
                   "debug", "info", "warning", "error", "exception", "critical"}  # logging


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Docstrings, regular expressions, log lines, and the pieces of f-strings (read whole)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skipped.add(id(body[0].value))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _NOT_TEXT_CALLS:
            skipped.update(id(n) for arg in node.args for n in ast.walk(arg))
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(n) for n in ast.walk(node) if n is not node)
    return skipped


def _shown(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _PLACEHOLDER.sub("0", node.value)  # str.format templates: "{days}" is a number
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "0" for v in node.values)
    return None


def source_texts() -> list[tuple[str, str]]:
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _skipped_nodes(tree)
        for node in ast.walk(tree):
            text = None if id(node) in skipped else _shown(node)
            if text and _HAS_CHINESE.search(text):
                found.append((f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}", text))
    return found


def test_the_source_scan_reaches_the_texts():
    where = {place.split(":")[0] for place, _ in source_texts()}
    assert {"handlers/texts.py", "services/calendar_seed.py", "services/help_requests.py", "scheduler/jobs.py",
            "services/visit_lists.py", "services/publicity_calendar.py"} <= where


def test_texts_in_the_source_have_no_spaces_around_numbers_and_no_codes():
    wrong = [f"{place}: {text!r} → {problems(text)}" for place, text in source_texts() if problems(text)]
    assert not wrong, "\n".join(wrong)


# --- rendered texts -----------------------------------------------------------------------------


def test_standing_texts():
    for name in dir(texts):
        value = getattr(texts, name)
        if name.isupper() and isinstance(value, str):
            assert problems(value) == [], name


def test_reminders_as_sent():
    for _code, _rule, _kind, _leads, _audience, message in calendar_seed.BUILTIN_REMINDERS:
        text = reminder_rules.render(message, "春节", date(2027, 2, 6), 17)
        assert "还有17天" in text and problems(text) == [], text


def test_request_notices_as_sent():
    request = SimpleNamespace(number="SY2026-000001", category="housing")
    sent = [help_requests.accept_notice(request), help_requests.transfer_notice(request, "县住建局"),
            help_requests.assign_notice(request), help_requests.resolve_notice(request, "已修缮"),
            help_requests.reject_notice(request, "不属于受理范围"), help_requests.reopen_notice(request)]
    for text in sent:
        assert "SY2026-000001" in text and problems(text) == [], text


def test_visit_lists_as_sent():
    plan = SimpleNamespace(name="2027年春节走访", window_start=date(2027, 1, 15), window_end=date(2027, 2, 20))
    team = SimpleNamespace(name="城关镇走访组")
    lines = [visit_lists.Line(12, 1, visit_lists.line_text(12, "河口村", "3组12号", True), True),
             visit_lists.Line(13, 2, visit_lists.line_text(13, "城东社区", None, False), False)]
    pages = [visit_lists.summary_page(plan, team, 54, 3), *visit_lists.first_pages(plan, team, lines),
             *visit_lists.added_pages(plan, team, lines, [])]
    assert "共54户" in pages[0]
    for text in pages:
        assert problems(text) == [], text


def test_publicity_items():
    for _code, title, content, *_rest in calendar_seed.CITY_ITEMS:
        assert problems(title) == [] and problems(content) == [], title


def test_dates_and_times_in_chat():
    moment = datetime(2027, 1, 20, 1, 0, tzinfo=timezone.utc)
    assert display.day_and_time(moment) == "1月20日（周三）上午9:00"
    assert problems(display.day_and_time(moment)) == []


# --- the FAQ ------------------------------------------------------------------------------------


def test_faq_answers_as_migrated_and_as_shown(sqlite_url):
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        entries = list(session.scalars(select(FaqEntry)))
    engine.dispose()
    assert [(e.topic, e.keywords, e.answer, e.position) for e in sorted(entries, key=lambda e: e.id)] == migration_faq()
    card = tomllib.loads((PROJECT_ROOT / "deploy" / "contact.toml").read_text(encoding="utf-8"))
    for entry in entries:
        shown = faq.reply_text(entry, card)
        assert problems(shown) == [], entry.topic
        assert card["phone"] in shown and "工作日" in shown, entry.topic


@pytest.mark.parametrize("topic, keywords, answer, _position", migration_faq())
def test_every_faq_answer_says_who_and_where_to_ask(topic, keywords, answer, _position):
    assert problems(answer) == []
    assert re.search(r"退役军人|军人|遗属|军属|优抚对象|烈士", answer), f"{topic}: who qualifies"
    assert re.search(r"服务站|退役军人事务局|法院|教育局", answer), f"{topic}: whom to ask"
    assert re.search(r"工作日|清明|烈士纪念日|起诉时|报到时|报名前|出发前|前后", answer), f"{topic}: when"


def test_reminders_seeded_with_spaces_are_respaced_unless_staff_changed_them(sqlite_url):
    from models.reminders import ReminderRule

    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        calendar_seed.seed_all(session)
        rows = {r.code: r for r in session.scalars(select(ReminderRule))}
        rows["chunjie_staff"].message = "{name}（{date}）还有 {days} 天，请安排走访慰问和拥军优属活动。"  # an old seed
        rows["bayi_staff"].message = "{name}（{date}）还有 {days} 天，请通知各村。"  # a staff edit
    with sessions.begin() as session:
        calendar_seed.seed_all(session)
    with sessions() as session:
        rows = {r.code: r.message for r in session.scalars(select(ReminderRule))}
    engine.dispose()
    assert rows["chunjie_staff"] == "{name}（{date}）还有{days}天，请安排走访慰问和拥军优属活动。"
    assert rows["bayi_staff"] == "{name}（{date}）还有 {days} 天，请通知各村。"


# --- the staff console's pages --------------------------------------------------------------------

TEMPLATES = PROJECT_ROOT / "bot" / "console" / "templates"


def template_lines(path: Path) -> list[str]:
    """A template's visible text, line by line: tags and comments dropped, a value read as "0",
    an input's example (placeholder) and a field's error slot left out."""
    src = path.read_text(encoding="utf-8")
    for pattern, shown in ((r"\{#.*?#\}", ""), (r'placeholder="[^"]*"', ""), (r"\{\{\s*err\(.*?\}\}", ""),
                           (r"\{%.*?%\}", ""), (r"\{\{.*?\}\}", "0"), (r"<[^>]+>", "\n")):
        src = re.sub(pattern, shown, src, flags=re.S)
    return [line.strip() for line in src.splitlines() if _HAS_CHINESE.search(line)]


def test_console_pages_have_no_spaces_around_numbers():
    pages = sorted(TEMPLATES.rglob("*.html"))
    assert len(pages) > 20
    wrong = [f"{path.relative_to(TEMPLATES)}: {line!r} → {problems(line)}"
             for path in pages for line in template_lines(path) if problems(line)]
    assert not wrong, "\n".join(wrong)
