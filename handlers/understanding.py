"""Free text outside a form, in the user's own words: act on what the intent matcher
understood, or ask once with numbered choices and take the next digit as the answer.

The router owns what each intent does (`act`); this module decides between acting,
asking and giving up, and keeps the pending question in the conversation row
(services/conversations), never in the process.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

from handlers import intents, texts
from handlers.fields import said_number, word_chars
from handlers.message import Context
from services import conversations

Act = Callable[[Context, str], str | None]
Reply = Callable[[Context], str | None]
FaqAnswer = Callable[[Context, intents.Match | None], str | None]

CHOICE_TIMEOUT = timedelta(minutes=30)
MAX_CHOICES = 4
# Social intents are answered even when unsure (a friendly reply cannot go wrong) and are
# never offered as a choice; the others need confidence or the user's pick.
SOCIAL = frozenset({"greeting", "thanks", "ack"})
# … but only a short message is only social: "你好，我想问一下，我爷爷是抗美援朝老兵…" is a question
# that starts politely, and answering it with a greeting would ignore it.
SOCIAL_MAX_CHARS = 15  # a long thanks: "谢谢你们，你们的服务真好，辛苦了" (15)

GREETING = "您好！我是双拥助手，很高兴为您服务。\n" + texts.MENU_LINES
THANKS = "不客气，能帮上忙就好！\n" + texts.MENU_LINES
ACK = "好的。还有需要，直接发消息告诉我就行；回复“帮助”查看能办的事。"


def social_reply(intent: str) -> str:
    return {"greeting": GREETING, "thanks": THANKS}.get(intent, ACK)


def understand(ctx: Context, act: Act, faq_answer: FaqAnswer, fallback: Reply) -> str | None:
    """Sure: act. Unsure: the FAQ's keywords if they answer it (staff add topics the matcher has
    no examples for), else one question with numbered choices. Nothing close: the fallback."""
    match = intents.classify(ctx.message.text, among=intents.top_level())
    if match is not None and (match.confident or (match.intent in SOCIAL and word_chars(ctx.message.text) <= SOCIAL_MAX_CHARS)):
        return act(ctx, match.intent)
    # Asking for a person is never answered with an FAQ (找个工作人员 is not 就业创业).
    answered = faq_answer(ctx, match) if match is None or match.intent != "person" else None
    if answered:
        return answered
    choices = [name for name in (match.intent, *match.alternatives) if name not in SOCIAL] if match else []
    return ask(ctx, choices[:MAX_CHOICES]) if choices else fallback(ctx)


def ask(ctx: Context, choices: list[str]) -> str:
    conversations.offer_choices(ctx.state, choices, ctx.now, CHOICE_TIMEOUT)
    lines = "\n".join(f"{n} {intents.label(name)}" for n, name in enumerate(choices, start=1))
    return f"您是想：\n{lines}\n请回复序号。都不是的话，换个说法告诉我，或回复“人工”。"


def is_choice_answer(ctx: Context) -> bool:
    if ctx.message.msg_type != "text":
        return False
    number = said_number(ctx.message.text)
    pending = conversations.pending_choices(ctx.state, ctx.now)
    return number is not None and 1 <= number <= len(pending)


def answer_choice(ctx: Context, act: Act) -> str | None:
    chosen = conversations.pending_choices(ctx.state, ctx.now)[said_number(ctx.message.text) - 1]
    conversations.forget_choices(ctx.state, ctx.now)
    return act(ctx, chosen)


def forget_unless_answered(ctx: Context) -> None:
    """The question counts only for the very next message: anything else drops it."""
    if ctx.state is not None and not is_choice_answer(ctx):
        conversations.forget_choices(ctx.state, ctx.now)
