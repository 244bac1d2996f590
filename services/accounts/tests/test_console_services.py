"""The console menu « Gestion des téléservices » of a school, through HTTP: opening and closing
services (C2), the publication of marks (C3) and the online payment of invoices (C4)."""
from __future__ import annotations

import html
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from support.console import csrf, sign_in
from support.siecle_files import ADDRESSES, LINKS, PEOPLE, STUDENTS, UAI, guardians_file, students_file
from ts_accounts.adapters.orm import (
    AcademyService, AuditEntry, Mef, NotesPublicationDate, NotesSettings, PaymentSettings, School, SchoolService,
    Student, TipiClient,
)
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff, delegate
from ts_shared.db import utcnow
from ts_shared.messaging.envelope import parse_event

HEAD = ("chef.test", "Mme Claire Martin", "un mot de passe de chef")
DELEGATE = ("secretaire.test", "M. Paul Petit", "un mot de passe de secrétaire")
MEF_3E, MEF_4E = "10310019110", "10210001110"


def seed(platform, folder):
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY", city="Nancy")
        add_school(uow, uai="0999999Z", name="Collège d'une autre académie", academy_code="XYZ")
        login, name, password = HEAD
        create_staff(uow, login=login, display_name=name, password=password, head_of=UAI)
        login, name, password = DELEGATE
        delegate(uow, Actor("test"), uai=UAI, login=login, rights=["statistics"], display_name=name,
                 initial_password=password)
        activate_services(uow, UAI)
        # Each academy's own service, and the TIPI reference lists.
        uow.session.add_all([
            AcademyService(academy_code="NCY", code="academique_1", label="Service académique 1", scope="academic",
                           mandatory=False, enabled=True, position=10, url="https://ent.example.org/s1"),
            AcademyService(academy_code="XYZ", code="academique_1", label="Service d'ailleurs", scope="academic",
                           mandatory=False, enabled=True, position=10, url="https://ailleurs.example.org/"),
            TipiClient(number="123456", holder="Agence comptable du collège Jean Moulin", academy_code="NCY"),
            TipiClient(number="999001", holder="Trésorerie nationale des établissements", academy_code=None),
            TipiClient(number="555555", holder="Agence comptable d'une autre académie", academy_code="XYZ"),
        ])
        uow.commit()
    files = [students_file(folder / "e.xml", STUDENTS), guardians_file(folder / "r.xml", PEOPLE, LINKS, ADDRESSES)]
    with accounts.uow() as uow:
        import_population(uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(p) for p in files]),
                          actor="test")
        uow.session.add_all([Mef(school_uai=UAI, code=MEF_3E, short_label="3EME", long_label="TROISIEME"),
                             Mef(school_uai=UAI, code=MEF_4E, short_label="4EME", long_label="QUATRIEME")])
        uow.commit()


def hidden(page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}"[^>]*value="([^"]*)"', page).group(1))


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def content(response) -> str:
    """The page without its header (the menu names the pages of the console too)."""
    page = text(response)
    return page[page.index('<main'):]


@pytest.fixture
def head(app):
    return sign_in(app, HEAD[0], HEAD[2])


def post_form(client, path, data, *, page=None):
    """Fetch the page holding the form (for its CSRF token), then post."""
    token = csrf(client.get(page or path).text)
    return client.post(path, data={"csrf_token": token, **data})


def query(platform, statement):
    with platform.runtime("accounts").uow() as uow:
        return list(uow.session.scalars(statement))


def set_school(platform, **values):
    with platform.runtime("accounts").uow() as uow:
        school = uow.session.get(School, UAI)
        for key, value in values.items():
            setattr(school, key, value)
        uow.commit()


def settings_events(platform):
    outbox = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        rows = connection.execute(select(outbox.c.envelope).where(outbox.c.event_type == "school.settings_changed")
                                  .order_by(outbox.c.id)).scalars()
        return [event for event in (parse_event(json.loads(row)) for row in rows) if event.school_uai == UAI]


def audit_summaries(platform, action=None):
    statement = select(AuditEntry).where(AuditEntry.school_uai == UAI).order_by(AuditEntry.id)
    if action:
        statement = statement.where(AuditEntry.action == action)
    return [entry.summary for entry in query(platform, statement)]


def school_service(platform, code):
    with platform.runtime("accounts").uow() as uow:
        return uow.session.get(SchoolService, (UAI, code))


# --- C2 « Ouverture / fermeture » ----------------------------------------------------------------

def test_the_opening_screen_lists_national_then_academy_services_the_academy_offers(platform, head):
    with platform.runtime("accounts").uow() as uow:
        uow.session.get(AcademyService, ("NCY", "folios")).enabled = False
        uow.commit()
    page = content(head.get("/admin/services/"))
    national = page.index("Gestion des téléservices nationaux")
    academic = page.index("Gestion des téléservices académiques")
    assert national < page.index("Vie scolaire") < page.index("Paiement en ligne des factures") < academic
    assert academic < page.index("Service académique 1")
    assert "Folios" not in page  # disabled by the academy
    assert "Service d'ailleurs" not in page  # another academy's


def test_opening_a_service_updates_the_school_and_announces_its_open_services(platform, head):
    before = len(settings_events(platform))
    response = post_form(head, "/admin/services/", {"service-vie_scolaire": "open", "service-paiement": "closed"})
    assert response.status_code == 302
    assert "ouvert(s) : Vie scolaire" in text(head.get("/admin/services/"))
    assert school_service(platform, "vie_scolaire").open is True
    events = settings_events(platform)
    assert len(events) == before + 1
    assert events[-1].payload["open_services"] == ["vie_scolaire", "lsl"]
    assert audit_summaries(platform, "service.opened") == ["Ouverture du téléservice Vie scolaire"]


def test_closing_a_service_keeps_its_row_and_announces_it(platform, head):
    post_form(head, "/admin/services/", {"service-vie_scolaire": "open", "service-academique_1": "open"})
    assert settings_events(platform)[-1].payload["open_services"] == ["vie_scolaire", "lsl", "academique_1"]
    response = post_form(head, "/admin/services/", {"service-vie_scolaire": "closed", "service-academique_1": "open"})
    assert response.status_code == 302
    row = school_service(platform, "vie_scolaire")
    assert row is not None and row.open is False  # closing keeps the row (and the service's settings)
    assert settings_events(platform)[-1].payload["open_services"] == ["lsl", "academique_1"]
    assert audit_summaries(platform, "service.closed") == [
        "Fermeture du téléservice Vie scolaire (son paramétrage est conservé)"]
    page = text(head.get("/admin/services/"))
    assert re.search(r'name="service-vie_scolaire" value="closed" checked', page)
    assert re.search(r'name="service-academique_1" value="open" checked', page)


def test_posting_the_same_state_changes_nothing_and_announces_nothing(platform, head):
    before = len(settings_events(platform))
    response = post_form(head, "/admin/services/", {"service-vie_scolaire": "closed"})
    assert response.status_code == 302 and "Aucun changement" in text(head.get("/admin/services/"))
    assert len(settings_events(platform)) == before and audit_summaries(platform, "service.opened") == []


def test_a_mandatory_service_is_shown_locked_open_and_cannot_be_closed(platform, head):
    page = text(head.get("/admin/services/"))
    assert "Livret scolaire du lycée <span class=\"fr-text--bold\">(Obligatoire)</span>" in page
    assert 'name="service-lsl"' not in page  # no control to post
    before = len(settings_events(platform))
    response = post_form(head, "/admin/services/", {"service-lsl": "closed", "service-vie_scolaire": "open"})
    assert response.status_code == 400
    assert "Le téléservice Livret scolaire du lycée est obligatoire : il reste ouvert." in text(response)
    assert school_service(platform, "lsl") is None and school_service(platform, "vie_scolaire") is None
    assert len(settings_events(platform)) == before and audit_summaries(platform, "service.opened") == []


def test_a_service_whose_siecle_module_is_missing_is_disabled_and_refused_even_if_posted(platform, head):
    page = text(head.get("/admin/services/"))
    assert "Pour bénéficier de ce téléservice, il vous faut préalablement initialiser le module Notes." in page
    assert 'name="service-notes"' not in page
    before = len(settings_events(platform))
    response = post_form(head, "/admin/services/", {"service-notes": "open", "service-vie_scolaire": "open"})
    assert response.status_code == 400
    assert "initialiser le module Notes" in text(response)
    assert school_service(platform, "notes") is None and school_service(platform, "vie_scolaire") is None
    assert len(settings_events(platform)) == before


def test_with_the_siecle_notes_module_the_notes_service_can_be_opened(platform, head):
    set_school(platform, siecle_modules=["notes"])
    page = text(head.get("/admin/services/"))
    assert "initialiser le module Notes" not in page and 'name="service-notes" value="open"' in page
    assert post_form(head, "/admin/services/", {"service-notes": "open"}).status_code == 302
    assert settings_events(platform)[-1].payload["open_services"] == ["notes", "lsl"]


@pytest.mark.parametrize("field,value", [("service-folios", "open"), ("service-unknown", "open"),
                                         ("service-vie_scolaire", "maybe")])
def test_a_service_the_academy_does_not_offer_or_a_bad_value_is_refused(platform, head, field, value):
    with platform.runtime("accounts").uow() as uow:
        uow.session.get(AcademyService, ("NCY", "folios")).enabled = False
        uow.commit()
    response = post_form(head, "/admin/services/", {field: value})
    assert response.status_code == 400
    assert query(platform, select(SchoolService)) == []


@pytest.mark.parametrize("path", ["/admin/services/", "/admin/services/notes", "/admin/services/payment"])
def test_a_delegate_without_the_services_right_gets_403(app, path):
    client = sign_in(app, DELEGATE[0], DELEGATE[2])
    assert client.get(path).status_code == 403


def test_a_delegate_without_the_services_right_cannot_post_either(platform, app):
    client = sign_in(app, DELEGATE[0], DELEGATE[2])
    token = csrf(client.get("/admin/").text)  # the sign-out form of any page
    response = client.post("/admin/services/", data={"csrf_token": token, "service-vie_scolaire": "open"})
    assert response.status_code == 403 and school_service(platform, "vie_scolaire") is None


def test_the_pages_wait_for_the_activation_of_online_services(platform, head):
    set_school(platform, services_activated_at=None)
    assert head.get("/admin/services/").headers["Location"] == "/admin/activation"


# --- C3 « Configuration Notes » ------------------------------------------------------------------

@pytest.fixture
def notes_open(platform, head):
    set_school(platform, siecle_modules=["notes"])
    assert post_form(head, "/admin/services/", {"service-notes": "open"}).status_code == 302
    return head


def deadline(client):
    response = post_form(client, "/admin/services/notes", {"publication": "deadline"})
    assert response.status_code == 302
    return response


def add_date(client, mef, division, day):
    return post_form(client, "/admin/services/notes/dates", {"mef_code": mef, "division": division,
                                                             "publication_date": day},
                     page="/admin/services/notes")


def dates(platform):
    return [(row.mef_code, row.division, row.publication_date) for row in query(
        platform, select(NotesPublicationDate).order_by(NotesPublicationDate.publication_date))]


def publication(platform):
    with platform.runtime("accounts").uow() as uow:
        settings = uow.session.get(NotesSettings, UAI)
        return settings.publication if settings else None


def test_notes_configuration_needs_the_notes_service_open(platform, head):
    page = text(head.get("/admin/services/notes"))
    assert "Le téléservice Notes n'est pas ouvert" in page and 'href="/admin/services/"' in page
    token = csrf(page)
    response = head.post("/admin/services/notes", data={"csrf_token": token, "publication": "deadline"})
    assert response.status_code == 302 and publication(platform) is None


def test_publication_at_deadlines_lists_each_mef_and_division_of_the_students(platform, notes_open):
    page = text(notes_open.get("/admin/services/notes"))
    assert "Dates de publication par MEF" not in page  # « au fil de l'eau » by default
    deadline(notes_open)
    assert publication(platform) == "deadline"
    assert audit_summaries(platform, "notes.publication_changed") == ["Publication des notes à échéance"]
    page = text(notes_open.get("/admin/services/notes"))
    rows = re.findall(r"<tr>\s*<td>(\w+) <span class=\"fr-hint-text\">\d+</span></td>\s*<td>(\w+)", page)
    assert rows == [("3EME", "3A"), ("3EME", "3B"), ("4EME", "4A")]


def test_a_departed_student_s_division_is_not_listed(platform, notes_open):
    with platform.runtime("accounts").uow() as uow:
        uow.session.scalar(select(Student).where(Student.siecle_id == "1004")).departed_at = utcnow()
        uow.commit()
    deadline(notes_open)
    # What the page shows (tags and their attributes removed: a random CSRF token may hold « 4A »).
    page = re.sub(r"<[^>]+>", " ", text(notes_open.get("/admin/services/notes")))
    assert "3A" in page and "4A" not in page


def test_publication_dates_are_added_per_mef_and_division_and_removed(platform, notes_open):
    deadline(notes_open)
    assert add_date(notes_open, MEF_3E, "3A", "12/12/2026").status_code == 302
    assert add_date(notes_open, MEF_3E, "3A", "20/03/2027").status_code == 302
    assert add_date(notes_open, MEF_4E, "4A", "12/12/2026").status_code == 302
    assert dates(platform) == [(MEF_3E, "3A", date(2026, 12, 12)), (MEF_4E, "4A", date(2026, 12, 12)),
                               (MEF_3E, "3A", date(2027, 3, 20))]
    assert audit_summaries(platform, "notes.date_added") == [
        "Publication des notes à échéance : 12/12/2026 pour 3EME × 3A",
        "Publication des notes à échéance : 20/03/2027 pour 3EME × 3A",
        "Publication des notes à échéance : 12/12/2026 pour 4EME × 4A"]
    page = text(notes_open.get("/admin/services/notes"))
    assert "12/12/2026" in page and "20/03/2027" in page
    first = query(platform, select(NotesPublicationDate).where(NotesPublicationDate.division == "3A")
                  .order_by(NotesPublicationDate.publication_date))[0]
    response = post_form(notes_open, f"/admin/services/notes/dates/{first.id}/delete", {},
                         page="/admin/services/notes")
    assert response.status_code == 302
    assert dates(platform) == [(MEF_4E, "4A", date(2026, 12, 12)), (MEF_3E, "3A", date(2027, 3, 20))]
    assert audit_summaries(platform, "notes.date_removed") == [
        "Suppression de la date de publication des notes du 12/12/2026 pour 3EME × 3A"]


@pytest.mark.parametrize("mef,division,day,message", [
    (MEF_3E, "3A", "31/02/2026", "Saisissez la date au format JJ/MM/AAAA"),
    (MEF_3E, "3A", "2026-12-12", "Saisissez la date au format JJ/MM/AAAA"),
    (MEF_3E, "3A", "", "Saisissez une date au format JJ/MM/AAAA"),
    (MEF_3E, "4A", "12/12/2026", "Aucun élève de l'établissement n'est inscrit dans cette MEF et cette division."),
])
def test_a_bad_date_or_an_unknown_pair_is_refused_and_nothing_is_stored(platform, notes_open, mef, division, day,
                                                                        message):
    deadline(notes_open)
    response = add_date(notes_open, mef, division, day)
    assert response.status_code == 400 and message in text(response)
    assert dates(platform) == [] and audit_summaries(platform, "notes.date_added") == []


def test_the_same_date_twice_for_a_pair_is_refused(platform, notes_open):
    deadline(notes_open)
    add_date(notes_open, MEF_3E, "3A", "12/12/2026")
    response = add_date(notes_open, MEF_3E, "3A", "12/12/2026")
    assert response.status_code == 400 and "La date du 12/12/2026 est déjà définie pour 3EME × 3A." in text(response)
    assert len(dates(platform)) == 1


def test_dates_cannot_be_added_while_publication_is_continuous(platform, notes_open):
    response = add_date(notes_open, MEF_3E, "3A", "12/12/2026")
    assert response.status_code == 400 and "choisissez-la d'abord" in text(response)
    assert dates(platform) == []


def test_going_back_to_continuous_publication_asks_to_confirm_before_losing_the_dates(platform, notes_open):
    deadline(notes_open)
    add_date(notes_open, MEF_3E, "3A", "12/12/2026")
    add_date(notes_open, MEF_4E, "4A", "13/12/2026")
    response = post_form(notes_open, "/admin/services/notes", {"publication": "continuous"})
    page = text(response)
    assert response.status_code == 200 and "les 2 date(s) de publication" in page
    assert "définitivement supprimée(s)" in page
    assert publication(platform) == "deadline" and len(dates(platform)) == 2  # nothing lost yet
    confirmed = notes_open.post("/admin/services/notes/continuous", data={"csrf_token": csrf(page)})
    assert confirmed.status_code == 302
    assert publication(platform) == "continuous" and dates(platform) == []
    assert audit_summaries(platform, "notes.publication_changed")[-1] == \
        "Publication des notes au fil de l'eau (2 date(s) de publication supprimée(s))"


def test_going_back_to_continuous_without_dates_needs_no_confirmation(platform, notes_open):
    deadline(notes_open)
    response = post_form(notes_open, "/admin/services/notes", {"publication": "continuous"})
    assert response.status_code == 302 and publication(platform) == "continuous"
    assert audit_summaries(platform, "notes.publication_changed") == [
        "Publication des notes à échéance", "Publication des notes au fil de l'eau"]


def test_closing_notes_keeps_its_publication_settings(platform, notes_open):
    deadline(notes_open)
    add_date(notes_open, MEF_3E, "3A", "12/12/2026")
    post_form(notes_open, "/admin/services/", {"service-notes": "closed"})
    assert "Le téléservice Notes n'est pas ouvert" in text(notes_open.get("/admin/services/notes"))
    post_form(notes_open, "/admin/services/", {"service-notes": "open"})
    assert publication(platform) == "deadline" and len(dates(platform)) == 1
    assert "12/12/2026" in text(notes_open.get("/admin/services/notes"))


# --- C4 « Paiement en ligne des factures » -------------------------------------------------------

def payment_settings(platform):
    with platform.runtime("accounts").uow() as uow:
        return uow.session.get(PaymentSettings, UAI)


def ask_payment(client, number="123456", amount="15,50", email="intendance@college-jean-moulin.fr"):
    return post_form(client, "/admin/services/payment", {"tipi_client_number": number, "minimum_amount": amount,
                                                         "contact_email": email})


@pytest.mark.parametrize("number", ["000000", "555555"])  # unknown; another academy's
def test_an_unknown_tipi_number_is_refused_and_nothing_is_saved(platform, head, number):
    response = ask_payment(head, number=number)
    assert response.status_code == 400
    assert f"Le numéro client TIPI {number} est inconnu du référentiel" in text(response)
    assert payment_settings(platform) is None and audit_summaries(platform, "payment.configured") == []


def test_a_known_number_shows_its_holder_and_is_saved_only_once_confirmed(platform, head):
    response = ask_payment(head)
    page = text(response)
    assert response.status_code == 200
    assert ("Le numéro client TIPI 123456 correspond à : Agence comptable du collège Jean Moulin. "
            "Confirmez-vous cette identification ?") in page
    assert payment_settings(platform) is None  # not before the confirmation
    confirmed = head.post("/admin/services/payment/confirm", data={
        name: hidden(page, name) for name in ("csrf_token", "tipi_client_number", "minimum_amount", "contact_email")})
    assert confirmed.status_code == 302
    settings = payment_settings(platform)
    assert settings.tipi_client_number == "123456" and settings.minimum_amount == Decimal("15.50")
    assert settings.contact_email == "intendance@college-jean-moulin.fr" and settings.confirmed_by == "chef.test"
    assert settings.confirmed_at is not None
    assert audit_summaries(platform, "payment.configured") == [
        "Paiement en ligne des factures : client TIPI 123456 (Agence comptable du collège Jean Moulin), "
        "montant minimum 15,50 €, contact intendance@college-jean-moulin.fr"]
    page = text(head.get("/admin/services/payment"))
    assert "Paramétrage en vigueur" in page and "montant minimum 15,50 €" in page


def test_a_national_tipi_number_is_accepted(platform, head):
    page = text(ask_payment(head, number="999001", amount="0"))
    assert "correspond à : Trésorerie nationale des établissements" in page


@pytest.mark.parametrize("amount,email,message", [
    ("-3", "intendance@college.fr", "Le montant minimum ne peut pas être négatif."),
    ("quinze", "intendance@college.fr", "Saisissez un montant en euros"),
    ("15,555", "intendance@college.fr", "deux décimales au plus"),
    ("", "intendance@college.fr", "Saisissez le montant minimum."),
    ("15,50", "intendance@college", "Saisissez une adresse électronique valide"),
    ("15,50", "", "Saisissez l'adresse électronique de contact."),
])
def test_a_bad_amount_or_email_is_refused_and_nothing_is_stored(platform, head, amount, email, message):
    response = ask_payment(head, amount=amount, email=email)
    assert response.status_code == 400 and message in text(response)
    assert "Confirmez-vous" not in text(response)
    assert payment_settings(platform) is None and audit_summaries(platform, "payment.configured") == []


def test_a_tampered_confirmation_is_checked_again(platform, head):
    page = text(ask_payment(head))
    response = head.post("/admin/services/payment/confirm", data={
        "csrf_token": csrf(page), "tipi_client_number": "555555", "minimum_amount": "15.50",
        "contact_email": "intendance@college.fr"})
    assert response.status_code == 302
    assert "inconnu du référentiel" in text(head.get("/admin/services/payment"))
    assert payment_settings(platform) is None


def test_the_payment_page_says_when_the_service_is_closed(platform, head):
    assert "est fermé" in text(head.get("/admin/services/payment"))
    post_form(head, "/admin/services/", {"service-paiement": "open"})
    assert "est fermé" not in text(head.get("/admin/services/payment"))


def test_every_change_is_in_the_school_audit_log_with_who_made_it(platform, notes_open):
    deadline(notes_open)
    entries = query(platform, select(AuditEntry).where(AuditEntry.school_uai == UAI,
                                                       AuditEntry.action.in_(["service.opened",
                                                                              "notes.publication_changed"])))
    assert [(e.staff_login, e.summary) for e in entries] == [
        ("chef.test", "Ouverture du téléservice Notes"), ("chef.test", "Publication des notes à échéance")]


def test_an_unknown_publication_mode_is_refused_in_french(platform, notes_open):
    response = post_form(notes_open, "/admin/services/notes", {"publication": "weekly"})
    assert response.status_code == 400
    assert "Choisissez la publication au fil de l'eau ou à échéance." in text(response)
    assert publication(platform) is None
