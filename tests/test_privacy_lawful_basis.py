"""PI-1: every personal field the database can hold has its lawful basis recorded in one place
(services/lawful_basis.py): consent for what people type in the chat, 履行法定职责 for what staff
enter from rosters and case files. An auditor reads the table; this test keeps it complete."""

from __future__ import annotations

import models  # noqa: F401  (registers every table)
from models.base import Base
from models.encrypted import EncryptedText
from services import lawful_basis


def _personal_columns() -> set[str]:
    return {
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText) or "openid" in column.name
    }


def test_every_encrypted_or_openid_column_has_a_basis():
    recorded = {f for c in lawful_basis.CATEGORIES for f in c.fields} | set(lawful_basis.NOT_PERSONAL)
    assert sorted(_personal_columns() - recorded) == []
    for field in recorded:  # and the table names no column that does not exist
        table, column = field.split(".")
        assert column in Base.metadata.tables[table].columns, field


def test_chat_submissions_rest_on_consent_and_rosters_on_statutory_duty():
    assert lawful_basis.of_field("beneficiary.id_number", "chat") == "consent"
    assert lawful_basis.of_field("beneficiary.id_number", "staff") == "duty"
    assert lawful_basis.of_field("volunteer.mobile", "chat") == "consent"
    assert lawful_basis.of_field("volunteer.mobile", "staff") == "duty"
    assert lawful_basis.basis("child", "chat") == "guardian"
    assert lawful_basis.of_field("status_event.note", "chat") == "duty"  # staff's own case notes
    for category in lawful_basis.CATEGORIES:
        for code in (category.chat, category.staff):
            assert code is None or code in lawful_basis.BASES


def test_a_roster_record_reads_statutory_duty():
    assert lawful_basis.lines(["beneficiary", "id_number"], "staff") == [
        "优抚登记信息（姓名、手机号、地址、身份类别）：履行法定职责所必需（个人信息保护法第十三条、第三十四条）",
        "身份证号：履行法定职责所必需（个人信息保护法第十三条、第三十四条）",
    ]
