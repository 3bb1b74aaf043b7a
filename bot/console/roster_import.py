"""台账导入: upload a county's Excel roster, say which column is which (once per layout), read the
preview of every row, confirm. The rules live in `services.roster_import`.

Between the steps the uploaded file waits in the instance directory (several processes serve
the console, so never in memory), readable by the account that uploaded it only, and is
deleted once imported or after a day. Confirming claims the file by renaming it, so a double
click, or two tabs, import it once.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
from io import BytesIO
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from bot.console import blueprint, csrf, db
from bot.console.access import require
from bot.console.common import actor, client_ip, commit, me, now, parse_id
from bot.runtime import runtime
from models.encrypted import decrypt_text, encrypt_text
from models.roster import ImportBatch
from services import roster_import, roster_template
from services.roster_sheet import FIELDS, IGNORE, SheetError

MAX_BYTES = 10 * 1024 * 1024  # a 50,000-row 台账 is about 5 MB
KEEP_SECONDS = 24 * 3600
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
SHOWN_ROWS = 300  # rows listed per outcome on the preview page; the counts cover all
ACTION = "roster.import"
TOO_LARGE = f"文件太大了，最大{MAX_BYTES // (1024 * 1024)}MB。请把表格分成几个文件分别导入。"


# --- the waiting file --------------------------------------------------------------------------


def _folder() -> Path:
    folder = Path(runtime().settings.instance_dir) / "uploads" / "roster"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _paths(token: str) -> tuple[Path, Path]:
    folder = _folder()
    return folder / f"{token}.xlsx", folder / f"{token}.json"


def _seal(path: Path, content: bytes) -> None:
    """The waiting workbook holds names and ID numbers: encrypted with the data key, owner-only."""
    sealed = encrypt_text(base64.b64encode(content).decode("ascii")).encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(sealed)


def _unsealed(path: Path) -> BytesIO:
    return BytesIO(base64.b64decode(decrypt_text(path.read_bytes().decode("ascii"))))


def _read_state(token: str) -> dict:
    """The upload's notes, 404 unless it exists and belongs to the signed-in account."""
    if not TOKEN.fullmatch(token or ""):
        abort(404)
    _, notes = _paths(token)
    try:
        state = json.loads(notes.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        abort(404)
    if state.get("staff_id") != me().id:
        abort(404)
    return state


def _write_state(token: str, state: dict) -> None:
    _, notes = _paths(token)
    temporary = notes.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, notes)


def _sweep() -> None:
    """Uploads left waiting for more than a day hold personal data for no reason: delete them."""
    limit = time.time() - KEEP_SECONDS
    for path in _folder().iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:
            pass


def _areas() -> dict[str, set[str]]:
    return roster_import.known_areas(db(), runtime().settings)


def _preview(token: str, state: dict, path: Path | None = None) -> roster_import.Preview:
    path = path or _paths(token)[0]
    town, mapping = current_user.town, state.get("mapping")
    # End the transaction the sign-in check began (nothing is written yet): on SQLite it holds the
    # write lock, which other writers should not wait on while a big file is read.
    db().commit()
    with _unsealed(path) as stream:
        parsed = roster_import.parse(stream, mapping, None if mapping is not None else db())
    return roster_import.preview_parsed(db(), parsed, state["filename"], areas=_areas(), town=town)


# --- upload ------------------------------------------------------------------------------------


@blueprint.route("/roster/import")
@require(ACTION)
def roster_import_page(error: str | None = None, status: int = 200):
    return render_template("console/roster_import/upload.html", error=error, batches=roster_import.batches(db()),
                           max_mb=MAX_BYTES // (1024 * 1024)), status


@blueprint.route("/roster/import/template.xlsx")
@require(ACTION)
def roster_import_template():
    content = roster_template.build(_areas())
    return send_file(BytesIO(content), as_attachment=True, download_name="优抚对象台账模板.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@blueprint.route("/roster/import", methods=["POST"])
@csrf.exempt  # checked below, once the larger body limit for a workbook is set
@require(ACTION)
def roster_import_upload():
    request.max_content_length = MAX_BYTES + 64 * 1024  # the app's 1 MB limit is for webhook messages
    try:
        csrf.protect()
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        return roster_import_page(TOO_LARGE, 413)
    if upload is None or not upload.filename:
        return roster_import_page("请先选择要导入的Excel文件。", 400)
    filename = Path(upload.filename).name[:200]
    if not filename.lower().endswith(".xlsx"):
        return roster_import_page("只能导入.xlsx格式的Excel文件。如果是.xls，请先在Excel里“另存为”.xlsx再上传。", 400)
    content = upload.stream.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        return roster_import_page(TOO_LARGE, 413)
    try:
        _workbook, layout, sha = roster_import.read_file(BytesIO(content))
        _workbook.close()
    except SheetError as error:
        return roster_import_page(str(error), 400)
    _sweep()
    token = secrets.token_urlsafe(16)
    data, _ = _paths(token)
    _seal(data, content)
    mapping, saved = roster_import.mapping_for(db(), layout)
    _write_state(token, {"filename": filename, "sha256": sha, "staff_id": me().id, "mapping": None,
                         "saved_mapping": saved, "batch_id": None})
    if saved:
        flash("这份表格的列和上次一样，已按上次的对应关系填好，请核对。", "info")
    return redirect(url_for("console.roster_import_columns", token=token))


# --- columns -----------------------------------------------------------------------------------


@blueprint.route("/roster/import/<token>/columns")
@require(ACTION)
def roster_import_columns(token: str, chosen: dict | None = None, error: str | None = None, status: int = 200):
    state = _read_state(token)
    path, _ = _paths(token)
    if not path.exists():
        return _gone(state)
    with _unsealed(path) as stream:
        workbook, layout, _sha = roster_import.read_file(stream)
        workbook.close()
    mapping = chosen or state.get("mapping") or roster_import.mapping_for(db(), layout)[0]
    options = [(IGNORE, "（不导入）")] + [(f, label) for f, (label, _names) in FIELDS.items()]
    return render_template("console/roster_import/columns.html", token=token, state=state, layout=layout,
                           mapping=mapping, options=options, error=error), status


@blueprint.route("/roster/import/<token>/columns", methods=["POST"])
@require(ACTION)
def roster_import_columns_save(token: str):
    state = _read_state(token)
    path, _ = _paths(token)
    if not path.exists():
        return _gone(state)
    with _unsealed(path) as stream:
        workbook, layout, _sha = roster_import.read_file(stream)
        workbook.close()
    chosen = {h: request.form.get(f"col{i}", IGNORE) for i, h in enumerate(layout.headers)}
    try:
        mapping = roster_import.check_mapping(chosen)
    except roster_import.MappingError as error:
        return roster_import_columns(token, chosen, str(error), 400)
    roster_import.save_mapping(db(), layout, mapping, actor=actor())
    commit()
    _write_state(token, {**state, "mapping": mapping})
    return redirect(url_for("console.roster_import_preview", token=token))


# --- preview and confirm -------------------------------------------------------------------------


@blueprint.route("/roster/import/<token>/preview")
@require(ACTION)
def roster_import_preview(token: str):
    state = _read_state(token)
    if state.get("batch_id"):
        return redirect(url_for("console.roster_import_result", batch_id=state["batch_id"]))
    path, _ = _paths(token)
    if not path.exists():
        return _gone(state)
    if state.get("mapping") is None:
        return redirect(url_for("console.roster_import_columns", token=token))
    result = _preview(token, state)
    db().rollback()  # a preview writes nothing
    shown = {kind: [o for o in result.outcomes if o.kind == kind][:SHOWN_ROWS]
             for kind in (roster_import.ERROR, roster_import.NEW, roster_import.UPDATE)}
    return render_template("console/roster_import/preview.html", token=token, state=state, result=result,
                           counts=result.counts, shown=shown, shown_rows=SHOWN_ROWS,
                           writable=result.count(roster_import.NEW) + result.count(roster_import.UPDATE)
                           + result.count(roster_import.UNCHANGED))


@blueprint.route("/roster/import/<token>/confirm", methods=["POST"])
@require(ACTION)
def roster_import_confirm(token: str):
    state = _read_state(token)
    path, _ = _paths(token)
    claimed = path.with_suffix(".importing")
    try:
        os.rename(path, claimed)  # atomic: the second click finds nothing to claim
    except FileNotFoundError:
        return _gone(_read_state(token))
    try:
        result = _preview(token, state, claimed)
        batch = roster_import.confirm(db(), result, now(), actor=actor(), staff=me(), ip=client_ip())
        commit()
    except BaseException:
        db().rollback()
        os.rename(claimed, path)  # nothing written: the file waits for another try
        raise
    _write_state(token, {**state, "batch_id": batch.id})
    claimed.unlink(missing_ok=True)
    flash(f"导入完成：{result.summary()}。", "success")
    return redirect(url_for("console.roster_import_result", batch_id=batch.id))


def _gone(state: dict):
    """The file was imported already (a second click), is being imported, or expired."""
    if state.get("batch_id"):
        flash("这份文件已经导入过了，下面是导入结果。", "info")
        return redirect(url_for("console.roster_import_result", batch_id=state["batch_id"]))
    flash("这份文件正在导入或已经过期，请稍等片刻刷新，或重新上传。", "warning")
    return redirect(url_for("console.roster_import_page"))


@blueprint.route("/roster/import/batch/<int:batch_id>")
@require(ACTION)
def roster_import_result(batch_id: int):
    batch = db().get(ImportBatch, batch_id) if parse_id(str(batch_id)) else None
    if batch is None:
        abort(404)
    return render_template("console/roster_import/result.html", batch=batch)
