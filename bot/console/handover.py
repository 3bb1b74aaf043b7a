"""人工会话 (placeholder until its pages are built)."""

from __future__ import annotations

from flask import render_template

from bot.console import blueprint
from bot.console.access import require


@blueprint.route("/handover")
@require("view")
def handover_inbox():
    return render_template("console/error.html", title="人工会话", message="建设中。")
