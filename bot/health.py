"""/healthz: is the database reachable (and Redis, when configured), at which schema revision."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from bot.runtime import runtime
from models.schema import current_revision, head_revision

blueprint = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@blueprint.get("/healthz")
def healthz():
    rt = runtime()
    body: dict[str, object] = {"status": "ok"}
    try:
        body["schema_revision"] = current_revision(rt.engine)
        body["database"] = "ok"
    except Exception as exc:
        log.warning("health check: database unreachable", extra={"error": type(exc).__name__})
        body.update(status="error", database="unreachable")
    body["schema_head"] = head_revision()
    if body.get("database") == "ok" and body["schema_revision"] != body["schema_head"]:
        body["status"] = "error"
        body["database"] = "schema out of date: run python -m bot db upgrade"
    if rt.redis is not None:
        try:
            rt.redis.ping()
            body["redis"] = "ok"
        except Exception as exc:
            log.warning("health check: redis unreachable", extra={"error": type(exc).__name__})
            body.update(status="error", redis="unreachable")
    return jsonify(body), 200 if body["status"] == "ok" else 503
