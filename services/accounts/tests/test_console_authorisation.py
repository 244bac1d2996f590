"""J1 on every route of the staff console and the staff API, found by walking the app's URL map
(a new route is checked without anyone thinking of it — or makes this test fail until it says
how to call it):

- a head of school A gets 403 or 404 on every resource of school B, with a valid request;
- nobody but an academy administrator opens an academy page;
- a delegate without any right opens nothing but the pages everyone has;
- every change without its CSRF token is refused.
"""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from support.console import csrf as _csrf
from support.settings import settings_for
from support.siecle_files import ADDRESSES, LINKS, PEOPLE, STUDENTS, guardians_file, student_xml, students_file
from ts_accounts.adapters.orm import (
    AccessContinuity,
    AcademyEntLink,
    NotesPublicationDate,
    NotesSettings,
    School,
    SchoolEmail,
    SchoolService,
    StaffAssignment,
    TipiClient,
    UsefulLink,
)
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff
from ts_shared.runtime.process import Platform

A, B = "0541234X", "0573321A"
B_STUDENT, B_GUARDIAN, B_NAME = "5001", "5901", "ZORGLUB"
PASSWORD = "a long passphrase"

# Pages everyone signed in may open, whatever their rights.
OPEN_TO_ALL = {"console.home", "console.login", "console.logout", "console.choose_school", "console.activation",
               "api_meta.me", "api_meta.csrf_token", "api_docs.documentation", "api_docs.openapi_json",
               "static", "ts_assets.static", "settings.static", "my_account.my_account"}

# A valid request body for each endpoint that changes something, so that what is checked is the
# authorisation and not the validation of the input. A new route must be added here.
VALID_BODIES = {
    "establishment.delegate_password": {
        "new_password": "Nouveau-secret-2026",
        "new_password_again": "Nouveau-secret-2026",
    },
    "support.access": {"refuse": "1"},
    "support.new_account": {"confirm": "y"},
    "support.simulate": {},
    "support.notify": {"mode": "paper"},
    "support.resend_activation": {},
    "support.write": {"subject": "Objet", "body": "Message"},
    "academy_schools.schools": {"uai": "0880001Y", "name": "Nouveau collège", "academy_code": "NCY", "city": "Épinal"},
    "academy_schools.school": {"name": "Collège renommé", "postal_code": "54000", "city": "Nancy"},
    "academy_schools.add_email": {"address": "secretariat@example.org"},
    "academy_schools.remove_email": {},
    "academy_schools.head": {"login": "chef.b", "display_name": "Chef", "initial_password": PASSWORD},
    "academy_catalogue.service_flags": {"enabled": "y"},
    "academy_catalogue.add_academic_service": {"code": "ent2", "label": "Service", "url": "https://example.org"},
    "academy_catalogue.edit_academic_service": {"label": "Service", "url": "https://example.org"},
    "academy_catalogue.delete_academic_service": {"confirm": "y"},
    "academy_catalogue.add_ent_link": {"label": "ENT", "url": "https://ent.example.org"},
    "academy_catalogue.remove_ent_link": {},
    "academy_catalogue.add_tipi_client": {"number": "123456", "holder": "Agence comptable"},
    "academy_catalogue.remove_tipi_client": {},
    "establishment.revoke": {},
    "settings.delete_link": {},
    "settings.edit_link": {"label": "Lien", "url": "https://example.org"},
    "console_services.remove_publication_date": {},
    "api_accounts.access_couple": {"refused": True},
    "api_accounts.access_student": {"refused": True},
    "api_accounts.new_account_couple": {},
    "api_accounts.new_account_student": {},
    "api_accounts.notify_couple": {"mode": "paper"},
    "api_accounts.notify_student": {"mode": "paper"},
    "api_accounts.resend_activation": {},
    "api_accounts.write": {"subject": "Objet", "body": "Message"},
    "api_establishment.remove_delegation": {},
    "api_services.set_services": {"services": {"vie_scolaire": True}},
    "api_services.set_notes_publication": {"publication": "deadline"},
    "api_services.add_publication_date": {"mef_code": "10210001110", "division": "4B", "date": "2026-12-19"},
    "api_services.remove_publication_date": {},
    "api_services.set_payment": {
        "tipi_client_number": "999999",
        "minimum_amount": "15,50",
        "contact_email": "intendance@example.org",
    },
    "api_settings.set_welcome_message": {"html": "<p>Bienvenue</p>"},
    "api_settings.preview_welcome_message": {"html": "<p>Bienvenue</p>"},
    "api_settings.set_ent": {"letter_type": "mixed", "ent_url": "https://ent.example.org"},
    "api_settings.set_contact": {"active": False},
    "api_settings.add_link": {"label": "Lien", "url": "https://example.org"},
    "api_settings.update_link": {"label": "Lien", "url": "https://example.org"},
    "api_settings.delete_link": {},
    "api_academy.add_school": {"uai": "0880001Y", "name": "Nouveau collège", "academy_code": "NCY", "city": "Épinal"},
    "api_academy.update_school": {
        "name": "Collège renommé",
        "address_lines": ["1 rue de la Paix"],
        "postal_code": "54000",
        "city": "Nancy",
        "phone": None,
        "siecle_modules": [],
    },
    "api_academy.add_school_email": {"address": "secretariat@example.org", "label": None},
    "api_academy.remove_school_email": {},
    "api_academy.appoint_school_head": {"login": "chef.b", "display_name": "Chef", "initial_password": PASSWORD},
    "api_academy.service_flags": {"enabled": False},
    "api_academy.add_academic_service": {"label": "Service", "url": "https://example.org"},
    "api_academy.update_academic_service": {"label": "Service", "url": "https://example.org"},
    "api_academy.delete_academic_service": {},
    "api_academy.add_ent_link": {"label": "ENT", "url": "https://ent.example.org"},
    "api_academy.remove_ent_link": {},
    "api_academy.add_tipi_client": {"number": "123456", "holder": "Agence comptable"},
    "api_academy.remove_tipi_client": {},
    "academy_continuity.confirm_continuity": {},
    "academy_continuity.refuse_continuity": {},
    "api_academy.confirm_continuity": {},
    "api_academy.refuse_continuity": {},
    "academy_continuity.authorise_reset": {"account_login": "lea.dupont"},
    "api_academy.authorise_reset": {"login": "lea.dupont"},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two schools of one academy, both active and populated; staff of each; B's resources."""
    folder = tmp_path_factory.mktemp("authorisation")
    platform = Platform(settings_for(folder))
    accounts = platform.runtime("accounts")
    # The second student of B has the INE of a student A still has enrolled: a pending continuity.
    b_students = [student_xml(B_STUDENT, B_NAME, "Bérénice", "01/02/2012", "4B", mef="10210001110"),
                  student_xml("5002", "MARTIN", "Claude", "05/07/2013", "4B", ine="3234567890C")]
    b_people = [(B_GUARDIAN, "MME", B_NAME, "Agathe", "agathe@example.org", None)]
    with accounts.uow() as uow:
        add_school(uow, uai=A, name="Collège A", academy_code="NCY")
        add_school(uow, uai=B, name="Collège B", academy_code="NCY")
        for uai in (A, B):
            activate_services(uow, uai)
        create_staff(uow, login="chef.a", display_name="Chef A", password=PASSWORD, head_of=A)
        create_staff(uow, login="chef.b.existing", display_name="Chef B", password=PASSWORD, head_of=B)
        nobody = create_staff(uow, login="sans.droit", display_name="Sans droit", password=PASSWORD)
        nobody.assignments.append(StaffAssignment(school_uai=A, is_head=False, rights=[]))
        create_staff(uow, login="admin.xyz", display_name="Admin XYZ", password=PASSWORD, academy_admin=True,
                     academy_code="XYZ")
        b_delegate = create_staff(uow, login="delegue.b", display_name="Délégué B", password=PASSWORD)
        b_delegate.assignments.append(StaffAssignment(school_uai=B, is_head=False, rights=["statistics"]))
        uow.session.add_all([UsefulLink(school_uai=B, label="Site B", url="https://b.example.org"),
                             SchoolEmail(school_uai=B, address="contact@b.example.org"),
                             TipiClient(number="999999", holder="Agence B", academy_code="NCY"),
                             AcademyEntLink(academy_code="NCY", label="ENT de l'académie",
                                            url="https://ent.example.org"),
                             SchoolService(school_uai=B, service_code="notes", open=True),
                             NotesSettings(school_uai=B, publication="deadline"),
                             NotesPublicationDate(school_uai=B, mef_code="10210001110", division="4B",
                                                  publication_date=date(2026, 12, 12))])
        uow.commit()
    for uai, files in (
        (A, [students_file(folder / "a-e.xml", STUDENTS, uai=A),
             guardians_file(folder / "a-r.xml", PEOPLE, LINKS, ADDRESSES, uai=A)]),
        (B, [students_file(folder / "b-e.xml", b_students, uai=B),
             guardians_file(folder / "b-r.xml", b_people, [(B_STUDENT, B_GUARDIAN, 1)], uai=B)]),
    ):
        with accounts.uow() as uow:
            import_population(uow, uai=uai, source=source_from_exports(uai, [inspect_export(f) for f in files]),
                              actor="test")
            uow.commit()
    with accounts.uow() as uow:
        values = {
            "population": "guardians",
            "student_id": B_STUDENT,
            "guardian_id": B_GUARDIAN,
            "uai": B,
            "staff_id": b_delegate.id,
            "link_id": uow.session.scalar(select(UsefulLink.id).where(UsefulLink.school_uai == B)),
            "email_id": uow.session.scalar(select(SchoolEmail.id).where(SchoolEmail.school_uai == B)),
            "date_id": uow.session.scalar(select(NotesPublicationDate.id).where(NotesPublicationDate.school_uai == B)),
            "academy_code": "NCY",
            "code": "vie_scolaire",
            "number": "999999",
            "filename": "dsfr/dsfr.min.css",
            "ent_link_id": uow.session.scalar(select(AcademyEntLink.id).where(AcademyEntLink.academy_code == "NCY")),
            "continuity_id": uow.session.scalar(select(AccessContinuity.id).where(AccessContinuity.school_uai == B)),
        }
        assert values["continuity_id"] is not None
    app = platform.spec("accounts").create_app(accounts)
    yield platform, app, values
    platform.dispose()


def signed_in(app, login: str) -> tuple[Client, str]:
    client = Client(app)
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"csrf_token": _csrf(page.text), "login": login, "password": PASSWORD})
    assert response.status_code == 302, response.text
    token = client.get("/api/v1/csrf-token").json["csrf_token"]
    return client, token


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/admin", "/api/v1")):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def is_resource(rule) -> bool:
    """A route naming something of a school (not just the population of a list, or an asset)."""
    return bool(set(rule.arguments) - {"population"}) and rule.endpoint not in ("static", "ts_assets.static",
                                                                                 "settings.static")


def url_for_rule(rule, values: dict) -> str:
    arguments = {}
    for name in rule.arguments:
        if name not in values:
            pytest.fail(f"{rule.rule}: the walker does not know a value for <{name}>: add it to the world fixture")
        arguments[name] = values[name]
    if "student_id" in rule.arguments and "guardian_id" not in rule.arguments:
        arguments["population"] = "students"  # …/<population>/<student_id> routes are the student ones
    return rule.build(arguments, append_unknown=False)[1]


def call(client, method: str, url: str, *, token: str | None, body: dict | None):
    headers = {"X-CSRFToken": token} if token else {}
    if url.startswith("/api/"):
        return client.open(url, method=method, json=body if method != "GET" else None, headers=headers)
    return client.open(url, method=method, data=body if method != "GET" else None, headers=headers)


def test_a_head_of_another_school_gets_403_or_404_on_every_resource_of_school_b(world):
    platform, app, values = world
    client, token = signed_in(app, "chef.a")
    checked = 0
    for rule, method in routes(app):
        if not is_resource(rule):
            continue
        if method != "GET" and rule.endpoint not in VALID_BODIES:
            pytest.fail(f"{rule.endpoint} ({method} {rule.rule}): add a valid body to VALID_BODIES")
        response = call(client, method, url_for_rule(rule, values), token=token,
                        body=VALID_BODIES.get(rule.endpoint) if method != "GET" else None)
        assert response.status_code in (403, 404), f"{method} {rule.rule}: {response.status_code}"
        assert B_NAME not in response.text, f"{method} {rule.rule} shows school B's data"
        checked += 1
    assert checked >= 40


def test_pages_without_parameters_never_show_another_schools_people(world):
    platform, app, values = world
    client, token = signed_in(app, "chef.a")
    for rule, method in routes(app):
        if is_resource(rule) or method != "GET" or rule.endpoint in OPEN_TO_ALL:
            continue
        for population in ("guardians", "students"):
            url = url_for_rule(rule, dict(values, population=population))
            for query in ("", "?rechercher=1", "?division=4B", "?population=" + population):
                response = client.get(url + query)
                assert B_NAME not in response.text, f"GET {url}{query} shows school B's data"
    for population in ("guardians", "students"):
        assert B_NAME not in client.get(f"/api/v1/accounts?population={population}&name=z").text


def test_no_page_prints_a_python_none_into_its_html(world):
    platform, app, values = world
    client, token = signed_in(app, "chef.a")
    values_a = dict(values, uai=A, student_id="1001", guardian_id="9001", population="guardians")
    opened = 0
    for rule, method in routes(app):
        if method != "GET" or rule.rule.startswith("/api/") or rule.endpoint in ("static", "ts_assets.static",
                                                                                 "settings.static"):
            continue
        response = client.get(url_for_rule(rule, values_a))
        if response.status_code == 200 and response.mimetype == "text/html":
            assert '="None"' not in response.text and ">None<" not in response.text, rule.rule
            opened += 1
    assert opened >= 15


def test_only_academy_administrators_open_the_academy_pages(world):
    platform, app, values = world
    client, token = signed_in(app, "chef.a")
    academy = [(rule, method) for rule, method in routes(app)
               if rule.rule.startswith(("/admin/academy", "/api/v1/academy"))]
    assert academy and any(rule.rule.startswith("/api/v1/academy") for rule, _ in academy)
    for rule, method in academy:
        values_a = dict(values, uai=A)
        response = call(client, method, url_for_rule(rule, values_a), token=token,
                        body=VALID_BODIES.get(rule.endpoint) if method != "GET" else None)
        assert response.status_code == 403, f"{method} {rule.rule}: {response.status_code}"


def test_an_administrator_of_another_academy_neither_sees_nor_changes_this_academy(world):
    platform, app, values = world
    client, token = signed_in(app, "admin.xyz")
    checked = 0
    for rule, method in routes(app):
        if not rule.rule.startswith(("/admin/academy", "/api/v1/academy")):
            continue
        body = VALID_BODIES.get(rule.endpoint) if method != "GET" else None
        response = call(client, method, url_for_rule(rule, values), token=token, body=body)
        text = response.get_data(as_text=True)
        assert "Collège B" not in text and "Agence B" not in text, f"{method} {rule.rule} shows academy NCY"
        if is_resource(rule) or rule.endpoint in ("academy_schools.schools", "api_academy.add_school"):
            expected = (404,) if is_resource(rule) else (200, 201, 400) if method == "GET" else (400,)
            assert response.status_code in expected, f"{method} {rule.rule}: {response.status_code} {text[:300]}"
            checked += 1
    assert checked >= 15
    assert client.get("/api/v1/academy/services?academy=NCY").status_code == 404
    with platform.runtime("accounts").uow() as uow:
        assert uow.session.get(School, B).name == "Collège B"
        assert uow.session.get(School, "0880001Y") is None  # « Nouveau collège » of NCY was refused
        assert uow.session.get(TipiClient, "999999") is not None


def test_a_delegate_without_a_right_opens_nothing_but_what_everyone_has(world):
    platform, app, values = world
    client, token = signed_in(app, "sans.droit")
    values_a = dict(values, uai=A, student_id="1001", guardian_id="9001")
    for rule, method in routes(app):
        if rule.endpoint in OPEN_TO_ALL:
            continue
        response = call(client, method, url_for_rule(rule, values_a), token=token,
                        body=VALID_BODIES.get(rule.endpoint, {}) if method != "GET" else None)
        assert response.status_code in (403, 404), f"{method} {rule.rule}: {response.status_code}"
    assert client.get("/admin/").status_code == 200


def test_every_change_without_its_csrf_token_is_refused(world):
    platform, app, values = world
    client, _ = signed_in(app, "chef.a")
    values_a = dict(values, uai=A, student_id="1001", guardian_id="9001")
    refused = 0
    for rule, method in routes(app):
        if method == "GET" or rule.endpoint in ("console.login",):
            continue
        response = call(
            client, method, url_for_rule(rule, values_a), token=None, body=VALID_BODIES.get(rule.endpoint, {})
        )
        assert response.status_code == 400, f"{method} {rule.rule} without CSRF token: {response.status_code}"
        refused += 1
    assert refused >= 30
    assert client.get("/admin/").status_code == 200  # the session is still there: nothing was done
