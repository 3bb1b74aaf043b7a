"""SQLAlchemy 2 typed models, one module per aggregate.

Importing this package registers every table on `Base.metadata`, which Alembic
compares against the migrations.
"""

from models.base import Base, utcnow
from models.inbound import InboundMessage, InboundStatus
from models.outbox import Channel, OutboxMessage, OutboxStatus

__all__ = [
    "Base",
    "Channel",
    "InboundMessage",
    "InboundStatus",
    "OutboxMessage",
    "OutboxStatus",
    "utcnow",
]
