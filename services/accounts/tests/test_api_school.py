"""The staff API of « Gestion des téléservices » (/api/v1/services: C2, C3, C4), « Paramétrage »
(/api/v1/settings: D1, D2, D4, D5) and the academy administration (/api/v1/academy), driven like
a JSON client: what each endpoint answers and changes, what it refuses (a right missing 403, a
body not valid 422 with its fields, a use case's refusal 400/404/409 in French, a change without
its CSRF header 400), the OpenAPI document, and the audit log — the same entries as the console's."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from support.settings import settings_for
from support.siecle_files import ADDRESSES, LINKS, PEOPLE, STUDENTS, UAI, guardians_file, students_file
from ts_accounts.adapters.orm import (
    AcademyEntLink, AcademyService, AuditEntry, Mef, NotesPublicationDate, PaymentSettings, School, SchoolEmail,
    SchoolService, StaffUser, TipiClient, UsefulLink,
)
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff, delegate
from ts_shared.messaging.envelope import parse_event
from ts_shared.runtime.process import Platform

OTHER_UAI, FAR_UAI = "0573321A", "0999999Z"
HEAD = ("chef.test", "un mot de passe de chef")
DELEGATE = ("secretaire.test", "un mot de passe de secrétaire")  # statistics only
ADMIN = ("admin.test", "un mot de passe d'académie")
MEF_3E, MEF_4E = "10310019110", "10210001110"
SCHOOL_EMAIL = "ce.0541234x@ac-nancy-metz.fr"
ACADEMY_ENT = "https://www.monbureaunumerique.fr/"
CSRF_MISSING = ("Jeton CSRF absent ou invalide : envoyez celui de GET /api/v1/csrf-token dans l'en-tête "
                "X-CSRFToken.")
UNPROCESSABLE = "Certaines valeurs envoyées ne sont pas valides."

NEW_PATHS = [
    "/api/v1/services", "/api/v1/services/notes", "/api/v1/services/notes/dates",
    "/api/v1/services/notes/dates/{date_id}", "/api/v1/services/payment",
    "/api/v1/settings/welcome-message", "/api/v1/settings/welcome-message/preview", "/api/v1/settings/ent",
    "/api/v1/settings/contact", "/api/v1/settings/links", "/api/v1/settings/links/{link_id}",
    "/api/v1/academy/schools", "/api/v1/academy/schools/{uai}", "/api/v1/academy/schools/{uai}/emails",
    "/api/v1/academy/schools/{uai}/emails/{email_id}", "/api/v1/academy/schools/{uai}/head",
    "/api/v1/academy/services", "/api/v1/academy/services/{academy_code}/{code}/flags",
    "/api/v1/academy/services/{academy_code}/academic", "/api/v1/academy/services/{academy_code}/academic/{code}",
    "/api/v1/academy/services/{academy_code}/ent-links",
    "/api/v1/academy/services/{academy_code}/ent-links/{ent_link_id}",
    "/api/v1/academy/services/{academy_code}/tipi-clients",
    "/api/v1/academy/services/{academy_code}/tipi-clients/{number}",
]


def make_platform(folder, platform: Platform | None = None) -> Platform:
    """One school of academy NCY (active, using SIECLE Notes, populated) with its head, a delegate
    holding only « statistics », an academy administrator; another NCY school and one elsewhere."""
    folder.mkdir(parents=True, exist_ok=True)
    platform = platform or Platform(settings_for(folder))
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY", city="Nancy")
        add_school(uow, uai=OTHER_UAI, name="Lycée Henri Poincaré", academy_code="NCY", city="Metz")
        add_school(uow, uai=FAR_UAI, name="Collège d'une autre académie", academy_code="XYZ")
        uow.session.get(School, UAI).siecle_modules = ["notes"]
        create_staff(uow, login=HEAD[0], display_name="Mme Claire Martin", password=HEAD[1], head_of=UAI)
        create_staff(uow, login=ADMIN[0], display_name="M. Paul Durand", password=ADMIN[1], academy_admin=True)
        delegate(uow, Actor("test"), uai=UAI, login=DELEGATE[0], rights=["statistics"], display_name="M. Paul Petit",
                 initial_password=DELEGATE[1])
        activate_services(uow, UAI)
        activate_services(uow, OTHER_UAI)
        uow.session.add_all([
            SchoolEmail(school_uai=UAI, address=SCHOOL_EMAIL, label="Secrétariat"),
            SchoolEmail(school_uai=OTHER_UAI, address="ce.0573321a@ac-nancy-metz.fr"),
            UsefulLink(school_uai=OTHER_UAI, label="Site du lycée", url="https://lycee.example.org/"),
            AcademyEntLink(academy_code="NCY", label="Mon bureau numérique", url=ACADEMY_ENT),
            AcademyEntLink(academy_code="XYZ", label="ENT d'une autre académie", url="https://ent.autre.fr/"),
            TipiClient(number="123456", holder="Agence comptable du collège Jean Moulin", academy_code="NCY"),
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
    return platform


def seed(platform, folder):
    """The module's data, made once (conftest.py copies it for each test): see make_platform."""
    make_platform(folder, platform)


class Api:
    """A signed-in JSON client: every change carries the session's CSRF token in X-CSRFToken."""

    def __init__(self, app, login: str, password: str):
        self.client = Client(app)
        page = self.client.get("/admin/login").text
        token = page.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
        response = self.client.post("/admin/login", data={"csrf_token": token, "login": login, "password": password})
        assert response.status_code == 302, response.text
        self.token = self.client.get("/api/v1/csrf-token").json["csrf_token"]

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def send(self, method: str, path: str, body=None, *, csrf: bool = True):
        headers = {"X-CSRFToken": self.token} if csrf else {}
        return self.client.open(path, method=method, json=body, headers=headers)

    def put(self, path, body=None, **kwargs):
        return self.send("PUT", path, body, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.send("POST", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.send("DELETE", path, **kwargs)

    def form(self, path: str, data: dict):
        """A console form, posted with the session's token (the console's pages carry the same)."""
        return self.client.post(path, data={"csrf_token": self.token, **data})


@pytest.fixture
def head(app):
    return Api(app, *HEAD)


@pytest.fixture
def admin(app):
    return Api(app, *ADMIN)


@pytest.fixture
def secretary(app):
    return Api(app, *DELEGATE)


def get(platform, entity, key):
    with platform.runtime("accounts").uow() as uow:
        return uow.session.get(entity, key)


def rows(platform, statement) -> list:
    with platform.runtime("accounts").uow() as uow:
        return list(uow.session.scalars(statement))


def audit_entries(platform, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return rows(platform, query)


def settings_events(platform, uai=UAI) -> list:
    runtime = platform.runtime("accounts")
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as connection:
        envelopes = connection.execute(select(outbox.c.envelope).where(outbox.c.event_type == "school.settings_changed")
                                       .order_by(outbox.c.id)).scalars()
        return [event for event in (parse_event(json.loads(row)) for row in envelopes) if event.school_uai == uai]


def refused(response, status: int, message: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json
    assert body["status"] == status
    if message is not None:
        assert body["error"] == message, body
    return body


def unprocessable(response, *names: str) -> dict:
    """422, with the French message and the faulty fields of the JSON body."""
    body = refused(response, 422, UNPROCESSABLE)
    assert set(names) <= set(body["fields"]["json"]), body
    return body["fields"]["json"]


def open_notes(head: Api) -> None:
    assert head.put("/api/v1/services", {"services": {"notes": True}}).status_code == 200


# --- C2 opening and closing services --------------------------------------------------------------

def test_the_services_list_says_which_are_open_mandatory_or_unavailable(head):
    response = head.get("/api/v1/services")
    assert response.status_code == 200
    services = {line["code"]: line for line in response.json}
    assert list(services)[0] == "vie_scolaire" and {line["scope"] for line in response.json} == {"national"}
    assert services["lsl"] == {"code": "lsl", "label": "Livret scolaire du lycée", "scope": "national",
                               "mandatory": True, "is_open": True, "unavailable_reason": None, "changeable": False}
    assert services["notes"]["is_open"] is False and services["notes"]["changeable"] is True


def test_opening_and_closing_services_through_the_api_is_audited_and_announced(head, platform):
    events = len(settings_events(platform))
    response = head.put("/api/v1/services", {"services": {"notes": True, "vie_scolaire": True, "folios": False}})
    assert response.status_code == 200, response.text
    assert sorted((c["code"], c["opened"]) for c in response.json["changes"]) == [("notes", True),
                                                                                ("vie_scolaire", True)]
    assert {line["code"]: line["is_open"] for line in response.json["services"]}["notes"] is True
    assert [(e.summary, e.target) for e in audit_entries(platform, "service.opened")] == [
        ("Ouverture du téléservice Notes", "notes"), ("Ouverture du téléservice Vie scolaire", "vie_scolaire")]
    assert len(settings_events(platform)) == events + 1
    again = head.put("/api/v1/services", {"services": {"notes": True}})
    assert again.status_code == 200 and again.json["changes"] == []
    closed = head.put("/api/v1/services", {"services": {"notes": False}})
    assert closed.json["changes"] == [{"code": "notes", "label": "Notes", "opened": False}]
    assert audit_entries(platform, "service.closed")[-1].summary == \
        "Fermeture du téléservice Notes (son paramétrage est conservé)"


def test_closing_a_mandatory_service_is_refused_in_french_and_nothing_changes(head, platform):
    response = head.put("/api/v1/services", {"services": {"notes": True, "lsl": False}})
    refused(response, 400, "Le téléservice Livret scolaire du lycée est obligatoire : il reste ouvert.")
    assert rows(platform, select(SchoolService).where(SchoolService.school_uai == UAI)) == []
    refused(head.put("/api/v1/services", {"services": {"inconnu": True}}), 400,
            "Ce téléservice n'est pas proposé par l'académie.")


def test_a_services_body_that_is_not_valid_is_422_with_its_fields_in_french(head):
    fields = unprocessable(head.put("/api/v1/services", {"services": {"notes": "peut-être"}}), "services")
    assert fields["services"]["notes"]["value"] == ["true ou false est attendu."]
    assert unprocessable(head.put("/api/v1/services", {}), "services")["services"] == ["Ce champ est obligatoire."]
    assert unprocessable(head.put("/api/v1/services", {"services": {}}), "services")["services"] == [
        "Indiquez au moins un téléservice."]
    assert unprocessable(head.put("/api/v1/services", {"services": {"notes": True}, "extra": 1}),
                         "extra")["extra"] == ["Champ inconnu."]


def test_the_services_endpoints_need_the_services_right_before_reading_the_body(secretary):
    for method, path in (("GET", "/api/v1/services"), ("PUT", "/api/v1/services"), ("GET", "/api/v1/services/notes"),
                         ("PUT", "/api/v1/services/notes"), ("POST", "/api/v1/services/notes/dates"),
                         ("DELETE", "/api/v1/services/notes/dates/1"), ("GET", "/api/v1/services/payment"),
                         ("PUT", "/api/v1/services/payment")):
        # An invalid body: the right is checked first (403, never 422).
        response = secretary.send(method, path, {"nonsense": True} if method != "GET" else None)
        refused(response, 403, "Vous n'avez pas les droits nécessaires pour cette page.")


def test_a_change_without_its_csrf_header_is_refused_and_changes_nothing(head, platform):
    for method, path, body in (("PUT", "/api/v1/services", {"services": {"notes": True}}),
                               ("PUT", "/api/v1/settings/welcome-message", {"html": "<p>Bonjour</p>"}),
                               ("POST", "/api/v1/settings/links", {"label": "Site", "url": "https://example.org/"}),
                               ("POST", "/api/v1/services/notes/dates", {"mef_code": MEF_3E, "division": "3A",
                                                                         "date": "2026-12-12"})):
        refused(head.send(method, path, body, csrf=False), 400, CSRF_MISSING)
    assert rows(platform, select(SchoolService).where(SchoolService.school_uai == UAI)) == []
    assert get(platform, School, UAI).welcome_message_html == ""
    assert rows(platform, select(UsefulLink).where(UsefulLink.school_uai == UAI)) == []


# --- C3 publication of marks ----------------------------------------------------------------------

def test_the_notes_configuration_answers_409_while_the_service_is_closed(head):
    refused(head.get("/api/v1/services/notes"), 409,
            "Le téléservice Notes n'est pas ouvert : ouvrez-le d'abord dans « Ouverture / fermeture ».")
    refused(head.put("/api/v1/services/notes", {"publication": "deadline"}), 409)


def test_publication_dates_are_added_listed_and_removed_through_the_api(head, platform):
    open_notes(head)
    configuration = head.get("/api/v1/services/notes").json
    assert configuration["publication"] == "continuous" and configuration["dates_count"] == 0
    assert [(p["mef_label"], p["division"]) for p in configuration["pairs"]] == [
        ("3EME", "3A"), ("3EME", "3B"), ("4EME", "4A")]
    refused(head.post("/api/v1/services/notes/dates", {"mef_code": MEF_3E, "division": "3A", "date": "2026-12-12"}),
            400, "Les dates de publication ne servent qu'à la publication à échéance : choisissez-la d'abord.")
    response = head.put("/api/v1/services/notes", {"publication": "deadline"})
    assert response.status_code == 200 and response.json["changed"] is True
    assert response.json["publication"] == "deadline"
    assert head.put("/api/v1/services/notes", {"publication": "deadline"}).json["changed"] is False
    added = head.post("/api/v1/services/notes/dates", {"mef_code": MEF_3E, "division": "3A", "date": "2026-12-12"})
    assert added.status_code == 201, added.text
    assert added.json == {"id": added.json["id"], "mef_code": MEF_3E, "division": "3A", "date": "2026-12-12"}
    refused(head.post("/api/v1/services/notes/dates", {"mef_code": MEF_3E, "division": "3A", "date": "2026-12-12"}),
            400, "La date du 12/12/2026 est déjà définie pour 3EME × 3A.")
    refused(head.post("/api/v1/services/notes/dates", {"mef_code": MEF_3E, "division": "4A", "date": "2026-12-12"}),
            400, "Aucun élève de l'établissement n'est inscrit dans cette MEF et cette division.")
    pair = next(p for p in head.get("/api/v1/services/notes").json["pairs"] if p["division"] == "3A")
    assert pair["dates"] == [{"id": added.json["id"], "date": "2026-12-12"}]
    assert head.delete(f"/api/v1/services/notes/dates/{added.json['id']}").status_code == 204
    refused(head.delete(f"/api/v1/services/notes/dates/{added.json['id']}"), 404,
            "Cette date de publication n'existe plus.")
    refused(head.delete(f"/api/v1/services/notes/dates/{2**40}"), 404)
    assert [e.action for e in audit_entries(platform) if e.action.startswith("notes.")] == [
        "notes.publication_changed", "notes.date_added", "notes.date_removed"]


def test_going_back_to_continuous_publication_asks_for_confirmation_when_dates_would_be_lost(head, platform):
    open_notes(head)
    head.put("/api/v1/services/notes", {"publication": "deadline"})
    for division, day in (("3A", "2026-12-12"), ("4A", "2027-03-20")):
        mef = MEF_4E if division == "4A" else MEF_3E
        assert head.post("/api/v1/services/notes/dates", {"mef_code": mef, "division": division,
                                                          "date": day}).status_code == 201
    body = refused(head.put("/api/v1/services/notes", {"publication": "continuous"}), 409)
    assert body["error"].startswith("Les 2 date(s) de publication définie(s) seront supprimée(s).")
    assert "« confirm »: true" in body["error"]
    assert len(rows(platform, select(NotesPublicationDate))) == 2
    response = head.put("/api/v1/services/notes", {"publication": "continuous", "confirm": True})
    assert response.status_code == 200 and response.json["changed"] is True
    assert response.json["publication"] == "continuous" and response.json["dates_count"] == 0
    assert rows(platform, select(NotesPublicationDate)) == []
    assert audit_entries(platform, "notes.publication_changed")[-1].summary == \
        "Publication des notes au fil de l'eau (2 date(s) de publication supprimée(s))"


def test_a_notes_body_that_is_not_valid_is_422(head):
    open_notes(head)
    assert unprocessable(head.put("/api/v1/services/notes", {"publication": "parfois"}), "publication")[
        "publication"] == ["Valeur non valide : choisissez parmi continuous, deadline."]
    fields = unprocessable(head.post("/api/v1/services/notes/dates", {"mef_code": MEF_3E, "date": "12/12/2026"}),
                           "division", "date")
    assert fields["date"] == ["Une date au format AAAA-MM-JJ est attendue, par exemple 2026-12-12."]


# --- C4 online payment of invoices ----------------------------------------------------------------

def test_payment_is_checked_first_then_saved_once_confirmed(head, platform):
    assert head.get("/api/v1/services/payment").json == {
        "service_open": False, "tipi_client_number": None, "holder": None, "minimum_amount": None,
        "contact_email": None, "confirmed_at": None, "confirmed_by": None}
    body = {"tipi_client_number": " 123456 ", "minimum_amount": "15,5", "contact_email": "intendance@college.fr"}
    checked = head.put("/api/v1/services/payment", body)
    assert checked.status_code == 200, checked.text
    assert checked.json == {"confirmation_required": True, "tipi_client_number": "123456",
                            "holder": "Agence comptable du collège Jean Moulin", "minimum_amount": "15.50",
                            "contact_email": "intendance@college.fr"}
    assert get(platform, PaymentSettings, UAI) is None and audit_entries(platform, "payment.configured") == []
    saved = head.put("/api/v1/services/payment", {**body, "minimum_amount": 15.5, "confirm": True})
    assert saved.status_code == 200, saved.text
    assert saved.json["confirmation_required"] is False and saved.json["confirmed_by"] == HEAD[0]
    assert saved.json["holder"] == "Agence comptable du collège Jean Moulin"
    assert get(platform, PaymentSettings, UAI).minimum_amount == Decimal("15.50")
    [entry] = audit_entries(platform, "payment.configured")
    assert entry.summary == ("Paiement en ligne des factures : client TIPI 123456 (Agence comptable du collège Jean "
                             "Moulin), montant minimum 15,50 €, contact intendance@college.fr")


def test_an_unknown_or_foreign_tipi_number_is_refused_and_nothing_is_saved(head, platform):
    for number in ("000000", "555555"):
        refused(head.put("/api/v1/services/payment", {"tipi_client_number": number, "minimum_amount": "10",
                                                      "contact_email": "intendance@college.fr", "confirm": True}),
                400, f"Le numéro client TIPI {number} est inconnu du référentiel : vérifiez le numéro fourni par la "
                     "DDFiP. Rien n'a été enregistré.")
    refused(head.put("/api/v1/services/payment", {"tipi_client_number": "123456", "minimum_amount": "-3",
                                                  "contact_email": "intendance@college.fr"}),
            400, "Le montant minimum ne peut pas être négatif.")
    assert get(platform, PaymentSettings, UAI) is None
    assert unprocessable(head.put("/api/v1/services/payment", {"tipi_client_number": "123456", "minimum_amount": []}),
                         "minimum_amount", "contact_email")["contact_email"] == ["Ce champ est obligatoire."]


# --- D1 welcome message ---------------------------------------------------------------------------

def test_the_welcome_message_is_saved_sanitised_audited_and_announced(head, platform):
    assert head.get("/api/v1/settings/welcome-message").json == {"html": "", "length": 0, "maximum": 2000,
                                                                 "too_long": False}
    events = len(settings_events(platform))
    response = head.put("/api/v1/settings/welcome-message",
                        {"html": "<p>Bienvenue <strong>à tous</strong><script>alert(1)</script></p>"})
    assert response.status_code == 200, response.text
    assert response.json == {"html": "<p>Bienvenue <strong>à tous</strong></p>", "length": 16, "maximum": 2000,
                             "too_long": False, "changed": True}
    assert get(platform, School, UAI).welcome_message_html == "<p>Bienvenue <strong>à tous</strong></p>"
    assert settings_events(platform)[-1].payload["welcome_message_html"] == "<p>Bienvenue <strong>à tous</strong></p>"
    [entry] = audit_entries(platform, "settings.welcome_message")
    assert (entry.summary, entry.target, entry.staff_login) == ("Message d'accueil modifié (16 caractères)",
                                                                "message d'accueil", HEAD[0])
    again = head.put("/api/v1/settings/welcome-message", {"html": "<p>Bienvenue <strong>à tous</strong></p>"})
    assert again.json["changed"] is False
    assert len(audit_entries(platform, "settings.welcome_message")) == 1
    assert len(settings_events(platform)) == events + 1
    removed = head.put("/api/v1/settings/welcome-message", {"html": "  "})
    assert removed.json["changed"] is True
    assert audit_entries(platform, "settings.welcome_message")[-1].summary == "Message d'accueil supprimé"


def test_a_welcome_message_too_long_is_refused_with_its_field_and_the_preview_saves_nothing(head, platform):
    long = "<p>" + "a" * 2001 + "</p>"
    body = refused(head.put("/api/v1/settings/welcome-message", {"html": long}), 400)
    assert body["error"].startswith("Le message d'accueil ne doit pas dépasser 2000 caractères (il en compte 2001).")
    assert body["fields"] == {"message": body["error"]}
    preview = head.post("/api/v1/settings/welcome-message/preview", {"html": long})
    assert preview.status_code == 200 and preview.json["too_long"] is True and preview.json["length"] == 2001
    assert head.post("/api/v1/settings/welcome-message/preview",
                     {"html": "<em>Bonjour</em><img src=x>"}).json["html"] == "<em>Bonjour</em>"
    refused(head.post("/api/v1/settings/welcome-message/preview", {"html": "a" * 100_001}), 400)
    assert get(platform, School, UAI).welcome_message_html == ""
    assert audit_entries(platform, "settings.welcome_message") == []
    assert unprocessable(head.put("/api/v1/settings/welcome-message", {"html": 12}), "html")["html"] == [
        "Une chaîne de caractères est attendue."]


# --- D2 ENT and notification letter ---------------------------------------------------------------

def test_the_ent_address_is_chosen_from_the_academy_or_typed(head, platform):
    current = head.get("/api/v1/settings/ent").json
    [link] = current["academy_links"]
    assert current["letter_type"] == "teleservices" and current["ent_url"] is None
    assert {"value": "ent_only", "label": "ENT seul"} in current["letter_types"]
    chosen = head.put("/api/v1/settings/ent", {"letter_type": "mixed", "academy_link_id": link["id"]})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json == {"letter_type": "mixed", "ent_url": ACADEMY_ENT, "changed": True}
    assert head.get("/api/v1/settings/ent").json["academy_link_id"] == link["id"]
    typed = head.put("/api/v1/settings/ent", {"letter_type": "ent_only", "ent_url": " https://ent.college.fr/ "})
    assert typed.json == {"letter_type": "ent_only", "ent_url": "https://ent.college.fr/", "changed": True}
    assert [e.summary for e in audit_entries(platform, "settings.ent")] == [
        f"Type de courrier « Mixte ENT/Téléservices », adresse de l'ENT {ACADEMY_ENT}",
        "Type de courrier « ENT seul », adresse de l'ENT https://ent.college.fr/"]
    assert head.put("/api/v1/settings/ent", {"letter_type": "ent_only",
                                             "ent_url": "https://ent.college.fr/"}).json["changed"] is False
    assert len(audit_entries(platform, "settings.ent")) == 2


def test_an_ent_choice_that_is_not_valid_is_refused_per_field(head, platform):
    foreign = rows(platform, select(AcademyEntLink.id).where(AcademyEntLink.academy_code == "XYZ"))[0]
    body = refused(head.put("/api/v1/settings/ent", {"letter_type": "mixed", "academy_link_id": foreign}), 400,
                   "Cet ENT ne fait pas partie de la liste de l'académie.")
    assert body["fields"] == {"ent_choice": "Cet ENT ne fait pas partie de la liste de l'académie."}
    body = refused(head.put("/api/v1/settings/ent", {"letter_type": "mixed"}), 400)
    assert body["fields"] == {"ent_url": "Le type de courrier « Mixte ENT/Téléservices » demande l'adresse de l'ENT : "
                                         "choisissez-la dans la liste de l'académie ou saisissez-la."}
    body = refused(head.put("/api/v1/settings/ent", {"letter_type": "mixed", "ent_url": "javascript:alert(1)"}), 400)
    assert list(body["fields"]) == ["ent_url"] and "n'est pas une adresse internet valide" in body["error"]
    assert unprocessable(head.put("/api/v1/settings/ent", {"letter_type": "lettre"}), "letter_type")
    assert unprocessable(head.put("/api/v1/settings/ent", {"letter_type": "mixed", "academy_link_id": "1"}),
                         "academy_link_id")["academy_link_id"] == ["Un nombre entier est attendu."]
    assert get(platform, School, UAI).letter_type == "teleservices" and audit_entries(platform, "settings.ent") == []


# --- D4 contact link ------------------------------------------------------------------------------

def test_the_contact_link_is_activated_towards_a_school_address_and_deactivated(head, platform):
    current = head.get("/api/v1/settings/contact").json
    [email] = current["emails"]
    assert current["active"] is False and email == {"id": email["id"], "address": SCHOOL_EMAIL, "label": "Secrétariat"}
    response = head.put("/api/v1/settings/contact", {"active": True, "email_id": email["id"]})
    assert response.json == {"active": True, "email": SCHOOL_EMAIL, "changed": True}
    assert head.get("/api/v1/settings/contact").json["email_id"] == email["id"]
    assert head.put("/api/v1/settings/contact", {"active": False}).json["changed"] is True
    assert [e.summary for e in audit_entries(platform, "settings.contact")] == [
        f"Lien de contact actif vers {SCHOOL_EMAIL}", "Lien de contact non actif"]


def test_a_contact_address_of_another_school_is_refused_per_field(head, platform):
    other = rows(platform, select(SchoolEmail.id).where(SchoolEmail.school_uai == OTHER_UAI))[0]
    body = refused(head.put("/api/v1/settings/contact", {"active": True, "email_id": other}), 400,
                   "Cette adresse n'est pas une adresse de l'établissement.")
    assert body["fields"] == {"contact_email": "Cette adresse n'est pas une adresse de l'établissement."}
    assert refused(head.put("/api/v1/settings/contact", {"active": True}), 400)["fields"] == {
        "contact_email": "Choisissez l'adresse de messagerie à laquelle les familles écriront."}
    assert unprocessable(head.put("/api/v1/settings/contact", {"email_id": 3}), "active")
    assert audit_entries(platform, "settings.contact") == []


# --- D5 useful links ------------------------------------------------------------------------------

def test_useful_links_are_added_changed_and_deleted_through_the_api(head, platform):
    first = head.post("/api/v1/settings/links", {"label": "  Le site  du collège ", "url": "https://college.fr/"})
    assert first.status_code == 201, first.text
    assert first.json == {"id": first.json["id"], "label": "Le site du collège", "url": "https://college.fr/"}
    second = head.post("/api/v1/settings/links", {"label": "Cantine", "url": "https://cantine.fr/"}).json
    changed = head.put(f"/api/v1/settings/links/{first.json['id']}", {"label": "Site", "url": "https://college.fr/"})
    assert changed.json == {"id": first.json["id"], "label": "Site", "url": "https://college.fr/", "changed": True}
    same = head.put(f"/api/v1/settings/links/{first.json['id']}", {"label": "Site", "url": "https://college.fr/"})
    assert same.json["changed"] is False
    assert [link["label"] for link in head.get("/api/v1/settings/links").json] == ["Site", "Cantine"]
    assert head.delete(f"/api/v1/settings/links/{second['id']}").status_code == 204
    refused(head.delete(f"/api/v1/settings/links/{second['id']}"), 404, "Ce lien n'existe pas.")
    assert head.get("/api/v1/settings/links").json == [{"id": first.json["id"], "label": "Site",
                                                        "url": "https://college.fr/"}]
    assert [(e.action, e.summary, e.target) for e in audit_entries(platform) if "useful_link" in e.action] == [
        ("settings.useful_link_added", "Lien utile ajouté : « Le site du collège » (https://college.fr/)",
         f"lien utile {first.json['id']}"),
        ("settings.useful_link_added", "Lien utile ajouté : « Cantine » (https://cantine.fr/)",
         f"lien utile {second['id']}"),
        ("settings.useful_link_changed", "Lien utile modifié : « Site » (https://college.fr/)",
         f"lien utile {first.json['id']}"),
        ("settings.useful_link_deleted", "Lien utile supprimé : « Cantine » (https://cantine.fr/)",
         f"lien utile {second['id']}"),
    ]


def test_a_link_that_is_not_valid_or_not_the_schools_is_refused(head, platform):
    body = refused(head.post("/api/v1/settings/links", {"label": " ", "url": "ftp://college.fr"}), 400,
                   "Le libellé est obligatoire.")
    assert set(body["fields"]) == {"label", "url"}
    other = rows(platform, select(UsefulLink.id).where(UsefulLink.school_uai == OTHER_UAI))[0]
    refused(head.put(f"/api/v1/settings/links/{other}", {"label": "Pris", "url": "https://pris.fr/"}), 404,
            "Ce lien n'existe pas.")
    refused(head.delete(f"/api/v1/settings/links/{other}"), 404)
    assert get(platform, UsefulLink, other).label == "Site du lycée"
    assert unprocessable(head.post("/api/v1/settings/links", {"label": "Site"}), "url")
    assert audit_entries(platform, "settings.useful_link_added") == []


def test_the_settings_endpoints_need_the_settings_right_before_reading_the_body(secretary):
    for method, path in (("GET", "/api/v1/settings/welcome-message"), ("PUT", "/api/v1/settings/welcome-message"),
                         ("POST", "/api/v1/settings/welcome-message/preview"), ("GET", "/api/v1/settings/ent"),
                         ("PUT", "/api/v1/settings/ent"), ("GET", "/api/v1/settings/contact"),
                         ("PUT", "/api/v1/settings/contact"), ("GET", "/api/v1/settings/links"),
                         ("POST", "/api/v1/settings/links"), ("PUT", "/api/v1/settings/links/1"),
                         ("DELETE", "/api/v1/settings/links/1")):
        response = secretary.send(method, path, {"nonsense": True} if method != "GET" else None)
        refused(response, 403, "Vous n'avez pas les droits nécessaires pour cette page.")


# --- the academy ----------------------------------------------------------------------------------

def test_only_academy_administrators_reach_the_academy_api(head, secretary):
    for client in (head, secretary):
        for method, path in (("GET", "/api/v1/academy/schools"), ("POST", "/api/v1/academy/schools"),
                             ("GET", f"/api/v1/academy/schools/{UAI}"), ("PUT", f"/api/v1/academy/schools/{UAI}"),
                             ("POST", f"/api/v1/academy/schools/{UAI}/emails"),
                             ("DELETE", f"/api/v1/academy/schools/{UAI}/emails/1"),
                             ("POST", f"/api/v1/academy/schools/{UAI}/head"),
                             ("GET", "/api/v1/academy/services?academy=NCY"),
                             ("PUT", "/api/v1/academy/services/NCY/notes/flags"),
                             ("POST", "/api/v1/academy/services/NCY/academic"),
                             ("PUT", "/api/v1/academy/services/NCY/academic/academique_1"),
                             ("DELETE", "/api/v1/academy/services/NCY/academic/academique_1"),
                             ("POST", "/api/v1/academy/services/NCY/ent-links"),
                             ("DELETE", "/api/v1/academy/services/NCY/ent-links/1"),
                             ("POST", "/api/v1/academy/services/NCY/tipi-clients"),
                             ("DELETE", "/api/v1/academy/services/NCY/tipi-clients/123456")):
            refused(client.send(method, path, {"nonsense": True} if method != "GET" else None), 403)


def test_an_academy_administrator_lists_adds_and_describes_schools(admin, platform):
    academies = admin.get("/api/v1/academy/schools").json
    assert [group["code"] for group in academies] == ["NCY", "XYZ"]
    ncy = academies[0]["schools"]
    assert [school["uai"] for school in ncy] == [UAI, OTHER_UAI]
    assert ncy[0]["heads"] == [{"login": HEAD[0], "display_name": "Mme Claire Martin"}]
    created = admin.post("/api/v1/academy/schools", {"uai": " 0880001y", "name": "Collège neuf",
                                                     "academy_code": "ncy", "city": "Épinal"})
    assert created.status_code == 201, created.text
    assert created.json["uai"] == "0880001Y" and created.json["academy_code"] == "NCY"
    assert created.json["emails"] == [] and created.json["activated_at"] is None
    refused(admin.post("/api/v1/academy/schools", {"uai": "0880001Y", "name": "Encore", "academy_code": "NCY"}),
            409, "L'établissement 0880001Y existe déjà.")
    refused(admin.post("/api/v1/academy/schools", {"uai": "88", "name": "Faux", "academy_code": "NCY"}), 400,
            "« 88 » n'est pas un code UAI (7 chiffres suivis d'une lettre, ex. 0541234X)")
    unprocessable(admin.post("/api/v1/academy/schools", {"uai": "0880002Z"}), "name", "academy_code")
    assert audit_entries(platform, "school.added")[-1].summary == \
        "Ajout de l'établissement Collège neuf (0880001Y), académie NCY"
    detail = admin.get(f"/api/v1/academy/schools/{UAI}").json
    assert detail["emails"][0]["address"] == SCHOOL_EMAIL and detail["siecle_modules"] == ["notes"]
    refused(admin.get("/api/v1/academy/schools/0000000A"), 404, "L'établissement 0000000A n'existe pas.")


def test_the_identity_block_is_replaced_whole_and_refused_in_french(admin, platform):
    identity = {"name": "Collège Jean Moulin", "address_lines": ["3 rue des Écoles"], "postal_code": "54000",
                "city": "Nancy", "phone": "03 83 00 00 00", "siecle_modules": []}
    response = admin.put(f"/api/v1/academy/schools/{UAI}", identity)
    assert response.status_code == 200, response.text
    assert response.json["changed"] == ["adresse", "code postal", "téléphone", "modules SIECLE"]
    assert response.json["address_lines"] == ["3 rue des Écoles"] and response.json["siecle_modules"] == []
    assert admin.put(f"/api/v1/academy/schools/{UAI}", identity).json["changed"] == []
    refused(admin.put(f"/api/v1/academy/schools/{UAI}", {**identity, "postal_code": "5400A"}), 400,
            "Le code postal se compose de 5 chiffres.")
    refused(admin.put(f"/api/v1/academy/schools/{UAI}", {**identity, "address_lines": ["a", "b", "c", "d", "e"]}),
            400, "L'adresse postale compte 4 lignes au plus.")
    refused(admin.put("/api/v1/academy/schools/0000000A", identity), 404)
    fields = unprocessable(admin.put(f"/api/v1/academy/schools/{UAI}", {"name": "X", "siecle_modules": ["compta"]}),
                           "address_lines", "postal_code", "city", "phone", "siecle_modules")
    assert fields["siecle_modules"] == {"0": ["Valeur non valide : choisissez parmi notes."]}
    [entry] = audit_entries(platform, "school.identity_changed")
    assert entry.summary == ("Modification de l'identité de l'établissement Collège Jean Moulin : adresse, code "
                             "postal, téléphone, modules SIECLE ; module(s) SIECLE Notes retiré(s)")


def test_school_addresses_and_heads_are_managed_through_the_api(admin, platform):
    added = admin.post(f"/api/v1/academy/schools/{UAI}/emails", {"address": "intendance@college.fr",
                                                                 "label": "Intendance"})
    assert added.status_code == 201, added.text
    assert added.json == {"id": added.json["id"], "address": "intendance@college.fr", "label": "Intendance"}
    refused(admin.post(f"/api/v1/academy/schools/{UAI}/emails", {"address": "INTENDANCE@college.fr"}), 409,
            "L'adresse INTENDANCE@college.fr est déjà enregistrée pour cet établissement.")
    refused(admin.post(f"/api/v1/academy/schools/{UAI}/emails", {"address": "pas une adresse"}), 400)
    removed = admin.delete(f"/api/v1/academy/schools/{UAI}/emails/{added.json['id']}")
    assert removed.json == {"address": "intendance@college.fr", "was_contact_address": False}
    refused(admin.delete(f"/api/v1/academy/schools/{UAI}/emails/{added.json['id']}"), 404,
            "Cette adresse électronique n'existe plus.")
    other = rows(platform, select(SchoolEmail.id).where(SchoolEmail.school_uai == OTHER_UAI))[0]
    refused(admin.delete(f"/api/v1/academy/schools/{UAI}/emails/{other}"), 404)
    refused(admin.post(f"/api/v1/academy/schools/{OTHER_UAI}/head", {"login": "nouveau.chef"}), 400,
            "Ce personnel n'a pas encore de compte : indiquez son nom et un mot de passe initial.")
    head = admin.post(f"/api/v1/academy/schools/{OTHER_UAI}/head", {
        "login": "nouveau.chef", "display_name": "M. Nouveau", "initial_password": "un long secret 2026"})
    assert head.status_code == 200, head.text
    assert head.json == {"login": "nouveau.chef", "display_name": "M. Nouveau"}
    assert "initial_password" not in head.text
    assert admin.get(f"/api/v1/academy/schools/{OTHER_UAI}").json["heads"] == [head.json]
    assert rows(platform, select(StaffUser.login).where(StaffUser.login == "nouveau.chef")) == ["nouveau.chef"]
    assert [e.action for e in audit_entries(platform)][-3:] == ["school.email_added", "school.email_removed",
                                                                "head.appointed"]


def test_a_refusal_of_a_use_case_names_the_fields_at_fault(admin, head):
    body = refused(admin.post("/api/v1/academy/schools", {"uai": UAI, "name": "Collège Victor Hugo",
                                                          "academy_code": "NCY"}), 409)
    assert body["fields"] == {"uai": f"L'établissement {UAI} existe déjà."} and body["error"] == body["fields"]["uai"]
    body = refused(admin.post(f"/api/v1/academy/schools/{OTHER_UAI}/head", {
        "login": "nouveau.chef", "display_name": "M. Nouveau", "initial_password": "court"}), 400)
    assert list(body["fields"]) == ["initial_password"]
    body = refused(head.put("/api/v1/services/payment", {"tipi_client_number": "999999", "minimum_amount": "-1",
                                                         "contact_email": "intendance@college"}), 400)
    assert set(body["fields"]) == {"minimum_amount", "contact_email", "tipi_client_number"}
    # An error that belongs to no field has none.
    assert "fields" not in refused(admin.put("/api/v1/academy/services/NCY/lsl/flags", {"enabled": False}), 400)


def test_an_academy_catalogue_is_read_and_changed_through_the_api(admin, platform):
    catalogue = admin.get("/api/v1/academy/services?academy=ncy").json
    assert catalogue["academy"]["code"] == "NCY" and catalogue["schools"] == 2
    assert [s["code"] for s in catalogue["national"]][:3] == ["vie_scolaire", "notes", "lsl"]
    assert next(s for s in catalogue["national"] if s["code"] == "lsl")["nationally_mandatory"] is True
    assert catalogue["ent_links"][0]["url"] == ACADEMY_ENT and catalogue["tipi_clients"][0]["number"] == "123456"
    refused(admin.get("/api/v1/academy/services?academy=ZZZ"), 404, "L'académie ZZZ n'existe pas.")
    assert refused(admin.get("/api/v1/academy/services"), 422)["fields"]["query"]["academy"] == [
        "Ce champ est obligatoire."]

    refused(admin.put("/api/v1/academy/services/NCY/lsl/flags", {"enabled": False}), 400,
            "Le téléservice Livret scolaire du lycée est obligatoire au niveau national : il reste proposé et "
            "ouvert dans tous les établissements.")
    flags = admin.put("/api/v1/academy/services/NCY/vie_scolaire/flags", {"mandatory": True})
    assert flags.status_code == 200 and flags.json["mandatory"] is True and flags.json["enabled"] is True
    assert "vie_scolaire" in settings_events(platform)[-1].payload["open_services"]
    refused(admin.put("/api/v1/academy/services/NCY/inconnu/flags", {"enabled": True}), 404)
    assert unprocessable(admin.put("/api/v1/academy/services/NCY/notes/flags", {}), "_schema")["_schema"] == [
        "Indiquez « enabled », « mandatory » ou les deux."]

    service = admin.post("/api/v1/academy/services/NCY/academic", {"label": "Orientation",
                                                                   "url": "https://orientation.example.org/"})
    assert service.status_code == 201 and service.json["code"] == "academique_1"
    assert service.json["scope"] == "academic" and service.json["enabled"] is True
    refused(admin.post("/api/v1/academy/services/NCY/academic", {"label": "orientation", "url": "https://o.fr/"}),
            409, "L'académie propose déjà un téléservice « orientation ».")
    changed = admin.put("/api/v1/academy/services/NCY/academic/academique_1",
                        {"label": "Orientation 2026", "url": "https://orientation.example.org/"})
    assert changed.json["label"] == "Orientation 2026"
    refused(admin.put("/api/v1/academy/services/NCY/academic/notes", {"label": "Notes", "url": "https://n.fr/"}), 400,
            "Un téléservice national ne se modifie pas ici : il peut seulement être activé ou désactivé.")
    assert admin.delete("/api/v1/academy/services/NCY/academic/academique_1").status_code == 204
    refused(admin.delete("/api/v1/academy/services/NCY/academic/academique_1"), 404)

    link = admin.post("/api/v1/academy/services/NCY/ent-links", {"label": "ENT 2", "url": "https://ent2.example.org/"})
    assert link.status_code == 201 and link.json["url"] == "https://ent2.example.org/"
    refused(admin.post("/api/v1/academy/services/NCY/ent-links", {"label": "Encore", "url": ACADEMY_ENT}), 409)
    refused(admin.post("/api/v1/academy/services/NCY/ent-links", {"label": "Faux", "url": "ent.fr"}), 400,
            "L'adresse de l'ENT doit être une adresse web complète, par exemple https://www.ac-nancy-metz.fr/.")
    assert admin.delete(f"/api/v1/academy/services/NCY/ent-links/{link.json['id']}").status_code == 204
    refused(admin.delete(f"/api/v1/academy/services/XYZ/ent-links/{catalogue['ent_links'][0]['id']}"), 404,
            "Cet ENT n'est plus dans la liste de l'académie.")

    tipi = admin.post("/api/v1/academy/services/NCY/tipi-clients", {"number": "77 88 99", "holder": "Agence"})
    assert tipi.status_code == 201 and tipi.json == {"number": "778899", "holder": "Agence"}
    refused(admin.post("/api/v1/academy/services/NCY/tipi-clients", {"number": "555555", "holder": "Autre"}), 409,
            "Le numéro client TIPI 555555 est déjà dans l'académie XYZ (Agence comptable d'une autre académie).")
    assert admin.delete("/api/v1/academy/services/NCY/tipi-clients/778899").status_code == 204
    assert get(platform, TipiClient, "778899") is None
    assert [e.action for e in audit_entries(platform) if e.action.startswith("academy.")] == [
        "academy.service_changed", "academy.service_added", "academy.service_changed", "academy.service_deleted",
        "academy.ent_link_added", "academy.ent_link_removed", "academy.tipi_added", "academy.tipi_removed"]


def test_a_tipi_number_in_use_cannot_be_removed(admin, head, platform):
    head.put("/api/v1/services/payment", {"tipi_client_number": "123456", "minimum_amount": "10",
                                          "contact_email": "intendance@college.fr", "confirm": True})
    refused(admin.delete("/api/v1/academy/services/NCY/tipi-clients/123456"), 400,
            "Le numéro client TIPI 123456 est utilisé pour le paiement en ligne de : Collège Jean Moulin. Il ne peut "
            "pas être retiré du référentiel.")
    assert get(platform, TipiClient, "123456") is not None


# --- the OpenAPI document -------------------------------------------------------------------------

def test_the_openapi_document_lists_every_new_path_with_its_summary_and_schemas(head):
    spec = head.get("/api/v1/openapi.json").json
    for path in NEW_PATHS:
        assert path in spec["paths"], path
        for method, operation in spec["paths"][path].items():
            if method in ("get", "put", "post", "delete"):
                assert operation.get("summary"), f"{method} {path} has no summary"
                if method in ("put", "post") and not path.endswith(("/emails/{email_id}",)):
                    assert "requestBody" in operation, f"{method} {path} has no body schema"
    assert spec["paths"]["/api/v1/services/notes/dates/{date_id}"]["parameters"][0]["schema"]["type"] == "integer"
    for name in ("ServicesBody", "NotesBody", "PaymentBody", "WelcomeBody", "EntBody", "ContactBody", "UsefulLinkBody",
                 "NewSchoolBody", "IdentityBody", "HeadBody", "ServiceFlagsBody", "TipiClientBody", "Catalogue"):
        assert name in spec["components"]["schemas"], name
    # Errors are documented as the API sends them, e.g. a refused body:
    assert set(spec["components"]["schemas"]["Error"]["properties"]) == {"error", "status", "fields"}
    refused = head.put("/api/v1/settings/welcome-message", {"html": 12})
    assert refused.status_code == 422 and set(refused.json) == {"error", "status", "fields"}
    page = head.get("/api/v1/docs").text
    for path in NEW_PATHS:
        assert f"<code>{path}</code>" in page, path


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/api/v1/docs"])
def test_the_openapi_document_and_its_rendering_are_for_signed_in_staff_only(app, head, path):
    anonymous = Client(app).get(path)  # the document maps every operation of the API: not for anyone
    assert anonymous.status_code == 401 and anonymous.json == {"error": "Authentification requise.", "status": 401}
    signed_in = head.get(path)
    assert signed_in.status_code == 200
    assert signed_in.mimetype == ("application/json" if path.endswith(".json") else "text/html")


# --- the same audit log as the console ------------------------------------------------------------

def _through_the_console(head: Api, admin: Api, ids: dict) -> None:
    steps = [
        ("/admin/settings/welcome", {"message": "<p>Bonjour <em>à tous</em></p>"}),
        ("/admin/settings/welcome", {"message": "<p>Bonjour <em>à tous</em></p>"}),  # unchanged: nothing recorded
        ("/admin/settings/ent", {"letter_type": "mixed", "ent_choice": f"link-{ids['ent']}", "ent_url": ""}),
        ("/admin/settings/ent", {"letter_type": "ent_only", "ent_choice": "typed", "ent_url": "https://ent.fr/"}),
        ("/admin/settings/contact", {"contact_active": "active", "contact_email": str(ids["email"])}),
        ("/admin/settings/contact", {"contact_active": "inactive", "contact_email": str(ids["email"])}),
        ("/admin/settings/links", {"label": "Site", "url": "https://college.fr/"}),
        ("/admin/settings/links", {"label": "Cantine", "url": "https://cantine.fr/"}),
        (f"/admin/settings/links/{ids['link']}/edit", {"label": "Le site", "url": "https://college.fr/"}),
        (f"/admin/settings/links/{ids['link']}/edit", {"label": "Le site", "url": "https://college.fr/"}),
        (f"/admin/settings/links/{ids['link'] + 1}/delete", {}),
        ("/admin/services/", {"service-notes": "open", "service-vie_scolaire": "open"}),
        ("/admin/services/notes", {"publication": "deadline"}),
        ("/admin/services/notes/dates", {"mef_code": MEF_3E, "division": "3A", "publication_date": "12/12/2026"}),
        ("/admin/services/notes/dates", {"mef_code": MEF_4E, "division": "4A", "publication_date": "20/03/2027"}),
        (f"/admin/services/notes/dates/{ids['date']}/delete", {}),
        ("/admin/services/notes/continuous", {}),
        ("/admin/services/payment/confirm", {"tipi_client_number": "123456", "minimum_amount": "15,50",
                                             "contact_email": "intendance@college.fr"}),
    ]
    for path, data in steps:
        assert head.form(path, data).status_code in (200, 302), path
    for path, data in (
        (f"/admin/academy/schools/{UAI}/emails", {"email_address": "vie.scolaire@college.fr", "email_label": "CPE"}),
        (f"/admin/academy/schools/{UAI}/emails/{ids['email']}/delete", {}),
        ("/admin/academy/services/NCY/folios/flags", {"change": "disable"}),
        ("/admin/academy/services/NCY/tipi", {"tipi_number": "778899", "tipi_holder": "Agence"}),
    ):
        assert admin.form(path, data).status_code in (200, 302), path


def _through_the_api(head: Api, admin: Api, ids: dict) -> None:
    steps = [
        ("PUT", "/api/v1/settings/welcome-message", {"html": "<p>Bonjour <em>à tous</em></p>"}),
        ("PUT", "/api/v1/settings/welcome-message", {"html": "<p>Bonjour <em>à tous</em></p>"}),
        ("PUT", "/api/v1/settings/ent", {"letter_type": "mixed", "academy_link_id": ids["ent"]}),
        ("PUT", "/api/v1/settings/ent", {"letter_type": "ent_only", "ent_url": "https://ent.fr/"}),
        ("PUT", "/api/v1/settings/contact", {"active": True, "email_id": ids["email"]}),
        ("PUT", "/api/v1/settings/contact", {"active": False, "email_id": ids["email"]}),
        ("POST", "/api/v1/settings/links", {"label": "Site", "url": "https://college.fr/"}),
        ("POST", "/api/v1/settings/links", {"label": "Cantine", "url": "https://cantine.fr/"}),
        ("PUT", f"/api/v1/settings/links/{ids['link']}", {"label": "Le site", "url": "https://college.fr/"}),
        ("PUT", f"/api/v1/settings/links/{ids['link']}", {"label": "Le site", "url": "https://college.fr/"}),
        ("DELETE", f"/api/v1/settings/links/{ids['link'] + 1}", None),
        ("PUT", "/api/v1/services", {"services": {"notes": True, "vie_scolaire": True}}),
        ("PUT", "/api/v1/services/notes", {"publication": "deadline"}),
        ("POST", "/api/v1/services/notes/dates", {"mef_code": MEF_3E, "division": "3A", "date": "2026-12-12"}),
        ("POST", "/api/v1/services/notes/dates", {"mef_code": MEF_4E, "division": "4A", "date": "2027-03-20"}),
        ("DELETE", f"/api/v1/services/notes/dates/{ids['date']}", None),
        ("PUT", "/api/v1/services/notes", {"publication": "continuous", "confirm": True}),
        ("PUT", "/api/v1/services/payment", {"tipi_client_number": "123456", "minimum_amount": "15,50",
                                             "contact_email": "intendance@college.fr", "confirm": True}),
    ]
    for method, path, body in steps:
        assert head.send(method, path, body).status_code in (200, 201, 204), path
    for method, path, body in (
        ("POST", f"/api/v1/academy/schools/{UAI}/emails", {"address": "vie.scolaire@college.fr", "label": "CPE"}),
        ("DELETE", f"/api/v1/academy/schools/{UAI}/emails/{ids['email']}", None),
        ("PUT", "/api/v1/academy/services/NCY/folios/flags", {"enabled": False}),
        ("POST", "/api/v1/academy/services/NCY/tipi-clients", {"number": "778899", "holder": "Agence"}),
    ):
        assert admin.send(method, path, body).status_code in (200, 201, 204), path


def _recorded(platform, after: int) -> list[tuple]:
    return [(e.staff_login, e.school_uai, e.action, e.summary, e.target, e.client_address, e.detail)
            for e in audit_entries(platform) if e.id > after]


def test_changes_made_through_the_api_are_audited_exactly_like_the_consoles(tmp_path):
    recorded = []
    for name, drive in (("console", _through_the_console), ("api", _through_the_api)):
        platform = make_platform(tmp_path / name)
        try:
            app = platform.spec("accounts").create_app(platform.runtime("accounts"))
            head, admin = Api(app, *HEAD), Api(app, *ADMIN)
            ids = {"ent": rows(platform, select(AcademyEntLink.id).where(AcademyEntLink.academy_code == "NCY"))[0],
                   "email": rows(platform, select(SchoolEmail.id).where(SchoolEmail.school_uai == UAI))[0],
                   "link": max(rows(platform, select(UsefulLink.id)), default=0) + 1,
                   "date": 1}
            start = max((e.id for e in audit_entries(platform)), default=0)
            drive(head, admin, ids)
            recorded.append(_recorded(platform, start))
            assert rows(platform, select(NotesPublicationDate)) == []
            assert get(platform, AcademyService, ("NCY", "folios")).enabled is False
        finally:
            platform.dispose()
    console, api = recorded
    assert [entry[2] for entry in console] == [
        "settings.welcome_message", "settings.ent", "settings.ent", "settings.contact", "settings.contact",
        "settings.useful_link_added", "settings.useful_link_added", "settings.useful_link_changed",
        "settings.useful_link_deleted", "service.opened", "service.opened", "notes.publication_changed",
        "notes.date_added", "notes.date_added", "notes.date_removed", "notes.publication_changed",
        "payment.configured", "school.email_added", "school.email_removed", "academy.service_changed",
        "academy.tipi_added"]
    assert api == console
    assert all(entry[0] in (HEAD[0], ADMIN[0]) for entry in api)
