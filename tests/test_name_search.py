"""E2: a secretary finds anyone by the first letters of the name heard on the phone — whatever
the accents, case, hyphens, spaces and apostrophes — on SQLite and PostgreSQL alike, through the
stored folded key and its index; lists come in French order."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from werkzeug.test import Client

from support.siecle_files import UAI, guardians_file, student_xml, students_file
from support.settings import settings_for
from ts_accounts.adapters.orm import Student
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.domain.names import french_order, name_key
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff
from ts_accounts.service_layer.support import SearchFilters, search
from ts_shared.runtime.process import Platform

STUDENTS = [
    student_xml("2001", "LEFÈVRE", "Hervé", "12/03/2013", "3A"),
    student_xml("2002", "BRUNET", "Zoé", "01/01/2012", "3A"),
    student_xml("2003", "BÉNARD", "Inès", "05/07/2013", "3B"),
    student_xml("2004", "N'DIAYE", "Alexandre", "30/11/2014", "4A"),
    student_xml("2005", "LE GALL", "Yann", "30/11/2014", "4A"),
    student_xml("2006", "MARTIN", "Paul", "30/11/2014", "4A", usage="SAINT-JUST"),
    student_xml("2007", "BENOIT", "Léo", "30/11/2014", "4A"),
]
PEOPLE = [("9101", "MME", "ÉTIENNE", "Sophie", "sophie.etienne@example.org", None)]
LINKS = [("2002", "9101", 1)]


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(request, tmp_path):
    urls = {"accounts": request.getfixturevalue("postgres_url")} if request.param == "postgresql" else {}
    platform = Platform(settings_for(tmp_path, **urls))
    accounts = platform.runtime("accounts")
    accounts.migrate()
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        create_staff(uow, login="chef.demo", display_name="Mme Martin", password="a long passphrase", head_of=UAI)
        activate_services(uow, UAI)
        uow.commit()
    files = [students_file(tmp_path / "e.xml", STUDENTS), guardians_file(tmp_path / "r.xml", PEOPLE, LINKS)]
    with accounts.uow() as uow:
        import_population(uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]),
                          actor="test")
        uow.commit()
    yield platform
    platform.dispose()


def _found(platform, typed: str, kind=AccountKind.STUDENT) -> list[str]:
    with platform.runtime("accounts").uow() as uow:
        return [row.student_last_name for row in search(uow.session, UAI, kind, SearchFilters(name_prefix=typed))]


CASES = [
    ("lefe", ["LEFÈVRE"]), ("LEFÈ", ["LEFÈVRE"]), ("benard", ["BÉNARD"]), ("BÉNA", ["BÉNARD"]),
    ("ndiaye", ["N'DIAYE"]), ("N’D", ["N'DIAYE"]), ("n d", ["N'DIAYE"]), ("le-g", ["LE GALL"]), ("legall", ["LE GALL"]),
    ("saint j", ["SAINT-JUST"]),  # the usage name is the one searched
    ("ben", ["BÉNARD", "BENOIT"]), ("b", ["BÉNARD", "BENOIT", "BRUNET"]), ("lefz", []), ("martin", []),
    ("z", []), ("9", []), ("'", ["BÉNARD", "BENOIT", "BRUNET", "LEFÈVRE", "LE GALL", "N'DIAYE", "SAINT-JUST"]),
]


def test_the_first_letters_find_the_name_whatever_accents_case_and_punctuation(platform):
    assert {typed: _found(platform, typed) for typed, _ in CASES} == dict(CASES)


def test_a_guardian_is_found_by_their_own_name_too(platform):
    assert _found(platform, "etien", AccountKind.GUARDIAN) == ["BRUNET"]
    assert _found(platform, "brun", AccountKind.GUARDIAN) == ["BRUNET"]
    assert _found(platform, "etien", AccountKind.STUDENT) == []


def test_lists_come_in_french_order(platform):
    assert _found(platform, "") == ["BÉNARD", "BENOIT", "BRUNET", "LEFÈVRE", "LE GALL", "N'DIAYE", "SAINT-JUST"]
    names = ["Brunet", "Bénard", "benard", "Benard"]
    assert sorted(names, key=french_order) == ["Benard", "benard", "Bénard", "Brunet"]


def test_the_key_is_stored_at_import_and_kept_when_the_name_changes(platform, tmp_path):
    renamed = [student_xml("2001", "LEFEBVRE", "Hervé", "12/03/2013", "3A"), *STUDENTS[1:]]
    files = [students_file(tmp_path / "e2.xml", renamed), guardians_file(tmp_path / "r2.xml", PEOPLE, LINKS)]
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        import_population(uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]),
                          actor="test")
        uow.commit()
    with accounts.uow() as uow:
        keys = dict(uow.session.execute(text("SELECT siecle_id, name_key FROM students")).all())
    assert keys["2001"] == "lefebvre" and keys["2004"] == "ndiaye" and keys["2006"] == "saintjust"
    assert _found(platform, "lefe") == ["LEFEBVRE"]


def test_the_search_is_answered_by_the_index(platform):
    """A range on the stored key, which the (school, key) index answers on both databases (on
    PostgreSQL the key is in byte order: a LIKE on a lower() would not use any index)."""
    from ts_accounts.service_layer.support import starts_with

    accounts = platform.runtime("accounts")
    query = Student.__table__.select().where(Student.school_uai == UAI, starts_with(Student.name_key, "lefe"))
    with accounts.engine.connect() as connection:
        sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(connection.execute(text("EXPLAIN " + sql)).scalars())
        else:
            plan = "\n".join(str(row[-1]) for row in connection.execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "ix_students_school_name_key" in plan, plan
    # the key's range is a condition of the index scan, not a filter on every row of the school
    assert re.search(r"Index Cond: .*name_key\)::text >= 'lefe'.*name_key\)::text < 'leff'", plan) or (
        "name_key>? AND name_key<?" in plan), plan


def test_the_console_search_page_finds_lefevre(platform):
    client = Client(platform.spec("accounts").create_app(platform.runtime("accounts")))
    page = client.get("/admin/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    client.post("/admin/login", data={"csrf_token": token, "login": "chef.demo", "password": "a long passphrase"})
    found = client.get("/admin/students/?nom=lefe&rechercher=1")
    assert found.status_code == 200 and "LEFÈVRE" in found.text and "BRUNET" not in found.text
    assert name_key("Lefèvre") == "lefevre"
