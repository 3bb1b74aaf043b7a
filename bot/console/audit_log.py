"""操作日志 (placeholder until its pages are built)."""

from __future__ import annotations

from flask import render_template

from bot.console import blueprint
from bot.console.access import require


@blueprint.route("/audit")
@require("audit.view")
def audit_log():
    return render_template("console/error.html", title="操作日志", message="建设中。")
