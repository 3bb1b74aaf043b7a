"""Column types that keep personal data encrypted at rest (Fernet, from `cryptography`).

The key comes from DATA_ENCRYPTION_KEY; `configure_data_key` is called once at
start-up by whatever process opens the database (web, worker, scheduler, CLI).
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text, TypeDecorator

_fernet: Fernet | None = None


def configure_data_key(key: str) -> None:
    global _fernet  # configuration set once per process, not mutable state
    _fernet = Fernet(key.encode())


def _cipher() -> Fernet:
    if _fernet is None:
        raise RuntimeError("configure_data_key() was not called before touching encrypted data")
    return _fernet


def encrypt_text(value: str) -> str:
    return _cipher().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_text(value: str) -> str:
    try:
        return _cipher().decrypt(value.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise RuntimeError(
            "stored data cannot be decrypted: DATA_ENCRYPTION_KEY differs from the key it was written with"
        ) from None


class EncryptedText(TypeDecorator):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        return None if value is None else encrypt_text(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        return None if value is None else decrypt_text(value)


class EncryptedJSON(EncryptedText):
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> str | None:
        if value is None:
            return None
        return super().process_bind_param(json.dumps(value, ensure_ascii=False), dialect)

    def process_result_value(self, value: str | None, dialect) -> Any:
        text = super().process_result_value(value, dialect)
        return None if text is None else json.loads(text)
