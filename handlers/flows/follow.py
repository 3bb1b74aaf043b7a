"""Follow, unfollow and QR scans: welcome, check-in (`checkin:<activity>`), referral (`ref:<code>`)."""

from __future__ import annotations

import logging

from handlers import forms, texts
from handlers.flows import activities
from handlers.message import Context
from services import notices

log = logging.getLogger(__name__)
UNKNOWN_CHECKIN = ("没有找到这个签到码对应的活动，可能二维码已过期或活动已调整。\n"
                   "请向现场工作人员确认；回复“活动报名”查看近期活动。")
UNKNOWN_SCENE = "这个二维码暂时无法识别，可能已经过期。\n" + texts.MENU_LINES
CHECKIN_PREFIXES = ("checkin:", "checkin_")  # "checkin_42" is the form WeChat's own docs use
REF_PREFIXES = ("ref:", "ref_")


def _scene(ctx: Context) -> str:
    return (ctx.message.event_key or "").strip()


def _after(scene: str, prefixes: tuple[str, ...]) -> str | None:
    return next((scene[len(p):] for p in prefixes if scene.startswith(p) and len(scene) > len(p)), None)


def on_subscribe(ctx: Context) -> str:
    scene = _scene(ctx)
    if (code := _after(scene, REF_PREFIXES)) is not None:
        notices.record_referral(ctx.session, ctx.message.openid, code, ctx.now)
    if (code := _after(scene, CHECKIN_PREFIXES)) is not None:
        checked = activities.check_in(ctx, code)
        if checked:
            return f"{texts.WELCOME}\n\n{checked}"
        log.info("follow: unknown check-in scene")
        return f"{texts.WELCOME}\n\n{UNKNOWN_CHECKIN}"
    return texts.WELCOME


def on_scan(ctx: Context) -> str:
    """An existing follower scanned a QR code; an unknown or expired scene says so (never silence)."""
    scene = _scene(ctx)
    code = _after(scene, CHECKIN_PREFIXES)
    if code is not None:
        return activities.check_in(ctx, code) or UNKNOWN_CHECKIN
    if _after(scene, REF_PREFIXES) is not None:
        return f"欢迎回来！\n{texts.MENU_LINES}"  # a poster's code: they already follow us
    log.info("scan: unknown scene")
    return UNKNOWN_SCENE


def on_unsubscribe(ctx: Context) -> None:
    # They can no longer read our answers: an unfinished form would only expire later.
    forms.end_silently(ctx)
    return None
