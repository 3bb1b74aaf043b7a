"""政策问答: the FAQ the chat answers from — topics, keywords, answers, order, on/off.

The chat reads the table on every question, so a saved change answers the next message.
Edits are county-wide content: a township account sees the list but cannot change it.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from bot.console import blueprint, db
from bot.console.access import check_scope, require
from bot.console.common import commit, record
from bot.runtime import runtime
from handlers import site
from models.faq import FaqEntry
from services import faq

SUBJECT = "faq"


@blueprint.route("/faq")
@require("view")
def faq_list():
    entries = faq.all_entries(db())
    return render_template("console/faq/list.html", entries=entries,
                           warnings={e.id: _warnings(e.answer) for e in entries})


def _warnings(answer: str) -> list[str]:
    """Judged as the chat shows the answer: with the contact card added under it."""
    return faq.answer_warnings(answer, site.contact(runtime().settings))


def _entry(entry_id: int) -> FaqEntry:
    entry = db().get(FaqEntry, entry_id)
    if entry is None:
        abort(404)
    return entry


def _form() -> dict:
    f = request.form
    return {"topic": f.get("topic", ""), "keywords": f.get("keywords", ""), "answer": f.get("answer", ""),
            "position": f.get("position", "0"), "enabled": bool(f.get("enabled"))}


def _values(entry: FaqEntry | None) -> dict:
    if entry is None:
        return {"topic": "", "keywords": "", "answer": "", "position": str(len(faq.all_entries(db())) + 1), "enabled": True}
    return {"topic": entry.topic, "keywords": entry.keywords, "answer": entry.answer,
            "position": str(entry.position), "enabled": entry.enabled}


def _page(entry: FaqEntry | None, values: dict, errors: dict, status: int = 200):
    return render_template("console/faq/edit.html", entry=entry, values=values, errors=errors,
                           warnings=_warnings(values["answer"]) if values["answer"].strip() else [],
                           preview=f"【{values['topic'].strip()}】\n{values['answer'].strip()}" if values["answer"].strip() else ""
                           ), status


@blueprint.route("/faq/new", methods=["GET", "POST"])
@require("content.edit")
def faq_new():
    check_scope(None)
    if request.method == "GET":
        return _page(None, _values(None), {})
    return _save(None)


@blueprint.route("/faq/<int:entry_id>", methods=["GET", "POST"])
@require("content.edit")
def faq_edit(entry_id: int):
    check_scope(None)
    entry = _entry(entry_id)
    if request.method == "GET":
        return _page(entry, _values(entry), {})
    return _save(entry)


def _save(entry: FaqEntry | None):
    values = _form()
    try:
        saved = faq.save(db(), entry, **values)
    except faq.FaqError as error:
        db().rollback()
        return _page(entry, values, error.errors, 400)
    record("faq.create" if entry is None else "faq.update", subject=SUBJECT, subject_id=saved.id, detail=saved.topic)
    warnings = _warnings(saved.answer)
    commit(f"“{saved.topic}”已保存，聊天里马上生效。")
    if warnings:
        flash("提醒：这条答复" + "；".join(warnings) + "。群众看了可能还是不知道找谁、何时、去哪里办。", "warning")
    return redirect(url_for("console.faq_list"))


@blueprint.route("/faq/<int:entry_id>/toggle", methods=["POST"])
@require("content.edit")
def faq_toggle(entry_id: int):
    check_scope(None)
    entry = _entry(entry_id)
    entry.enabled = not entry.enabled
    record("faq.enable" if entry.enabled else "faq.disable", subject=SUBJECT, subject_id=entry.id, detail=entry.topic)
    commit(f"“{entry.topic}”已{'启用' if entry.enabled else '停用'}。")
    return redirect(url_for("console.faq_list"))
