"""Where each user is in a chat form: one row per openid, locked while a message is handled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.encrypted import EncryptedJSON


class ConversationState(Base):
    """A row with `form` NULL means the user is not filling anything in.

    `answers` holds what the user typed (personal data: encrypted); `scratch` holds
    the engine's own bookkeeping (which choice list was shown, the error count …)
    and never anything the user typed.
    """

    __tablename__ = "conversation_state"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    form: Mapped[str | None] = mapped_column(String(48))
    # A readable copy of the step (a field key, ":confirm", ":edit", ":switch"); the typed step
    # is in `scratch` (handlers/forms/state.py), older rows have only this.
    step: Mapped[str | None] = mapped_column(String(48))
    answers: Mapped[Any] = mapped_column(EncryptedJSON(), nullable=True)
    scratch: Mapped[Any] = mapped_column(JSON, nullable=True)
    version: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Every UPDATE is made WHERE version = the one read, so a change made meanwhile rolls this
    # transaction back (StaleDataError) instead of being overwritten (services.conversations).
    # The code sets the new version itself (save, clear …): no generator.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
