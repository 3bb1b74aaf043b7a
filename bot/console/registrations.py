"""登记审核 (placeholder until its pages are built)."""

from __future__ import annotations

from flask import render_template

from bot.console import blueprint
from bot.console.access import require


@blueprint.route("/registrations")
@require("view")
def registrations():
    return render_template("console/error.html", title="登记审核", message="建设中。")
