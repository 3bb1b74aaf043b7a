"""Which household a person belongs to: the one place that decides, for the chat registration
and the Excel import alike. One household however many people registered it.

The rule, in order:
1. the same person (ID number) is already on the roster: their household;
2. the same phone in the same 村/社区: that household;
   in 1 and 2, not when both sides name an address and the addresses differ: a 网格员's phone
   written for several homes is not one household, and an address typed is never dropped
   (staff see the same ID number flagged and merge);
3. the same address (spaces ignored) in the same 村/社区: that household;
4. otherwise a new household.

Personal fields are encrypted, so everything matches on the blind indexes, under every
configured key (a key rotation may be part-way). A `Matcher` is loaded once for a whole
import (one query, not three per row) and told about the households the import adds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models.beneficiary import Beneficiary, Household, RegistrationStatus
from models.encrypted import blind_index, blind_indexes

Place = tuple[str, str]  # (town, village)


@dataclass
class Matcher:
    person_by_id: dict[str, tuple[int, int]] = field(default_factory=dict)  # id bi → (person, household)
    by_phone: dict[tuple[str, str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    by_address: dict[tuple[str, str, str], int] = field(default_factory=dict)
    address_of: dict[int, str | None] = field(default_factory=dict)  # household → address bi

    @classmethod
    def load(cls, session: Session, *, id_numbers: list[str] = (), places: list[Place] | None = None) -> "Matcher":
        """Everyone on the roster (places None), or only the given people and villages."""
        query = (
            select(Beneficiary.id, Beneficiary.id_number_bi, Beneficiary.mobile_bi, Beneficiary.household_id,
                   Household.town, Household.village, Household.address_bi)
            .join(Household, Household.id == Beneficiary.household_id)
            .where(Beneficiary.status != RegistrationStatus.ERASED)
        )
        if places is not None:
            wanted = [Beneficiary.id_number_bi.in_([bi for n in id_numbers for bi in blind_indexes(n, "id")])]
            wanted += [(Household.town == t) & (Household.village == v) for t, v in places]
            query = query.where(or_(*wanted))
        matcher = cls()
        for person, id_bi, mobile_bi, household, town, village, address_bi in session.execute(query):
            matcher.add(household, town, village, address_bi, id_bi=id_bi, mobile_bi=mobile_bi, person_id=person)
        return matcher

    def add(self, household: int, town: str, village: str, address_bi: str | None, *, id_bi: str | None = None,
            mobile_bi: str | None = None, person_id: int | None = None) -> None:
        self.address_of.setdefault(household, address_bi)
        if id_bi and person_id is not None:
            self.person_by_id[id_bi] = (person_id, household)
        if mobile_bi:
            self.by_phone[(town, village, mobile_bi)].add(household)
        if address_bi:
            self.by_address.setdefault((town, village, address_bi), household)

    def person(self, id_number: str | None) -> tuple[int, int] | None:
        """(person id, household id) of the person with this ID number, if on the roster."""
        for bi in blind_indexes(id_number, "id") if id_number else ():
            if bi in self.person_by_id:
                return self.person_by_id[bi]
        return None

    def household(self, town: str, village: str, *, id_number: str | None = None, mobile: str | None = None,
                  address: str | None = None) -> int | None:
        """The household id the rule above gives, or None for a new household."""
        address_bis = set(blind_indexes(address)) if address else set()

        def agrees(home: int) -> bool:
            return not (address_bis and self.address_of.get(home) and self.address_of[home] not in address_bis)

        same_person = self.person(id_number)
        if same_person is not None and agrees(same_person[1]):
            return same_person[1]
        for bi in blind_indexes(mobile, "phone") if mobile else ():
            homes = [h for h in self.by_phone.get((town, village, bi), ()) if agrees(h)]
            if len(homes) == 1:
                return homes[0]
        for bi in address_bis:
            if (town, village, bi) in self.by_address:
                return self.by_address[(town, village, bi)]
        return None


def find(session: Session, town: str, village: str, *, id_number: str | None = None, mobile: str | None = None,
         address: str | None = None) -> Household | None:
    """The household an incoming person joins (one registration: queries only what it needs)."""
    matcher = Matcher.load(session, id_numbers=[id_number] if id_number else [], places=[(town, village)])
    found = matcher.household(town, village, id_number=id_number, mobile=mobile, address=address)
    return session.get(Household, found) if found is not None else None


def address_key(address: str | None) -> str | None:
    """The blind index an address is matched on (spaces ignored), for grouping rows of a file."""
    return blind_index(address) if address else None
