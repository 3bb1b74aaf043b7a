"""Every command of `python -m bot`, registered on the root group by importing its module.

Only this module imports the command modules; they import bot.cli.root and never each other.
"""

from __future__ import annotations

from bot.cli import (  # noqa: F401  (each registers its commands on `cli`)
    conversations,  # menu sync
    demo,  # seed-demo, demo, chat
    export,  # export: 台账, 名单, 签领表, 花名册, 优待金
    outbound,  # worker, outbox, notify, staff
    pairs,  # pair add/contact/end/list
    privacy,  # rotate-keys, retention, backup, restore
    roster,  # roster import/template
    scheduler,  # scheduler, run-jobs, calendar, workday, calendar-rule
    staff,  # staff-user add/passwd/disable/enable/list
)
from bot.cli.root import cli, database_reason

COMMAND_MODULES = (conversations, demo, export, outbound, pairs, privacy, roster, scheduler, staff)

__all__ = ["COMMAND_MODULES", "cli", "database_reason"]
