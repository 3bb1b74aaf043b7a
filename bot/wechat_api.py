"""The WeChat API side of wechatpy, made safe for many processes (wechat-platform.md §5, §12).

- One access token per AppID for every process: fetched with `stable_token`, kept
  in the database (or Redis), refreshed under a lock shortly before it expires.
- wechatpy's unbounded auto-retry is off; a token error (40001/40014/42001)
  reloads the shared token, refreshes it at most once, and retries the call once.
- Every call, the token included, goes to WECHAT_API_BASE_URL.
- `WeChatTransport` sends the outbox's messages, posting WeChat's documented JSON
  itself so `client_msg_id` / `clientmsgid` can be set.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Protocol

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from wechatpy import WeChatClient
from wechatpy.client.api.base import BaseWeChatAPI
from wechatpy.exceptions import WeChatClientException

from config import REAL_WECHAT_API, Settings
from models import AccessToken, Channel
from models.encrypted import decrypt_text, encrypt_text
from services.delivery import Send
from services.delivery_policy import TOKEN_ERRORS, ApiError

log = logging.getLogger(__name__)

REFRESH_MARGIN = 120  # seconds; a stable_token fetch is valid for at least 300 s
LOCK_SECONDS = 30
REUSE_SECONDS = 10  # a process re-reads the shared token at most this often
HTTP_TIMEOUT = 10


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float  # epoch seconds

    def fresh(self, now: float) -> bool:
        return self.expires_at - now > REFRESH_MARGIN


class Locked(Protocol):
    token: Token | None  # the stored token, read under the lock

    def store(self, token: Token) -> None: ...


class TokenStore(Protocol):
    def read(self) -> Token | None: ...

    def locked(self) -> contextlib.AbstractContextManager[Locked]:
        """Hold the refresh lock (across processes); read and store under it."""
        ...


@dataclass
class _Locked:
    token: Token | None
    store: Callable[[Token], None]


class DatabaseTokenStore:
    """The `access_token` row. Its own row lock (PostgreSQL) or the write lock (SQLite)
    serialises refreshes across processes."""

    def __init__(self, sessions: sessionmaker[Session], app_id: str):
        self._sessions = sessions
        self._app_id = app_id
        with sessions.begin() as session:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            session.execute(insert(AccessToken).values(app_id=app_id).on_conflict_do_nothing(index_elements=["app_id"]))

    def read(self) -> Token | None:
        with self._sessions() as session:
            row = session.get(AccessToken, self._app_id)
            return _token_of(row)

    @contextlib.contextmanager
    def locked(self) -> Iterator[Locked]:
        # One transaction for read and write: on SQLite a second one from this
        # thread would wait for the lock this one holds.
        with self._sessions.begin() as session:
            # A no-op write takes the lock before reading, so the read sees the last refresh.
            session.execute(
                update(AccessToken).where(AccessToken.app_id == self._app_id).values(fetched_at=AccessToken.fetched_at)
            )
            row = session.scalars(select(AccessToken).where(AccessToken.app_id == self._app_id)).one()

            def store(token: Token) -> None:
                row.token = token.value
                row.expires_at = datetime.fromtimestamp(token.expires_at, timezone.utc)
                row.fetched_at = datetime.now(timezone.utc)
                session.flush()

            yield _Locked(_token_of(row), store)


def _token_of(row: AccessToken | None) -> Token | None:
    if row is None or not row.token or row.expires_at is None:
        return None
    return Token(row.token, row.expires_at.timestamp())


class RedisTokenStore:
    def __init__(self, redis, app_id: str, prefix: str = "shuangyong:wechat:"):
        self._redis = redis
        self._key = f"{prefix}{app_id}:access_token"
        self._lock_key = f"{prefix}{app_id}:access_token_lock"

    def read(self) -> Token | None:
        raw = self._redis.get(self._key)
        if raw is None:
            return None
        data = json.loads(decrypt_text(raw.decode() if isinstance(raw, bytes) else raw))
        return Token(data["token"], float(data["expires_at"]))

    @contextlib.contextmanager
    def locked(self) -> Iterator[Locked]:
        with self._redis.lock(self._lock_key, timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS):

            def store(token: Token) -> None:
                value = encrypt_text(json.dumps({"token": token.value, "expires_at": token.expires_at}))
                ttl = max(1, int(token.expires_at - time.time()))
                self._redis.set(self._key, value, ex=ttl)

            yield _Locked(self.read(), store)


class TokenManager:
    """Hands out the shared token; at most one fetch per expiry or rejection, everywhere."""

    def __init__(self, store: TokenStore, fetch: Callable[[bool], Token], reuse_seconds: float = REUSE_SECONDS):
        self._store = store
        self._fetch = fetch  # fetch(force_refresh) → Token
        self._local = threading.Lock()  # threads of this process queue here, not on the store
        self._reuse_seconds = reuse_seconds
        self._seen: tuple[Token, float] | None = None  # last token read, and when
        self.fetches = 0

    def current(self) -> str:
        now = time.time()
        # Reading the shared store once per call would cost a round trip per message. A token
        # another process replaced meanwhile only costs one refused call: `replace` then
        # finds the new one in the store without fetching.
        seen = self._seen
        if seen is not None and now - seen[1] < self._reuse_seconds and seen[0].fresh(now):
            return seen[0].value
        token = self._store.read()
        if token is not None and token.fresh(now):
            self._seen = (token, now)
            return token.value
        return self._refresh(rejected=None)

    def replace(self, rejected: str) -> str:
        """WeChat refused `rejected`: a token another process got since, or one fresh fetch."""
        return self._refresh(rejected=rejected)

    def _refresh(self, rejected: str | None) -> str:
        with self._local, self._store.locked() as held:
            token = held.token
            if token is not None and token.fresh(time.time()) and token.value != rejected:
                self._seen = (token, time.time())
                return token.value  # someone refreshed while we waited for the lock
            new = self._fetch(False)
            self.fetches += 1
            if rejected is not None and new.value == rejected:
                # WeChat still hands out the token it refuses: only a forced refresh helps.
                new = self._fetch(True)
                self.fetches += 1
            held.store(new)
            self._seen = (new, time.time())
            log.info("wechat: access token refreshed", extra={"expires_in": round(new.expires_at - time.time())})
            return new.value


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
        return "message/custom/send", {"touser": message.recipient, "msgtype": "text", "text": {"content": message.text}}
    data = {key: {"value": value} for key, value in (message.fields or {}).items()}
    if message.channel == Channel.TEMPLATE:
        body: dict[str, Any] = {"touser": message.recipient, "template_id": message.template_id,
                                "client_msg_id": message.client_msg_id, "data": data}
        if message.url:
            body["url"] = message.url
        return "message/template/send", body
    if message.channel == Channel.SUBSCRIPTION:
        body = {"touser": message.recipient, "template_id": message.template_id, "data": data}
        if message.page:
            body["page"] = message.page
        return "message/subscribe/bizsend", body
    if message.channel == Channel.MASS:
        audience = {"is_to_all": True} if message.recipient == "all" else {
            "is_to_all": False, "tag_id": int(message.recipient.split(":", 1)[1])}
        body = {"filter": audience, "clientmsgid": message.client_msg_id}
        if message.media_id:
            body.update(msgtype="mpnews", mpnews={"media_id": message.media_id}, send_ignore_reprint=0)
        else:
            body.update(msgtype="text", text={"content": message.text})
        return "message/mass/sendall", body
    raise ValueError(f"no WeChat endpoint for channel {message.channel}")


__all__ = [
    "DatabaseTokenStore",
    "RedisTokenStore",
    "SharedTokenClient",
    "Token",
    "TokenManager",
    "WeChatTransport",
    "make_client",
    "request_for",
]
