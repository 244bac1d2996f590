"""A2: probable duplicate guardian records."""
from __future__ import annotations

from ts_accounts.domain.duplicates import GuardianFacts, find_duplicate_guardians


def guardian(gid, last, first, email=None, address=None, active=False, children=("Léa Dupont",)):
    return GuardianFacts(gid, last, first, email, address, tuple(children), active)


def test_records_with_the_same_folded_name_are_grouped_and_an_active_account_is_flagged():
    groups = find_duplicate_guardians([
        guardian("1", "Le Gall", "Hélène", active=True),
        guardian("2", "LE-GALL", "helene"),
        guardian("3", "Martin", "Paul"),
    ])
    [group] = groups
    assert [g.guardian_id for g in group.guardians] == ["1", "2"]
    assert group.reasons == ("même nom et prénom",) and group.has_active_account


def test_records_sharing_an_email_are_grouped_even_with_a_misspelt_name():
    [group] = find_duplicate_guardians([
        guardian("1", "Dupont", "Jean", email="j.dupont@example.org"),
        guardian("2", "Dupond", "Jean", email="J.Dupont@example.org "),
    ])
    assert group.reasons == ("même adresse électronique",)


def test_a_couple_sharing_an_address_is_not_a_duplicate_but_same_address_and_first_name_is():
    address = "3 rue des Lilas, 54000 Nancy"
    assert find_duplicate_guardians([guardian("1", "Dupont", "Jean", address=address),
                                     guardian("2", "Dupont", "Hélène", address=address)]) == []
    [group] = find_duplicate_guardians([guardian("1", "Dupont", "Jean", address=address),
                                        guardian("2", "Dupond", "Jean", address="3, rue des lilas 54000 NANCY")])
    assert group.reasons == ("même adresse postale et même prénom",)


def test_overlapping_reasons_make_one_group():
    [group] = find_duplicate_guardians([
        guardian("1", "Dupont", "Jean", email="a@example.org"),
        guardian("2", "Dupont", "Jean"),
        guardian("3", "Dupond", "J.", email="a@example.org"),
    ])
    assert [g.guardian_id for g in group.guardians] == ["1", "2", "3"]
    assert set(group.reasons) == {"même nom et prénom", "même adresse électronique"}
