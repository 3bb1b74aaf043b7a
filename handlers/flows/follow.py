"""Follow, unfollow and QR scans: welcome, check-in (`checkin:<activity>`), referral (`ref:<code>`)."""

from __future__ import annotations

import logging

from handlers import forms, texts
from handlers.flows import activities
from handlers.message import Context
from services import notices

log = logging.getLogger(__name__)
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
    return texts.WELCOME


def on_scan(ctx: Context) -> str | None:
    """An existing follower scanned a QR code; unknown scenes get no reply."""
    code = _after(_scene(ctx), CHECKIN_PREFIXES)
    return activities.check_in(ctx, code) if code is not None else None


def on_unsubscribe(ctx: Context) -> None:
    # They can no longer read our answers: an unfinished form would only expire later.
    forms.end_silently(ctx)
    return None
