"""The form engine: declarative forms asked one field at a time, with state in the database.

A flow declares a `Form` (model.py) and registers a `Flow` (flow.py) with its words, menu
key, guard and begin. Where a user is lives in a typed `Draft` whose step is one of a
small tagged set (state.py): Asking a field, Offering a known value or a shared place,
Confirming the summary, ChoosingEdit, ConfirmingSwitch to another flow. Each step has
one handler (steps.py); engine.py moves a draft between steps. 取消, 返回, 修改, 帮助
and 人工 work in every step, in the user's own words too (controls.py); three invalid
answers in a row bring an explanation and the offer of a person.
"""

from handlers.forms.engine import EXIT_HINT, start
from handlers.forms.flow import Flow
from handlers.forms.model import Answers, Field, Form, Stop, form_named, register
from handlers.forms.steps import (SKIP_WORDS, Host, active_form, back, cancel, check_stale, edit, end_silently,
                                  explain, handle, handle_entry, title_of_active)

__all__ = [
    "EXIT_HINT", "SKIP_WORDS", "Answers", "Field", "Flow", "Form", "Host", "Stop", "active_form", "back", "cancel",
    "check_stale", "edit", "end_silently", "explain", "form_named", "handle", "handle_entry", "register", "start",
    "title_of_active",
]
