"""« Scolarité services » once signed in (H7, H9, H10, D5, H11): the home page's tiles of the
services the school opened, the pages they lead to and the statistics event they publish, the
contact form's email, the useful links, and the read-only simulation started from the console.
The school is set up with the accounts service's own use cases, and its settings reach the portal
through its consumer, as the bus delivers them."""
from __future__ import annotations

import email
import email.policy
import json
import re

import pytest
from sqlalchemy import func, select
from werkzeug.test import Client

from support.bus import reset_memory_broker, run_worker_until
from support.portal import first_login, hidden_fields, sign_in, submit, text
from support.siecle_files import UAI
from test_portal_journeys import System, activate_guardian, seed, student_id_of  # noqa: F401 (seed: the module's data)
from ts_accounts.adapters.orm import Account, AuditEntry
from ts_accounts.service_layer.academy import add_academic_service, add_school_email, update_identity
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.schools import activate_services
from ts_accounts.service_layer.services import set_services
from ts_accounts.service_layer.settings import add_useful_link, set_contact_link, set_ent_and_letter
from ts_portal.adapters.orm import ContactMessage
from ts_portal.consumers import school_settings_changed
from ts_portal.service_layer.contact import MESSAGES_PER_HOUR
from ts_shared.config import SmtpSettings
from ts_shared.messaging.envelope import parse_event
from ts_shared.runtime.mail_sink import MailSink
from ts_shared.runtime.process import build_worker

OPS = Actor(login="ops")
SCHOOL_ADDRESS = "ce.0541234x@ac-nancy-metz.fr"
ENT = "https://ent.example.org/"
LINKS = [("Cantine : les menus", "https://menus.example.org/"), ("Association des parents", "https://ape.example.org/")]


@pytest.fixture
def sink(tmp_path):
    sink = MailSink(tmp_path / "mail")
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def system(tmp_path, sink, platform_data):
    """A system per test (its SMTP settings point at the test's sink), from the module's seed."""
    reset_memory_broker()
    system = System(tmp_path, platform_data, smtp=SmtpSettings(host="127.0.0.1", port=sink.port,
                                                sender="Scolarité services <ne-pas-repondre@example.org>"))
    yield system
    system.stop()
    reset_memory_broker()


@pytest.fixture
def browser(system):
    return system.browser()


def outbox_events(runtime, event_type: str) -> list:
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as connection:
        rows = connection.execute(select(outbox.c.envelope).where(outbox.c.event_type == event_type)
                                  .order_by(outbox.c.id)).scalars()
        return [parse_event(json.loads(row)) for row in rows]


def deliver_settings(system: System) -> None:
    """Every school.settings_changed accounts emitted, applied by the portal's consumer (a late,
    older version changes nothing)."""
    for event in outbox_events(system.platform.runtime("accounts"), "school.settings_changed"):
        with system.platform.runtime("portal").uow() as uow:
            school_settings_changed(uow, event)
            uow.commit()


def set_up_school(accounts, uai: str = UAI, *, services=("vie_scolaire", "notes", "fiche_renseignements", "folios"),
                  letter_type="mixed", contact=True, address=SCHOOL_ADDRESS,
                  academic_label: str | None = "Orientation en ligne") -> str | None:
    """The school opens its services and sets its ENT, contact and links (C1, C2, D2, D4, D5),
    with the accounts service's use cases; returns the code of the academy's own service opened."""
    with accounts.uow() as uow:
        activate_services(uow, uai)
        uow.commit()
    with accounts.uow() as uow:
        update_identity(uow, OPS, uai, name=accounts_school_name(uow, uai), address_lines=["12 rue des Tilleuls"],
                        postal_code="54000", city="Nancy", phone="03 83 12 34 56", siecle_modules=["notes"])
    academic = None
    if academic_label:
        with accounts.uow() as uow:
            academic = add_academic_service(uow, OPS, "NCY", label=academic_label,
                                            url="https://orientation.example.org/").code
    with accounts.uow() as uow:
        set_services(uow, OPS, uai, {code: True for code in (*services, *([academic] if academic else []))})
        uow.commit()
    with accounts.uow() as uow:
        email_id = add_school_email(uow, OPS, uai, address=address).id
    if contact:
        with accounts.uow() as uow:
            set_contact_link(uow, OPS, uai, active=True, email_id=email_id)
    with accounts.uow() as uow:
        set_ent_and_letter(uow, OPS, uai, letter_type=letter_type, typed_url=ENT)
    for label, url in LINKS:
        with accounts.uow() as uow:
            add_useful_link(uow, OPS, uai, label=label, url=url)
    return academic


def accounts_school_name(uow, uai: str) -> str:
    from ts_accounts.adapters.orm import School
    return uow.session.get(School, uai).name


def configure_school(system: System, **options) -> str | None:
    academic = set_up_school(system.platform.runtime("accounts"), **options)
    deliver_settings(system)
    return academic


def tile_links(page) -> list[str]:
    return re.findall(r'href="(/services/[^"]+)"', page.get_data(as_text=True))


# --- H7, H9: tiles and service pages --------------------------------------------------------------

def test_a_guardian_sees_the_open_services_of_the_child_and_each_tile_leads_to_its_page(system, browser):
    academic = configure_school(system)
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    home = browser.get("/accueil")
    shown = text(home)
    assert "1 enfant est rattaché à votre compte" in shown and "La scolarité de Léa" in shown
    assert "né(e) le 12/03/2013" in shown and "Élève de 3A" in shown
    # The guardians' services the school opened, in the catalogue's order, then the ENT; Folios is
    # for students, Notes needs the SIECLE module (set), « Livret scolaire du lycée » is mandatory.
    for words in ("la fiche de renseignements de Léa", "le relevé d'absences de Léa", "la liste des notes de Léa",
                  "le livret scolaire de Léa", "le service « Orientation en ligne » de Léa", "L'ENT de Léa"):
        assert words in shown, words
    assert "Folios" not in shown
    links = tile_links(home)
    assert [link.split("?")[0] for link in links] == [
        "/services/vie_scolaire", "/services/notes", "/services/lsl", "/services/fiche_renseignements",
        f"/services/{academic}", "/services/ent"]
    assert "Contacter l'établissement" in shown and "Liens utiles" in shown and "Gérer mon compte" in shown
    assert "Se déconnecter" in shown

    for link in links:
        page = browser.get(link.replace("&amp;", "&"))
        assert page.status_code == 200, link
        assert "Léa DUPONT" in text(page) and "Collège Jean Moulin" in text(page)
    notes = text(browser.get(f"/services/notes?enfant={UAI}-1001"))
    assert "Les notes" in notes and "La liste exhaustive des notes pour chaque contrôle" in notes
    assert "pas encore reliée à Scolarité services" in notes  # an honest page until the application is connected
    orientation = browser.get(f"/services/{academic}?enfant={UAI}-1001").get_data(as_text=True)
    assert 'href="https://orientation.example.org/"' in orientation
    assert f'href="{ENT}"' in browser.get(f"/services/ent?enfant={UAI}-1001").get_data(as_text=True)
    # A service the school did not open, or not for guardians, has no page.
    assert browser.get(f"/services/folios?enfant={UAI}-1001").status_code == 404
    assert browser.get(f"/services/paiement?enfant={UAI}-1001").status_code == 404
    assert browser.get(f"/services/notes?enfant={UAI}-1002").status_code == 404  # not her child


def test_opening_a_tile_publishes_the_access_without_personal_data(system, browser):
    configure_school(system)
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    browser.get(f"/services/notes?enfant={UAI}-1001")
    browser.get(f"/services/ent?enfant={UAI}-1001")
    events = outbox_events(system.platform.runtime("portal"), "portal.service_accessed")
    assert [event.payload["service_code"] for event in events] == ["notes", "ent"]
    event = events[0]
    assert event.school_uai == UAI and event.producer == "portal"
    assert event.payload["kind"] == "guardian" and event.payload["mef_code"] == "10310019110"
    assert re.fullmatch(r"\d{4}-\d\d", event.payload["month"])
    account = system.account("helene.dupont")
    flat = json.dumps(event.payload, default=str, ensure_ascii=False)
    assert set(event.payload) == {"kind", "service_code", "mefstat", "mef_code", "month", "accessed_at"}
    for personal in (account.id, account.login, "helene", "DUPONT", "Léa"):
        assert personal not in flat
    # The home page itself counts nothing.
    browser.get("/accueil")
    assert len(outbox_events(system.platform.runtime("portal"), "portal.service_accessed")) == 2


def test_a_student_sees_the_student_services_and_no_merging(system, browser):
    configure_school(system)
    temporary = system.notify("lea.dupont")
    sign_in(browser, "lea.dupont", temporary)
    first_login(browser, temporary, email="", new_password="Latin2026")
    home = browser.get("/accueil")
    links = [link.split("?")[0] for link in tile_links(home)]
    assert "/services/folios" in links and "/services/fiche_renseignements" not in links
    assert "Consulter le portfolio Folios" in text(home)
    assert "Regrouper des comptes" not in text(browser.get("/mon-compte"))


def test_without_ent_in_the_letter_type_there_is_no_ent_tile(system, browser):
    configure_school(system, letter_type="teleservices")
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    assert "/services/ent" not in " ".join(tile_links(browser.get("/accueil")))
    assert browser.get(f"/services/ent?enfant={UAI}-1001").status_code == 404


def test_a_joint_account_lists_each_child_once(system, browser):
    configure_school(system)
    activate_guardian(system, browser)
    jean = system.browser()
    activate_guardian(system, jean, "jean.dupont", email="jean@example.org", password="Jean2026x")
    sign_in(browser, "helene.dupont", "Lilas2026")
    submit(browser, "/mon-compte/regroupement", {"compte-other_login": "jean.dupont",
                                                 "compte-other_password": "Jean2026x"},
           action="/mon-compte/regroupement/compte")
    home = browser.get("/accueil")
    assert "1 enfant est rattaché à votre compte" in text(home)
    assert 'name="enfant"' not in home.get_data(as_text=True)  # one child: no selector


def test_a_guardian_of_two_children_switches_child_and_sees_each_ones_tiles(system, browser):
    configure_school(system)
    activate_guardian(system, browser)
    other_password = system.notify("helene.dupont1")  # Hugo's letter
    sign_in(browser, "helene.dupont", "Lilas2026")
    submit(browser, "/mon-compte/regroupement", {
        "courrier-other_login": "helene.dupont1", "courrier-other_password": other_password,
        "courrier-birth_date": "30112014"}, action="/mon-compte/regroupement/courrier")
    hugo = f"{UAI}-{student_id_of(system, 'Hugo')}"
    page = browser.get(f"/accueil?enfant={hugo}")
    assert "2 enfants sont rattachés à votre compte" in text(page) and "La scolarité de Hugo" in text(page)
    assert "la liste des notes de Hugo" in text(page)
    assert all(f"enfant={hugo}" in link for link in tile_links(page))


# --- D5: useful links -----------------------------------------------------------------------------

def test_the_useful_links_page_lists_the_schools_links_in_its_order(system, browser):
    configure_school(system)
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    page = browser.get("/liens-utiles")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    positions = [html.index(f'href="{url}"') for _, url in LINKS]
    assert positions == sorted(positions) and all(label in text(page) for label, _ in LINKS)


# --- H10: contact ---------------------------------------------------------------------------------

LEA_CONTACT = f"/contact?enfant={UAI}-1001"


def _mails(folder):
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(folder.glob("*.eml"))]


def test_a_contact_message_reaches_the_school_with_the_familys_reply_to_and_a_copy(system, browser, tmp_path):
    configure_school(system)
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    page = text(browser.get("/contact"))
    assert "12 rue des Tilleuls" in page and "03 83 12 34 56" in page and SCHOOL_ADDRESS in page
    refused = submit(browser, "/contact", action=LEA_CONTACT, fields={"subject": "", "message": ""})
    assert refused.status_code == 400 and "Le formulaire contient 2 erreurs" in text(refused)
    sent = submit(browser, "/contact", action=LEA_CONTACT,
                  fields={"subject": "Absence de Léa jeudi", "message": "Bonjour,\n\nLéa sera absente."})
    assert sent.status_code == 302
    assert "Votre message a été envoyé" in text(browser.get(sent.headers["Location"]))

    system.platform.runtime("portal").relay().publish_pending()
    mail = tmp_path / "mail"
    run_worker_until(build_worker(system.platform, "notifier"), lambda: len(list(mail.glob("*.eml"))) >= 2)
    to_school, copy = sorted(_mails(mail), key=lambda m: m["To"] != SCHOOL_ADDRESS)
    assert to_school["To"] == SCHOOL_ADDRESS and to_school["Reply-To"] == "helene@example.org"
    assert "ne-pas-repondre@example.org" in to_school["From"] and "Absence de Léa jeudi" in to_school["Subject"]
    body = to_school.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith("Message de Mme Hélène DUPONT (compte helene.dupont), pour Léa DUPONT (3A)")
    assert "Léa sera absente." in body
    assert copy["To"] == "helene@example.org" and copy["Reply-To"] is None
    assert "ne-pas-repondre@example.org" in copy["From"] and "Léa sera absente." in copy.get_body(
        preferencelist=("plain",)).get_content()


def test_contact_messages_are_limited_per_account(system, browser):
    configure_school(system)
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    for number in range(MESSAGES_PER_HOUR):
        sent = submit(browser, "/contact", action=LEA_CONTACT, fields={"subject": f"Question {number}", "message": "…"})
        assert sent.status_code == 302
    refused = submit(browser, "/contact", action=LEA_CONTACT, fields={"subject": "Encore", "message": "…"})
    assert refused.status_code == 429 and "Réessayez plus tard" in text(refused)
    assert len(outbox_events(system.platform.runtime("portal"), "contact_message.requested")) == MESSAGES_PER_HOUR


def test_without_the_contact_link_the_page_gives_the_address_and_phone_but_no_form(system, browser):
    configure_school(system, contact=False)
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    page = browser.get("/contact")
    assert page.status_code == 200 and "03 83 12 34 56" in text(page) and "<textarea" not in page.get_data(as_text=True)
    assert browser.post(LEA_CONTACT, data={**hidden_fields(page.get_data(as_text=True), "/deconnexion"),
                                           "subject": "x", "message": "y"}).status_code == 404


# --- pages open to everyone ----------------------------------------------------------------------

@pytest.mark.parametrize("path,title", [("/mentions-legales", "Mentions légales"),
                                        ("/donnees-personnelles", "Données personnelles"),
                                        ("/accessibilite", "Déclaration d'accessibilité"), ("/aide", "Aide")])
def test_the_footer_pages_exist_and_are_linked_from_every_page(browser, path, title):
    page = browser.get(path)
    assert page.status_code == 200 and title in text(page)
    assert f'href="{path}"' in browser.get("/").get_data(as_text=True)
    assert "Accessibilité : partiellement conforme" in text(browser.get("/"))


def test_every_link_of_the_signed_in_pages_leads_to_a_page(system, browser):
    configure_school(system)
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    seen, queue = set(), ["/accueil"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        page = browser.get(path)
        if path == "/":  # the sign-in page, for a signed-in family, is the home page
            assert page.headers["Location"] == "/accueil"
            continue
        assert page.status_code == 200, path
        for link in re.findall(r'href="(/[^"]*)"', page.get_data(as_text=True)):
            link = link.replace("&amp;", "&")
            if not link.startswith(("/static", "/assets", "/_")) and link not in seen:
                queue.append(link)
    assert {"/contact?enfant=0541234X-1001", "/liens-utiles?enfant=0541234X-1001", "/mon-compte", "/aide"} <= seen


# --- H11: simulation ----------------------------------------------------------------------------------

def _console(system: System):
    return Client(system.server.app)

HEAD, HEAD_PASSWORD = "chef.test", "Principal-2026-x"


def _staff_console(system: System, login: str, password: str) -> Client:
    client = Client(system.server.app)
    page = client.get("/admin/login")
    signed = client.post("/admin/login", data={"csrf_token": _token(page.get_data(as_text=True)), "login": login,
                                               "password": password})
    assert signed.status_code == 302, signed.get_data(as_text=True)
    return client


def _token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _simulate(console: Client, path: str):
    page = console.get(path)
    assert page.status_code == 200, page.status_code
    return console.post(f"{path}/-/simulate", data={"csrf_token": _token(page.get_data(as_text=True))})


def _staff(system: System) -> None:
    from ts_accounts.service_layer.staff import create_staff, delegate
    with system.platform.runtime("accounts").uow() as uow:
        create_staff(uow, login=HEAD, display_name="Mme la Principale", password=HEAD_PASSWORD, head_of=UAI)
        uow.commit()
    with system.platform.runtime("accounts").uow() as uow:
        delegate(uow, OPS, uai=UAI, login="stats.only", rights=["statistics"], display_name="M. Chiffres",
                 initial_password="Chiffres-2026-x")


def _portal_state(system: System) -> tuple:
    """What a simulation must leave as it is: the account in accounts, the portal's own rows."""
    account = system.account("helene.dupont")
    portal = system.platform.runtime("portal")
    outbox = portal.spec.tables.outbox
    with portal.engine.connect() as connection:
        events = connection.execute(select(func.count()).select_from(outbox)).scalar_one()
        messages = connection.execute(select(func.count()).select_from(ContactMessage.__table__)).scalar_one()
    return (account.version, account.last_login_at, account.password_hash, account.email, account.state,
            account.closed_at, events, messages)


def test_a_head_simulates_a_used_account_read_only_and_it_is_audited(system, browser):
    configure_school(system)
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    browser.get("/accueil")  # the family's own visit: its last login is known
    _staff(system)
    head = _staff_console(system, HEAD, HEAD_PASSWORD)
    detail = "/admin/guardians/1001/9001"
    assert "Simuler l'accès à Scolarité services" in text(head.get(detail))
    before = _portal_state(system)

    started = _simulate(head, detail)
    assert started.status_code == 302 and started.headers["Location"].startswith("/simulation?jeton=")
    staff_browser = system.browser()  # the staff member's browser, on the portal (same gateway)
    warning = staff_browser.get(started.headers["Location"])
    assert "Aucune modification ne sera effectuée" in text(warning)
    assert "Aucune information ne sera effacée" in text(warning)
    opened = submit(staff_browser, started.headers["Location"], {}, action="/simulation")
    assert opened.headers["Location"] == "/accueil"
    home = staff_browser.get("/accueil")
    assert "ACCÈS EN CONSULTATION SEULE" in text(home) and "Bienvenue Mme Hélène DUPONT" in text(home)
    assert "la liste des notes de Léa" in text(home)
    account_page = text(staff_browser.get("/mon-compte"))
    assert "Ce lien n'est pas actif dans la simulation" in account_page
    assert "Quitter la simulation" in account_page and "Se déconnecter" not in account_page
    assert "Ce lien n'est pas actif dans la simulation" in text(staff_browser.get("/contact"))
    # Opening tiles in a simulation is not counted.
    assert staff_browser.get(f"/services/notes?enfant={UAI}-1001").status_code == 200

    # Every state-changing route of the portal is refused on the server, with or without a form.
    token = _token(staff_browser.get("/accueil").get_data(as_text=True))
    writes = sorted({rule.rule for rule in system.portal_app.url_map.iter_rules()
                     if "POST" in rule.methods and rule.endpoint.startswith("portal.")}
                    - {"/deconnexion", "/simulation"})
    assert {"/", "/mon-compte/mot-de-passe", "/mon-compte/adresse", "/contact", "/premiere-connexion",
            "/mon-compte/regroupement/compte"} <= set(writes)
    for path in writes:
        refused = staff_browser.post(path, data={
            "csrf_token": token, "subject": "x", "message": "y", "mdp-current_password": "Lilas2026",
            "mdp-new_password": "Autre2026", "mdp-new_password_again": "Autre2026",
            "courriel-email": "pirate@example.org", "courriel-email_again": "pirate@example.org",
            "courriel-password": "Lilas2026", "login": "helene.dupont", "password": "Lilas2026"})
        assert refused.status_code == 403, path
        assert "Ce lien n'est pas actif dans la simulation" in text(refused), path
    assert _portal_state(system) == before  # nothing changed, not even the last login

    # Who simulated whom, when: in the school's audit log.
    with system.platform.runtime("accounts").uow() as uow:
        [entry] = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "account.simulated")).all()
    assert entry.staff_login == HEAD and entry.target == "helene.dupont" and entry.school_uai == UAI
    # The link works once; leaving the simulation ends the session.
    assert submit(staff_browser, started.headers["Location"], {}, action="/simulation").status_code == 410
    staff_browser.post("/deconnexion", data={"csrf_token": _token(staff_browser.get("/aide").get_data(as_text=True))})
    assert staff_browser.get("/accueil").headers["Location"] == "/"


def test_simulation_needs_the_right_and_a_used_account(system, browser):
    configure_school(system)
    _staff(system)
    system.notify("helene.dupont")  # Notifié, not used
    head = _staff_console(system, HEAD, HEAD_PASSWORD)
    detail = "/admin/guardians/1001/9001"
    shown = head.get(detail)
    assert shown.status_code == 200 and "Simuler l'accès à Scolarité services" not in text(shown)
    refused = _simulate(head, detail)
    assert refused.status_code == 302 and not refused.headers["Location"].startswith("/simulation")
    assert "Utilisé" in text(head.get(refused.headers["Location"]))
    statistician = _staff_console(system, "stats.only", "Chiffres-2026-x")
    token = _token(statistician.get("/admin/").get_data(as_text=True))
    assert statistician.post(f"{detail}/-/simulate", data={"csrf_token": token}).status_code == 403
    with system.platform.runtime("accounts").uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.action == "account.simulated")) == 0


# --- H2: an activation that works the first time -----------------------------------------------

def test_three_errors_at_first_login_are_shown_at_once_and_fixed_in_one_go(system, browser):
    temporary = system.notify("helene.dupont")
    sign_in(browser, "helene.dupont", temporary)
    refused = submit(browser, "/premiere-connexion", {
        "new_password": "Lilas2026", "new_password_again": "Lilas2027", "birth_date": "13/03/2013",
        "email": "helene@example.org", "email_again": "helene@exemple.org"})
    html, shown = refused.get_data(as_text=True), text(refused)
    assert refused.status_code == 400 and "Le formulaire contient 3 erreurs" in shown
    assert "data-ts-error-summary" in html and 'href="#birth_date"' in html and 'href="#new_password"' in html
    assert "Les deux mots de passe saisis sont différents" in shown
    assert "Les deux adresses électroniques saisies sont différentes" in shown
    assert "La date de naissance ne correspond pas" in shown
    assert re.search(r'<input[^>]*aria-describedby="birth_date-errors"[^>]*aria-invalid="true"', html) or \
        re.search(r'<input[^>]*aria-invalid="true"[^>]*aria-describedby="birth_date-errors"', html)
    assert 'value="helene@example.org"' in html and "Lilas2026" not in html  # the email kept, never a password
    fixed = submit(browser, "/premiere-connexion", {
        "new_password": "Lilas2026", "new_password_again": "Lilas2026", "birth_date": "12.03.2013",
        "email": "helene@example.org", "email_again": "helene@example.org"})
    assert fixed.headers["Location"] == "/compte/en-attente"
    assert system.account("helene.dupont").state == "activating"


def test_after_a_reset_by_the_school_the_page_says_so_and_keeps_the_confirmed_email(system, browser):
    activate_guardian(system, browser)
    with system.platform.runtime("accounts").uow() as uow:
        from ts_accounts.service_layer.accounts import prepare_letter
        account = uow.session.scalar(select(Account).where(Account.login == "helene.dupont"))
        _, temporary = prepare_letter(uow, account, reset_password=True, now=account.activated_at, actor="test")
        uow.commit()
    assert sign_in(browser, "helene.dupont", temporary).headers["Location"] == "/premiere-connexion"
    page = browser.get("/premiere-connexion")
    assert "Votre établissement a réinitialisé votre mot de passe" in text(page)
    assert "helene@example.org" in text(page) and 'name="email"' not in page.get_data(as_text=True)
    done = submit(browser, "/premiere-connexion", {"new_password": "Neuf2026a", "new_password_again": "Neuf2026a",
                                                  "birth_date": "12032013"})
    assert done.headers["Location"] == "/accueil"
    account = system.account("helene.dupont")
    assert account.email == "helene@example.org" and account.email_confirmed_at is not None


def test_a_newer_letter_voids_the_first_login_ticket(system, browser):
    temporary = system.notify("helene.dupont")
    sign_in(browser, "helene.dupont", temporary)
    system.notify("helene.dupont")  # the school sends another letter meanwhile (a new password)
    with system.platform.runtime("accounts").uow() as uow:
        from ts_accounts.service_layer.accounts import prepare_letter
        account = uow.session.scalar(select(Account).where(Account.login == "helene.dupont"))
        prepare_letter(uow, account, reset_password=True, now=account.notified_at, actor="test")
        uow.commit()
    refused = first_login(browser, temporary)
    assert refused.status_code == 401 and "reconnectez-vous" in text(refused)
    assert system.account("helene.dupont").state == "notified"
