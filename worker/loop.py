"""The delivery loop: claim due outbox rows, send them with bounded concurrency, record.

Several workers may run on several machines: claims never overlap (see
services.delivery.claim_due), a global send rate holds across all of them
(worker/send_rate.py), and a row a dead worker left in `sending` is taken
back when its lease runs out. The transport (wechat/api.py) is handed in,
so this module knows nothing of HTTP or wechatpy.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Callable, Protocol

from sqlalchemy.orm import Session, sessionmaker

from models import utcnow
from models.database import lost_connection
from worker.send_rate import SendRate
from services import delivery, metrics
from services.delivery import Claimed, DeliveryConfig, Send
from services.delivery_policy import ApiError, PayloadError

log = logging.getLogger(__name__)


class Transport(Protocol):
    def send(self, message: Send) -> str | None:
        """Deliver one message; returns WeChat's msgid, raises ApiError."""
        ...


RECORD_TRIES = 5  # recording a send that WeChat accepted: 0.2 + 0.4 + 0.8 + 1.6 s of patience


class DeliveryWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: DeliveryConfig,
        transport: Transport | None,
        rate: SendRate | None,
        *,
        concurrency: int = 8,
        lease_seconds: int = 60,
        poll_seconds: float = 0.5,
        on_error: Callable[[BaseException], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        if transport is None and not config.sandbox:
            raise ValueError("a transport is required outside the sandbox")
        self.sessions = sessions
        self.config = config
        self.transport = transport
        self.rate = rate
        self.concurrency = concurrency
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self._in_flight = 0
        self._changed = threading.Condition()
        self._on_error = on_error
        self.clock = clock  # the sandbox's time travel delivers "as of" a chosen day
        self.delivered = 0  # rows this worker finished (any outcome), for logs and tests
        metrics._metrics()  # created before the send threads race to create them (DuplicateTimeseries)

    # --- the loop --------------------------------------------------------------

    def run(self, stop: threading.Event, *, until_idle: bool = False) -> None:
        """Deliver until `stop` is set (or, with until_idle, until nothing is due)."""
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="deliver") as pool:
            while not stop.is_set():
                free = self._wait_for_free_slots(stop)
                if free == 0:
                    continue
                # Idle *before* the claim: a row finishing meanwhile may have queued more.
                was_idle = self._idle()
                try:
                    claimed = self._claim(free)
                except Exception as exc:
                    _log_failure("delivery: claiming failed; trying again", exc)
                    stop.wait(self.poll_seconds)
                    continue
                for item in claimed:
                    with self._changed:
                        self._in_flight += 1
                    pool.submit(self._deliver_one, item)
                if not claimed:
                    if until_idle and was_idle:
                        break
                    stop.wait(self.poll_seconds)
            self._wait_idle()

    def _wait_for_free_slots(self, stop: threading.Event) -> int:
        # Claim in small batches rather than one row per round trip, but never
        # more than there are threads: a claimed row waiting in a queue only
        # ages towards its lease.
        batch = max(1, self.concurrency // 4)
        with self._changed:
            while self.concurrency - self._in_flight < batch and not stop.is_set():
                self._changed.wait(0.2)
            return self.concurrency - self._in_flight if not stop.is_set() else 0

    def _idle(self) -> bool:
        with self._changed:
            return self._in_flight == 0

    def _wait_idle(self) -> None:
        with self._changed:
            while self._in_flight:
                self._changed.wait(0.2)

    def _claim(self, limit: int) -> list[Claimed]:
        with self.sessions.begin() as session:
            return delivery.claim_due(session, self.clock(), limit, self.lease)

    # --- one row ---------------------------------------------------------------

    def _deliver_one(self, claimed: Claimed) -> None:
        try:
            self.deliver(claimed)
        except Exception as exc:
            _log_failure("delivery: unexpected error", exc, outbox_id=claimed.row_id)
            self._record_crash(claimed, exc)
            if self._on_error:
                self._on_error(exc)
        finally:
            with self._changed:
                self._in_flight -= 1
                self.delivered += 1
                self._changed.notify_all()

    def _record_crash(self, claimed: Claimed, exc: Exception) -> None:
        try:
            with self.sessions.begin() as session:
                delivery.record_crash(session, claimed, f"worker error {type(exc).__name__}", self.config, self.clock())
        except Exception:  # the database itself is failing: the lease brings the row back
            log.exception("delivery: could not record the error", extra={"outbox_id": claimed.row_id})

    def deliver(self, claimed: Claimed) -> None:
        with self.sessions.begin() as session:
            message = delivery.plan(session, claimed, self.config, self.clock())
        if message is None:
            return
        try:
            delivery.check_send(message)
        except PayloadError as error:
            with self.sessions.begin() as session:
                delivery.record_invalid(session, message, error, self.clock())
            return
        if self.rate is not None:
            self.rate.wait()
        try:
            msgid = self.transport.send(message)
        except ApiError as error:
            self._record_failure(message, error)
        except Exception as error:  # a bug or an unexpected library error: retry with backoff
            log.exception("delivery: transport raised", extra={"outbox_id": message.row_id})
            self._record_failure(message, ApiError(None, f"transport error {type(error).__name__}"))
        else:
            self._record_success(message, msgid)

    def _record_success(self, message: Send, msgid: str | None) -> None:
        """WeChat has the message: record it, trying again if the database drops the connection.
        It must never reach `_record_crash`, which would make the row due again and send a
        customer-service message twice (found by bench/drill.py with pg_terminate_backend).
        If it cannot be recorded, the row stays "sending" and its lease decides: a template is
        resent (WeChat drops it by client_msg_id), a customer-service message is left failed
        as "may have reached the person"."""
        for attempt in range(RECORD_TRIES):
            try:
                with self.sessions.begin() as session:
                    delivery.record_success(session, message, msgid, self.clock())
                break
            except Exception:
                if attempt == RECORD_TRIES - 1:
                    log.exception("delivery: sent but not recorded; the lease decides", extra={"outbox_id": message.row_id})
                    return
                log.warning("delivery: could not record a send; trying again", extra={"outbox_id": message.row_id})
                time.sleep(0.2 * 2**attempt)
        metrics.send(str(message.channel), 0)
        log.info("delivery: sent", extra={"outbox_id": message.row_id, "channel": str(message.channel), "msgid": msgid})

    def _record_failure(self, message: Send, error: ApiError) -> None:
        with self.sessions.begin() as session:
            reaction = delivery.record_failure(session, message, error, self.config, self.clock())
        metrics.send(str(message.channel), error.errcode if error.errcode is not None else -1)
        level = logging.ERROR if reaction in (None, "fail", "quota") else logging.WARNING
        log.log(
            level,
            "delivery: not sent",
            extra={"outbox_id": message.row_id, "channel": str(message.channel), "errcode": error.errcode,
                   "reaction": str(reaction)},
        )


def delivery_config(settings) -> DeliveryConfig:
    return DeliveryConfig(
        sandbox=settings.sandbox,
        template_ids=dict(settings.wechat_template_ids),
        subscribe_template_ids=dict(settings.wechat_subscribe_template_ids),
        mass_budget=settings.mass_send_monthly_budget,
        max_attempts=settings.outbox_max_attempts,
    )


def _log_failure(message: str, exc: Exception, **fields) -> None:
    """A lost database connection is one warning line (the row is retried); anything else is a bug
    and keeps its traceback."""
    if lost_connection(exc):
        log.warning(f"{message} (database connection lost)",
                    extra={**fields, "error": type(getattr(exc, "orig", exc)).__name__})
    else:
        log.exception(message, extra=fields)
