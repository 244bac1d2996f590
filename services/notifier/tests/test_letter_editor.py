"""« Paramétrage › Courriers de notification » (D3) through HTTP, behind the gateway, with the
console's staff session signed in by the accounts service: who may open it, the previews (PDF),
saving, refusing, resetting, and the pages' rules (CSRF, no inline script or style)."""
from __future__ import annotations

import io
import re
from datetime import date
from html import unescape

import pytest
from pypdf import PdfReader
from werkzeug.test import Client

from support.browser import chromium, csp_errors_of, served
from support.console import csrf as _csrf
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff, delegate
from ts_notifier.adapters.orm import LetterPart
from ts_notifier.service_layer import letter_templates
from ts_notifier.service_layer.school_settings import record_school_settings

UAI = "0541234X"
HEAD, HEAD_PASSWORD = "chef.moulin", "principale-2026"
SECRETARY, SECRETARY_PASSWORD = "secretariat.moulin", "secretariat-2026"
CPE, CPE_PASSWORD = "cpe.moulin", "cpe-moulin-2026"


def seed(platform, folder):
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        create_staff(uow, login=HEAD, display_name="Mme la Principale", password=HEAD_PASSWORD, head_of=UAI)
        activate_services(uow, UAI)
        delegate(uow, Actor(HEAD), uai=UAI, login=SECRETARY, rights=["guardian_access", "statistics"],
                 display_name="M. du Secrétariat", initial_password=SECRETARY_PASSWORD)
        delegate(uow, Actor(HEAD), uai=UAI, login=CPE, rights=["settings"], display_name="Mme la CPE",
                 initial_password=CPE_PASSWORD)
        uow.commit()
    with platform.runtime("notifier").uow() as uow:  # what school.settings_changed brings to the notifier
        record_school_settings(uow.session, UAI, {
            "settings_version": 1, "name": "Collège Jean Moulin", "academy_code": "NCY",
            "letter_type": "teleservices", "ent_url": None, "open_services": ["vie_scolaire", "lsl"],
            "address_lines": ["1 rue de la Paix", "54000 NANCY"], "phone": None})
        uow.commit()


def signed_in(gateway, login=HEAD, password=HEAD_PASSWORD) -> Client:
    client = Client(gateway)
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"csrf_token": _csrf(page.text), "login": login, "password": password})
    assert response.status_code == 302, response.text
    return client


@pytest.fixture
def head(gateway):
    return signed_in(gateway)


def stored(platform, part):
    with platform.runtime("notifier").uow() as uow:
        row = uow.session.get(LetterPart, (UAI, part))
        return row.source if row else None


def pdf_text(response) -> tuple[int, str]:
    assert response.status_code == 200 and response.mimetype == "application/pdf", response.text[:500]
    pages = PdfReader(io.BytesIO(response.data)).pages
    return len(pages), " ".join(" ".join(page.extract_text().split()) for page in pages)


PAGES = ["/admin/letters/", "/admin/letters/header/apercu", "/admin/letters/guardian_new/modifier",
         "/admin/letters/student_new/reinitialiser"]


@pytest.mark.parametrize("path", PAGES)
def test_without_a_session_the_letter_pages_lead_to_the_sign_in_form(gateway, path):
    response = Client(gateway).get(path)
    assert response.status_code == 302 and response.headers["Location"] == f"/admin/login?next={path}"
    assert response.headers["X-TS-Service"] == "notifier"


@pytest.mark.parametrize("path", PAGES)
def test_a_delegate_without_the_settings_right_is_refused(gateway, path):
    client = signed_in(gateway, SECRETARY, SECRETARY_PASSWORD)
    assert client.get(path).status_code == 403
    token = _csrf(client.get("/admin/").text)
    refused = client.post("/admin/letters/student_new/modifier", data={"csrf_token": token, "source": "x"})
    assert refused.status_code == 403


def test_a_delegate_with_the_settings_right_may_edit_the_letters(gateway):
    client = signed_in(gateway, CPE, CPE_PASSWORD)
    assert client.get("/admin/letters/").status_code == 200
    assert client.get("/admin/letters/guardian_new/modifier").status_code == 200


def test_the_list_shows_the_header_and_the_nine_bodies_each_with_its_actions(head):
    page = head.get("/admin/letters/")
    assert page.status_code == 200 and "Courriers de notification" in page.text
    rows = re.findall(r'<tr id="part-([a-z_]+)">', page.text)
    assert rows == ["header", "guardian_new", "guardian_activating", "guardian_used_new_password",
                    "guardian_used_reminder", "guardian_continuity", "student_new", "student_used_new_password",
                    "student_used_reminder", "student_continuity"]
    for part in rows:
        for action in ("apercu", "modifier", "reinitialiser"):
            assert f'href="/admin/letters/{part}/{action}"' in page.text
    assert page.text.count("Texte par défaut") == 10 and "Personnalisé" not in page.text
    assert "Téléservices" in page.text and "http://127.0.0.1:" in page.text


def test_visualiser_shows_the_part_with_the_fictitious_family_as_a_pdf(head):
    pages, text = pdf_text(head.get("/admin/letters/header/apercu"))
    assert pages == 2  # the header on a guardian's letter and on a student's
    assert "Madame Camille EXEMPLE" in text and "Léa EXEMPLE" in text and "Collège Jean Moulin" in text
    pages, text = pdf_text(head.get("/admin/letters/student_used_reminder/apercu"))
    assert pages == 1 and "lea.exemple" in text and "Pour rappel, votre identifiant est" in text
    assert head.get("/admin/letters/nothing/apercu").status_code == 404


def test_the_editor_shows_the_text_the_fields_and_the_buttons_without_inline_script_or_style(head):
    page = head.get("/admin/letters/guardian_new/modifier")
    assert page.status_code == 200
    assert "{{ mention_cnil }}" in page.text and "{{ identifiant }}" in page.text  # in the textarea
    assert page.text.count('data-insert="{{ ') >= 20
    for label in ("Valider", "Prévisualiser les modifications", "Annuler", "Champs insérables"):
        assert label in page.text
    assert 'formaction="/admin/letters/guardian_new/previsualiser"' in page.text
    assert re.search(r'<script src="/admin/letters/static/letters\.js', page.text)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert " style=" not in page.text and "<style" not in page.text
    assert head.get("/admin/letters/static/letters.js").status_code == 200
    assert head.get("/admin/letters/static/letters.css").status_code == 200


def test_previewing_changes_gives_the_pdf_of_the_unsaved_text_and_saves_nothing(platform, head):
    page = head.get("/admin/letters/student_new/modifier")
    text = letter_templates.default_source("student_new").replace("Avec mes encouragements.", "Bonne rentrée !")
    response = head.post("/admin/letters/student_new/previsualiser", data={"csrf_token": _csrf(page.text),
                                                                           "source": text})
    assert response.headers["Content-Type"] == "application/pdf"
    pages, printed = pdf_text(response)
    assert pages == 1 and "Bonne rentrée !" in printed and "K7MPR2QX" in printed
    assert stored(platform, "student_new") is None


def test_validating_saves_the_text_then_reinitialiser_brings_back_the_default(platform, head):
    page = head.get("/admin/letters/guardian_used_reminder/modifier")
    text = letter_templates.default_source("guardian_used_reminder").replace(
        "mes salutations distinguées", "mes salutations les meilleures")
    saved = head.post("/admin/letters/guardian_used_reminder/modifier", data={"csrf_token": _csrf(page.text),
                                                                             "source": text})
    assert saved.status_code == 302 and saved.headers["Location"] == "/admin/letters/"
    assert "salutations les meilleures" in stored(platform, "guardian_used_reminder")
    listing = head.get("/admin/letters/")
    assert "est enregistré" in listing.text and "Personnalisé le" in listing.text and HEAD in listing.text
    assert re.search(r'<tr id="part-guardian_used_reminder">\s*<td>[^<]*</td>\s*<td>Personnalisé le', listing.text)
    assert "salutations les meilleures" in pdf_text(head.get("/admin/letters/guardian_used_reminder/apercu"))[1]

    confirm = head.get("/admin/letters/guardian_used_reminder/reinitialiser")
    assert confirm.status_code == 200 and "Revenir au texte par défaut ?" in confirm.text
    assert stored(platform, "guardian_used_reminder") is not None  # opening the confirmation changes nothing
    reset = head.post("/admin/letters/guardian_used_reminder/reinitialiser", data={"csrf_token": _csrf(confirm.text)})
    assert reset.status_code == 302 and stored(platform, "guardian_used_reminder") is None
    assert "salutations distinguées" in pdf_text(head.get("/admin/letters/guardian_used_reminder/apercu"))[1]


def test_the_editor_refuses_a_text_without_the_data_protection_mention_and_keeps_the_saved_one(platform, head):
    page = head.get("/admin/letters/student_new/modifier")
    kept = "<p>{{ identifiant }} {{ mot_de_passe }} {{ adresse_portail }}</p>{{ mention_cnil }}"
    head.post("/admin/letters/student_new/modifier", data={"csrf_token": _csrf(page.text), "source": kept})
    refused = head.post("/admin/letters/student_new/modifier", data={
        "csrf_token": _csrf(page.text), "source": "<p>{{ identifiant }} {{ inconnu }}</p>"})
    assert refused.status_code == 400
    shown = unescape(refused.text)
    assert "Le texte n'est pas enregistré" in shown
    assert "{{ mention_cnil }} est obligatoire" in shown and "Le champ {{ inconnu }} n'existe pas" in shown
    assert "<p>{{ identifiant }} {{ inconnu }}</p></textarea>" in shown  # still in the editor, to be corrected
    assert stored(platform, "student_new") == kept
    preview = head.post("/admin/letters/student_new/previsualiser", data={
        "csrf_token": _csrf(page.text), "source": "{{ ''.__class__ }}{{ mention_cnil }}"})
    assert preview.status_code == 400 and "accès aux attributs" in unescape(preview.text)


NESTED_HTML = "Le texte imbrique des balises sur 1500 niveaux (20 au plus)"
TOO_NESTED = ("Le modèle imbrique des conditions {% if %}, des filtres, des « not » ou des parenthèses sur plus de "
              "30 niveaux : simplifiez-le.")


@pytest.mark.parametrize("source,message", [
    ("<div>" * 1500 + "Bonjour" + "</div>" * 1500, NESTED_HTML),
    ("<div>" * 5000 + "Bonjour" + "</div>" * 5000, "Le texte est trop long (55025 caractères, 20000 au plus)."),
    ("{% if identifiant %}" * 100 + "Bonjour" + "{% endif %}" * 100, TOO_NESTED),
    ("{% if identifiant %}" * 31 + "Bonjour" + "{% endif %}" * 31, TOO_NESTED),
    ("{{ " + "not " * 3000 + "identifiant }}", TOO_NESTED),
    ("{{ " + "(" * 3000 + "identifiant" + ")" * 3000 + " }}", TOO_NESTED),
    ("{{ identifiant" + "|upper" * 2000 + " }}", TOO_NESTED),
    ("{{ " + " and ".join(["identifiant"] * 1000) + " }}", TOO_NESTED),
], ids=["1,500 nested div", "5,000 nested div", "100 nested if", "31 nested if", "3,000 not", "3,000 parentheses",
        "2,000 filters", "1,000 and"])
@pytest.mark.parametrize("action", ["modifier", "previsualiser"])
def test_a_deeply_nested_text_is_refused_in_french_by_save_and_preview_and_nothing_is_saved(
        platform, head, source, message, action):
    page = head.get("/admin/letters/student_new/modifier")
    response = head.post(f"/admin/letters/student_new/{action}",
                         data={"csrf_token": _csrf(page.text), "source": source + "{{ mention_cnil }}"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    shown = unescape(response.text)
    assert "Le texte n'est pas enregistré" in shown and message in shown
    assert stored(platform, "student_new") is None


def test_a_text_nested_as_deep_as_allowed_is_saved_and_printed(platform, head):
    source = ("<div>" * 19 + "{% if identifiant %}" * 10 + "Bonjour {{ identifiant|upper|trim }}" + "{% endif %}" * 10
              + "</div>" * 19 + "{{ mention_cnil }}")
    page = head.get("/admin/letters/student_new/modifier")
    saved = head.post("/admin/letters/student_new/modifier", data={"csrf_token": _csrf(page.text), "source": source})
    assert saved.status_code == 302
    assert "Bonjour LEA.EXEMPLE" in pdf_text(head.get("/admin/letters/student_new/apercu"))[1]


def test_the_pdf_rendering_turns_a_recursion_error_into_its_own_error():
    from ts_notifier.adapters.pdf import PdfRenderingFailed, html_to_pdf

    with pytest.raises(PdfRenderingFailed):
        html_to_pdf("<html><body>" + "<div>" * 3000 + "x" + "</div>" * 3000 + "</body></html>")


def test_a_form_without_its_csrf_token_is_refused_and_nothing_is_saved(platform, head):
    text = "<p>{{ identifiant }}</p>{{ mention_cnil }}"
    for path in ("/admin/letters/student_new/modifier", "/admin/letters/student_new/previsualiser"):
        response = head.post(path, data={"source": text})
        assert response.status_code == 400 and "formulaire a expiré" in response.text
    assert stored(platform, "student_new") is None
    head.post("/admin/letters/student_new/modifier", data={"csrf_token": _csrf(head.get("/admin/letters/student_new"
                                                                                     "/modifier").text),
                                                          "source": text})
    assert stored(platform, "student_new") == text
    assert head.post("/admin/letters/student_new/reinitialiser").status_code == 400
    assert stored(platform, "student_new") == text


def test_the_saved_text_is_the_one_the_batch_letters_use(platform, head):
    from ts_notifier.service_layer.letter_pages import render_letters_pdf, sample_letter

    page = head.get("/admin/letters/header/modifier")
    text = letter_templates.default_source("header").replace("Objet :", "Objet du courrier :")
    head.post("/admin/letters/header/modifier", data={"csrf_token": _csrf(page.text), "source": text})
    with platform.runtime("notifier").uow() as uow:
        pdf = render_letters_pdf(uow.session, UAI, [sample_letter("guardian_new"), sample_letter("student_new")],
                                 public_url="https://teleservices.example.fr", on=date(2026, 9, 2))
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) == 2 and all("Objet du courrier :" in page.extract_text() for page in pages)


def test_in_a_real_browser_a_field_button_inserts_the_field_at_the_cursor(platform, gateway):
    with served(gateway) as url, chromium() as browser:
        from playwright.sync_api import expect

        page = browser.new_page()
        csp_errors = csp_errors_of(page)
        page.goto(f"{url}/admin/login")
        page.fill("#login", HEAD)
        page.fill("#password", HEAD_PASSWORD)
        page.click("button:has-text('Se connecter')")
        page.wait_for_url("**/admin/")
        page.goto(f"{url}/admin/letters/student_new/modifier")
        source = page.locator("#letter-source")
        source.fill("<p>Bonjour  !</p>{{ mention_cnil }}")
        source.evaluate("(area) => { area.focus(); area.setSelectionRange(11, 11); }")
        insert = page.locator('button[data-insert="{{ prenom_eleve }}"]')
        expect(insert).to_be_visible()  # hidden without JavaScript: the field is then copied by hand
        expect(page.locator("[data-no-script-hint]")).to_be_hidden()
        insert.click()
        expect(source).to_have_value("<p>Bonjour {{ prenom_eleve }} !</p>{{ mention_cnil }}")
        page.click("button:has-text('Valider')")
        page.wait_for_url("**/admin/letters/")
        expect(page.locator("#part-student_new")).to_contain_text("Personnalisé le")
    assert stored(platform, "student_new") == "<p>Bonjour {{ prenom_eleve }} !</p>{{ mention_cnil }}"
    assert csp_errors == []
