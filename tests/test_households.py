"""Which household a person joins (services/households.py), for chat registrations and imports alike."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from models.beneficiary import Household
from models.database import make_engine, make_session_factory
from services import beneficiaries, households
from services.beneficiaries import BeneficiaryDetails
from tests.roster_workbooks import LI, WANG

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def sessions(sqlite_url):
    from models.schema import upgrade

    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield make_session_factory(engine)
    engine.dispose()


def register(sessions, openid, name, phone, address, id_number=None, village="河口村"):
    with sessions.begin() as session:
        person = beneficiaries.register(session, openid, BeneficiaryDetails(
            "self", name, ["DISABLED"] if id_number else ["VETERAN"], phone, "城关镇", village, address, id_number), NOW)
        return person.household_id


def test_one_household_however_many_people_registered_it(sessions):
    home = register(sessions, "oWang0000000001", "王大山", "13811110001", "河口村3组12号", WANG)
    # His daughter registers him again from her own WeChat: the same person, the same household.
    assert register(sessions, "oDaughter000001", "王大山", "13911110009", "河口村3组12号", WANG) == home
    # His wife, from his phone, with the address written with a space.
    assert register(sessions, "oWang0000000001", "李秀英", "13811110001", "河口村 3组12号") == home
    # A neighbour with the same address in another village is another household.
    assert register(sessions, "oOther000000001", "陈小红", "13600006666", "河口村3组12号", village="柳营村") != home
    with sessions() as session:
        assert session.scalar(select(func.count(Household.id))) == 2


def test_a_grid_workers_phone_for_several_homes_makes_no_household(sessions):
    first = register(sessions, "oGrid0000000001", "赵有福", "13700000000", "河口村5组1号")
    second = register(sessions, "oGrid0000000001", "钱多", "13700000000", "河口村6组2号")
    assert first != second
    # The same phone without an address to contradict it: that household.
    with sessions() as session:
        found = households.find(session, "城关镇", "河口村", mobile="13700000000")
        assert found is None  # two homes share it: no guess


def test_the_same_id_number_with_another_address_keeps_what_was_typed(sessions):
    home = register(sessions, "oWang0000000001", "王大山", "13811110001", "河口村3组12号", WANG)
    other = register(sessions, "oSon00000000001", "王大山", "13911110002", "河口村9组1号", WANG)
    assert other != home  # staff see the same ID number flagged in 登记审核 and merge
    with sessions() as session:
        assert session.get(Household, other).address == "河口村9组1号"
        assert households.find(session, "城关镇", "河口村", id_number=LI) is None


def test_the_first_person_of_a_chat_household_heads_it(sessions):
    from models.beneficiary import Beneficiary

    home = register(sessions, "oWang0000000001", "王大山", "13811110001", "河口村3组12号", WANG)
    register(sessions, "oWife00000000001", "李秀英", "13811110001", "河口村3组12号")  # joins, does not take over
    with sessions() as session:
        household = session.get(Household, home)
        members = {p.name: p.relation_to_head for p in session.scalars(
            select(Beneficiary).where(Beneficiary.household_id == home))}
        head = session.get(Beneficiary, household.head_id)
    assert head.name == "王大山" and members == {"王大山": "户主", "李秀英": None}
