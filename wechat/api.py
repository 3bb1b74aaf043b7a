"""The WeChat API side of wechatpy, made safe for many processes (wechat-platform.md §5, §12).

- One access token per AppID for every process (wechat/token_store.py): fetched with
  `stable_token`, refreshed under a shared lock shortly before it expires.
- wechatpy's unbounded auto-retry is off; a token error (40001/40014/42001)
  reloads the shared token, refreshes it at most once, and retries the call once.
- Every call, the token included, goes to WECHAT_API_BASE_URL.
- `WeChatTransport` sends the outbox's messages, posting WeChat's documented JSON
  itself so `client_msg_id` / `clientmsgid` can be set.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy.orm import Session, sessionmaker
from wechatpy import WeChatClient
from wechatpy.client.api.base import BaseWeChatAPI
from wechatpy.exceptions import WeChatClientException

from config import REAL_WECHAT_API, Settings
from models import Channel, RecipientKind
from services.delivery import Send
from services.delivery_policy import TOKEN_ERRORS, ApiError
from wechat.token_store import DatabaseTokenStore, RedisTokenStore, Token, TokenManager, TokenStore

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 10


class SharedTokenClient(WeChatClient):
    """wechatpy's client with the shared token, no auto-retry, and a configurable host."""

    def __init__(self, app_id: str, secret: str, base_url: str, pool_size: int = 10):
        super().__init__(app_id, secret, auto_retry=False, timeout=HTTP_TIMEOUT)
        self.base_url = base_url.rstrip("/")
        self.API_BASE_URL = f"{self.base_url}/cgi-bin/"
        # wechatpy 2.0 API groups carry their own absolute base URL (wechat-platform.md §12).
        for _name, api in inspect.getmembers(self, lambda obj: isinstance(obj, BaseWeChatAPI)):
            own = getattr(api, "API_BASE_URL", "")
            if own.startswith(REAL_WECHAT_API):
                api.API_BASE_URL = self.base_url + own[len(REAL_WECHAT_API):]
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self.tokens: TokenManager | None = None

    @property
    def access_token(self) -> str:
        return self.tokens.current()

    def fetch_access_token(self):
        return {"access_token": self.tokens.replace(rejected=self.tokens.current())}

    def fetch_stable_token(self, force_refresh: bool) -> Token:
        body = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
                "force_refresh": force_refresh}
        try:
            response = self._http.post(f"{self.base_url}/cgi-bin/stable_token", json=body, timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            result = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ApiError(None, f"stable_token unreachable ({type(exc).__name__})") from None
        if result.get("errcode"):
            raise ApiError(int(result["errcode"]), f"stable_token: {result.get('errmsg', '')}")
        return Token(result["access_token"], time.time() + int(result.get("expires_in", 7200)))

    def call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the API with the shared token; on a token error, one refresh and one retry."""
        token = self.tokens.current()
        try:
            return self._post_once(endpoint, body, token)
        except ApiError as error:
            if error.errcode not in TOKEN_ERRORS:
                raise
        return self._post_once(endpoint, body, self.tokens.replace(rejected=token))

    def _post_once(self, endpoint: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        try:
            return self.post(endpoint, data=body, params={"access_token": token})
        except WeChatClientException as exc:
            raise ApiError(exc.errcode, str(exc.errmsg or "HTTP error")) from None
        except requests.RequestException as exc:
            raise ApiError(None, f"network error ({type(exc).__name__})") from None


def make_client(settings: Settings, redis=None, sessions: sessionmaker[Session] | None = None, pool_size: int = 10) -> SharedTokenClient:
    """The client every process uses: Redis keeps the token when configured, else the database."""
    if not settings.wechat_app_id or not settings.wechat_app_secret:
        raise ValueError("WECHAT_APP_ID and WECHAT_APP_SECRET are needed to call the WeChat API")
    client = SharedTokenClient(settings.wechat_app_id, settings.wechat_app_secret, settings.wechat_api_base_url, pool_size)
    if redis is not None:
        store: TokenStore = RedisTokenStore(redis, settings.wechat_app_id)
    elif sessions is not None:
        store = DatabaseTokenStore(sessions, settings.wechat_app_id)
    else:
        raise ValueError("a database session factory or a Redis client is needed for the shared token")
    client.tokens = TokenManager(store, client.fetch_stable_token)
    return client


class WeChatTransport:
    """The outbox's channels as WeChat API calls (wechat-platform.md §6–§9)."""

    def __init__(self, client: SharedTokenClient):
        self.client = client

    def send(self, message: Send) -> str | None:
        endpoint, body = request_for(message)
        result = self.client.call(endpoint, body)
        msgid = result.get("msgid") or result.get("msg_id")
        return str(msgid) if msgid is not None else None


def request_for(message: Send) -> tuple[str, dict[str, Any]]:
    """The endpoint and JSON body WeChat documents for this channel."""
    if message.channel == Channel.CUSTOMER_SERVICE:
        return "message/custom/send", {"touser": message.recipient.value, "msgtype": "text", "text": {"content": message.text}}
    data = {key: {"value": value} for key, value in (message.fields or {}).items()}
    if message.channel == Channel.TEMPLATE:
        body: dict[str, Any] = {"touser": message.recipient.value, "template_id": message.template_id,
                                "client_msg_id": message.client_msg_id, "data": data}
        if message.url:
            body["url"] = message.url
        return "message/template/send", body
    if message.channel == Channel.SUBSCRIPTION:
        body = {"touser": message.recipient.value, "template_id": message.template_id, "data": data}
        if message.page:
            body["page"] = message.page
        return "message/subscribe/bizsend", body
    if message.channel == Channel.MASS:
        audience = {"is_to_all": True} if message.recipient.kind == RecipientKind.ALL else {
            "is_to_all": False, "tag_id": int(message.recipient.value)}
        body = {"filter": audience, "clientmsgid": message.client_msg_id}
        if message.media_id:
            body.update(msgtype="mpnews", mpnews={"media_id": message.media_id}, send_ignore_reprint=0)
        else:
            body.update(msgtype="text", text={"content": message.text})
        return "message/mass/sendall", body
    raise ValueError(f"no WeChat endpoint for channel {message.channel}")


__all__ = [
    "SharedTokenClient",
    "WeChatTransport",
    "make_client",
    "request_for",
]
