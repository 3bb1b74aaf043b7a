"""An activity's check-in QR code (wechat-platform.md §10).

With WeChat: a temporary QR_STR_SCENE code for the scene "checkin_<code>", asked for once and
kept (ticket, content URL, expiry) in the activity row until a day before it expires, so
printing the sign-in sheet again does not spend WeChat's QR quota. It lasts until a day
after the activity ends (WeChat allows 30 days at most; an activity further away gets a new
code when staff print it closer to the day).

The image: WeChat's showqrcode URL serves a picture of the code's content `url`; we draw
that same content locally, so the office PC needs no outside network and the printed code
is identical. In the sandbox there is no WeChat: the image carries the scene itself, which
the simulator's 扫一扫 sends as WeChat would.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable
from urllib.parse import quote

import qrcode
from qrcode.image.svg import SvgPathImage

from models.activity import Activity
from services import activities

SCENE_PREFIX = "checkin_"  # the form WeChat's own docs use; handlers accept it (handlers/flows/follow.py)
MAX_EXPIRE = timedelta(days=30)
MIN_EXPIRE = timedelta(hours=1)
RENEW_BEFORE = timedelta(days=1)  # a cached code with less left than this is replaced
SHOW_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="

CreateQr = Callable[[dict[str, Any]], dict[str, Any]]  # wechatpy's client.qrcode.create


@dataclass(frozen=True)
class CheckinCode:
    content: str  # what the QR image encodes
    expires_at: datetime | None  # None in the sandbox
    image_url: str | None  # WeChat's own picture of it (showqrcode), None in the sandbox


def scene(activity: Activity) -> str:
    return SCENE_PREFIX + activity.code


def request_body(activity: Activity, now: datetime) -> dict[str, Any]:
    lasts = activities.ends_at(activity) + timedelta(days=1) - now
    seconds = int(min(max(lasts, MIN_EXPIRE), MAX_EXPIRE).total_seconds())
    return {"expire_seconds": seconds, "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene(activity)}}}


def _cached(activity: Activity, now: datetime) -> bool:
    return bool(activity.qr_ticket and activity.qr_url and activity.qr_expires_at
                and activity.qr_expires_at - now > RENEW_BEFORE)


def wanted(activity: Activity, now: datetime) -> dict[str, Any] | None:
    """The qrcode/create body when a (new) ticket is needed, None while the cached one will do.

    Callers on SQLite end their transaction before calling WeChat: the shared access token
    is written in a transaction of its own."""
    return None if _cached(activity, now) else request_body(activity, now)


def store(activity: Activity, answer: dict[str, Any], now: datetime) -> None:
    activity.qr_ticket = answer["ticket"]
    activity.qr_url = answer["url"]
    activity.qr_expires_at = now + timedelta(seconds=int(answer.get("expire_seconds") or 60))


def current(activity: Activity, sandbox: bool) -> CheckinCode | None:
    """The code to print: the scene itself in the sandbox, else the stored WeChat code (if any)."""
    if sandbox:
        return CheckinCode(scene(activity), None, None)
    if not activity.qr_ticket or not activity.qr_url:
        return None
    return CheckinCode(activity.qr_url, activity.qr_expires_at, SHOW_URL + quote(activity.qr_ticket, safe=""))


def code_for(activity: Activity, now: datetime, create: CreateQr | None) -> CheckinCode:
    """wanted → create → store → current, in one go (create=None: the sandbox)."""
    if create is not None and (body := wanted(activity, now)) is not None:
        store(activity, create(body), now)
    return current(activity, sandbox=create is None)


def svg(content: str) -> bytes:
    """The QR image as SVG: sharp on paper at any size, no image library needed."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=2)
    code.add_data(content)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image(image_factory=SvgPathImage).save(out)
    return out.getvalue()
