"""政策咨询: the FAQ table and keyword matching."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.faq import FaqEntry


def topics(session: Session) -> list[FaqEntry]:
    return list(
        session.scalars(select(FaqEntry).where(FaqEntry.enabled.is_(True)).order_by(FaqEntry.position, FaqEntry.id))
    )


# Built once (issue 16: asked for every text no route before it took).
_ENABLED_WORDS = (
    select(FaqEntry.id, FaqEntry.topic, FaqEntry.keywords)
    .where(FaqEntry.enabled.is_(True))
    .order_by(FaqEntry.position, FaqEntry.id)
)


def match(session: Session, question: str) -> FaqEntry | None:
    """The entry whose topic or keywords cover the question best (longest matching words win)."""
    text = unicodedata.normalize("NFKC", question or "").lower()
    if len(text.strip()) < 2:
        return None
    best, best_score = None, 0
    # Plain rows, not entities: every unrecognised text is matched, only the winner is loaded.
    rows = session.execute(_ENABLED_WORDS)
    for entry_id, topic, keywords in rows:
        words = [topic, *(w.strip() for w in keywords.split(","))]
        score = sum(len(w) for w in words if w and w.lower() in text)
        if score > best_score:
            best, best_score = entry_id, score
    return session.get(FaqEntry, best) if best is not None else None


def where_to_ask(card: Mapping[str, str]) -> str:
    """The office to ask, from deploy/contact.toml: a closing line under every answer, so the
    general answers (the same in every county) still say whom to call and when."""
    lines = [f"咨询：{card.get('office') or '县退役军人事务局'}"]
    call = "，".join(card[key] for key in ("phone", "hours") if card.get(key))
    if call:
        lines.append(f"电话：{call}" if card.get("phone") else call)
    return "\n".join(lines)


def reply_text(entry: FaqEntry, card: Mapping[str, str]) -> str:
    """An answer as the chat shows it: topic, answer, and where to ask."""
    return f"【{entry.topic}】\n{entry.answer}\n{where_to_ask(card)}"


# --- staff edits (the console's 政策咨询 pages); the chat reads the table on every message ------

TOPIC_LIMIT = 32
KEYWORDS_LIMIT = 400
ANSWER_LIMIT = 900  # the chat adds 【topic】 and a closing line; one WeChat message holds 1000
_PHONE = re.compile(r"(?<!\d)(?:0\d{2,3}-?\d{7,8}|1[3-9]\d{9}|12345|\d{3,4}-\d{7,8})(?!\d)")
_PLACE = re.compile(r"地址|路|街|号|楼|室|大厅|窗口|服务站|服务中心|办公室|社区|村委")
_HOURS = re.compile(r"\d{1,2}[:：]\d{2}|工作日|周[一二三四五六日]|星期|上午|下午|办公时间|节假日")
_WHO = re.compile(r"服务站|退役军人事务局|局|科|中心|法院|医院|工作人员|人武部|民政|办公室|委员会|公众号")


class FaqError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


def all_entries(session: Session) -> list[FaqEntry]:
    return list(session.scalars(select(FaqEntry).order_by(FaqEntry.position, FaqEntry.id)))


def answer_warnings(answer: str, card: Mapping[str, str] | None = None) -> list[str]:
    """What an answer lacks to tell people who, when and where to ask (warnings, not refusals:
    a general answer may rightly point to the 服务站 without a number). The chat adds the office,
    phone and hours of deploy/contact.toml under every answer, so what the card gives is not lacking."""
    answer = f"{answer}\n{where_to_ask(card)}" if card else answer
    warnings = []
    if not _WHO.search(answer):
        warnings.append("没有写找谁办理（例如 乡镇退役军人服务站、县退役军人事务局）")
    if not _PHONE.search(answer):
        warnings.append("没有联系电话")
    if not _PLACE.search(answer):
        warnings.append("没有办理地点或地址")
    if not _HOURS.search(answer):
        warnings.append("没有办公时间（例如 工作日8:30–12:00）")
    return warnings


def _keywords(text: str) -> str:
    words = [w.strip() for w in re.split(r"[,，、;；\s]+", text or "") if w.strip()]
    return ",".join(dict.fromkeys(words))


def save(session: Session, entry: FaqEntry | None, *, topic: str, keywords: str, answer: str,
         position: str | int, enabled: bool) -> FaqEntry:
    """Add (entry None) or change an entry; FaqError names each wrong field and changes nothing."""
    topic, answer, words = (topic or "").strip(), (answer or "").replace("\r\n", "\n").strip(), _keywords(keywords)
    errors: dict[str, str] = {}
    if not topic or len(topic) > TOPIC_LIMIT:
        errors["topic"] = f"话题请填写，不超过{TOPIC_LIMIT}个字"
    elif session.scalar(select(FaqEntry.id).where(FaqEntry.topic == topic,
                                                   FaqEntry.id != (entry.id if entry else -1))) is not None:
        errors["topic"] = "已有同名话题"
    if len(words) > KEYWORDS_LIMIT:
        errors["keywords"] = f"关键词太多（不超过{KEYWORDS_LIMIT}个字）"
    if not answer:
        errors["answer"] = "请填写答复"
    elif len(answer) > ANSWER_LIMIT:
        errors["answer"] = f"答复共{len(answer)}个字，请控制在{ANSWER_LIMIT}个字以内（一条微信消息放得下）"
    try:
        order = int(str(position).strip() or "0")
        if not 0 <= order <= 999:
            raise ValueError
    except ValueError:
        errors["position"] = "顺序请填0到999的数字"
        order = 0
    if errors:
        raise FaqError(errors)
    if entry is None:
        entry = FaqEntry(topic=topic, keywords=words, answer=answer, position=order, enabled=enabled)
        session.add(entry)
    else:
        entry.topic, entry.keywords, entry.answer, entry.position, entry.enabled = topic, words, answer, order, enabled
    session.flush()
    return entry


def by_topic(session: Session, topic: str) -> FaqEntry | None:
    """The enabled entry with exactly this topic (the chat's FAQ intents are named by topic)."""
    return session.scalar(select(FaqEntry).where(FaqEntry.topic == topic, FaqEntry.enabled.is_(True)))
