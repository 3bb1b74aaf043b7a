"""统计: the year's figures for 述职 and 年终总结 on one page, with charts and an Excel copy.

Every account sees it (no personal data, only counts), a township account for its own 乡镇.
The figures come from services.statistics; the Excel is the same tables (audited like any export).
"""

from __future__ import annotations

from io import BytesIO

from flask import render_template, request, send_file
from flask_login import current_user

from bot.console import blueprint, db
from bot.console.access import require
from bot.console.common import client_ip, commit, me, now, parse_id
from bot.console.export_files import XLSX_MIME, county_name, workbook
from bot.runtime import runtime
from services import exports, statistics
from services.local_time import local_date


def _year() -> int:
    this_year = local_date(now()).year
    asked = parse_id(request.args.get("year"))
    return asked if asked and 2000 <= asked <= this_year + 1 else this_year


def _chart(title: str, labels: list[str], values: list) -> dict:
    """What console.js hands to Chart.js; the table beside it shows the same numbers."""
    return {"type": "bar", "label": title, "labels": labels, "values": values}


@blueprint.route("/statistics")
@require("view")
def statistics_page():
    year = _year()
    figures = statistics.year_figures(db(), year, current_user.town)
    towns: dict[str, int] = {}
    for v in figures.by_village:
        towns[v.town] = towns.get(v.town, 0) + v.people
    return render_template(
        "console/statistics/index.html",
        f=figures, years=statistics.recent_years(local_date(now())), year=year, town=current_user.town,
        duration=statistics.duration_words,
        charts={
            "category": _chart("人数", [c.label for c in figures.by_category], [c.count for c in figures.by_category]),
            "area": _chart("人数", list(towns) if not current_user.town else [v.village for v in figures.by_village],
                           list(towns.values()) if not current_user.town else [v.people for v in figures.by_village]),
            "visits": _chart("已走访（户）", [p.name for p in figures.plans], [p.done for p in figures.plans]),
            "requests": _chart("求助（件）", [r.label for r in figures.requests], [r.submitted for r in figures.requests]),
        },
    )


@blueprint.route("/statistics.xlsx")
@require("view")
def statistics_export():
    year = _year()
    figures = statistics.year_figures(db(), year, current_user.town)
    export = statistics.as_export(figures)
    exports.audit_export(db(), export, at=now(), staff=me(), ip=client_ip(), subject=None)  # counts only
    commit()
    made_on = local_date(now())
    content = workbook(export, county_name(db(), runtime().settings), made_on)
    return send_file(BytesIO(content), as_attachment=True, mimetype=XLSX_MIME,
                     download_name=f"双拥工作统计-{year}-{current_user.town or '全县'}.xlsx")
