"""B2: logins — normalised, ASCII, unique across the academy, never reused."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings, strategies as st

from ts_accounts.domain.logins import LoginAllocator, LoginFormat, is_valid_login, login_base


@pytest.mark.parametrize("first,last,expected", [
    ("Jean", "DUPONT", "jean.dupont"),
    ("Jean-François", "Martin-Lefèvre", "jean-francois.martin-lefevre"),
    ("Éloïse", "D'Almeida", "eloise.d-almeida"),
    ("Maël", "N’DIAYE", "mael.n-diaye"),
    ("Anne Sophie", "de La Tour", "anne-sophie.de-la-tour"),
    ("Zoé", "Van der Berg", "zoe.van-der-berg"),
    ("Œdipe", "Lætitia-Straße", "oedipe.laetitia-strasse"),
    ("  Léa ", " Le  Gall ", "lea.le-gall"),
    ("", "ASE 54", "ase"),
    ("Louis", "XIV 2", "louis.xiv"),
    ("李", "王", "x"),
])
def test_a_login_is_first_name_dot_last_name_folded_to_ascii(first, last, expected):
    assert login_base(first, last) == expected


def test_the_older_academy_format_uses_the_initial_of_the_first_name():
    assert login_base("Jean-Baptiste", "Dupont", LoginFormat.INITIAL_DOT_LAST) == "j.dupont"


def test_homonyms_get_an_index_in_the_academy_and_known_logins_are_never_given_again():
    allocator = LoginAllocator()
    allocator.record_taken("jean.dupont", 3)  # jean.dupont … jean.dupont3 exist (some closed)
    assert allocator.allocate("Jean", "Dupont")[0] == "jean.dupont4"
    assert allocator.allocate("JEAN", "DUPONT")[0] == "jean.dupont5"
    assert allocator.allocate("Jeanne", "Dupont")[0] == "jeanne.dupont"
    assert allocator.allocate("Jeanne", "Dupont")[0] == "jeanne.dupont1"


names = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "Zs", "Pd", "Po")), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(names, names), min_size=1, max_size=60))
def test_logins_are_unique_ascii_and_well_formed_for_any_names(people):
    allocator = LoginAllocator()
    logins = [allocator.allocate(first, last)[0] for first, last in people]
    assert len(set(logins)) == len(logins)
    for login in logins:
        assert login.isascii() and is_valid_login(login), login
        assert re.fullmatch(r"[a-z0-9.-]+", login)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, names), min_size=1, max_size=40), st.randoms())
def test_a_login_base_never_ends_with_a_digit_so_an_index_cannot_collide_with_another_base(people, random):
    allocator = LoginAllocator()
    issued = {}
    for first, last in people:
        login, base, index = allocator.allocate(first, last)
        assert not base[-1].isdigit()
        issued[login] = (base, index)
    # Reading a login back gives its base and index unambiguously.
    for login, (base, index) in issued.items():
        assert login == (base if index == 0 else f"{base}{index}")
