"""The console's « Paramétrage » menu (D1 welcome message, D2 ENT and letter, D4 contact link, D5
useful links), driven through HTTP like a browser without JavaScript: what is stored, what is
announced to the portal (`school.settings_changed` in the outbox), what is refused, who may."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import delete, select
from werkzeug.test import Client

from support.console import csrf as _csrf
from ts_accounts.adapters.orm import AcademyEntLink, AuditEntry, School, SchoolEmail, UsefulLink
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff, delegate
from ts_shared.messaging.envelope import parse_event

UAI, OTHER_UAI = "0541234X", "0541999K"
HEAD, HEAD_PASSWORD = "chef.moulin", "principale-2026"
SCHOOL_EMAIL, OTHER_EMAIL = "ce.0541234x@ac-nancy-metz.fr", "intendance.0541234x@ac-nancy-metz.fr"
ACADEMY_ENT = "https://www.monbureaunumerique.fr/"


def seed(platform, folder):
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        add_school(uow, uai=OTHER_UAI, name="Lycée Henri Poincaré", academy_code="NCY")
        add_school(uow, uai="0999999Z", name="Collège d'une autre académie", academy_code="XYZ")
        create_staff(uow, login=HEAD, display_name="Mme la Principale", password=HEAD_PASSWORD, head_of=UAI)
        activate_services(uow, UAI)
        uow.session.add_all([
            SchoolEmail(school_uai=UAI, address=SCHOOL_EMAIL, label="Secrétariat"),
            SchoolEmail(school_uai=UAI, address=OTHER_EMAIL, label="Intendance"),
            SchoolEmail(school_uai=OTHER_UAI, address="ce.0541999k@ac-nancy-metz.fr"),
            AcademyEntLink(academy_code="NCY", label="Mon bureau numérique", url=ACADEMY_ENT),
            AcademyEntLink(academy_code="XYZ", label="ENT d'une autre académie", url="https://ent.autre.fr/"),
        ])
        delegate(uow, Actor(HEAD), uai=UAI, login="adjoint.moulin", rights=["services", "statistics"],
                 display_name="M. l'Adjoint", initial_password="adjoint-2026")
        delegate(uow, Actor(HEAD), uai=UAI, login="cpe.moulin", rights=["settings"], display_name="Mme la CPE",
                 initial_password="cpe-moulin-2026")
        uow.commit()


def _signed_in(app, login=HEAD, password=HEAD_PASSWORD) -> Client:
    client = Client(app)
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"csrf_token": _csrf(page.text), "login": login, "password": password})
    assert response.status_code == 302, response.text
    return client


@pytest.fixture
def head(app):
    return _signed_in(app)


def submit(client, path, data, *, page=None):
    """What a browser does: open the form, then post it with its CSRF token."""
    token = _csrf(client.get(page or path).text)
    return client.post(path, data={"csrf_token": token, **data})


def school(platform) -> School:
    with platform.runtime("accounts").uow() as uow:
        return uow.session.get(School, UAI)


def settings_events(platform) -> list:
    runtime = platform.runtime("accounts")
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as connection:
        rows = connection.execute(select(outbox.c.envelope).where(outbox.c.event_type == "school.settings_changed")
                                  .order_by(outbox.c.id)).scalars()
        return [event for event in (parse_event(json.loads(row)) for row in rows) if event.school_uai == UAI]


def audit_entries(platform, action=None) -> list[AuditEntry]:
    with platform.runtime("accounts").uow() as uow:
        query = select(AuditEntry).where(AuditEntry.school_uai == UAI).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list(uow.session.scalars(query))


def links_of(platform, uai=UAI) -> list[tuple[str, str]]:
    with platform.runtime("accounts").uow() as uow:
        return [(link.label, link.url) for link in uow.session.scalars(
            select(UsefulLink).where(UsefulLink.school_uai == uai).order_by(UsefulLink.created_at, UsefulLink.id))]


def errors_in(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", error).strip() for error in
            re.findall(r'class="fr-(?:error-text|message fr-message--error)">([^<]*)<', html)]


# --- the pages ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path,title", [
    ("/admin/settings/welcome", "Message d'accueil"),
    ("/admin/settings/ent", "ENT et courrier de notification"),
    ("/admin/settings/contact", "Lien de contact établissement"),
    ("/admin/settings/links", "Liens utiles"),
])
def test_each_settings_page_opens_for_the_head_with_its_breadcrumb_and_no_inline_script_or_style(head, path, title):
    response = head.get(path)
    assert response.status_code == 200
    html = response.text
    assert f"<h1>{title}</h1>" in html.replace("&#39;", "'")
    assert 'class="fr-breadcrumb__link" href="/admin/settings/welcome">Paramétrage</a>' in html
    # The CSP allows only files from the site: every script has a src, no style element or attribute.
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert re.search(r'<link rel="stylesheet" href="/admin/settings-static/settings\.css', html)


def test_the_settings_scripts_and_stylesheet_are_served_by_the_accounts_service(head):
    for name, kind in (("settings-welcome.js", "javascript"), ("settings-ent.js", "javascript"),
                       ("settings.css", "css")):
        response = head.get(f"/admin/settings-static/{name}")
        assert response.status_code == 200 and kind in response.headers["Content-Type"]


def test_a_page_without_javascript_shows_the_textarea_and_hides_the_editor(head, platform):
    submit(head, "/admin/settings/welcome", {"message": "<p>Bonjour <b>à tous</b></p>", "action": "save"})
    html = head.get("/admin/settings/welcome").text
    assert re.search(r'<textarea[^>]*name="message"', html) and not re.search(r"<textarea[^>]*hidden", html)
    assert re.search(r'<div[^>]*contenteditable="true"[^>]*hidden', html, re.DOTALL)
    assert "(<span data-counter-value>14</span>/2000 caractères maximum)" in html
    assert (
        '<div class="fr-callout__text" id="welcome-preview" aria-live="polite" data-preview>'
        "<p>Bonjour <b>à tous</b></p></div>" in html
    )
    assert '<script src="/admin/settings-static/settings-welcome.js" defer></script>' in html


# --- D1 welcome message ---------------------------------------------------------------------------

HOSTILE = ('<p onclick="steal()">Bonjour <b>parents</b><script>alert(1)</script> '
           '<a href="javascript:alert(2)">piège</a> <img src=x onerror="alert(3)">'
           '<a href="https://www.ac-nancy-metz.fr/" target="_self" rel="opener">académie</a></p>'
           '<div>Le <span style="color:red">Directeur</span></div>')
CLEAN = ('<p>Bonjour <b>parents</b> piège <a href="https://www.ac-nancy-metz.fr/" target="_blank" '
         'rel="noopener noreferrer">académie</a></p><p>Le Directeur</p>')


def test_a_welcome_message_is_sanitised_stored_and_announced_to_the_portal(head, platform):
    version = school(platform).settings_version
    response = submit(head, "/admin/settings/welcome", {"message": HOSTILE, "action": "save"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/settings/welcome"
    assert "les familles le voient dès maintenant" in head.get("/admin/settings/welcome").text
    stored = school(platform)
    assert stored.welcome_message_html == CLEAN
    for forbidden in ("script", "onclick", "javascript:", "onerror", "style", "<img", "<span", "<div"):
        assert forbidden not in stored.welcome_message_html
    assert stored.settings_version == version + 1
    event = settings_events(platform)[-1]
    assert event.payload["welcome_message_html"] == CLEAN and event.payload["settings_version"] == version + 1
    [entry] = audit_entries(platform, "settings.welcome_message")
    assert entry.staff_login == HEAD and "Message d'accueil modifié" in entry.summary


def test_only_http_https_and_mailto_links_survive(head, platform):
    message = ('<a href="https://a.example.fr/x">un</a> <a href="http://b.example.fr">deux</a> '
               '<a href="mailto:vie.scolaire@example.fr">trois</a> <a href="data:text/html,x">quatre</a> '
               '<a href="/admin/logout">cinq</a> <a href="vbscript:x">six</a>')
    submit(head, "/admin/settings/welcome", {"message": message, "action": "save"})
    stored = school(platform).welcome_message_html
    assert re.findall(r'href="([^"]+)"', stored) == ["https://a.example.fr/x", "http://b.example.fr",
                                                     "mailto:vie.scolaire@example.fr"]
    assert stored.count('target="_blank" rel="noopener noreferrer"') == 3
    assert stored.endswith("quatre cinq six")


def test_a_welcome_message_over_2000_visible_characters_is_refused_and_nothing_changes(head, platform):
    submit(head, "/admin/settings/welcome", {"message": "<p>Ancien message</p>", "action": "save"})
    before_events, before_audit = len(settings_events(platform)), len(audit_entries(platform))
    response = submit(head, "/admin/settings/welcome", {"message": "<p>" + "é" * 2001 + "</p>", "action": "save"})
    assert response.status_code == 400
    assert ("Le message d'accueil ne doit pas dépasser 2000 caractères (il en compte 2001). "
            "Raccourcissez-le puis validez à nouveau.") in errors_in(response.text.replace("&#39;", "'"))
    assert "(<span data-counter-value>2001</span>/2000 caractères maximum)" in response.text
    assert "é" * 2001 in response.text  # the text comes back to be shortened
    assert school(platform).welcome_message_html == "<p>Ancien message</p>"
    assert len(settings_events(platform)) == before_events and len(audit_entries(platform)) == before_audit


def test_formatting_and_link_addresses_do_not_count_only_visible_characters(head, platform):
    long_link = "https://www.example.fr/" + "x" * 400
    message = f'<p><b>{"a" * 999}</b></p><p><a href="{long_link}">{"b" * 1000}</a></p>'  # 999 + 1 + 1000
    response = submit(head, "/admin/settings/welcome", {"message": message, "action": "save"})
    assert response.status_code == 302
    assert "b" * 1000 in school(platform).welcome_message_html


def test_a_message_without_visible_text_removes_the_welcome_message(head, platform):
    submit(head, "/admin/settings/welcome", {"message": "<p>Bonjour</p>", "action": "save"})
    submit(head, "/admin/settings/welcome", {"message": "<p><br></p>  <script>x</script>", "action": "save"})
    assert school(platform).welcome_message_html == ""
    assert settings_events(platform)[-1].payload["welcome_message_html"] == ""
    assert audit_entries(platform, "settings.welcome_message")[-1].summary == "Message d'accueil supprimé"


def test_saving_the_same_message_again_announces_nothing(head, platform):
    submit(head, "/admin/settings/welcome", {"message": "<p>Bonjour</p>", "action": "save"})
    events = len(settings_events(platform))
    response = submit(head, "/admin/settings/welcome", {"message": "<p>Bonjour</p>", "action": "save"})
    assert response.status_code == 302 and "Aucune modification" in head.get("/admin/settings/welcome").text
    assert len(settings_events(platform)) == events and len(audit_entries(platform, "settings.welcome_message")) == 1


def test_the_preview_endpoint_returns_the_sanitised_fragment_and_saves_nothing(head, platform):
    token = _csrf(head.get("/admin/settings/welcome").text)
    events = len(settings_events(platform))
    response = head.post("/admin/settings/welcome/preview", data={"message": HOSTILE},
                         headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert response.status_code == 200
    assert response.json == {"html": CLEAN, "length": len("Bonjour parents piège académie Le Directeur"),
                             "maximum": 2000, "too_long": False}
    too_long = head.post("/admin/settings/welcome/preview", data={"message": "a" * 2001},
                         headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert too_long.json["too_long"] is True and too_long.json["length"] == 2001
    assert school(platform).welcome_message_html == "" and len(settings_events(platform)) == events


def test_the_preview_endpoint_refuses_a_request_without_its_csrf_token(head):
    response = head.post("/admin/settings/welcome/preview", data={"message": "<p>Bonjour</p>"},
                         headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.json["status"] == 400
    forged = head.post("/admin/settings/welcome/preview", data={"message": "<p>Bonjour</p>"},
                       headers={"X-CSRFToken": "forged", "Accept": "application/json"})
    assert forged.status_code == 400


def test_the_preview_button_without_javascript_shows_the_sanitised_message_and_saves_nothing(head, platform):
    response = submit(head, "/admin/settings/welcome", {"message": HOSTILE, "action": "preview"})
    assert response.status_code == 200
    assert f'data-preview>{CLEAN}</div>' in response.text
    assert school(platform).welcome_message_html == "" and audit_entries(platform, "settings.welcome_message") == []


# --- D2 ENT and notification letter ---------------------------------------------------------------

def academy_link_id(platform, academy="NCY") -> int:
    with platform.runtime("accounts").uow() as uow:
        return uow.session.scalar(select(AcademyEntLink.id).where(AcademyEntLink.academy_code == academy))


def test_the_ent_page_explains_each_letter_type_and_offers_the_academy_list_with_previews(head):
    html = head.get("/admin/settings/ent").text.replace("&#39;", "'")
    for label in ("Téléservices", "Mixte ENT/Téléservices", "ENT seul"):
        assert f">{label}<span class=\"fr-hint-text\">" in html
    assert (
        "aucun lien ne sera créé vers l'ENT" in html
        and "L'adresse communiquée aux responsables et aux élèves sera celle de l'ENT" in html
    )
    assert "Mon bureau numérique" in html and "ENT d'une autre académie" not in html
    assert re.search(
        rf'<a [^>]*href="{re.escape(ACADEMY_ENT)}" target="_blank" rel="noopener noreferrer"[^>]*>Aperçu du lien</a>',
        html,
    )
    assert re.search(r'<a class="fr-btn[^"]*" href="/admin/letters/">Visualiser les courriers</a>', html)
    assert re.search(r'<input checked [^>]*name="letter_type" type="radio" value="teleservices">', html)


def test_mixed_letters_with_the_academy_ent_store_its_address_and_announce_it(head, platform):
    response = submit(
        head,
        "/admin/settings/ent",
        {"letter_type": "mixed", "ent_choice": f"link-{academy_link_id(platform)}", "ent_url": ""},
    )
    assert response.status_code == 302
    stored = school(platform)
    assert (stored.letter_type, stored.ent_url) == ("mixed", ACADEMY_ENT)
    payload = settings_events(platform)[-1].payload
    assert (payload["letter_type"], payload["ent_url"]) == ("mixed", ACADEMY_ENT)
    [entry] = audit_entries(platform, "settings.ent")
    assert entry.staff_login == HEAD and "Mixte ENT/Téléservices" in entry.summary
    assert entry.detail["after"] == {"letter_type": "mixed", "ent_url": ACADEMY_ENT}
    assert (
        f'id="ent_choice-0" name="ent_choice" value="link-{academy_link_id(platform)}" checked'
        in head.get("/admin/settings/ent").text
    )


def test_ent_only_letters_with_a_typed_address(head, platform):
    response = submit(head, "/admin/settings/ent", {"letter_type": "ent_only", "ent_choice": "typed",
                                                   "ent_url": "  https://ent.college-moulin.fr/login  "})
    assert response.status_code == 302
    assert (school(platform).letter_type, school(platform).ent_url) == ("ent_only", "https://ent.college-moulin.fr/login")
    page = head.get("/admin/settings/ent").text
    assert 'value="https://ent.college-moulin.fr/login"' in page
    assert 'href="https://ent.college-moulin.fr/login" target="_blank" rel="noopener noreferrer"' in page


def test_choosing_teleservices_keeps_the_ent_address_but_the_portal_gets_none(head, platform):
    submit(head, "/admin/settings/ent", {"letter_type": "mixed", "ent_choice": "typed", "ent_url": "https://ent.example.fr/"})
    response = submit(head, "/admin/settings/ent", {"letter_type": "teleservices", "ent_choice": "typed",
                                                   "ent_url": "not even an address"})
    assert response.status_code == 302
    assert (school(platform).letter_type, school(platform).ent_url) == ("teleservices", "https://ent.example.fr/")
    payload = settings_events(platform)[-1].payload
    assert (payload["letter_type"], payload["ent_url"]) == ("teleservices", None)


@pytest.mark.parametrize("letter_type", ["mixed", "ent_only"])
def test_an_ent_letter_type_without_an_address_is_refused(head, platform, letter_type):
    events = len(settings_events(platform))
    response = submit(head, "/admin/settings/ent", {"letter_type": letter_type, "ent_choice": "typed", "ent_url": ""})
    assert response.status_code == 400
    assert any("demande l'adresse de l'ENT" in error for error in errors_in(response.text.replace("&#39;", "'")))
    assert school(platform).letter_type == "teleservices" and len(settings_events(platform)) == events
    assert audit_entries(platform, "settings.ent") == []


@pytest.mark.parametrize("typed", [
    "javascript:alert(1)", "ftp://ent.example.fr/", "ent.example.fr", "https://", "https://ent example.fr/",
    "https://intranet/", "https://www.ac-nancy-metz.fr@evil.example/", "https://ent.example.fr:99999/",
    "https://ent.example.fr/" + "x" * 480,
])
def test_a_typed_ent_address_must_be_a_well_formed_web_address(head, platform, typed):
    response = submit(head, "/admin/settings/ent", {"letter_type": "ent_only", "ent_choice": "typed", "ent_url": typed})
    assert response.status_code == 400
    [error] = errors_in(response.text)
    assert "n'est pas une adresse internet valide" in error.replace("&#39;", "'") or "500 caractères" in error
    assert school(platform).letter_type == "teleservices" and school(platform).ent_url is None
    assert "href=\"javascript" not in response.text  # the « Aperçu du lien » never points at what was refused


@pytest.mark.parametrize("forged", ["other academy", "link-99999999999999999999", "link-abc"])
def test_an_ent_outside_the_academy_list_cannot_be_chosen(head, platform, forged):
    choice = f"link-{academy_link_id(platform, 'XYZ')}" if forged == "other academy" else forged
    response = submit(head, "/admin/settings/ent", {"letter_type": "mixed", "ent_choice": choice})
    assert response.status_code == 400 and school(platform).ent_url is None
    assert "Cet ENT ne fait pas partie de la liste de l'académie." in errors_in(response.text.replace("&#39;", "'"))


def test_an_unknown_letter_type_is_refused(head, platform):
    response = submit(head, "/admin/settings/ent", {"letter_type": "pigeon", "ent_choice": "typed",
                                                   "ent_url": "https://ent.example.fr/"})
    assert response.status_code == 400 and school(platform).letter_type == "teleservices"


# --- D4 contact link ------------------------------------------------------------------------------

def email_id(platform, address) -> int:
    with platform.runtime("accounts").uow() as uow:
        return uow.session.scalar(select(SchoolEmail.id).where(SchoolEmail.address == address))


def test_an_active_contact_link_with_a_school_address_is_stored_and_announced(head, platform):
    html = head.get("/admin/settings/contact").text
    assert f"{SCHOOL_EMAIL} (Secrétariat)" in html and "ce.0541999k" not in html
    response = submit(head, "/admin/settings/contact", {"contact_active": "active",
                                                       "contact_email": email_id(platform, OTHER_EMAIL)})
    assert response.status_code == 302
    assert (school(platform).contact_active, school(platform).contact_email) == (True, OTHER_EMAIL)
    assert settings_events(platform)[-1].payload["contact_email"] == OTHER_EMAIL
    [entry] = audit_entries(platform, "settings.contact")
    assert entry.staff_login == HEAD and entry.summary == f"Lien de contact actif vers {OTHER_EMAIL}"
    # Then inactive: the portal no longer gets the address; the choice is kept for next time.
    submit(
        head,
        "/admin/settings/contact",
        {"contact_active": "inactive", "contact_email": email_id(platform, OTHER_EMAIL)},
    )
    assert (school(platform).contact_active, school(platform).contact_email) == (False, OTHER_EMAIL)
    assert settings_events(platform)[-1].payload["contact_email"] is None


def test_an_active_contact_link_needs_an_address(head, platform):
    response = submit(head, "/admin/settings/contact", {"contact_active": "active", "contact_email": ""})
    assert response.status_code == 400
    assert "Choisissez l'adresse de messagerie à laquelle les familles écriront." in errors_in(
        response.text.replace("&#39;", "'")
    )
    assert school(platform).contact_active is False


def test_an_address_of_another_school_cannot_be_chosen(head, platform):
    response = submit(
        head,
        "/admin/settings/contact",
        {"contact_active": "active", "contact_email": email_id(platform, "ce.0541999k@ac-nancy-metz.fr")},
    )
    assert response.status_code == 400 and school(platform).contact_email is None


def test_without_any_school_address_the_contact_link_is_disabled_and_refused(head, platform):
    with platform.runtime("accounts").uow() as uow:
        uow.session.execute(delete(SchoolEmail).where(SchoolEmail.school_uai == UAI))
        uow.commit()
    html = head.get("/admin/settings/contact").text.replace("&#39;", "'")
    assert "aucune adresse de messagerie n'est définie pour l'établissement" in html
    assert re.search(r'<fieldset class="fr-fieldset" disabled', html)
    assert re.search(r'<button class="fr-btn" type="submit" disabled>Valider</button>', html)
    events = len(settings_events(platform))
    for active in ("active", "inactive"):
        response = submit(head, "/admin/settings/contact", {"contact_active": active, "contact_email": ""})
        assert response.status_code == 400
    assert school(platform).contact_active is False and len(settings_events(platform)) == events
    assert audit_entries(platform, "settings.contact") == []


# --- D5 useful links ------------------------------------------------------------------------------

def add_link(client, label, url):
    return submit(client, "/admin/settings/links", {"label": label, "url": url})


def link_ids(platform) -> list[int]:
    with platform.runtime("accounts").uow() as uow:
        return list(uow.session.scalars(select(UsefulLink.id).where(UsefulLink.school_uai == UAI)
                                        .order_by(UsefulLink.created_at, UsefulLink.id)))


def test_useful_links_are_listed_and_announced_in_creation_order(head, platform):
    assert add_link(head, "Le site de l'établissement", "http://sitedeletablissement.fr").status_code == 302
    assert add_link(head, "  Le site   de l'académie ", "https://www.ac-nancy-metz.fr/").status_code == 302
    assert add_link(head, "ENT", "https://www.monbureaunumerique.fr/").status_code == 302
    expected = [("Le site de l'établissement", "http://sitedeletablissement.fr"),
                ("Le site de l'académie", "https://www.ac-nancy-metz.fr/"),
                ("ENT", "https://www.monbureaunumerique.fr/")]
    assert links_of(platform) == expected
    assert settings_events(platform)[-1].payload["useful_links"] == [
        {"label": label, "url": url} for label, url in expected
    ]
    html = head.get("/admin/settings/links").text.replace("&#39;", "'")
    positions = [html.index(f"<td>{label}</td>") for label, _ in expected]
    assert positions == sorted(positions)
    assert len(audit_entries(platform, "settings.useful_link_added")) == 3


def test_editing_a_link_keeps_its_place(head, platform):
    add_link(head, "Premier", "https://un.example.fr/")
    add_link(head, "Second", "https://deux.example.fr/")
    first = link_ids(platform)[0]
    page = head.get(f"/admin/settings/links/{first}/edit")
    assert page.status_code == 200 and 'value="Premier"' in page.text and 'value="https://un.example.fr/"' in page.text
    response = submit(head, f"/admin/settings/links/{first}/edit", {"label": "Premier modifié", "url": "https://un.example.org/"})
    assert response.status_code == 302
    assert links_of(platform) == [("Premier modifié", "https://un.example.org/"), ("Second", "https://deux.example.fr/")]
    assert settings_events(platform)[-1].payload["useful_links"][0] == {"label": "Premier modifié", "url": "https://un.example.org/"}
    [entry] = audit_entries(platform, "settings.useful_link_changed")
    assert entry.detail["before"] == {"label": "Premier", "url": "https://un.example.fr/"}


def test_deleting_a_link_asks_for_confirmation_and_a_get_deletes_nothing(head, platform):
    add_link(head, "Premier", "https://un.example.fr/")
    add_link(head, "Second", "https://deux.example.fr/")
    first = link_ids(platform)[0]
    events = len(settings_events(platform))
    confirmation = head.get(f"/admin/settings/links/{first}/delete")
    assert confirmation.status_code == 200 and "Supprimer le lien « Premier » ?" in confirmation.text
    assert len(links_of(platform)) == 2 and len(settings_events(platform)) == events
    response = head.post(f"/admin/settings/links/{first}/delete", data={"csrf_token": _csrf(confirmation.text)})
    assert response.status_code == 302
    assert links_of(platform) == [("Second", "https://deux.example.fr/")]
    assert settings_events(platform)[-1].payload["useful_links"] == [{"label": "Second", "url": "https://deux.example.fr/"}]
    [entry] = audit_entries(platform, "settings.useful_link_deleted")
    assert entry.staff_login == HEAD and "Premier" in entry.summary
    assert head.get(f"/admin/settings/links/{first}/delete").status_code == 404


@pytest.mark.parametrize("label,url,errors", [
    ("", "https://un.example.fr/", ["Le libellé est obligatoire."]),
    ("Un lien", "", ["L'adresse internet (url) est obligatoire."]),
    ("", "", ["Le libellé est obligatoire.", "L'adresse internet (url) est obligatoire."]),
    ("Un lien", "javascript:alert(1)", ["n'est pas une adresse internet valide"]),
    ("Un lien", "www.example.fr", ["n'est pas une adresse internet valide"]),
    ("Un lien", "https://www.example.fr/" + "a" * 479, ["L'adresse ne doit pas dépasser 500 caractères."]),
    ("x" * 201, "https://un.example.fr/", ["Le libellé ne doit pas dépasser 200 caractères."]),
])
def test_a_useful_link_needs_a_label_and_a_valid_url_with_an_error_per_field(head, platform, label, url, errors):
    response = add_link(head, label, url)
    assert response.status_code == 400
    shown = errors_in(response.text.replace("&#39;", "'"))
    assert len(shown) == len(errors) and all(
        expected in message for expected, message in zip(errors, shown, strict=True)
    )
    assert links_of(platform) == [] and audit_entries(platform, "settings.useful_link_added") == []


def test_an_edit_with_an_invalid_url_changes_nothing(head, platform):
    add_link(head, "Premier", "https://un.example.fr/")
    [first] = link_ids(platform)
    response = submit(head, f"/admin/settings/links/{first}/edit", {"label": "Premier", "url": "ftp://un.example.fr/"})
    assert response.status_code == 400 and links_of(platform) == [("Premier", "https://un.example.fr/")]


def test_a_link_of_another_school_can_be_neither_edited_nor_deleted(head, platform):
    with platform.runtime("accounts").uow() as uow:
        uow.session.add(UsefulLink(school_uai=OTHER_UAI, label="Autre", url="https://autre.example.fr/"))
        uow.commit()
        other = uow.session.scalar(select(UsefulLink.id).where(UsefulLink.school_uai == OTHER_UAI))
    token = _csrf(head.get("/admin/settings/links").text)
    assert head.get(f"/admin/settings/links/{other}/edit").status_code == 404
    assert head.post(f"/admin/settings/links/{other}/edit", data={"csrf_token": token, "label": "X",
                                                                  "url": "https://x.example.fr/"}).status_code == 404
    assert head.post(f"/admin/settings/links/{other}/delete", data={"csrf_token": token}).status_code == 404
    assert head.get("/admin/settings/links/99999999999999999999/edit").status_code == 404
    assert links_of(platform, OTHER_UAI) == [("Autre", "https://autre.example.fr/")]


# --- rights and audit -----------------------------------------------------------------------------

SETTINGS_REQUESTS = [
    ("GET", "/admin/settings/welcome", {}),
    ("POST", "/admin/settings/welcome", {"message": "<p>Piraté</p>", "action": "save"}),
    ("POST", "/admin/settings/welcome/preview", {"message": "<p>Piraté</p>"}),
    ("GET", "/admin/settings/ent", {}),
    ("POST", "/admin/settings/ent", {"letter_type": "ent_only", "ent_choice": "typed", "ent_url": "https://evil.example/"}),
    ("GET", "/admin/settings/contact", {}),
    ("POST", "/admin/settings/contact", {"contact_active": "active", "contact_email": "1"}),
    ("GET", "/admin/settings/links", {}),
    ("POST", "/admin/settings/links", {"label": "Piège", "url": "https://evil.example/"}),
    ("GET", "/admin/settings/links/{link}/edit", {}),
    ("POST", "/admin/settings/links/{link}/edit", {"label": "Piège", "url": "https://evil.example/"}),
    ("GET", "/admin/settings/links/{link}/delete", {}),
    ("POST", "/admin/settings/links/{link}/delete", {}),
]


@pytest.mark.parametrize("method,path,data", SETTINGS_REQUESTS)
def test_a_delegate_without_the_settings_right_gets_403_everywhere(app, head, platform, method, path, data):
    add_link(head, "Le site de l'établissement", "https://www.example.fr/")
    path = path.format(link=link_ids(platform)[0])
    delegate_client = _signed_in(app, "adjoint.moulin", "adjoint-2026")
    token = _csrf(delegate_client.get("/admin/").text)  # a page the delegate may open
    events = len(settings_events(platform))
    if method == "GET":
        response = delegate_client.get(path)
    else:
        response = delegate_client.post(path, data={"csrf_token": token, **data}, headers={"X-CSRFToken": token})
    assert response.status_code == 403
    assert len(settings_events(platform)) == events and links_of(platform) == [("Le site de l'établissement", "https://www.example.fr/")]
    assert school(platform).welcome_message_html == "" and school(platform).letter_type == "teleservices"


def test_a_delegate_with_the_settings_right_may_change_the_settings(app, platform):
    cpe = _signed_in(app, "cpe.moulin", "cpe-moulin-2026")
    assert (
        submit(cpe, "/admin/settings/welcome", {"message": "<p>Bonne rentrée</p>", "action": "save"}).status_code == 302
    )
    [entry] = audit_entries(platform, "settings.welcome_message")
    assert entry.staff_login == "cpe.moulin"


def test_the_settings_pages_need_a_signed_in_staff_member(app):
    response = Client(app).get("/admin/settings/welcome")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_every_settings_change_lands_in_the_audit_log_with_the_staff_login(head, platform):
    submit(head, "/admin/settings/welcome", {"message": "<p>Bonjour</p>", "action": "save"})
    submit(head, "/admin/settings/ent", {"letter_type": "ent_only", "ent_choice": "typed", "ent_url": "https://ent.example.fr/"})
    submit(
        head, "/admin/settings/contact", {"contact_active": "active", "contact_email": email_id(platform, SCHOOL_EMAIL)}
    )
    add_link(head, "Premier", "https://un.example.fr/")
    [link] = link_ids(platform)
    submit(head, f"/admin/settings/links/{link}/edit", {"label": "Premier bis", "url": "https://un.example.fr/"})
    submit(head, f"/admin/settings/links/{link}/delete", {}, page=f"/admin/settings/links/{link}/delete")
    entries = [entry for entry in audit_entries(platform) if entry.action.startswith("settings.")]
    assert [entry.action for entry in entries] == [
        "settings.welcome_message", "settings.ent", "settings.contact", "settings.useful_link_added",
        "settings.useful_link_changed", "settings.useful_link_deleted"]
    assert {entry.staff_login for entry in entries} == {HEAD}
    # Six changes, six announcements (after the school's creation, its head's appointment and its activation).
    assert [event.payload["settings_version"] for event in settings_events(platform)][-6:] == list(range(4, 10))
