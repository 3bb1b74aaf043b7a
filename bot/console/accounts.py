"""账号管理 (placeholder until its pages are built)."""

from __future__ import annotations

from flask import render_template

from bot.console import blueprint
from bot.console.access import require


@blueprint.route("/staff")
@require("staff.manage")
def staff_list():
    return render_template("console/error.html", title="账号管理", message="建设中。")


@blueprint.route("/me")
@require("view")
def my_account():
    return render_template("console/error.html", title="我的账号", message="建设中。")
