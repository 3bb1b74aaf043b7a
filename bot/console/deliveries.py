"""推送记录 (placeholder until its pages are built)."""

from __future__ import annotations

from flask import render_template

from bot.console import blueprint
from bot.console.access import require


@blueprint.route("/deliveries")
@require("outbox.view")
def deliveries():
    return render_template("console/error.html", title="推送记录", message="建设中。")
