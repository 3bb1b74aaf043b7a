"""SQLAlchemy 2 typed models, one module per aggregate.

Importing this package registers every table on `Base.metadata`, which Alembic
compares against the migrations.
"""

from models.base import Base, utcnow
from models.inbound import InboundMessage, InboundStatus
from models.outbox import Channel, OutboxMessage, OutboxStatus, Recipient, RecipientKind
from models import calendar, publicity, reminders, scheduler_state, visits  # noqa: F401,E402  (scheduler tables)
from models.outbound import (  # noqa: F401  (registers the outbound-messaging tables)
    AccessToken,
    ConsentStatus,
    Follower,
    FollowerEvent,
    FollowerStatus,
    MassSendBudget,
    OutboxEvent,
    RateBucket,
    StaffOpenid,
    SubscriptionConsent,
)
# Conversations and the people they register (volunteers, 优抚对象, requests, activities).
from models import activity, beneficiary, care_pair, consent, conversation, counter, faq, help_request, notice, status_event, volunteer  # noqa: F401,E501
from models import staff_account  # noqa: F401,E402  (staff console accounts)
from models import roster  # noqa: F401,E402  (areas, roster history, Excel imports)
from models import volunteer_team  # noqa: F401,E402  (志愿服务队)

__all__ = [
    "Base",
    "Channel",
    "InboundMessage",
    "InboundStatus",
    "OutboxMessage",
    "OutboxStatus",
    "Recipient",
    "RecipientKind",
    "utcnow",
]
