"""The console menu « Académie » of academy administrators, through HTTP: schools (identity block,
SIECLE modules, email addresses, heads) and each academy's catalogue (services, ENT, TIPI)."""
from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from support.console import csrf, sign_in
from ts_accounts.adapters.orm import (
    AcademyEntLink, AcademyService, AuditEntry, PaymentSettings, School, SchoolEmail, SchoolService, StaffUser,
    TipiClient,
)
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.services import set_services
from ts_accounts.service_layer.staff import create_staff
from ts_shared.db import utcnow
from ts_shared.messaging.envelope import parse_event

UAI, SECOND_UAI, OTHER_UAI = "0541234X", "0573321A", "0999999Z"
ADMIN = ("admin.test", "M. Paul Durand (académie)", "un mot de passe d'académie")
HEAD = ("chef.test", "Mme Claire Martin", "un mot de passe de chef")


def seed(platform, folder):
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY", city="Nancy")
        add_school(uow, uai=SECOND_UAI, name="Lycée Henri Poincaré", academy_code="NCY", city="Metz")
        add_school(uow, uai=OTHER_UAI, name="Collège d'une autre académie", academy_code="XYZ")
        login, name, password = ADMIN
        create_staff(uow, login=login, display_name=name, password=password, academy_admin=True)
        login, name, password = HEAD
        create_staff(uow, login=login, display_name=name, password=password, head_of=UAI)
        for uai in (UAI, OTHER_UAI):
            activate_services(uow, uai)
        uow.commit()


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def admin(app):
    return sign_in(app, ADMIN[0], ADMIN[2])


def post_form(client, path, data, *, page):
    token = csrf(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data})


def get(platform, entity, key):
    with platform.runtime("accounts").uow() as uow:
        return uow.session.get(entity, key)


def query(platform, statement):
    with platform.runtime("accounts").uow() as uow:
        return list(uow.session.scalars(statement))


def settings_events(platform, uai):
    outbox = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        rows = connection.execute(select(outbox.c.envelope).where(outbox.c.event_type == "school.settings_changed")
                                  .order_by(outbox.c.id)).scalars()
        return [event for event in (parse_event(json.loads(row)) for row in rows) if event.school_uai == uai]


def audit(platform, action):
    return [(entry.school_uai, entry.staff_login, entry.summary)
            for entry in query(platform, select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def open_for(platform, uai, *codes):
    with platform.runtime("accounts").uow() as uow:
        set_services(uow, Actor("test"), uai, {code: True for code in codes})
        uow.commit()


# --- access ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/academy/schools", f"/admin/academy/schools/{UAI}", "/admin/academy/services"])
def test_academy_pages_refuse_a_staff_member_who_is_not_an_academy_administrator(platform, app, path):
    head = sign_in(app, HEAD[0], HEAD[2])
    assert head.get(path).status_code == 403
    token = csrf(head.get("/admin/").text)
    response = head.post("/admin/academy/schools", data={"csrf_token": token, "uai": "0540001A", "name": "Intrus",
                                                         "academy_code": "NCY"})
    assert response.status_code == 403 and get(platform, School, "0540001A") is None


def test_an_academy_administrator_without_a_school_lands_on_the_schools(admin):
    assert admin.get("/admin/").headers["Location"] == "/admin/academy/schools"


# --- schools --------------------------------------------------------------------------------------

def test_the_schools_are_listed_by_academy_with_their_state_and_heads(admin):
    page = text(admin.get("/admin/academy/schools"))
    ncy, xyz = page.index("Académie NCY"), page.index("Académie XYZ")
    assert ncy < page.index("Collège Jean Moulin") < page.index("Lycée Henri Poincaré") < xyz
    assert xyz < page.index("Collège d'une autre académie")
    assert "Mme Claire Martin (chef.test)" in page
    assert page.count("Activés le") == 2 and page.count("Non activés") == 1


def test_an_academy_administrator_adds_a_school(platform, admin):
    response = post_form(admin, "/admin/academy/schools", {"uai": "0540001a", "name": "Collège Victor Hugo",
                                                           "academy_code": "ncy", "city": "Lunéville"},
                         page="/admin/academy/schools")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/academy/schools/0540001A"
    school = get(platform, School, "0540001A")
    assert (school.name, school.academy_code, school.city) == ("Collège Victor Hugo", "NCY", "Lunéville")
    assert settings_events(platform, "0540001A")[-1].payload["name"] == "Collège Victor Hugo"
    assert audit(platform, "school.added") == [
        ("0540001A", "admin.test", "Ajout de l'établissement Collège Victor Hugo (0540001A), académie NCY")]
    assert "Complétez son identité" in text(admin.get(response.headers["Location"]))


@pytest.mark.parametrize("fields,message", [
    ({"uai": "054"}, "« 054 » n'est pas un code UAI"),
    ({"uai": UAI}, f"L'établissement {UAI} existe déjà."),
    ({"name": ""}, "Saisissez le nom de l'établissement."),
    ({"academy_code": "N C Y"}, "Le code de l'académie se compose de lettres et de chiffres."),
])
def test_a_school_with_a_bad_field_is_refused_and_nothing_is_stored(platform, admin, fields, message):
    data = {"uai": "0540001A", "name": "Collège Victor Hugo", "academy_code": "NCY", "city": "", **fields}
    response = post_form(admin, "/admin/academy/schools", data, page="/admin/academy/schools")
    assert response.status_code == 400 and message in text(response)
    assert len(query(platform, select(School))) == 3 and audit(platform, "school.added") == []


@pytest.fixture
def ncy_admin(platform, app):
    """An administrator of the academy of Nancy-Metz only."""
    with platform.runtime("accounts").uow() as uow:
        create_staff(uow, login="admin.ncy", display_name="Mme Anne Roux", password=ADMIN[2], academy_admin=True,
                     academy_code="NCY")
        uow.commit()
    return sign_in(app, "admin.ncy", ADMIN[2])


def test_an_administrator_of_one_academy_sees_and_adds_only_its_schools(platform, ncy_admin):
    page = text(ncy_admin.get("/admin/academy/schools"))
    assert "Collège Jean Moulin" in page and "Lycée Henri Poincaré" in page
    assert "Académie XYZ" not in page and "Collège d'une autre académie" not in page
    assert re.search(r'name="academy_code"[^>]*value="NCY"', page)  # the form proposes its academy
    assert ncy_admin.get(f"/admin/academy/schools/{OTHER_UAI}").status_code == 404
    assert ncy_admin.get("/admin/academy/services?academy=XYZ").status_code == 404
    response = post_form(ncy_admin, "/admin/academy/schools", {"uai": "0540001A", "name": "Collège Victor Hugo",
                                                               "academy_code": "XYZ", "city": ""},
                         page="/admin/academy/schools")
    assert response.status_code == 400
    assert "Le code de l'académie doit être NCY : vous administrez cette académie seulement." in text(response)
    assert get(platform, School, "0540001A") is None
    api = ncy_admin.get("/api/v1/academy/schools").json
    assert [group["code"] for group in api] == ["NCY"]


IDENTITY = {"name": "Collège Jean Moulin", "address_line_1": "5 bis boulevard Louis XIV", "address_line_2": "BP 12",
            "address_line_3": "", "address_line_4": "", "postal_code": "54000", "city": "Nancy",
            "phone": "03 83 00 00 00", "siecle_modules": "notes"}


def test_editing_the_identity_block_announces_the_school_settings(platform, app, admin):
    before = len(settings_events(platform, UAI))
    path = f"/admin/academy/schools/{UAI}"
    response = post_form(admin, path, IDENTITY, page=path)
    assert response.status_code == 302
    school = get(platform, School, UAI)
    assert school.address_lines == ["5 bis boulevard Louis XIV", "BP 12"]
    assert (school.postal_code, school.city, school.phone) == ("54000", "Nancy", "03 83 00 00 00")
    assert school.siecle_modules == ["notes"]
    events = settings_events(platform, UAI)
    assert len(events) == before + 1
    assert events[-1].payload["address_lines"] == ["5 bis boulevard Louis XIV", "BP 12", "54000 Nancy"]
    assert events[-1].payload["phone"] == "03 83 00 00 00"
    [(uai, login, summary)] = audit(platform, "school.identity_changed")
    assert (uai, login) == (UAI, "admin.test")
    assert summary == ("Modification de l'identité de l'établissement Collège Jean Moulin : adresse, code postal, "
                       "téléphone, modules SIECLE ; module(s) SIECLE Notes initialisé(s)")
    page = text(admin.get(path))
    assert 'value="5 bis boulevard Louis XIV"' in page
    assert re.search(r'checked[^>]*value="notes"|value="notes"[^>]*checked', page)
    # The head of school can now open Notes (C2).
    head = sign_in(app, HEAD[0], HEAD[2])
    assert "initialiser le module Notes" not in text(head.get("/admin/services/"))


def test_an_unchanged_identity_block_announces_nothing(platform, admin):
    path = f"/admin/academy/schools/{UAI}"
    post_form(admin, path, IDENTITY, page=path)
    before = len(settings_events(platform, UAI))
    response = post_form(admin, path, IDENTITY, page=path)
    assert response.status_code == 302 and "Aucun changement" in text(admin.get(path))
    assert len(settings_events(platform, UAI)) == before


@pytest.mark.parametrize("field,value,message", [
    ("postal_code", "54", "Le code postal se compose de 5 chiffres."),
    ("address_line_1", "x" * 39, "38 caractères au plus par ligne."),
    ("phone", "appelez-nous", "Le numéro ne peut contenir que des chiffres"),
    ("name", "", "Saisissez le nom de l'établissement."),
    ("siecle_modules", "compta", "Module SIECLE inconnu : compta."),
])
def test_an_invalid_identity_block_changes_nothing(platform, admin, field, value, message):
    before = len(settings_events(platform, UAI))
    path = f"/admin/academy/schools/{UAI}"
    response = post_form(admin, path, {**IDENTITY, field: value}, page=path)
    assert response.status_code == 400 and message in text(response)
    school = get(platform, School, UAI)
    assert school.address_lines == [] and school.postal_code is None and school.siecle_modules == []
    assert len(settings_events(platform, UAI)) == before and audit(platform, "school.identity_changed") == []


def test_school_email_addresses_are_added_and_removed(platform, admin):
    path = f"/admin/academy/schools/{UAI}"
    response = post_form(admin, f"{path}/emails", {"email_address": "ce.0541234x@ac-nancy-metz.fr",
                                                   "email_label": "Secrétariat"}, page=path)
    assert response.status_code == 302
    [email] = query(platform, select(SchoolEmail))
    assert (email.school_uai, email.address, email.label) == (UAI, "ce.0541234x@ac-nancy-metz.fr", "Secrétariat")
    again = post_form(admin, f"{path}/emails", {"email_address": "CE.0541234X@ac-nancy-metz.fr"}, page=path)
    assert again.status_code == 400 and "est déjà enregistrée" in text(again)
    bad = post_form(admin, f"{path}/emails", {"email_address": "secretariat@college"}, page=path)
    assert bad.status_code == 400 and "Saisissez une adresse électronique valide" in text(bad)
    assert len(query(platform, select(SchoolEmail))) == 1
    removed = post_form(admin, f"{path}/emails/{email.id}/delete", {}, page=path)
    assert removed.status_code == 302 and query(platform, select(SchoolEmail)) == []
    assert [summary for _, _, summary in audit(platform, "school.email_added")] == [
        "Ajout de l'adresse électronique ce.0541234x@ac-nancy-metz.fr (Secrétariat) à Collège Jean Moulin"]
    assert len(audit(platform, "school.email_removed")) == 1


def test_removing_the_contact_address_stops_the_portal_contact_link(platform, admin):
    path = f"/admin/academy/schools/{UAI}"
    post_form(admin, f"{path}/emails", {"email_address": "ce.0541234x@ac-nancy-metz.fr"}, page=path)
    with platform.runtime("accounts").uow() as uow:
        school = uow.session.get(School, UAI)
        school.contact_active, school.contact_email = True, "ce.0541234x@ac-nancy-metz.fr"
        uow.commit()
    [email] = query(platform, select(SchoolEmail))
    response = post_form(admin, f"{path}/emails/{email.id}/delete", {}, page=path)
    assert response.status_code == 302
    assert "C'était l'adresse du lien de contact" in text(admin.get(path))
    assert settings_events(platform, UAI)[-1].payload["contact_email"] is None


def test_appointing_a_new_head_lets_that_person_sign_in_as_head(platform, app, admin):
    path = f"/admin/academy/schools/{SECOND_UAI}"
    response = post_form(admin, f"{path}/head", {"head_login": "nouveau.chef", "head_display_name": "M. Jean Nouveau",
                                                 "head_email": "", "head_password": "un long mot de passe"}, page=path)
    assert response.status_code == 302
    assert "M. Jean Nouveau (nouveau.chef) est nommé(e) chef d'établissement" in text(admin.get(path))
    assert audit(platform, "head.appointed") == [
        (SECOND_UAI, "admin.test",
         "M. Jean Nouveau (nouveau.chef) nommé(e) chef d'établissement de Lycée Henri Poincaré")]
    head = sign_in(app, "nouveau.chef", "un long mot de passe")
    assert head.get("/admin/").headers["Location"] == "/admin/activation"
    activation = text(head.get("/admin/activation"))
    assert "Lycée Henri Poincaré" in activation and "Activer les téléservices" in activation
    assert head.get("/admin/academy/schools").status_code == 403


def test_an_existing_staff_member_can_be_appointed_head_of_another_school(platform, app, admin):
    path = f"/admin/academy/schools/{SECOND_UAI}"
    assert post_form(admin, f"{path}/head", {"head_login": "chef.test"}, page=path).status_code == 302
    assert "Mme Claire Martin (chef.test)" in text(admin.get(path))
    head = sign_in(app, HEAD[0], HEAD[2])
    choice = text(head.get("/admin/school"))  # now two schools to choose from
    assert "Lycée Henri Poincaré (0573321A)" in choice and "Collège Jean Moulin (0541234X)" in choice


@pytest.mark.parametrize("fields,message", [
    ({"head_login": "inconnu.chef"}, "indiquez son nom et un mot de passe initial"),
    ({"head_login": "inconnu.chef", "head_display_name": "M. X", "head_password": "court"},
     "Le mot de passe doit comporter au moins 10 caractères."),
    ({"head_login": "Pas Valide", "head_display_name": "M. X", "head_password": "un long mot de passe"},
     "Identifiant invalide"),
])
def test_appointing_a_head_with_missing_or_bad_details_is_refused(platform, admin, fields, message):
    path = f"/admin/academy/schools/{SECOND_UAI}"
    response = post_form(admin, f"{path}/head", fields, page=path)
    assert response.status_code == 400 and message in text(response)
    assert [s.login for s in query(platform, select(StaffUser))] == ["admin.test", "chef.test"]
    assert audit(platform, "head.appointed") == []


# --- the academies' catalogues -------------------------------------------------------------------

SERVICES = "/admin/academy/services"


def flag(admin, academy, code, change):
    return post_form(admin, f"{SERVICES}/{academy}/{code}/flags", {"change": change},
                     page=f"{SERVICES}?academy={academy}")


def test_the_catalogue_shows_each_academy_s_services(platform, admin):
    page = text(admin.get(SERVICES))
    assert "Académie NCY" in page and "Vie scolaire" in page and "Obligatoire au niveau national" in page
    assert "Académie XYZ" in text(admin.get(f"{SERVICES}?academy=xyz"))
    assert admin.get(f"{SERVICES}?academy=ZZZ").status_code == 404


def test_disabling_a_national_service_closes_it_in_the_academy_s_schools_and_announces_them(platform, app, admin):
    open_for(platform, UAI, "vie_scolaire")
    open_for(platform, OTHER_UAI, "vie_scolaire")
    other_before = len(settings_events(platform, OTHER_UAI))
    second_before = len(settings_events(platform, SECOND_UAI))
    assert flag(admin, "NCY", "vie_scolaire", "disable").status_code == 302
    assert get(platform, AcademyService, ("NCY", "vie_scolaire")).enabled is False
    assert settings_events(platform, UAI)[-1].payload["open_services"] == ["lsl"]
    assert len(settings_events(platform, OTHER_UAI)) == other_before  # another academy
    assert len(settings_events(platform, SECOND_UAI)) == second_before  # not activated: nothing changed for it
    assert get(platform, SchoolService, (UAI, "vie_scolaire")).open is True  # the school's choice is kept
    assert audit(platform, "academy.service_changed") == [
        (None, "admin.test", "Désactivation du téléservice Vie scolaire pour l'académie NCY")]
    head = sign_in(app, HEAD[0], HEAD[2])
    assert "Vie scolaire" not in text(head.get("/admin/services/")).split("<main")[1]
    assert flag(admin, "NCY", "vie_scolaire", "enable").status_code == 302
    assert settings_events(platform, UAI)[-1].payload["open_services"] == ["vie_scolaire", "lsl"]


def test_making_a_service_mandatory_opens_it_in_every_school_of_the_academy(platform, app, admin):
    assert flag(admin, "NCY", "folios", "mandatory").status_code == 302
    assert settings_events(platform, UAI)[-1].payload["open_services"] == ["lsl", "folios"]
    head = sign_in(app, HEAD[0], HEAD[2])
    assert "Folios <span class=\"fr-text--bold\">(Obligatoire)</span>" in text(head.get("/admin/services/"))


@pytest.mark.parametrize("change", ["disable", "optional"])
def test_a_nationally_mandatory_service_stays_offered_and_mandatory(platform, admin, change):
    response = flag(admin, "NCY", "lsl", change)
    assert response.status_code == 302
    assert "obligatoire au niveau national" in text(admin.get(f"{SERVICES}?academy=NCY"))
    service = get(platform, AcademyService, ("NCY", "lsl"))
    assert service.enabled and service.mandatory and audit(platform, "academy.service_changed") == []


def test_academy_services_are_added_edited_and_deleted(platform, app, admin):
    response = post_form(admin, f"{SERVICES}/NCY/academic", {"service_label": "Service académique 1",
                                                             "service_url": "https://services.ac-nancy-metz.fr/s1"},
                         page=SERVICES)
    assert response.status_code == 302
    service = get(platform, AcademyService, ("NCY", "academique_1"))
    assert (service.label, service.scope, service.url, service.enabled) == (
        "Service académique 1", "academic", "https://services.ac-nancy-metz.fr/s1", True)
    head = sign_in(app, HEAD[0], HEAD[2])
    page = text(head.get("/admin/services/"))
    assert page.index("Gestion des téléservices académiques") < page.index("Service académique 1")
    open_for(platform, UAI, "academique_1")
    edit = f"{SERVICES}/NCY/academic/academique_1"
    assert post_form(admin, edit, {"service_label": "Orientation", "service_url": "https://orientation.example.org/"},
                     page=edit).status_code == 302
    assert get(platform, AcademyService, ("NCY", "academique_1")).label == "Orientation"
    before = len(settings_events(platform, UAI))
    confirm = text(admin.get(f"{edit}/delete"))
    assert "Confirmez-vous la suppression ?" in confirm
    assert get(platform, AcademyService, ("NCY", "academique_1")) is not None  # not before the confirmation
    deleted = admin.post(f"{edit}/delete", data={"csrf_token": csrf(confirm)})
    assert deleted.status_code == 302
    assert get(platform, AcademyService, ("NCY", "academique_1")) is None
    assert get(platform, SchoolService, (UAI, "academique_1")) is None
    assert len(settings_events(platform, UAI)) == before + 1
    assert settings_events(platform, UAI)[-1].payload["open_services"] == ["lsl"]
    assert [summary for _, _, summary in audit(platform, "academy.service_added")] == [
        "Ajout du téléservice académique « Service académique 1 » (https://services.ac-nancy-metz.fr/s1) à "
        "l'académie NCY"]
    assert len(audit(platform, "academy.service_deleted")) == 1


@pytest.mark.parametrize("fields,message", [
    ({"service_label": "", "service_url": "https://x.example.org/"}, "Saisissez le libellé."),
    ({"service_label": "S1", "service_url": "javascript:alert(1)"}, "doit être une adresse web complète"),
    ({"service_label": "Vie scolaire", "service_url": "https://x.example.org/"}, "propose déjà un téléservice"),
])
def test_an_academy_service_with_a_bad_field_is_refused(platform, admin, fields, message):
    response = post_form(admin, f"{SERVICES}/NCY/academic", fields, page=SERVICES)
    assert response.status_code == 400 and message in text(response)
    assert [s for s in query(platform, select(AcademyService)) if s.scope == "academic"] == []


SCHOOL_PAGE = f"/admin/academy/schools/{SECOND_UAI}"


def field_errors(response, field_id: str) -> list[str]:
    """The messages the page shows under one field of a form."""
    block = re.search(rf'<div id="{field_id}-errors">(.*?)</div>', text(response), re.DOTALL)
    return re.findall(r'<p class="fr-error-text">([^<]*)</p>', block.group(1)) if block else []


@pytest.mark.parametrize("page,path,fields,field_id,message", [
    ("/admin/academy/schools", "/admin/academy/schools",
     {"uai": UAI, "name": "Collège Victor Hugo", "academy_code": "NCY"}, "uai", f"L'établissement {UAI} existe déjà."),
    (SERVICES, f"{SERVICES}/NCY/academic", {"service_label": "Vie scolaire", "service_url": "https://x.example.org/"},
     "service_label", "L'académie propose déjà un téléservice « Vie scolaire »."),
    (SERVICES, f"{SERVICES}/NCY/academic", {"service_label": "S1", "service_url": "ftp://x.example.org/"},
     "service_url", "L'adresse du téléservice doit être une adresse web complète, par exemple "
                    "https://www.ac-nancy-metz.fr/."),
    (SERVICES, f"{SERVICES}/NCY/ent", {"ent_label": "Mon ENT", "ent_url": "ent.example.org"}, "ent_url",
     "L'adresse de l'ENT doit être une adresse web complète, par exemple https://www.ac-nancy-metz.fr/."),
    (SERVICES, f"{SERVICES}/NCY/tipi", {"tipi_number": "12-34", "tipi_holder": "Agence"}, "tipi_number",
     "Le numéro client TIPI se compose de chiffres (et de lettres), 20 caractères au plus."),
    (SCHOOL_PAGE, f"{SCHOOL_PAGE}/head", {"head_login": "inconnu.chef", "head_display_name": "M. X",
                                          "head_password": "court"},
     "head_password", "Le mot de passe doit comporter au moins 10 caractères."),
    (SCHOOL_PAGE, f"{SCHOOL_PAGE}/head", {"head_login": "inconnu.chef", "head_password": "un long secret"},
     "head_display_name", "Ce personnel n'a pas encore de compte : indiquez son nom et un mot de passe initial."),
    (SCHOOL_PAGE, f"{SCHOOL_PAGE}/head", {"head_login": "Pas Valide", "head_display_name": "M. X",
                                          "head_password": "un long secret"},
     "head_login", "Identifiant invalide : lettres minuscules, chiffres, « . », « - » ou « _ » (2 à 100)."),
])
def test_a_refusal_of_the_academy_use_cases_is_shown_under_the_field_at_fault(admin, page, path, fields, field_id,
                                                                              message):
    response = post_form(admin, path, fields, page=page)
    assert response.status_code == 400
    assert message in field_errors(response, field_id)


def test_ent_links_are_added_and_removed(platform, admin):
    bad = post_form(admin, f"{SERVICES}/NCY/ent", {"ent_label": "Mon ENT", "ent_url": "ent.example.org"}, page=SERVICES)
    assert bad.status_code == 400 and "doit être une adresse web complète" in text(bad)
    assert query(platform, select(AcademyEntLink)) == []
    good = post_form(admin, f"{SERVICES}/NCY/ent", {"ent_label": "Mon ENT", "ent_url": "https://ent.example.org/"},
                     page=SERVICES)
    assert good.status_code == 302
    [link] = query(platform, select(AcademyEntLink))
    assert (link.academy_code, link.label, link.url) == ("NCY", "Mon ENT", "https://ent.example.org/")
    assert post_form(admin, f"{SERVICES}/NCY/ent/{link.id}/delete", {}, page=SERVICES).status_code == 302
    assert query(platform, select(AcademyEntLink)) == []
    assert len(audit(platform, "academy.ent_link_added")) == 1 and len(audit(platform, "academy.ent_link_removed")) == 1


def test_tipi_clients_are_added_and_removed_unless_a_school_uses_them(platform, admin):
    add = {"tipi_number": "123456", "tipi_holder": "Agence comptable du collège Jean Moulin"}
    assert post_form(admin, f"{SERVICES}/NCY/tipi", add, page=SERVICES).status_code == 302
    client = get(platform, TipiClient, "123456")
    assert (client.holder, client.academy_code) == ("Agence comptable du collège Jean Moulin", "NCY")
    twice = post_form(admin, f"{SERVICES}/XYZ/tipi", add, page=SERVICES)
    assert twice.status_code == 400 and "est déjà dans l'académie NCY" in text(twice)
    with platform.runtime("accounts").uow() as uow:
        uow.session.add(PaymentSettings(school_uai=UAI, tipi_client_number="123456", minimum_amount=0,
                                        contact_email="a@b.fr", confirmed_at=utcnow(), confirmed_by="chef.test"))
        uow.commit()
    used = post_form(admin, f"{SERVICES}/NCY/tipi/123456/delete", {}, page=SERVICES)
    assert used.status_code == 302 and "est utilisé pour le paiement en ligne de : Collège Jean Moulin" in text(
        admin.get(f"{SERVICES}?academy=NCY"))
    assert get(platform, TipiClient, "123456") is not None
    with platform.runtime("accounts").uow() as uow:
        uow.session.delete(uow.session.get(PaymentSettings, UAI))
        uow.commit()
    assert post_form(admin, f"{SERVICES}/NCY/tipi/123456/delete", {}, page=SERVICES).status_code == 302
    assert get(platform, TipiClient, "123456") is None
    assert [summary for _, _, summary in audit(platform, "academy.tipi_added")] == [
        "Ajout du client TIPI 123456 (Agence comptable du collège Jean Moulin) au référentiel de l'académie NCY"]
    assert len(audit(platform, "academy.tipi_removed")) == 1
