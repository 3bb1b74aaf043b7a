"""Retention (issue 12): transcripts, drafts and dedupe records purged after the configured
time, closed requests anonymised after the configured years; the nightly job and the CLI."""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import func, select

from models import InboundMessage, InboundStatus
from models.conversation import ConversationState
from models.database import make_engine, make_session_factory
from models.help_request import HandoverMessage, HelpRequest, RequestStatus
from models.scheduler_state import JobWatermark
from scheduler.job_table import job_by_id
from scheduler.runner import run_job
from services import handover, help_requests, retention
from services.help_requests import RequestDetails
from tests.conftest import DATA_KEY
from tests.console_kit import NOW

POLICY = retention.RetentionPolicy(transcript_days=30, closed_request_years=3)


def _scene(sessions):
    """An old closed request with a 人工 transcript, a recent closed one, an open one, drafts, dedupe rows."""
    with sessions.begin() as s:
        def request(openid, status, at):
            r = help_requests.submit(s, openid, RequestDetails("life", "家里老人生病", "normal", "self", "赵德胜",
                                                                "13700001111", town="城关镇"), at)
            thread, _ = handover.open_thread(s, openid + "h", at, during=None, contact={}, town="城关镇")
            handover.record_incoming(s, thread, at, msg_type="text", text="我家在河口村")
            for row in (r, thread):
                row.status, row.updated_at = status, at
            return r.id
        ids = {
            "ancient": request("oOld1", RequestStatus.RESOLVED, NOW - timedelta(days=4 * 365)),
            "last_month": request("oOld2", RequestStatus.VISITED, NOW - timedelta(days=40)),
            "recent": request("oNew1", RequestStatus.RESOLVED, NOW - timedelta(days=5)),
            "open": request("oNew2", RequestStatus.IN_PROGRESS, NOW - timedelta(days=400)),
        }
        s.add_all([ConversationState(openid="oDraftOld", form="volunteer", answers={"name": "赵德胜"}, version=1,
                                     updated_at=NOW - timedelta(days=31)),
                   ConversationState(openid="oDraftNew", form="volunteer", answers={"name": "钱多多"}, version=1,
                                     updated_at=NOW - timedelta(days=1))])
        s.add_all([InboundMessage(dedupe_key=f"k{n}", msg_type="text", status=InboundStatus.DONE, reply="您好",
                                  received_at=NOW - timedelta(days=2), expires_at=NOW - timedelta(days=n))
                   for n in (1, 2)] + [InboundMessage(dedupe_key="k-live", msg_type="text", status=InboundStatus.DONE,
                                                      reply="您好", received_at=NOW, expires_at=NOW + timedelta(days=1))])
        return ids


def test_retention_purges_and_anonymises_what_is_past_its_time(db_url):
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    ids = _scene(sessions)
    with sessions.begin() as s:
        result = retention.apply(s, NOW, POLICY)
    # Each scene request comes with a 人工 thread (a request too) closed at the same time:
    # the transcripts of "ancient" and "last_month" go; "ancient" and its thread are anonymised.
    assert result == retention.RetentionResult(transcripts=2, drafts=1, dedupe=2, anonymised=2)
    with sessions() as s:
        ancient = s.get(HelpRequest, ids["ancient"])
        assert (ancient.openid, ancient.description, ancient.contact_name, ancient.contact_phone) == (None,) * 4
        assert ancient.anonymised_at is not None and ancient.category == "life"
        for key in ("last_month", "recent", "open"):
            assert s.get(HelpRequest, ids[key]).contact_name == "赵德胜", key
        assert [c.openid for c in s.scalars(select(ConversationState))] == ["oDraftNew"]
        assert [m.dedupe_key for m in s.scalars(select(InboundMessage))] == ["k-live"]
        assert s.scalar(select(func.count()).select_from(HandoverMessage)) == 2  # recent and open threads
    with sessions.begin() as s:
        assert retention.apply(s, NOW, POLICY) == retention.RetentionResult(0, 0, 0, 0)
    engine.dispose()


def test_the_nightly_job_applies_the_configured_policy(sqlite_url):
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    _scene(sessions)
    with sessions.begin() as s:
        s.add(JobWatermark(job_id="retention", covered_until=NOW - timedelta(days=1), last_started_at=None,
                           last_finished_at=None, last_error=None))
    short = retention.RetentionPolicy(transcript_days=1, closed_request_years=1)
    result = run_job(sessions, job_by_id("retention"), NOW, retention=short)
    assert result is not None and result.error is None
    with sessions() as s:
        anonymised = s.scalars(select(HelpRequest.id).where(HelpRequest.anonymised_at.is_not(None))).all()
        assert len(anonymised) == 2  # closed more than a year ago: "ancient" and its thread
        assert s.scalar(select(func.count()).select_from(HandoverMessage)) == 1  # only the open thread's
    engine.dispose()


def test_retention_command(sqlite_url, tmp_path, cli):
    engine = make_engine(sqlite_url)
    _scene(make_session_factory(engine))
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_URL", "REDIS_URL"))}
    env.update(DATABASE_URL=sqlite_url, INSTANCE_DIR=str(tmp_path), SECRET_KEY="retention-test-secret-01",
               WECHAT_TOKEN="token123", DATA_ENCRYPTION_KEY=DATA_KEY, RETENTION_DAYS="30",
               CLOSED_REQUEST_RETENTION_YEARS="3")
    run = cli(["retention"], env)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith("retention: ") and "closed requests anonymised" in run.stdout
