"""/wechat: signature → decrypt → parse → dedupe → handlers → reply.

GET answers WeChat's URL verification. POST carries messages and events in
plaintext, compatible or safe (AES) mode. Whatever arrives, the answer is
immediate: bad input is refused with a status code and leaves no trace but one
log line; a slow handler is answered with "success" and its reply is queued.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Blueprint, Response, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import RequestEntityTooLarge

from bot.logs import openid_hash
from bot.runtime import Runtime, runtime
from wechat.protocol import Rejected, check_request_signature, parse_incoming, render_text_reply
from handlers import texts
from handlers.message import Context, Incoming
from handlers.router import dispatch
from models import utcnow
from models.database import WriteNeeded, end_read_snapshot, lost_connection, watch_writes
from models.encrypted import blind_index
from services import followers
from services.inbound_dedupe import Claim, ClaimLost, dedupe_key
from services import metrics
from services.outbox import enqueue_late_reply

blueprint = Blueprint("webhook", __name__)
log = logging.getLogger(__name__)

PATH = "/wechat"  # the URL configured in WeChat's admin console: deployments rely on it
SUCCESS = "success"  # WeChat's "received, no reply": never retried, never shown
PRUNE_PROBABILITY = 0.002


@blueprint.get(PATH)
def verify_url():
    rt = runtime()
    try:
        check_request_signature(
            rt.settings.wechat_token, request.args, time.time(), rt.settings.webhook_timestamp_tolerance
        )
    except Rejected as rejected:
        return _refuse(rejected)
    echostr = request.args.get("echostr", "")
    log.info("webhook: url verified")
    return Response(echostr, content_type="text/plain; charset=utf-8")


@blueprint.post(PATH)
def receive():
    rt = runtime()
    started = time.monotonic()
    try:
        incoming = _read_message(rt)
    except Rejected as rejected:
        return _refuse(rejected)

    key = dedupe_key(incoming.openid, incoming.msg_id, incoming.create_time, incoming.event, incoming.event_key)
    log_fields = {
        "openid_hash": openid_hash(rt.settings.secret_key, incoming.openid),
        "msg_id": incoming.msg_id,
        "msg_type": incoming.msg_type,
        "event": incoming.event,
    }
    remaining = max(0.0, rt.settings.webhook_reply_deadline - (time.monotonic() - started))
    text, outcome = _ReplyJob(rt, incoming, key, log_fields).reply_within(remaining)
    metrics.message(outcome, time.monotonic() - started)
    log.info(
        "webhook: %s",
        outcome,
        extra={**log_fields, "ms": round((time.monotonic() - started) * 1000, 1)},
    )
    return _respond(rt, incoming, text)


def _read_message(rt: Runtime) -> Incoming:
    settings = rt.settings
    if (request.content_length or 0) > settings.webhook_max_body_bytes:
        raise Rejected(413, "body too large")
    check_request_signature(settings.wechat_token, request.args, time.time(), settings.webhook_timestamp_tolerance)
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise Rejected(413, "body too large") from None
    if not body:
        raise Rejected(400, "empty body")

    if request.args.get("encrypt_type", "raw").lower() == "aes":
        if rt.crypto is None:
            raise Rejected(400, "encrypted message but no WECHAT_ENCODING_AES_KEY configured")
        xml = rt.crypto.decrypt(
            body, request.args.get("msg_signature"), request.args["timestamp"], request.args["nonce"]
        )
    elif rt.crypto is not None:
        # In safe mode the body must be encrypted: a plaintext body is covered by no signature.
        raise Rejected(400, "plaintext message while safe mode is configured")
    else:
        try:
            xml = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(400, "body is not UTF-8") from None
    return parse_incoming(xml)


class _ReplyJob:
    """Claims the message and runs the handlers in a pool thread, so the request
    can give up waiting at the deadline, whatever is slow (the database included).

    If the deadline passes first, WeChat gets "success" and the reply, when it
    comes, is queued in the outbox as a customer-service message. A lock decides
    which of the two happened, so the reply is delivered exactly one way. A retry
    of a message already claimed runs nothing and gets the stored reply.
    """

    def __init__(self, rt: Runtime, incoming: Incoming, key: str, log_fields: dict):
        self.rt, self.incoming, self.key, self.log_fields = rt, incoming, key, log_fields
        self._lock = threading.Lock()
        self._answered_inline = False
        self._abandoned = False
        self._retry = False
        self._deadline = 0.0
        self._committing = False  # a connection lost during COMMIT leaves its outcome unknown
        self._claim = Claim(key, incoming.msg_type, incoming.event, blind_index(incoming.openid, "openid"))

    def reply_within(self, timeout: float) -> tuple[str | None, str]:
        self._deadline = time.monotonic() + timeout
        future = self.rt.handlers_pool.submit(self._run)
        try:
            reply = future.result(timeout=timeout)
            return reply, "retry" if self._retry else "handled"
        except FutureTimeout:
            with self._lock:
                if not self._answered_inline:
                    self._abandoned = True
                    return None, "deadline passed, reply queued"
            return future.result(), "handled"
        except Exception:
            return texts.BUSY, "handler failed"

    def _run(self) -> str | None:
        try:
            claimed, reply = self._handle_again_if_disconnected()
            if not claimed:
                self._retry = True
                claimed, reply = self._await_first_attempt()
                if not claimed:
                    return reply
                self._retry = False  # handled here after all: the first attempt had died
        except Exception:
            log.exception("webhook: handler raised", extra=self.log_fields)
            self.rt.dedupe.release(self._claim)
            reply = texts.BUSY
            if not self._decide_late():
                raise
        else:
            return reply  # inline; or, past the deadline, already queued with the handler's changes
        if reply:
            self._queue_late_reply(reply)
        return reply

    def _handle_again_if_disconnected(self) -> tuple[bool, str | None]:
        """The database connection died under the transaction (pg_terminate_backend, a restarted
        server): everything rolled back, claim included, so run it once more on a fresh
        connection instead of answering 系统繁忙. Not if it died during COMMIT: whether that
        applied cannot be known, and a second run could do the work twice."""
        self._committing = False
        try:
            return self._handle()
        except DBAPIError as error:
            if not lost_connection(error) or self._committing:
                raise
        log.warning("webhook: database connection lost mid-message; handling it again", extra=self.log_fields)
        self.rt.dedupe.release(self._claim)
        return self._handle()

    def _await_first_attempt(self) -> tuple[bool, str | None]:
        """A retry of a message another attempt holds: wait for that attempt's reply. If the claim
        frees up without one (that attempt died with its process: a Redis lease runs out), handle
        the message here. WeChat gets "success" at the deadline and stops retrying, so this goes
        on past it (bounded by the lease): the reply then goes out as a late reply. Before this,
        a retry answered "success" while the dead attempt held the lease, and the message was
        lost (found by bench/drill.py killing a gunicorn worker)."""
        horizon = self._deadline + 2 * self.rt.settings.webhook_reply_deadline + 1.0
        while True:
            wait = min(1.0, max(0.0, horizon - time.monotonic()))
            reply = self.rt.dedupe.stored_reply(self.key, timeout=wait)
            if reply is not None:
                return False, (None if self._decide_late() else reply)  # late: that attempt answered itself
            if time.monotonic() >= horizon:
                return False, None
            claimed, reply = self._handle()
            if claimed:
                log.warning("webhook: a retry handled a message its first attempt left unfinished",
                            extra=self.log_fields)
                return True, reply

    def _handle(self) -> tuple[bool, str | None]:
        """One transaction: claim, observe, dispatch, store the reply. (False, None) for a retry.

        On SQLite the message is first run as a reader (models.database.watch_writes): most
        messages change nothing, and readers need not queue behind SQLite's one writer; only the
        message's record (its dedupe row with the reply, or with Redis nothing) is then written,
        in turn with the other writers. One that reaches any other write is rolled back and run
        again as a writer from the start (a Redis claim is its own and holds)."""
        if self.rt.reads_first:
            try:
                return self._handle_once(read_first=True)
            except WriteNeeded:
                pass
        return self._handle_once(read_first=False)

    def _handle_once(self, read_first: bool) -> tuple[bool, str | None]:
        rt, incoming = self.rt, self.incoming
        writers = contextlib.nullcontext() if read_first else rt.serial_writes
        with watch_writes(read_first) as watch, writers, rt.sessions() as session:
            if not rt.dedupe.claim(self._claim, utcnow(), session):
                return False, None
            # Every message counts for the outbound side (reply window, unfollows, reports).
            followers.observe(session, incoming, utcnow())
            reply = dispatch(Context(incoming, session, rt.clock(), rt.settings, dedupe=rt.dedupe), rt.routes)
            # Late or not is decided before the commit: a late reply is queued in this transaction
            # and the stored reply is "success". Decided after it, a retry could read the reply in
            # between and the person got it twice, inline and late (found by bench/drill.py).
            late = self._decide_late()
            if late and reply:
                enqueue_late_reply(session, incoming.openid, reply, self.key)
            try:
                rt.dedupe.confirm(self._claim)
                with self._writers_turn(session, watch):
                    rt.dedupe.complete(self.key, None if late else reply, session)
                    self._committing = True
                    session.commit()
            except ClaimLost:  # another attempt of this message stored its reply first: this one rolls back
                log.warning("webhook: claim taken over by a retry; rolled back", extra=self.log_fields)
                rt.dedupe.release(self._claim)
                return False, None
        if random.random() < PRUNE_PROBABILITY:
            rt.dedupe.prune(utcnow())
        return True, reply

    @contextlib.contextmanager
    def _writers_turn(self, session, watch):
        """A reader whose only write is its dedupe row: end the reads' snapshot and write the row
        in turn with the writers, as a statement of its own (no BEGIN IMMEDIATE … COMMIT)."""
        if watch.read_first:
            session.flush()  # the handler's pending changes: a reader that has any stops here
        if not (watch.read_first and self.rt.dedupe.row_pending(self.key, session)):
            yield
            return
        end_read_snapshot(session)
        with self.rt.serial_writes:
            yield

    def _decide_late(self) -> bool:
        with self._lock:
            if self._abandoned:
                return True
            self._answered_inline = True
            return False

    def _queue_late_reply(self, reply: str) -> None:
        try:
            with self.rt.sessions.begin() as session:
                enqueue_late_reply(session, self.incoming.openid, reply, self.key)
                # A retry must now get "success", not a second copy of the reply.
                self.rt.dedupe.complete(self.key, None, session)
        except Exception:
            log.exception("webhook: could not queue a late reply", extra=self.log_fields)


def _respond(rt: Runtime, incoming: Incoming, text: str | None) -> Response:
    if not text:
        return Response(SUCCESS, content_type="text/plain; charset=utf-8")
    now = int(time.time())
    xml = render_text_reply(incoming, text, now)
    if request.args.get("encrypt_type", "raw").lower() == "aes" and rt.crypto is not None:
        xml = rt.crypto.encrypt(xml, nonce=request.args["nonce"], timestamp=str(now))
    return Response(xml, content_type="application/xml; charset=utf-8")


def _refuse(rejected: Rejected) -> Response:
    log.warning("webhook: refused", extra={"status": rejected.status, "reason": rejected.reason})
    metrics.message(f"refused {rejected.status}")
    message = {400: "bad request", 403: "forbidden", 413: "payload too large"}.get(rejected.status, "refused")
    return Response(message, status=rejected.status, content_type="text/plain; charset=utf-8")
