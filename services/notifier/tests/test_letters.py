"""Notification letters (D2, D3, B8, B9): the default texts per case and letter type, the batch PDF
(one page per letter, the window envelope, the QR code, the refusal coupon), the email version,
and what a school may or may not save as its own text."""
from __future__ import annotations

import base64
import io
import json
from datetime import date

import pytest
from jinja2.sandbox import SecurityError
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from ts_notifier.adapters.orm import LetterPart
from ts_notifier.adapters.pdf import qr_png_data_uri
from ts_notifier.adapters.plain_text import html_to_text
from ts_notifier.domain.letters import CASES_WITH_PASSWORD, PARTS, WINDOW
from ts_notifier.service_layer import letter_parts, letter_templates
from ts_notifier.service_layer.letter_templates import LetterPartRejected
from ts_notifier.service_layer.letter_batch import LetterData, LetterSettingsMissing
from ts_notifier.service_layer.letter_emails import render_letter_email
from ts_notifier.service_layer.letter_pages import render_letters_pdf, sample_letter
from ts_notifier.service_layer.school_settings import record_school_settings
from ts_shared.messaging.envelope import parse_event
from ts_shared.messaging.events import LETTER_CASES
from ts_shared.staff_actions import StaffActor

UAI = "0541234X"
PORTAL = "https://teleservices.ac-nancy-metz.fr"
ENT = "https://ent.monbureaunumerique.fr/"
ON = date(2026, 9, 2)
COUPON_TITLE = "Refus d'accès aux services en ligne"
CNIL_WORDS = "droit d'accès et de rectification"


@pytest.fixture
def notifier(platform):
    return platform.runtime("notifier")


def settle_school(runtime, *, letter_type="teleservices", open_services=("vie_scolaire", "notes", "lsl"), version=1,
                  **extra):
    with runtime.uow() as uow:
        record_school_settings(uow.session, UAI, {
            "settings_version": version, "name": "Collège Jean Moulin", "academy_code": "NCY",
            "letter_type": letter_type, "ent_url": ENT if letter_type != "teleservices" else None,
            "open_services": list(open_services), "address_lines": ["1 rue de la Paix", "54000 NANCY"],
            "phone": "03 83 00 00 00", **extra})
        uow.commit()


@pytest.fixture
def school(notifier):
    settle_school(notifier)
    return notifier


def letter(letter_case: str, number: int = 0, **changes) -> LetterData:
    sample = sample_letter(letter_case)
    recipient = {**sample.recipient, "last_name": f"Famille{number}"}
    fields = {"letter_case": letter_case, "recipient": recipient, "student": sample.student,
              "login": f"{'responsable' if letter_case.startswith('guardian') else 'eleve'}.{number}",
              "temporary_password": f"PW{number:03d}XYZ" if letter_case in CASES_WITH_PASSWORD else None,
              "kept_from_previous_school": letter_case.endswith("continuity"), **changes}
    return LetterData(**fields)


def pdf_pages(runtime, letters) -> list:
    with runtime.uow() as uow:
        pdf = render_letters_pdf(uow.session, UAI, letters, public_url=PORTAL, on=ON)
    assert pdf.startswith(b"%PDF")
    return PdfReader(io.BytesIO(pdf)).pages


def one_page_text(runtime, data: LetterData) -> str:
    pages = pdf_pages(runtime, [data])
    assert len(pages) == 1
    return " ".join(pages[0].extract_text().split())


# --- the default letters ----------------------------------------------------------------------------

@pytest.mark.parametrize("letter_case", LETTER_CASES)
def test_each_default_letter_gives_the_login_and_a_password_only_when_its_case_has_one(school, letter_case):
    data = letter(letter_case, 7)
    text = one_page_text(school, data)
    assert data.login in text
    assert "Collège Jean Moulin" in text and "Académie de NCY" in text and "NANCY, le 02/09/2026" in text
    assert f"{PORTAL}/" in text
    assert CNIL_WORDS in text
    if letter_case in CASES_WITH_PASSWORD:
        assert "PW007XYZ" in text and "Mot de passe provisoire" in text
    else:
        assert "PW007XYZ" not in text and "Mot de passe *" not in text
    if letter_case.startswith("guardian"):
        assert "Madame Camille FAMILLE7" in text and "pour suivre la scolarité de votre enfant" in text
    else:
        assert "Léa FAMILLE7" in text


def test_a_password_given_for_a_reminder_case_is_never_printed(school):
    text = one_page_text(school, letter("guardian_used_reminder", 1, temporary_password="SHOULDNOT9"))
    assert "SHOULDNOT9" not in text


def test_continuity_letters_open_access_the_next_day_and_new_accounts_at_once(school):
    assert "dès le 03/09/2026" in one_page_text(school, letter("guardian_continuity"))
    assert "dès le 02/09/2026" in one_page_text(school, letter("student_new"))


@pytest.mark.parametrize("letter_type,url,ent_listed,portal_listed", [
    ("teleservices", f"{PORTAL}/", False, True),
    ("mixed", f"{PORTAL}/", True, True),
    ("ent_only", ENT, True, False),
])
def test_the_letter_gives_the_portal_or_the_ent_address_according_to_the_letter_type(notifier, letter_type, url,
                                                                                     ent_listed, portal_listed):
    settle_school(notifier, letter_type=letter_type)
    for letter_case in ("guardian_new", "student_used_reminder"):
        text = one_page_text(notifier, letter(letter_case))
        assert url in text
        assert (PORTAL in text) == portal_listed
        assert ("Espace numérique de travail (ENT)" in text) == ent_listed
        assert ("Vie scolaire" in text) == portal_listed  # « ENT seul »: the ENT is the only service listed


def test_the_letter_lists_the_services_the_school_opened_and_only_those(notifier):
    settle_school(notifier, open_services=("notes", "paiement", "lsun", "academique_1", "academique_2"),
                  service_labels={"academique_1": "Cahier de textes"})
    text = one_page_text(notifier, letter("guardian_new"))
    for label in ("Notes", "Paiement en ligne des factures", "Livret scolaire du CP à la 3e", "Cahier de textes",
                  "academique_2"):
        assert label in text
    for closed in ("Vie scolaire", "Livret scolaire du lycée", "Fiche de renseignements", "Folios", "academique_1"):
        assert closed not in text


def test_a_new_account_letter_explains_the_first_connection(school):
    guardian = one_page_text(school, letter("guardian_new"))
    assert "Pour votre première connexion" in guardian and "date de naissance de votre enfant" in guardian
    assert "code QR" in guardian
    assert "Pour votre première connexion" not in one_page_text(school, letter("guardian_used_reminder"))


# --- the batch PDF ------------------------------------------------------------------------------------------

def test_a_batch_has_one_page_per_letter_in_the_given_order_each_with_its_recipients_login(school):
    cases = ["guardian_new", "guardian_new", "student_new", "guardian_activating", "student_used_reminder",
             "guardian_continuity", "student_used_new_password"]
    letters = [letter(letter_case, number) for number, letter_case in enumerate(cases)]
    pages = pdf_pages(school, letters)
    assert len(pages) == len(letters)
    for page, data in zip(pages, letters, strict=True):
        text = page.extract_text()
        assert data.login in text
        assert all(other.login not in text for other in letters if other is not data)


def test_a_letter_never_spans_two_pages_even_when_its_text_is_long(school):
    long_body = letter_templates.default_source("guardian_new").replace(
        "{{ services }}", "{{ services }}" + "<p>Un paragraphe ajouté par l'établissement, assez long.</p>" * 60)
    with school.uow() as uow:
        letter_parts.save_part(uow, UAI, "guardian_new", long_body, by=StaffActor("chef"), public_url=PORTAL, on=ON)
    letters = [letter("guardian_new", number) for number in range(3)] + [letter("student_new", 3)]
    pages = pdf_pages(school, letters)
    assert len(pages) == 4
    assert "Un paragraphe ajouté" in pages[0].extract_text() and "responsable.2" in pages[2].extract_text()


def test_only_guardians_paper_letters_carry_the_refusal_coupon(school):
    # Even a student's letter whose text asks for the coupon does not get it.
    save(school, "student_new", letter_templates.default_source("student_new") + "{{ coupon_refus }}")
    pages = pdf_pages(school, [letter(letter_case, number) for number, letter_case in enumerate(LETTER_CASES)])
    for page, letter_case in zip(pages, LETTER_CASES, strict=True):
        text = " ".join(page.extract_text().split())
        if letter_case.startswith("guardian"):
            assert COUPON_TITLE in text and "renonce à l'accès aux services en ligne" in text
            assert "pour l'élève Léa EXEMPLE" in text and "Madame Camille FAMILLE" in text
        else:
            assert COUPON_TITLE not in text and "renonce" not in text


def test_every_page_carries_the_qr_code_of_the_address_the_letter_gives(notifier):
    settle_school(notifier, letter_type="ent_only")
    expected = Image.open(io.BytesIO(base64.b64decode(qr_png_data_uri(ENT).split(",", 1)[1]))).convert("L")
    pages = pdf_pages(notifier, [letter("guardian_new", 1), letter("student_new", 2)])
    for page in pages:
        images = page.images
        assert len(images) == 1
        printed = images[0].image.convert("L")
        assert printed.size == expected.size and printed.tobytes() == expected.tobytes()


def _positions(page) -> list[tuple[str, float, float]]:
    """Each text run with its left and its baseline, in millimetres from the top-left corner."""
    found = []

    def visitor(text, cm, tm, font, size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            top = float(page.mediabox.height) - y
            found.append((text.strip(), round(x / 72 * 25.4, 1), round(top / 72 * 25.4, 1)))

    page.extract_text(visitor_text=visitor)
    return found


def test_the_recipients_name_and_address_sit_in_the_window_of_the_envelope(school):
    positions = _positions(pdf_pages(school, [letter("guardian_new", 5)])[0])
    for line in ("Madame Camille FAMILLE5", "12 rue des Lilas", "Bâtiment B"):
        (left, top), = [(left, top) for text, left, top in positions if text == line]
        assert WINDOW["left"] <= left <= WINDOW["left"] + WINDOW["width"]
        assert WINDOW["top"] <= top <= WINDOW["top"] + WINDOW["height"]
    # « 54000 NANCY » twice: the school's address (top left) and the recipient's (in the window).
    (school_left, school_top), (left, top) = [(left, top) for text, left, top in positions if text == "54000 NANCY"]
    assert school_left < 30 and school_top < 45
    assert WINDOW["left"] <= left and WINDOW["top"] <= top <= WINDOW["top"] + WINDOW["height"]


def test_characters_the_letter_font_cannot_draw_are_printed_as_their_plain_letter(school):
    text = one_page_text(school, letter("guardian_new", 0, recipient={
        "civility": "M.", "first_name": "Łukasz", "last_name": "Şahin", "address": {
            "lines": ["3 place Nguyễn"], "postal_code": "54000", "city": "Nancy"}}))
    assert "Monsieur Lukasz SAHIN" in text and "3 place Nguyen" in text and "■" not in text


def test_rendering_without_the_schools_settings_says_so(notifier):
    with notifier.uow() as uow, pytest.raises(LetterSettingsMissing):
        render_letters_pdf(uow.session, UAI, [letter("guardian_new")], public_url=PORTAL, on=ON)


# --- the email version --------------------------------------------------------------------------------------

def test_the_email_gives_the_same_text_with_a_sentence_instead_of_the_paper_coupon(school):
    data = letter("guardian_new", 4)
    with school.uow() as uow:
        email = render_letter_email(uow.session, UAI, data, public_url=PORTAL, on=ON)
    assert email.subject == ("Collège Jean Moulin – Mise à disposition de services en ligne pour suivre la "
                             "scolarité de votre enfant")
    for text in (email.text, email.html):
        assert "responsable.4" in text and "PW004XYZ" in text and f"{PORTAL}/" in text
        assert CNIL_WORDS in text and "Madame," in text
        assert "faites-le savoir au secrétariat" in text
        assert "Signature" not in text and "code QR" not in text
    assert "<li>Vie scolaire</li>" in email.html and "- Vie scolaire" in email.text
    assert "<script" not in email.html and "<br>" not in email.text
    # Words around bold text keep their spaces in the plain text.
    assert "Identifiant : responsable.4\n" in email.text and f"Adresse internet : {PORTAL}/" in email.text


def test_the_plain_text_keeps_the_spaces_around_inline_tags_and_drops_the_markup():
    assert html_to_text("<p>Objet : <strong>mise à disposition</strong> de services.</p><p>Fin<em>.</em></p>") == (
        "Objet : mise à disposition de services.\n\nFin.\n")
    assert html_to_text("<p>  Un\n   texte   <b>gras</b>\n</p>") == "Un texte gras\n"


# --- what a school may save -----------------------------------------------------------------------------------

def save(runtime, part, text):
    with runtime.uow() as uow:
        checked = letter_parts.save_part(uow, UAI, part, text, by=StaffActor("chef.moulin"), public_url=PORTAL, on=ON)
    return checked


def stored(runtime, part) -> str | None:
    with runtime.uow() as uow:
        row = uow.session.get(LetterPart, (UAI, part))
        return row.source if row else None


def test_every_default_part_passes_the_checks_imposed_on_schools(school):
    for part in PARTS:
        source = letter_templates.default_source(part)
        assert letter_templates.check_source(part, letter_templates.sanitise(source)) == []


@pytest.mark.parametrize("attack", [
    "{{ ''.__class__ }}",
    "{{ eleve.__class__.__mro__ }}",
    "{{ eleve['__class__'] }}",
    "{{ eleve|attr('__class__') }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum() }}",
    "{% for x in range(3) %}x{% endfor %}",
    "{% set mention_cnil = '' %}",
    "{% include 'letters.css' %}",
])
def test_the_sandbox_refuses_reaching_python_objects(school, attack):
    with pytest.raises(LetterPartRejected):
        save(school, "student_new", f"<p>{attack}</p>{{{{ mention_cnil }}}}")
    assert stored(school, "student_new") is None


def test_the_sandbox_itself_stops_attribute_access_that_the_checks_would_have_refused():
    with pytest.raises(SecurityError):
        letter_templates.environment.from_string("{{ ''.__class__.__mro__ }}").render()
    with pytest.raises(SecurityError):
        letter_templates.environment.from_string("{{ x.__class__ }}").render(x="texte")


def test_an_unknown_field_is_refused_and_the_previous_text_stays(school):
    first = letter_templates.default_source("student_new").replace("Avec mes encouragements.", "Bonne année !")
    save(school, "student_new", first)
    before = stored(school, "student_new")
    with pytest.raises(LetterPartRejected) as refused:
        save(school, "student_new", first.replace("{{ identifiant }}", "{{ identifiant_eleve }}"))
    assert "Le champ {{ identifiant_eleve }} n'existe pas" in str(refused.value)
    assert stored(school, "student_new") == before and "Bonne année !" in before
    assert "Bonne année !" in one_page_text(school, letter("student_new"))


@pytest.mark.parametrize("without_mention", [
    "<p>Identifiant : {{ identifiant }}</p>",
    "<p>{{ identifiant }}</p>{% if mot_de_passe %}{{ mention_cnil }}{% endif %}",
    "<p>{{ identifiant }}</p>{{ mention_cnil|upper }}",
    "<p>{{ identifiant }} {# {{ mention_cnil }} #}</p>",
    "<p>{{ identifiant }}</p><!-- {{ mention_cnil }} -->",
])
def test_a_body_without_the_data_protection_mention_is_refused_and_the_previous_text_stays(school, without_mention):
    save(school, "guardian_used_reminder", "<p>Rappel : {{ identifiant }}</p>{{ mention_cnil }}")
    with pytest.raises(LetterPartRejected) as refused:
        save(school, "guardian_used_reminder", without_mention)
    assert "{{ mention_cnil }} est obligatoire" in str(refused.value)
    assert stored(school, "guardian_used_reminder") == "<p>Rappel : {{ identifiant }}</p>{{ mention_cnil }}"


def test_a_text_that_is_not_a_valid_template_is_refused(school):
    with pytest.raises(LetterPartRejected) as refused:
        save(school, "guardian_new", "<p>{% if mot_de_passe %}{{ mot_de_passe }}</p>{{ mention_cnil }}")
    assert "n'est pas un modèle valide" in str(refused.value)
    assert stored(school, "guardian_new") is None


def test_a_header_block_must_be_complete_on_its_own(school):
    header = ('<div class="expediteur">{% if ville %}{{ etablissement }}</div>'
              '<div class="lieu-date">{{ ville }}{% endif %}</div><div class="destinataire">{{ destinataire }}</div>')
    with pytest.raises(LetterPartRejected) as refused:
        save(school, "header", header)
    assert "n'est pas complet à lui seul" in str(refused.value)


def test_saving_keeps_only_the_html_letters_use_and_the_letters_print_the_saved_text(school):
    checked = save(school, "header", letter_templates.default_source("header").replace(
        "<p class=\"objet\">", '<p class="objet" style="color:red" onclick="x()"><script>alert(1)</script>'
                              '<img src="https://evil.example/x.png">Réf. 2026 – '))
    source = stored(school, "header")
    assert checked.cleaned and "script" not in source and "style" not in source and "img" not in source
    assert '<p class="objet">Réf. 2026 – ' in source
    assert "Réf. 2026 – Objet :" in one_page_text(school, letter("student_new"))


def test_a_body_that_drops_the_password_is_saved_with_a_warning(school):
    checked = save(school, "student_new", "<p>Identifiant : {{ identifiant }} ({{ adresse_portail }})</p>"
                                          "{{ mention_cnil }}")
    assert checked.warnings == ["Attention : ce courrier ne donne plus le mot de passe provisoire au destinataire."]


def test_reset_brings_back_the_default_text(school):
    save(school, "guardian_continuity", "<p>Texte maison {{ identifiant }} {{ adresse_portail }}</p>{{ mention_cnil }}")
    assert "Texte maison" in one_page_text(school, letter("guardian_continuity"))
    with school.uow() as uow:
        assert letter_parts.reset_part(uow, UAI, "guardian_continuity", by=StaffActor("chef.moulin")) is True
    assert stored(school, "guardian_continuity") is None
    text = one_page_text(school, letter("guardian_continuity"))
    assert "Texte maison" not in text and "Vous étiez titulaire d'un compte internet" in text
    with school.uow() as uow:
        assert letter_parts.reset_part(uow, UAI, "guardian_continuity", by=StaffActor("chef.moulin")) is False


def test_saving_the_default_text_keeps_no_customised_copy(school):
    save(school, "student_new", letter_templates.default_source("student_new"))
    assert stored(school, "student_new") is None


def test_saves_and_resets_are_reported_to_the_audit_log(school):
    save(school, "student_new", "<p>{{ identifiant }} {{ mot_de_passe }} {{ adresse_portail }}</p>"
                                "{{ mention_cnil }}")
    with school.uow() as uow:
        letter_parts.reset_part(uow, UAI, "student_new", by=StaffActor("chef.moulin", 7, "10.0.0.8"))
    outbox = school.spec.tables.outbox
    with school.engine.connect() as connection:
        events = [parse_event(json.loads(row)) for row in connection.execute(
            select(outbox.c.envelope).where(outbox.c.event_type == "staff_action.recorded").order_by(outbox.c.id))
            .scalars()]
    assert [(e.school_uai, e.payload["action"], e.payload["staff_login"], e.payload["target"]) for e in events] == [
        (UAI, "letters.part_saved", "chef.moulin", "Élève – compte nouveau ou non activé"),  # words, not the code
        (UAI, "letters.part_reset", "chef.moulin", "Élève – compte nouveau ou non activé")]
    assert (
        events[1].payload["summary"]
        == "Retour au texte par défaut des courriers « Élève – compte nouveau ou non activé »"
    )
    assert (events[1].payload["staff_id"], events[1].payload["client_address"]) == (7, "10.0.0.8")


# --- letters read as French: elision, the coupon's boxes --------------------------------------------

def with_student(data: LetterData, first_name: str) -> LetterData:
    return LetterData(**{**data.__dict__, "student": {**data.student, "first_name": first_name}})


@pytest.mark.parametrize("first_name,elided", [("Alexandre", True), ("Hélène", True), ("Yves", True), ("Émile", True),
                                               ("Yann", False), ("Léa", False)])
def test_a_name_beginning_with_a_vowel_sound_is_elided_on_paper_and_by_email(school, first_name, elided):
    data = with_student(letter("guardian_new", 1), first_name)
    text = one_page_text(school, data)
    name = f"{first_name} EXEMPLE"
    expected = f"d'{name}" if elided else f"de {name}"
    assert f"pour {name}" in text  # « pour » takes no elision
    assert f"responsable {expected}" in text  # the coupon
    assert ("de " + name in text) is not elided
    reminder = one_page_text(school, with_student(letter("guardian_used_reminder", 2), first_name))
    assert f"scolarité {expected}" in reminder
    with school.uow() as uow:
        email = render_letter_email(uow.session, UAI, with_student(letter("guardian_used_reminder", 3), first_name),
                                    public_url=PORTAL, on=ON)
    assert f"scolarité {expected}" in email.text and f"scolarité {expected}" in email.html.replace("&#39;", "'")


def test_elision_touches_only_the_words_before_the_name():
    from ts_notifier.domain.letters import elide

    values = {"eleve": "Alexandre N'DIAYE", "destinataire": "Madame Ina MARTIN"}
    html = ("<p>de <strong>Alexandre N&#39;DIAYE</strong>, que Alexandre N&#39;DIAYE, de l'élève, "
            "responsable de Alexandre N&#39;DIAYE, code Alexandre N&#39;DIAYE</p>")
    assert elide(html, values) == ("<p>d'<strong>Alexandre N&#39;DIAYE</strong>, qu'Alexandre N&#39;DIAYE, de l'élève, "
                                   "responsable d'Alexandre N&#39;DIAYE, code Alexandre N&#39;DIAYE</p>")
    assert elide("de Léa EXEMPLE", {"eleve": "Léa EXEMPLE"}) == "de Léa EXEMPLE"


def test_the_coupons_boxes_stand_apart_from_their_words(school):
    from ts_notifier.service_layer.letter_pages import GEOMETRY, layout

    coupon = layout.get_template("coupon.html").render(destinataire="Madame Camille EXEMPLE", eleve="Léa EXEMPLE",
                                                      division="4A", identifiant="camille.exemple")
    css = layout.get_template("letters.css").render(g=GEOMETRY, first_with_coupon=True, qr=True)
    assert coupon.count('<span class="case">&nbsp;</span><span class="apres-case">') == 2
    assert ".apres-case { padding-left: 1.5mm; }" in css
    text = one_page_text(school, letter("guardian_new", 5))
    assert "pour moi-même (identifiant responsable.5)" in text and "pour l'élève Léa EXEMPLE" in text
