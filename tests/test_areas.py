"""The area table: seeded from areas.toml once (also by `db upgrade`), offered in the chat forms,
renamed with everything that names it, retired without losing records."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from handlers import site
from handlers.flows.common import town_options, village_options
from models.beneficiary import Beneficiary, Household, RegistrationStatus
from models.help_request import HelpRequest
from models.roster import Area, AreaLevel
from models.staff_account import StaffAccount
from models.visits import VisitTeam
from models.volunteer import Volunteer, VolunteerStatus
from services import areas, help_requests, staff_accounts
from services.areas import AreaError
from services.help_requests import RequestDetails
from tests.conftest import make_settings
from tests.console_kit import NOW
from tests.scheduler_helpers import seeded_sessions


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path)


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


def _town(s, name) -> Area:
    return areas.town_area(s, name)


def _village(s, town, name) -> Area:
    return s.scalars(select(Area).where(Area.parent_id == _town(s, town).id, Area.name == name)).one()


def test_the_table_is_seeded_once_from_areas_toml_and_matches_it(sessions, settings):
    with sessions.begin() as s:
        assert areas.towns(s, settings) == site.towns(settings)  # before seeding: the file
        made = areas.seed_from_toml(s, settings)
        assert made == 1 + sum(1 + len(t.villages) for t in site.towns(settings))
    with sessions.begin() as s:
        assert areas.seed_from_toml(s, settings) == 0
        assert areas.towns(s, settings) == site.towns(settings)  # same names, same order
        [county] = areas.tree(s)
        assert county.area.level == AreaLevel.COUNTY
        assert [n.area.name for n in county.children] == [t.name for t in site.towns(settings)]


def test_db_upgrade_seeds_the_areas(settings):
    from bot.cli.root import backfill_indexes
    from models.database import make_engine, make_session_factory

    backfill_indexes(settings)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as s:
            assert [t.name for t in areas.towns(s, settings)] == ["城关镇", "青石镇", "东湖街道"]
            assert s.scalar(select(func.count(Area.id))) > 4
    finally:
        engine.dispose()


def test_renaming_a_town_carries_over_to_every_record_that_names_it(sessions, settings):
    with sessions.begin() as s:
        areas.seed_from_toml(s, settings)
        home = Household(town="青石镇", village="石桥村", address="虚构路2号")
        s.add(home)
        s.flush()
        s.add(Beneficiary(number="YF2026-0001", household_id=home.id, name="测试甲", relation="self",
                          status=RegistrationStatus.VERIFIED))
        s.add(Volunteer(number="ZY2026-0001", openid="oVolunteer0001", name="志愿者甲", town="青石镇",
                        village="石桥村", skills=[], availability="weekend", status=VolunteerStatus.APPROVED))
        help_requests.submit(s, "oAsker0000001", RequestDetails("housing", "屋顶漏雨", "normal", "self", "王大山",
                                                                "13811110000", town="青石镇"), NOW)
        staff_accounts.create(s, "qs_officer", "correct-horse-42", NOW, town="青石镇")
        s.add(VisitTeam(town="青石镇", name="石桥组", villages="石桥村，上坪村", active=True))
    with sessions.begin() as s:
        counts = areas.rename(s, _town(s, "青石镇"), " 青石乡 ", code="340102001")
        assert counts == {"household": 1, "volunteer": 1, "help_request": 1, "staff_account": 1, "visit_team": 1}
        assert areas.summary(counts) == "优抚户1户、志愿者1人、求助1件、账号1个、走访组1个"
    with sessions.begin() as s:
        assert s.scalar(select(Household.town)) == "青石乡"
        assert s.scalar(select(HelpRequest.town)) == "青石乡"
        assert s.scalar(select(StaffAccount.town).where(StaffAccount.username == "qs_officer")) == "青石乡"
        assert _town(s, "青石乡").code == "340102001"
        assert "青石乡" in areas.town_names(s, settings) and "青石镇" not in areas.town_names(s, settings)
        areas.rename(s, _village(s, "青石乡", "石桥村"), "石桥社区")
    with sessions() as s:
        assert (s.scalar(select(Household.village)), s.scalar(select(Volunteer.village))) == ("石桥社区", "石桥社区")
        assert s.scalar(select(VisitTeam.villages)) == "石桥社区、上坪村"


def test_bad_names_and_codes_are_refused(sessions, settings):
    with sessions.begin() as s:
        areas.seed_from_toml(s, settings)
        town = _town(s, "城关镇")
        for name, code in (("", None), ("城东社区", None), ("新村、老村", None), ("新村", "12ab")):
            with pytest.raises(AreaError):
                areas.add(s, town, name, code)
        with pytest.raises(AreaError):
            areas.rename(s, town, "青石镇")
        with pytest.raises(AreaError):
            areas.add(s, _village(s, "城关镇", "河口村"), "一组")
        village = areas.add(s, town, "新建村", "340102001201")
        assert village.level == AreaLevel.VILLAGE and village.position > 0
    with sessions() as s:
        assert areas.villages_of(s, settings, "城关镇")[-1] == "新建村"


def test_a_retired_area_is_no_longer_offered_in_the_chat_forms(sessions, settings):
    with sessions.begin() as s:
        areas.seed_from_toml(s, settings)
        areas.set_active(s, _village(s, "城关镇", "柳营村"), False)
        areas.set_active(s, _town(s, "东湖街道"), False)
        ctx = SimpleNamespace(session=s, settings=settings)
        assert [o.value for o in town_options(ctx, {})] == ["城关镇", "青石镇"]
        assert "柳营村" not in [o.value for o in village_options(ctx, {"town": "城关镇"})]
        for name in ("城西社区", "河口村", "城东社区")[:2]:
            areas.set_active(s, _village(s, "城关镇", name), False)
        with pytest.raises(AreaError):  # the town's last village
            areas.set_active(s, _village(s, "城关镇", "城东社区"), False)
        areas.set_active(s, _town(s, "东湖街道"), True)
        assert [o.value for o in town_options(ctx, {})] == ["城关镇", "青石镇", "东湖街道"]


def test_team_members_are_approved_volunteers_or_staff_bound_to_wechat(sessions, settings):
    from services import visit_teams
    from services.visit_teams import TeamError

    with sessions.begin() as s:
        areas.seed_from_toml(s, settings)
        team = visit_teams.create(s, settings, "城关镇", " 河口组 ", "河口村，柳营村、河口村")
        assert (team.name, team.villages) == ("河口组", "河口村、柳营村")
        s.add_all([
            Volunteer(number="ZY2026-0001", openid="oVolunteer0001", name="林晓雨", town="城关镇", village="河口村",
                      skills=[], availability="any", status=VolunteerStatus.APPROVED),
            Volunteer(number="ZY2026-0002", openid="oVolunteer0002", name="赵国强", town="城关镇", village="河口村",
                      skills=[], availability="any", status=VolunteerStatus.PENDING),
        ])
        account = staff_accounts.create(s, "wangke", "correct-horse-42", NOW, display_name="王科长")
        s.flush()
        assert visit_teams.add_member(s, team, "zy2026-0001").name == "林晓雨"
        for who, why in (("ZY2026-0001", "已在本组"), ("ZY2026-0002", "还没有通过审核"), ("wangke", "还没有绑定微信"),
                         ("nobody", "没有找到")):
            with pytest.raises(TeamError, match=why):
                visit_teams.add_member(s, team, who)
        account.wechat_openid = "oStaffWang0001"
        assert visit_teams.add_member(s, team, "wangke").kind == "工作人员"
        assert [m.name for m in visit_teams.members(s, team)] == ["林晓雨", "王科长"]
        assert visit_teams.uncovered_villages(s, settings, "城关镇") == ["城东社区", "城西社区"]
        visit_teams.update(s, settings, team, "河口组", "", True)
        assert visit_teams.uncovered_villages(s, settings, "城关镇") == []
        assert visit_teams.remove_member(s, team, visit_teams.members(s, team)[0].id)
        assert not visit_teams.remove_member(s, team, 999_999)  # a second click: nothing to do
