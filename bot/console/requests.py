"""求助 (placeholder until its pages are built)."""

from __future__ import annotations

from flask import render_template

from bot.console import blueprint
from bot.console.access import require


@blueprint.route("/requests")
@require("view")
def requests():
    return render_template("console/error.html", title="求助", message="建设中。")
