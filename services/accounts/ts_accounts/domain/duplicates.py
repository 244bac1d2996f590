"""A2: probable duplicate guardian records (usually one person entered once per child when
files moved between schools). Staff must merge them in SIECLE before accounts go out, and must
not delete a record whose account is already active."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from collections.abc import Iterable

from ts_accounts.domain.names import folded_name


@dataclass(frozen=True)
class GuardianFacts:
    guardian_id: str  # SIECLE PERSONNE_ID
    last_name: str
    first_name: str
    email: str | None
    address: str | None  # the postal address on one line
    children: tuple[str, ...]  # the students' names, to help staff decide
    account_active: bool  # an account of this record is En cours d'activation or Utilisé


@dataclass(frozen=True)
class DuplicateGroup:
    reasons: tuple[str, ...]  # French: « même nom et prénom », « même adresse électronique », « même adresse postale »
    guardians: tuple[GuardianFacts, ...]

    @property
    def has_active_account(self) -> bool:
        return any(g.account_active for g in self.guardians)


def _keys(guardian: GuardianFacts) -> list[tuple[str, str]]:
    """The (reason, value) pairs two records of one person would share. An address alone never
    groups records (a couple shares one): it counts with the same first name."""
    first = folded_name(guardian.first_name)
    keys = [(SAME_NAME, folded_name(guardian.last_name) + "|" + first)]
    if guardian.email and "@" in guardian.email:
        keys.append((SAME_EMAIL, guardian.email.strip().lower()))
    address = folded_name(guardian.address or "")
    if address:
        keys.append((SAME_ADDRESS, address + "|" + first))
    return keys


SAME_NAME = "même nom et prénom"
SAME_EMAIL = "même adresse électronique"
SAME_ADDRESS = "même adresse postale et même prénom"


def find_duplicate_guardians(guardians: Iterable[GuardianFacts]) -> list[DuplicateGroup]:
    """Groups of records that share a folded name and first name, an email, or an address and a
    first name; each group says which of these its records share."""
    records = list(guardians)
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_holder: dict[tuple[str, str], int] = {}
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for index, record in enumerate(records):
        for key in _keys(record):
            shared[key] += 1
            if key in first_holder:
                parent[root(index)] = root(first_holder[key])
            else:
                first_holder[key] = index
    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(records)):
        members[root(index)].append(index)
    groups = []
    for indexes in members.values():
        if len(indexes) < 2:
            continue
        reasons = sorted(
            {reason for i in indexes for reason, value in _keys(records[i]) if shared[(reason, value)] > 1}
        )
        group = tuple(sorted((records[i] for i in indexes), key=lambda g: g.guardian_id))
        groups.append(DuplicateGroup(tuple(reasons), group))
    groups.sort(key=lambda g: (folded_name(g.guardians[0].last_name), folded_name(g.guardians[0].first_name)))
    return groups
