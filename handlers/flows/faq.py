"""政策咨询: topics from the FAQ table, chosen by number or asked in one's own words."""

from __future__ import annotations

from handlers import intents, site
from handlers.forms import Answers, Field, Flow, Form, Stop, register, start
from handlers.fields import Option, free_text
from handlers.message import Context
from services import faq
from models.faq import FaqEntry

MORE = "\n还有问题可以直接输入，或回复“政策咨询”查看全部话题。"
NO_MATCH = "暂时没有找到相关的答复。回复“人工”，工作人员会为您解答；也可以换个说法再问。"


def _topic_options(ctx: Context, _a: Answers) -> list[Option]:
    entries = faq.topics(ctx.session)
    if not entries:
        raise Stop(NO_MATCH)
    return [Option(f"faq:{e.id}", e.topic) for e in entries]


def _answer(ctx: Context, a: Answers) -> str:
    chosen = a["question"]
    entries = {f"faq:{e.id}": e for e in faq.topics(ctx.session)}
    return answer(ctx, entries.get(chosen) or faq.match(ctx.session, chosen) or _by_meaning(ctx, chosen))


def _by_meaning(ctx: Context, question: str) -> FaqEntry | None:
    """No topic's words in the question ("儿子当兵家里有钱拿吗" names no 优待金): the topic the intent
    matcher is sure of, among the built-in ones, as it would be outside this form."""
    topics = {name for name in intents.catalog() if name.startswith("faq:")}
    match = intents.classify(question, among=topics)
    return faq.by_topic(ctx.session, match.intent.removeprefix("faq:")) if match and match.confident else None


def answer(ctx: Context, entry: FaqEntry | None) -> str:
    """An FAQ answer as the chat shows it, however the topic was found: topic, answer, where to ask."""
    return f"{faq.reply_text(entry, site.contact(ctx.settings))}{MORE}" if entry else NO_MATCH


ASK = register(Form(
    "faq", "政策咨询",
    (
        Field(
            "question", "问题", "您想了解哪方面的政策？回复序号，或直接输入您的问题：",
            options=_topic_options, columns=2, free_text_ok=True,
            parse=lambda t: free_text(t, min_chars=2, max_chars=200),
        ),
    ),
    _answer,
    confirm=False,
))


def begin(ctx: Context) -> str:
    return start(ctx, ASK)


FLOW = Flow("faq", "政策咨询", ("咨询", "政策", "问政策"), begin, key="POLICY_FAQ", forms=(ASK,))
