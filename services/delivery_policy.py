"""Which channel carries which message, what the payload must hold, and what to do
with each WeChat error code (wechat-platform.md §6–§11, §15).

Pure rules: no database, no HTTP. `services.delivery` applies them to rows.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from models import Channel, Recipient


class PayloadError(ValueError):
    """A message that WeChat would refuse; the text says which part and why."""


class ApiError(Exception):
    """WeChat answered with an errcode (None: no answer at all — network or HTTP error)."""

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WhenUnavailable(enum.StrEnum):
    HOLD = "hold"  # wait for the user's next message, then go out inside the reply window
    FAIL = "fail"  # stale later (a reminder for a past date): give up and show it in the console


@dataclass(frozen=True)
class Policy:
    channels: tuple[Channel, ...]  # in order of preference
    when_unavailable: WhenUnavailable


CS, TEMPLATE, SUBSCRIPTION, MASS = (
    Channel.CUSTOMER_SERVICE,
    Channel.TEMPLATE,
    Channel.SUBSCRIPTION,
    Channel.MASS,
)

# Customer-service messages are free but need an open window; template messages and
# subscription notices are service notices the user triggered or agreed to; publicity
# goes by mass send (or inside a window), never as a template message.
POLICIES: dict[str, Policy] = {
    "late_reply": Policy((CS,), WhenUnavailable.HOLD),
    "request_update": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.HOLD),
    "registration_pending": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.HOLD),
    "registration_result": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.HOLD),
    "handover_reply": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.HOLD),
    "volunteer_task": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.HOLD),
    "staff_digest": Policy((CS, TEMPLATE), WhenUnavailable.HOLD),
    "staff_alert": Policy((CS, TEMPLATE), WhenUnavailable.HOLD),
    "activity_reminder": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.FAIL),
    "holiday_reminder": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.FAIL),
    "publicity": Policy((MASS, CS), WhenUnavailable.HOLD),
    # Activities and requests: the user's own business, kept until it can be delivered.
    "activity_update": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.HOLD),
    "waitlist_promoted": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.HOLD),
    "rating_request": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.HOLD),
    "pair_nudge": Policy((CS, TEMPLATE, SUBSCRIPTION), WhenUnavailable.HOLD),
    # Work for staff and visit teams: still useful days later, so held, never dropped.
    "visit_plan": Policy((CS, TEMPLATE), WhenUnavailable.HOLD),
    "visit_overdue": Policy((CS, TEMPLATE), WhenUnavailable.HOLD),
    "request_escalation": Policy((CS, TEMPLATE), WhenUnavailable.HOLD),
    "yearly_task": Policy((CS, TEMPLATE), WhenUnavailable.HOLD),
}
DEFAULT_POLICY = Policy((CS,), WhenUnavailable.HOLD)
NEVER_AS_NOTICE = {"publicity"}  # marketing-like text must not use template/subscription notices


def policy_for(kind: str, preferred: Channel | None = None) -> Policy:
    """The kind's policy; a channel the writer prefers is tried first."""
    policy = POLICIES.get(kind, DEFAULT_POLICY)
    if preferred is None or preferred == Channel.SANDBOX:
        return policy
    rest = tuple(c for c in policy.channels if c != preferred)
    return Policy((preferred, *rest), policy.when_unavailable)


# --- payloads ----------------------------------------------------------------

# Template and subscription-notice values (wechat-platform.md §7, §8): one line, and
# at most this many characters for the keyword type (thing1 → "thing").
FIELD_LIMITS = {
    "thing": 20,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "amount": 32,
    "phrase": 5,
    "name": 10,
    "phone_number": 17,
    "car_number": 8,
    "time": 20,
    "date": 20,
    "const": 20,
}
DEFAULT_FIELD_LIMIT = 20
CUSTOMER_SERVICE_TEXT_LIMIT = 1000  # characters; WeChat counts bytes, short text reads better anyway
_FIELD_KEY = re.compile(r"([a-z_]+?)(\d*)")


def field_limit(key: str) -> int:
    match = _FIELD_KEY.fullmatch(key)
    return FIELD_LIMITS.get(match.group(1), DEFAULT_FIELD_LIMIT) if match else DEFAULT_FIELD_LIMIT


def fit_field(key: str, value: str) -> str:
    """Make a value fit a template field: one line, cut with "…" to the limit."""
    flat = " ".join(str(value).split())
    limit = field_limit(key)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def check_fields(fields: Any) -> dict[str, str]:
    if not isinstance(fields, dict) or not fields:
        raise PayloadError("fields must be a non-empty mapping of template keyword to text")
    for key, value in fields.items():
        if not isinstance(key, str) or not _FIELD_KEY.fullmatch(key):
            raise PayloadError(f"template keyword {key!r} is not like thing1 or time2")
        if not isinstance(value, str) or not value.strip():
            raise PayloadError(f"template field {key} must be non-empty text")
        if "\n" in value or "\r" in value:
            raise PayloadError(f"template field {key} must be one line (WeChat drops line breaks)")
        if len(value) > field_limit(key):
            raise PayloadError(f"template field {key} is {len(value)} characters; WeChat allows {field_limit(key)}")
    return fields


def text_of(payload: dict[str, Any]) -> str | None:
    text = payload.get("text")
    if isinstance(text, dict):  # {"text": {"content": ...}} as in WeChat's own JSON
        text = text.get("content")
    return text if isinstance(text, str) and text.strip() else None


def template_fields(payload: dict[str, Any]) -> dict[str, str] | None:
    """The template keywords of a payload. Without explicit `fields`, plain text fills
    thing1 (the title, else the text) and thing2 (the text, when there is a title), each
    cut to fit: configure templates with those keywords for kinds written as plain text."""
    if isinstance(payload.get("fields"), dict):
        return dict(payload["fields"])
    title, text = payload.get("title"), text_of(payload)
    if text is None:
        return None
    if not isinstance(title, str) or not title.strip():
        return {"thing1": fit_field("thing1", text)}
    return {"thing1": fit_field("thing1", title), "thing2": fit_field("thing2", text)}


def check_payload(kind: str, recipient: Recipient, policy: Policy, payload: Any) -> None:
    """Refuse, before anything is stored, a message no allowed channel could carry."""
    if not isinstance(payload, dict):
        raise PayloadError("payload must be a mapping")
    if not isinstance(recipient, Recipient):
        raise PayloadError("recipient must be a Recipient: person, role, tag or all, stated by the writer")
    problem = recipient.problem()
    if problem is not None:
        raise PayloadError(f"recipient: {problem}")
    if kind in NEVER_AS_NOTICE and ({TEMPLATE, SUBSCRIPTION} & set(policy.channels)):
        raise PayloadError(f"{kind} never goes out as a template message or subscription notice")
    if recipient.is_mass and MASS not in policy.channels:
        raise PayloadError(f"{kind} cannot go to a group: only publicity is mass-sent")
    text = text_of(payload)
    if text is not None and len(text) > CUSTOMER_SERVICE_TEXT_LIMIT:
        raise PayloadError(f"text is {len(text)} characters; keep it under {CUSTOMER_SERVICE_TEXT_LIMIT}")
    if "fields" in payload:
        check_fields(payload["fields"])
    has_media = isinstance(payload.get("media_id"), str) and payload["media_id"]
    if text is None and "fields" not in payload and not has_media:
        raise PayloadError("payload needs text (customer service, mass) or fields (template, subscription)")


# --- reactions to WeChat errcodes (wechat-platform.md §11) ---------------------


class Reaction(enum.StrEnum):
    ALREADY_SENT = "already_sent"  # 45065: WeChat has this clientmsgid already
    RETRY = "retry"  # busy, per-minute quota, network, token trouble after one refresh
    QUOTA = "quota"  # daily quota gone: back off for long, alert
    RECIPIENT = "recipient"  # the recipient cannot receive: mark them and stop
    FALLBACK = "fallback"  # window closed or used up: another channel, else hold
    FAIL = "fail"  # payload or configuration wrong: no retry, show the reason


TOKEN_ERRORS = {40001, 40014, 42001}
CONFIG_ERRORS = {40013, 40125, 40164, 48001, 45103, 41001}
REACTIONS: dict[int | None, Reaction] = {
    None: Reaction.RETRY,
    -1: Reaction.RETRY,
    45011: Reaction.RETRY,
    **{code: Reaction.RETRY for code in TOKEN_ERRORS},
    45009: Reaction.QUOTA,
    40003: Reaction.RECIPIENT,
    43004: Reaction.RECIPIENT,
    43019: Reaction.RECIPIENT,
    48002: Reaction.RECIPIENT,
    43101: Reaction.RECIPIENT,
    45015: Reaction.FALLBACK,
    45047: Reaction.FALLBACK,
    45065: Reaction.ALREADY_SENT,
}


def reaction_for(errcode: int | None) -> Reaction:
    """Unknown codes fail at once: retrying a request WeChat did not understand only burns quota."""
    return REACTIONS.get(errcode, Reaction.FAIL)


def retry_delay(attempts: int) -> float:
    """1 s, 2 s, 4 s … capped at ten minutes."""
    return float(min(2 ** max(attempts - 1, 0), 600))


QUOTA_DELAY_SECONDS = 3600.0
