"""Structured logging: one JSON object per line outside development.

Log lines carry an openid *hash* and the MsgId, never names, phone numbers,
ID numbers or message content.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from datetime import datetime, timezone

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD)
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line = f"{line} {extras}" if extras else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str, json_lines: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_shuangyong", False)]:
        root.removeHandler(old)
    handler._shuangyong = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces every plugin at INFO on each start; only its warnings matter.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


def openid_hash(secret_key: str, openid: str) -> str:
    """A stable, keyed pseudonym: lines of one user can be followed, the openid is not exposed."""
    return hmac.new(secret_key.encode(), openid.encode(), hashlib.sha256).hexdigest()[:12]
