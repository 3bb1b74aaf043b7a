"""One ordered route table: the first route whose test matches handles the message.

Before any route runs, `dispatch` locks the user's conversation row (so two
messages of one user never interleave, whichever worker gets them) and resets a
form that expired or no longer exists. Then, in order: events (follow, QR scans,
menu clicks), the global commands (取消 返回 帮助 人工), the active form, the answer to
a clarifying question, keywords, a receipt number anywhere in the text, then the user's
own words (handlers/intents: act when sure, ask with numbered choices when not), the
FAQ keywords, and a fallback that lists what can be typed. Menu keys, typed keywords
and understood intents lead to the same `Entry` (a flow's registration; an intent is named like it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from handlers import forms, intents, texts, understanding
from handlers.fields import normalize
from handlers.forms import Flow
from handlers.flows import (activities, beneficiary, faq, follow, handover, help_request, info, profile, progress,
                            staff_link, visits, volunteer)
from handlers.message import Context
from services import conversations
from services import faq as faq_entries

Reply = str | None  # text to send back, or None for "success" (no reply)
Handler = Callable[[Context], Reply]
Test = Callable[[Context], bool]


@dataclass(frozen=True)
class Route:
    name: str
    test: Test
    handle: Handler


# A flow's front door (words, menu key, guard, forms, begin) is registered once, beside the
# flow (handlers.forms.Flow); the flows without a form are listed here. Order = matching order.
Entry = Flow
ENTRIES: tuple[Entry, ...] = (
    volunteer.FLOW,
    activities.FLOW,
    activities.CANCEL_FLOW,
    Entry("my_activities", "我的活动", ("我报名的活动",), activities.my_activities),
    beneficiary.FLOW,
    help_request.FLOW,
    Entry("progress", "查询进度", ("进度", "我的求助", "查进度"), progress.overview, key="REQUEST_PROGRESS"),
    Entry("timeline", "进度查询", (), progress.timeline,
          pattern=re.compile(r"(进度|查询|查询进度)\s*SY\d{4}-\d{3,}", re.IGNORECASE)),
    progress.RATE_FLOW,
    faq.FLOW,
    Entry("notices", "最新通知", ("通知", "公告"), info.latest_notices, key="NOTICES"),
    Entry("my_info", "我的信息", ("个人信息", "我的资料"), profile.show, key="MY_INFO"),
    profile.CHANGE_FLOW,
    profile.ERASE_FLOW,
    Entry("export_info", "导出我的信息", ("导出信息", "我的信息副本", "复制我的信息"), profile.export),
    profile.WITHDRAW_FLOW,
    Entry("contact", "联系我们", ("联系方式", "电话", "地址"), info.contact_us, key="CONTACT_US"),
    visits.FLOW,
    Entry("record_visit", "登记走访", ("已走访",), visits.record, pattern=visits.PATTERN),
)
_BY_KEY = {e.key: e for e in ENTRIES if e.key}
_BY_NAME = {e.name: e for e in ENTRIES}


def entry_for(text: str) -> Entry | None:
    word = normalize(text)
    return next((e for e in ENTRIES if e.matches(word)), None)


def entry_for_key(key: str | None) -> Entry | None:
    return _BY_KEY.get(key or "")


def menu_keys() -> dict[str, str]:
    """Every CLICK key the chat understands, with the flow it starts (for `menu sync`)."""
    return {key: entry.title for key, entry in _BY_KEY.items()}


# --- tests -------------------------------------------------------------------


def event_is(*names: str) -> Test:
    return lambda ctx: ctx.message.is_event and ctx.message.event in names


def text_is(*words: str) -> Test:
    return lambda ctx: ctx.message.msg_type == "text" and normalize(ctx.message.text) in words


def is_text(ctx: Context) -> bool:
    return ctx.message.msg_type == "text"


def always(_ctx: Context) -> bool:
    return True


def in_form(ctx: Context) -> bool:
    return forms.active_form(ctx) is not None


def ends_hand_over(ctx: Context) -> bool:
    return text_is(*handover.END_WORDS)(ctx) and handover.has_open_thread(ctx)


def is_known_click(ctx: Context) -> bool:
    return ctx.message.is_event and ctx.message.event == "click" and entry_for_key(ctx.message.event_key) is not None


def is_keyword(ctx: Context) -> bool:
    return is_text(ctx) and entry_for(ctx.message.text) is not None


def has_receipt_number(ctx: Context) -> bool:
    return is_text(ctx) and progress.receipt_number(ctx.message.text) is not None


# --- handlers ----------------------------------------------------------------


def welcome(_ctx: Context) -> Reply:
    return texts.WELCOME


def show_help(ctx: Context) -> Reply:
    return forms.explain(ctx) if in_form(ctx) else texts.HELP


def fallback(_ctx: Context) -> Reply:
    return texts.FALLBACK


def acknowledge_non_text(_ctx: Context) -> Reply:
    return texts.NON_TEXT


def no_reply(_ctx: Context) -> Reply:
    return None


def cancel(ctx: Context) -> Reply:
    if in_form(ctx):
        return forms.cancel(ctx)
    return handover.end(ctx) if handover.has_open_thread(ctx) else texts.NOTHING_TO_CANCEL


def back(ctx: Context) -> Reply:
    return forms.back(ctx) if in_form(ctx) else texts.NOTHING_TO_CANCEL


def hand_over(ctx: Context) -> Reply:
    during = forms.title_of_active(ctx)
    forms.end_silently(ctx)
    return handover.hand_over(ctx, during)


def begin(ctx: Context, entry: Entry) -> Reply:
    """Start a flow — or, in the middle of another form, ask first whether to abandon it."""
    if in_form(ctx):
        return forms.handle_entry(ctx, entry)
    return entry.start(ctx)


def start_named(ctx: Context, name: str) -> Reply:
    return _BY_NAME[name].start(ctx)


def continue_form(ctx: Context) -> Reply:
    return forms.handle(ctx, forms.Host(entry_for, start_named, hand_over))


def start_from_keyword(ctx: Context) -> Reply:
    return begin(ctx, entry_for(ctx.message.text))


def start_from_menu(ctx: Context) -> Reply:
    return begin(ctx, entry_for_key(ctx.message.event_key))


def answer_topic(ctx: Context, topic: str) -> Reply:
    by_words = faq_entries.match(ctx.session, ctx.message.text)
    # A topic staff added in the console has no examples in the matcher; when its keywords
    # match, staff wrote it for exactly this question (烤火费 is not 抚恤补助).
    if by_words is not None and f"faq:{by_words.topic}" not in intents.catalog():
        entry = by_words
    else:
        entry = faq_entries.by_topic(ctx.session, topic) or by_words
    return faq.answer(ctx, entry) if entry else faq.begin(ctx)


def act(ctx: Context, intent: str) -> Reply:
    """Do what an understood intent means (outside a form)."""
    if intent in _BY_NAME:
        return begin(ctx, _BY_NAME[intent])
    if intent.startswith("faq:"):
        return answer_topic(ctx, intent.removeprefix("faq:"))
    if intent == "person":
        return hand_over(ctx)
    if intent == "help":
        return show_help(ctx)
    if intent in ("cancel", "back"):
        return texts.NOTHING_TO_CANCEL
    return understanding.social_reply(intent)


def understand(ctx: Context) -> Reply:
    return understanding.understand(ctx, act, faq_by_keywords, fallback)


def faq_by_keywords(ctx: Context, match: intents.Match | None) -> Reply:
    """An unsure message whose words name an FAQ topic. A topic staff added is answered: the
    matcher has no examples for it. A built-in one only when the matcher leans to the policies too:
    when it leans to something to do, the topic already ranked below it ("烈属登记" is a
    registration, not 烈属政策), and the numbered question offers both."""
    entry = faq_entries.match(ctx.session, ctx.message.text)
    if entry is None:
        return None
    staff_topic = f"faq:{entry.topic}" not in intents.catalog()
    if staff_topic or match is None or match.intent == "faq" or match.intent.startswith("faq:"):
        return faq.answer(ctx, entry)
    return None


def answer_choice(ctx: Context) -> Reply:
    return understanding.answer_choice(ctx, act)


ROUTES: tuple[Route, ...] = (
    Route("follow", event_is("subscribe", "subscribe_scan"), follow.on_subscribe),
    Route("scan", event_is("scan"), follow.on_scan),
    Route("unfollow", event_is("unsubscribe"), follow.on_unsubscribe),
    Route("menu key", is_known_click, start_from_menu),
    Route("menu", event_is("click"), show_help),
    # Other events (VIEW, LOCATION, job-finish reports …) need no answer.
    Route("silent events", lambda ctx: ctx.message.is_event, no_reply),
    Route("cancel", text_is("取消", "退出", "不填了"), cancel),
    Route("back", text_is("返回", "上一步", "返回上一步"), back),
    Route("help", text_is("帮助", "help", "?", "？", "菜单"), show_help),
    Route("person", text_is("人工", "转人工", "人工服务", "人工客服"), hand_over),
    Route("end person", ends_hand_over, handover.end),  # 结束人工 in an open 人工 chat
    Route("staff link", staff_link.is_link_request, staff_link.link),  # 绑定 123456 from the console
    Route("active form", in_form, continue_form),
    Route("choice", understanding.is_choice_answer, answer_choice),  # "2" after "您是想：1 … 2 …"
    Route("keyword", is_keyword, start_from_keyword),
    # In an open 人工 chat, everything else is for the staff member, not the FAQ.
    Route("handover chat", handover.has_open_thread, handover.relay),
    Route("receipt number", has_receipt_number, progress.timeline),
    Route("own words", is_text, understand),  # ends in the FAQ keywords, then the fallback
    Route("media and others", always, acknowledge_non_text),
)


def dispatch(ctx: Context, routes: tuple[Route, ...] = ROUTES) -> Reply:
    ctx.state = conversations.lock(ctx.session, ctx.message.openid, ctx.now)
    notice = forms.check_stale(ctx)
    understanding.forget_unless_answered(ctx)
    reply = next((route.handle(ctx) for route in routes if route.test(ctx)), texts.FALLBACK)
    if notice:
        return f"{notice}\n{reply}" if reply else notice
    return reply
