"""One ordered route table: the first route whose test matches handles the message.

Order: events, global commands, keywords, fallback. Later flows (forms, menu
keys) slot into this table; nothing else decides who answers a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from handlers import texts
from handlers.message import Context

Reply = str | None  # text to send back, or None for "success" (no reply)
Handler = Callable[[Context], Reply]
Test = Callable[[Context], bool]


@dataclass(frozen=True)
class Route:
    name: str
    test: Test
    handle: Handler


def event_is(*names: str) -> Test:
    return lambda ctx: ctx.message.is_event and ctx.message.event in names


def text_is(*words: str) -> Test:
    return lambda ctx: ctx.message.msg_type == "text" and ctx.message.text in words


def is_text(ctx: Context) -> bool:
    return ctx.message.msg_type == "text"


def always(_ctx: Context) -> bool:
    return True


def welcome(_ctx: Context) -> Reply:
    return texts.WELCOME


def show_help(_ctx: Context) -> Reply:
    return texts.HELP


def fallback(_ctx: Context) -> Reply:
    return texts.FALLBACK


def acknowledge_non_text(_ctx: Context) -> Reply:
    return texts.NON_TEXT


def no_reply(_ctx: Context) -> Reply:
    return None


ROUTES: tuple[Route, ...] = (
    Route("follow", event_is("subscribe", "subscribe_scan"), welcome),
    Route("menu", event_is("click"), show_help),
    # Other events (unsubscribe, VIEW, LOCATION, job-finish reports …) need no answer.
    Route("silent events", lambda ctx: ctx.message.is_event, no_reply),
    Route("help", text_is("帮助", "help", "?", "？", "菜单"), show_help),
    Route("other text", is_text, fallback),
    Route("media and others", always, acknowledge_non_text),
)


def dispatch(ctx: Context, routes: tuple[Route, ...] = ROUTES) -> Reply:
    for route in routes:
        if route.test(ctx):
            return route.handle(ctx)
    return texts.FALLBACK
