"""工作台 (placeholder until its pages are built)."""

from __future__ import annotations

from flask import render_template

from bot.console import blueprint
from bot.console.access import require


@blueprint.route("/")
@require("view")
def dashboard():
    return render_template("console/error.html", title="工作台", message="建设中。")
