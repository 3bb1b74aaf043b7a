"""Settings read from the environment (and a `.env` file); tests build their own.

Every variable is validated once, at start-up. A bad value raises `ConfigError`
with one line naming the variable, so the operator never meets a traceback
inside a request.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

from dotenv import dotenv_values
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"
DEFAULT_SITE_CONFIG_DIR = PROJECT_ROOT / "deploy"  # areas.toml, menu.toml, contact.toml
REAL_WECHAT_API = "https://api.weixin.qq.com"

# Secrets generated on first start when the operator has not set them, so the
# demo runs on embedded defaults without a known key ever living in the repo.
GENERATED_SECRETS_FILE = "generated-secrets.env"
GENERATED_SECRET_NAMES = ("SECRET_KEY", "DATA_ENCRYPTION_KEY", "WECHAT_TOKEN")


class ConfigError(Exception):
    """A configuration value is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    data_encryption_key: str
    wechat_token: str
    redis_url: str | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    wechat_encoding_aes_key: str | None = None
    wechat_api_base_url: str = REAL_WECHAT_API
    wechat_sandbox: bool = False
    app_env: str = "production"
    log_level: str = "INFO"
    instance_dir: Path = DEFAULT_INSTANCE_DIR
    # Webhook guards.
    webhook_max_body_bytes: int = 1024 * 1024
    webhook_timestamp_tolerance: int = 300
    webhook_reply_deadline: float = 4.0
    dedupe_ttl_seconds: int = 86400
    # Conversations: an unfinished chat form expires after this many minutes;
    # the area list, the custom menu and the contact card live in SITE_CONFIG_DIR.
    form_timeout_minutes: int = 30
    site_config_dir: Path = DEFAULT_SITE_CONFIG_DIR
    # Outbound messaging (the outbox worker).
    wechat_template_ids: Mapping[str, str] = field(default_factory=dict)  # message kind → template id
    wechat_subscribe_template_ids: Mapping[str, str] = field(default_factory=dict)  # kind → 订阅通知 template
    outbox_send_rate: float = 20.0  # messages per second, across all workers
    outbox_worker_concurrency: int = 8  # sends in flight per worker process
    outbox_lease_seconds: int = 60  # a row left "sending" this long by a dead worker is taken again
    outbox_max_attempts: int = 8
    mass_send_monthly_budget: int = 4  # a 服务号 follower receives at most 4 mass sends a month
    console_idle_minutes: int = 30  # a console session ends after this long without a request
    trusted_proxies: int = 0  # reverse proxies in front (nginx: 1): their X-Forwarded-* headers are believed
    # `python -m bot demo` sets DEMO_MODE=1 for its server: the simulator then opens to loopback visitors.
    demo_mode: bool = False
    # Retention (PIPL Art. 19): chat transcripts, unfinished forms and dedupe records are purged after
    # this many days; closed requests are anonymised after this many years.
    retention_days: int = 30
    closed_request_retention_years: int = 3
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def safe_mode(self) -> bool:
        """An EncodingAESKey means WeChat talks to us encrypted (安全/兼容 mode)."""
        return bool(self.wechat_encoding_aes_key)

    @property
    def sandbox(self) -> bool:
        """No AppID (the demo) or an explicit switch: nothing reaches the real WeChat."""
        return self.wechat_sandbox or not self.wechat_app_id

    @property
    def simulator_available(self) -> bool:
        """The chat simulator signs messages as WeChat would: only where nothing can reach WeChat
        (the sandbox, and no AppSecret from which an access token could be fetched)."""
        return self.sandbox and not self.wechat_app_secret

    @property
    def development(self) -> bool:
        return self.app_env == "development"

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        env_file: str | Path | None = PROJECT_ROOT / ".env",
    ) -> "Settings":
        """Read settings: the process environment wins over the `.env` file."""
        values: dict[str, str] = {}
        if env_file and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        return _parse(values)


def instance_dir_setting(env_file: Path = PROJECT_ROOT / ".env") -> Path:
    """INSTANCE_DIR as Settings.from_env reads it, without parsing (and so failing on) the rest."""
    value = os.environ.get("INSTANCE_DIR", "").strip()
    if not value and env_file.is_file():
        value = (dotenv_values(env_file).get("INSTANCE_DIR") or "").strip()
    return Path(value) if value else DEFAULT_INSTANCE_DIR


def _parse(env: Mapping[str, str]) -> Settings:
    def get(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value and value.strip() else None

    instance_dir = Path(get("INSTANCE_DIR") or DEFAULT_INSTANCE_DIR)
    generated = _generated_secrets(instance_dir, env)

    app_id = get("WECHAT_APP_ID")
    aes_key = get("WECHAT_ENCODING_AES_KEY")
    if aes_key is not None and not app_id:
        raise ConfigError(
            "WECHAT_APP_ID is required when WECHAT_ENCODING_AES_KEY is set "
            "(safe mode checks the AppID inside every message)"
        )
    return Settings(
        database_url=_database_url(get("DATABASE_URL"), instance_dir),
        redis_url=_redis_url(get("REDIS_URL")),
        secret_key=_secret_key(get("SECRET_KEY") or generated["SECRET_KEY"]),
        data_encryption_key=_fernet_key(
            get("DATA_ENCRYPTION_KEY") or generated["DATA_ENCRYPTION_KEY"]
        ),
        wechat_token=_wechat_token(get("WECHAT_TOKEN") or generated["WECHAT_TOKEN"]),
        wechat_app_id=_app_id(app_id),
        wechat_app_secret=get("WECHAT_APP_SECRET"),
        wechat_encoding_aes_key=_aes_key(aes_key),
        wechat_api_base_url=_http_url("WECHAT_API_BASE_URL", get("WECHAT_API_BASE_URL"))
        or REAL_WECHAT_API,
        wechat_sandbox=_flag("WECHAT_SANDBOX", get("WECHAT_SANDBOX")),
        app_env=_choice("APP_ENV", get("APP_ENV") or "production", ("production", "development")),
        log_level=_choice(
            "LOG_LEVEL", (get("LOG_LEVEL") or "INFO").upper(), ("DEBUG", "INFO", "WARNING", "ERROR")
        ),
        instance_dir=instance_dir,
        webhook_max_body_bytes=_positive_int(
            "WEBHOOK_MAX_BODY_BYTES", get("WEBHOOK_MAX_BODY_BYTES"), 1024 * 1024
        ),
        webhook_timestamp_tolerance=_positive_int(
            "WEBHOOK_TIMESTAMP_TOLERANCE", get("WEBHOOK_TIMESTAMP_TOLERANCE"), 300
        ),
        webhook_reply_deadline=_positive_float(
            "WEBHOOK_REPLY_DEADLINE", get("WEBHOOK_REPLY_DEADLINE"), 4.0, maximum=4.5
        ),
        dedupe_ttl_seconds=_positive_int("DEDUPE_TTL_SECONDS", get("DEDUPE_TTL_SECONDS"), 86400),
        form_timeout_minutes=_positive_int("FORM_TIMEOUT_MINUTES", get("FORM_TIMEOUT_MINUTES"), 30),
        site_config_dir=_directory("SITE_CONFIG_DIR", get("SITE_CONFIG_DIR")) or DEFAULT_SITE_CONFIG_DIR,
        wechat_template_ids=_kind_map("WECHAT_TEMPLATE_IDS", get("WECHAT_TEMPLATE_IDS")),
        wechat_subscribe_template_ids=_kind_map(
            "WECHAT_SUBSCRIBE_TEMPLATE_IDS", get("WECHAT_SUBSCRIBE_TEMPLATE_IDS")
        ),
        outbox_send_rate=_send_rate(get("OUTBOX_SEND_RATE")),
        outbox_worker_concurrency=_positive_int(
            "OUTBOX_WORKER_CONCURRENCY", get("OUTBOX_WORKER_CONCURRENCY"), 8
        ),
        outbox_lease_seconds=_positive_int("OUTBOX_LEASE_SECONDS", get("OUTBOX_LEASE_SECONDS"), 60),
        outbox_max_attempts=_positive_int("OUTBOX_MAX_ATTEMPTS", get("OUTBOX_MAX_ATTEMPTS"), 8),
        mass_send_monthly_budget=_positive_int(
            "MASS_SEND_MONTHLY_BUDGET", get("MASS_SEND_MONTHLY_BUDGET"), 4
        ),
        console_idle_minutes=_positive_int("CONSOLE_IDLE_MINUTES", get("CONSOLE_IDLE_MINUTES"), 30),
        trusted_proxies=_count("TRUSTED_PROXIES", get("TRUSTED_PROXIES")),
        demo_mode=_flag("DEMO_MODE", get("DEMO_MODE")),
        retention_days=_positive_int("RETENTION_DAYS", get("RETENTION_DAYS"), 30),
        closed_request_retention_years=_positive_int(
            "CLOSED_REQUEST_RETENTION_YEARS", get("CLOSED_REQUEST_RETENTION_YEARS"), 3
        ),
    )


def _count(name: str, value: str | None) -> int:
    if value is None:
        return 0
    if not value.isdigit() or int(value) > 5:
        raise ConfigError(f"{name} must be a whole number from 0 to 5 (got {value!r})")
    return int(value)


# --- generated secrets -------------------------------------------------------


def _generated_secrets(instance_dir: Path, env: Mapping[str, str]) -> dict[str, str | None]:
    """Secrets the operator left unset, created once and shared by every process."""
    missing = [name for name in GENERATED_SECRET_NAMES if not (env.get(name) or "").strip()]
    if not missing:
        return {name: None for name in GENERATED_SECRET_NAMES}
    path = instance_dir / GENERATED_SECRETS_FILE
    if not path.exists():
        _write_generated_secrets(path)
    stored = dotenv_values(path)
    return {name: stored.get(name) for name in GENERATED_SECRET_NAMES}


def _write_generated_secrets(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = (
        "# Generated on first start because these were not set. Keep this file private.\n"
        f"SECRET_KEY={secrets.token_urlsafe(32)}\n"
        f"DATA_ENCRYPTION_KEY={base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}\n"
        f"WECHAT_TOKEN={secrets.token_hex(16)}\n"
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    try:
        os.link(tmp, path)  # atomic and never overwrites: the first process wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


# --- validators: each returns the clean value or raises ConfigError ----------


def _database_url(value: str | None, instance_dir: Path) -> str:
    if value is None:
        instance_dir.mkdir(parents=True, exist_ok=True)
        return URL.create("sqlite", database=str(instance_dir / "shuangyong.db")).render_as_string()
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL is not a valid database URL "
            "(examples: sqlite:///instance/shuangyong.db, postgresql://user@host/db)"
        ) from None
    backend = url.get_backend_name()
    if backend == "postgresql" and url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    elif backend == "postgres":
        url = url.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"DATABASE_URL must be a sqlite:// or postgresql:// URL, not {backend}://")
    return url.render_as_string(hide_password=False)


def _redis_url(value: str | None) -> str | None:
    if value is None:
        return None
    if urlparse(value).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
    return value


def _secret_key(value: str | None) -> str:
    if not value or len(value) < 16:
        raise ConfigError("SECRET_KEY must be at least 16 characters long")
    return value


def _fernet_key(value: str | None) -> str:
    """One key, or several ("new:KEY,old:KEY") while rotating: the first encrypts."""
    from models.encrypted import parse_data_keys

    try:
        parse_data_keys(value or "")
    except ValueError as problem:
        raise ConfigError(
            f"DATA_ENCRYPTION_KEY must be 32 bytes in url-safe base64 (44 characters), or several as "
            f"id:key,id:key with the current key first ({problem}); "
            'create one with: python -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
        ) from None
    return value  # type: ignore[return-value]


def _wechat_token(value: str | None) -> str:
    if not value or not re.fullmatch(r"[A-Za-z0-9]{3,32}", value):
        raise ConfigError("WECHAT_TOKEN must be 3 to 32 letters or digits, as in the WeChat console")
    return value


def _app_id(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"wx[0-9a-f]{16}", value):
        raise ConfigError('WECHAT_APP_ID must look like "wx" followed by 16 hex digits')
    return value


def _aes_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(r"[A-Za-z0-9]{43}", value):
        others = sorted({ch for ch in value if not (ch.isascii() and ch.isalnum())})
        found = f"{len(value)} characters" + (f", including {' '.join(repr(ch) for ch in others)}" if others else "")
        raise ConfigError(f"WECHAT_ENCODING_AES_KEY must be exactly 43 letters or digits (got {found})")
    return value


def _http_url(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http:// or https:// URL")
    return value.rstrip("/")


def _flag(name: str, value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1 or 0")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of: {', '.join(allowed)}")
    return value


def _directory(name: str, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_dir():
        raise ConfigError(f"{name} must be an existing directory (holding areas.toml, menu.toml, contact.toml)")
    return path


def _positive_int(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(f"{name} must be a positive whole number")
    return int(value)


def _send_rate(value: str | None) -> float:
    try:
        rate = float(value) if value is not None else 20.0
    except ValueError:
        rate = -1.0
    if not 0 < rate <= 10000:
        raise ConfigError("OUTBOX_SEND_RATE must be a number of messages per second between 0 and 10000")
    return rate


def _kind_map(name: str, value: str | None) -> dict[str, str]:
    """`kind=id,kind=id` (message kind → WeChat template id)."""
    result: dict[str, str] = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        kind, sep, template_id = (part.strip() for part in item.partition("="))
        if not sep or not re.fullmatch(r"[a-z_]{1,48}", kind) or not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", template_id):
            raise ConfigError(f"{name} must look like request_update=TEMPLATE_ID,holiday_reminder=TEMPLATE_ID")
        result[kind] = template_id
    return result


def _positive_float(name: str, value: str | None, default: float, maximum: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number <= maximum:
        raise ConfigError(f"{name} must be a number of seconds between 0 and {maximum}")
    return number
