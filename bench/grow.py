"""Fill a benchmark database to a grown size before the clock starts (`--grow` of the benches).

1,000,000 handled messages in the dedupe table (unexpired, so pruning keeps them), 100,000
followers (most with an open reply window) and 100,000 stored conversations (a tenth in the
middle of a form). Each table gets one template row written through the models (so the
types, encryption and time format are the app's own); the rest are copies of it made by one
INSERT … SELECT over a counter, with keys and openids of their own. Invented, like every bench's data.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import text

SIZES = {"inbound_message": 1_000_000, "follower": 100_000, "conversation_state": 100_000}

# (table, key column, prefix, the other columns copied from the template)
_COPIES = (
    ("inbound_message", "dedupe_key", "grow",
     "msg_type, event, status, reply, sender_bi, received_at, expires_at"),
    ("follower", "openid", "oGrowFan",
     "status, last_interaction_at, window_expires_at, window_quota, window_used, created_at, updated_at"),
    ("conversation_state", "openid", "oGrowChat",
     "form, step, answers, scratch, version, expires_at, updated_at"),
)


def prefill(database_url: str, data_key: str) -> str:
    """Fill the tables (`data_key`: the server's DATA_ENCRYPTION_KEY); returns what was added
    and how long it took."""
    from models import Follower, InboundMessage, InboundStatus, utcnow
    from models.conversation import ConversationState
    from models.database import make_engine, make_session_factory
    from models.encrypted import configure_data_key
    from models.outbound import FollowerStatus

    configure_data_key(data_key)
    engine = make_engine(database_url)
    started = time.monotonic()
    now = utcnow()
    with make_session_factory(engine).begin() as session:
        session.add_all([
            InboundMessage(dedupe_key="grow-template", msg_type="text", status=InboundStatus.DONE, reply="好的",
                           sender_bi="0" * 64, received_at=now, expires_at=now + timedelta(days=2)),
            Follower(openid="oGrowFan-template", status=FollowerStatus.ACTIVE, last_interaction_at=now,
                     window_expires_at=now + timedelta(hours=40), window_quota=5, window_used=1,
                     created_at=now, updated_at=now),
            ConversationState(openid="oGrowChat-template", form=None, step=None, version=3, updated_at=now),
            ConversationState(openid="oGrowChat-form-template", form="volunteer", step="mobile",
                              answers={"name": "王测试"}, scratch={"errors": 0}, version=2,
                              expires_at=now + timedelta(minutes=30), updated_at=now),
        ])
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        for table, key, prefix, columns in _COPIES:
            count = SIZES[table]
            number = "lpad(i::text, 12, '0')" if postgres else "printf('%012d', i)"
            template = f"'{prefix}-template'"
            if table == "conversation_state":  # every tenth one mid-form
                template = f"CASE WHEN i % 10 = 0 THEN 'oGrowChat-form-template' ELSE {template} END"
            conn.execute(text(
                f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) "
                f"INSERT INTO {table} ({key}, {columns}) "
                f"SELECT '{prefix}' || {number}, {', '.join('t.' + c.strip() for c in columns.split(','))} "
                f"FROM n JOIN {table} t ON t.{key} = {template}"
            ))
        if postgres:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    sizes = ", ".join(f"{count:,} {table}" for table, count in SIZES.items())
    return f"grown: {sizes} added in {time.monotonic() - started:.0f} s"
