"""The families' journeys on « Scolarité services » (H1–H8): the portal, driven like a browser
(fetch each form, post it with its CSRF token), calls the real accounts service over HTTP — its
app runs in a werkzeug server thread, as the internal API does in the embedded run."""
from __future__ import annotations

import email
import email.policy
import json
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.test import Client

from support.browser import chromium, csp_errors_of
from support.bus import reset_memory_broker, wait_for
from support.platforms import ReusablePlatform, copy_data
from support.portal import first_login, hidden_fields, sign_in, submit, text
from support.settings import settings_for
from support.siecle_files import ADDRESSES, LINKS, OTHER_UAI, PEOPLE, STUDENTS, UAI, guardians_file, students_file
from ts_accounts.adapters.orm import Account, AccountLink, Student
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.accounts import prepare_letter, record_notification, set_access_refused
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import add_school
from ts_portal.consumers import school_settings_changed
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.messaging.envelope import new_event, parse_event
from ts_shared.runtime.mail_sink import free_port
from ts_shared.runtime.process import Platform
from ts_shared.web.server_session import ServerSession

WELCOME = '<p>Bienvenue au <strong>collège Jean Moulin</strong> : la rentrée a lieu le 1er septembre.</p>'


# --- the system: accounts on a real HTTP port, the portal in a test client -----------------------

def seed(platform, folder):
    """Two schools of the academy, the first one's population imported (made once per module)."""
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        add_school(uow, uai=OTHER_UAI, name="Lycée Henri Poincaré", academy_code="NCY")
        uow.commit()
    files = [students_file(folder / "e.xml", STUDENTS), guardians_file(folder / "r.xml", PEOPLE, LINKS, ADDRESSES)]
    with accounts.uow() as uow:
        import_population(uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]),
                          actor="test")
        uow.commit()


class System:
    """Started once per module; each test restores the databases (`restore`) to the module's seed."""

    def __init__(self, folder: Path, template: Path, **overrides):
        # Bind first (the app is set below), so the portal's settings know where accounts listens.
        self.server = make_server("127.0.0.1", 0, None, threaded=True)
        url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.template = template
        settings = settings_for(copy_data(template, folder)).with_overrides(accounts_internal_url=url, **overrides)
        self.platform = ReusablePlatform(settings)
        self.server.app = self.platform.app("accounts")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.portal_app = self.platform.app("portal")

    def restore(self) -> None:
        self.platform.restore(self.template)

    def browser(self) -> Client:
        return Client(self.portal_app)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.platform.dispose()

    # what the school and the notifier do, straight in the accounts database
    def notify(self, login: str) -> str:
        """A letter for `login`: a new temporary password, then Notifié."""
        at = utcnow() - timedelta(days=1)
        with self.platform.runtime("accounts").uow() as uow:
            account = uow.session.scalar(select(Account).where(Account.login == login))
            _, password = prepare_letter(uow, account, reset_password=False, now=at, actor="test")
            record_notification(uow, account.id, "paper", at=at, actor="test")
            uow.commit()
        return password

    def account(self, login: str) -> Account:
        with self.platform.runtime("accounts").uow() as uow:
            return uow.session.scalar(select(Account).where(Account.login == login))

    def family_emails(self) -> list:
        outbox = self.platform.runtime("accounts").spec.tables.outbox
        with self.platform.runtime("accounts").engine.connect() as connection:
            rows = connection.execute(select(outbox.c.envelope).where(outbox.c.event_type == "family_email.requested")
                                      .order_by(outbox.c.id)).scalars()
            return [parse_event(json.loads(row)) for row in rows]

    def last_link_token(self) -> str:
        """The token of the last emailed link, as the notifier decrypts it."""
        return SecretBox(self.platform.settings.event_key).open(
            self.family_emails()[-1].payload["link_token_encrypted"]
        )

    def publish_welcome_message(self, html: str = WELCOME) -> None:
        """What the portal's consumer does with the school's school.settings_changed."""
        event = new_event("school.settings_changed", {
            "settings_version": 2, "name": "Collège Jean Moulin", "academy_code": "NCY", "services_activated": True,
            "welcome_message_html": html}, producer="accounts", school_uai=UAI)
        with self.platform.runtime("portal").uow() as uow:
            school_settings_changed(uow, event)
            uow.commit()


@pytest.fixture(scope="module")
def started_system(platform_data, tmp_path_factory):
    system = System(tmp_path_factory.mktemp("system"), platform_data)
    yield system
    system.stop()


@pytest.fixture
def system(started_system):
    """The module's system, back to the seed's data: each test starts from the same state."""
    started_system.restore()
    return started_system


@pytest.fixture
def browser(system):
    return system.browser()


# --- driving the pages ---------------------------------------------------------------------------

def session_of(system: System, browser: Client) -> dict:
    """What the portal keeps on the server for this browser (the cookie itself is an opaque id)."""
    cookie = browser.get_cookie("ts_portal")
    if cookie is None:
        return {}
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie.value), "the cookie holds only an opaque id"
    row = system.portal_app.session_interface.load(cookie.value)
    return dict(ServerSession(json.loads(row.data) if row else None, sid=cookie.value, stored=row is not None,
                              csrf_secret=system.portal_app.secret_key.encode()))


def activate_guardian(system: System, browser: Client, login="helene.dupont", *, birth="12/03/2013",
                      email="helene@example.org", password="Lilas2026") -> None:
    """Letter, first login, confirmation link: an active guardian account (the browser ends signed out)."""
    temporary = system.notify(login)
    assert sign_in(browser, login, temporary).headers["Location"] == "/premiere-connexion"
    pending = first_login(browser, temporary, birth=birth, email=email, new_password=password)
    assert pending.headers["Location"] == "/compte/en-attente", text(pending)
    confirmed = submit(browser, f"/compte/confirmation?jeton={system.last_link_token()}", {})
    assert confirmed.status_code == 200, text(confirmed)


def sign_out(browser: Client):
    return submit(browser, "/accueil", {}, action="/deconnexion")


# --- H1–H3, H7: a guardian's activation -----------------------------------------------------------

def test_a_guardian_activates_the_account_from_the_letter_and_reaches_the_home_page(system, browser):
    system.publish_welcome_message()
    temporary = system.notify("helene.dupont")

    signed = sign_in(browser, "helene.dupont", temporary)
    assert signed.status_code == 302 and signed.headers["Location"] == "/premiere-connexion"
    assert session_of(system, browser)["login"] == "helene.dupont"
    page = browser.get("/premiere-connexion")
    assert "helene.dupont" in text(page) and "8 à 14 caractères, chiffres ET lettres obligatoires" in text(page)
    assert "Date de naissance de Léa DUPONT" in text(page) and "(obligatoire)" in text(page)
    assert "Mot de passe provisoire" not in text(page)  # the sign-in checked it: not asked twice
    assert browser.get("/accueil").headers["Location"] == "/"  # not signed in yet

    pending = first_login(browser, temporary)
    assert pending.status_code == 302 and pending.headers["Location"] == "/compte/en-attente"
    screen = text(browser.get("/compte/en-attente"))
    assert "Votre compte est en attente de confirmation" in screen and "helene@example.org" in screen
    # Nothing else is reachable for this session.
    for path in ("/accueil", "/mon-compte", "/mon-compte/regroupement"):
        assert browser.get(path).headers["Location"] == "/"
    # The session never held a password, only what the next screens need.
    cookie = json.dumps(session_of(system, browser))
    assert temporary not in cookie and "Lilas2026" not in cookie

    # Opening the emailed link does not use it up (a mail scanner may fetch it): the button does.
    link = f"/compte/confirmation?jeton={system.last_link_token()}"
    opened = browser.get(link)
    assert opened.status_code == 200 and "Confirmer mon adresse" in text(opened)
    assert system.account("helene.dupont").state == "activating"
    confirmed = submit(browser, link, {})
    assert confirmed.status_code == 200 and "Votre compte Téléservices est opérationnel" in text(confirmed)
    assert system.account("helene.dupont").state == "used"
    assert browser.get("/compte/en-attente").headers["Location"] == "/"

    home_redirect = sign_in(browser, "helene.dupont", "Lilas2026")
    assert home_redirect.headers["Location"] == "/accueil"
    home = browser.get("/accueil")
    shown = text(home)
    assert home.status_code == 200 and "Bienvenue Mme Hélène DUPONT" in shown
    assert "Première connexion à Scolarité services" in shown
    assert "Léa DUPONT" in shown and "Élève de 3A" in shown and "Collège Jean Moulin" in shown
    assert WELCOME in home.get_data(as_text=True)  # the school's message, as sanitised upstream
    assert "Se déconnecter" in shown and 'name="enfant"' not in home.get_data(as_text=True)  # one child: no selector

    sign_out(browser)
    assert browser.get("/accueil").headers["Location"] == "/"
    sign_in(browser, "helene.dupont", "Lilas2026")
    assert re.search(r"Dernière connexion le \d\d/\d\d/\d{4} à \d\d h \d\d", text(browser.get("/accueil")))


def test_signing_in_starts_a_new_session(system, browser):
    activate_guardian(system, browser)
    browser.get("/")
    before = session_of(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    browser.get("/accueil")
    after = session_of(system, browser)
    assert before["csrf_token"] != after["csrf_token"]
    assert after["stage"] == "family" and after["display_name"] == "Mme Hélène DUPONT" and after["kind"] == "guardian"
    assert "Lilas2026" not in json.dumps(after)


def test_a_student_first_login_lands_on_the_home_page_without_an_address(system, browser):
    temporary = system.notify("lea.dupont")
    assert sign_in(browser, "lea.dupont", temporary).headers["Location"] == "/premiere-connexion"
    page = text(browser.get("/premiere-connexion"))
    assert "Votre date de naissance" in page and "(facultative)" in page
    done = first_login(browser, temporary, email="", new_password="Latin2026")
    assert done.status_code == 302 and done.headers["Location"] == "/accueil"
    home = text(browser.get("/accueil"))
    assert "Bienvenue Léa DUPONT" in home and "Votre scolarité" in home
    assert system.account("lea.dupont").state == "used"


def test_a_wrong_birth_date_at_first_login_is_refused_with_the_message(system, browser):
    temporary = system.notify("helene.dupont")
    sign_in(browser, "helene.dupont", temporary)
    refused = first_login(browser, temporary, birth="13/03/2013")
    assert refused.status_code == 400
    assert "La date de naissance ne correspond pas à celle de l'élève" in text(refused)
    assert 'value="13/03/2013"' in refused.get_data(as_text=True)  # what was typed stays
    badly_typed = first_login(browser, temporary, birth="2013-03-12")
    assert badly_typed.status_code == 400 and "au format JJ/MM/AAAA" in text(badly_typed)
    assert system.account("helene.dupont").state == "notified"


def test_a_pending_guardian_who_signs_in_gets_the_pending_screen_and_can_correct_the_address(system, browser):
    temporary = system.notify("helene.dupont")
    sign_in(browser, "helene.dupont", temporary)
    first_login(browser, temporary, email="helene@exemple.org")
    first_token = system.last_link_token()
    sign_out_page = browser.get("/compte/en-attente")
    browser.post("/deconnexion", data=hidden_fields(sign_out_page.text, "/deconnexion"))

    assert sign_in(browser, "helene.dupont", "Lilas2026").headers["Location"] == "/compte/en-attente"
    resent = submit(browser, "/compte/en-attente", {}, action="/compte/en-attente/renvoyer")
    assert resent.headers["Location"] == "/compte/en-attente"
    assert "Un nouveau courriel de confirmation a été envoyé à helene@exemple.org" in text(
        browser.get(resent.headers["Location"])
    )

    mismatch = submit(browser, "/compte/en-attente", {"correction-email": "helene@example.org",
                                                      "correction-email_again": "helene@exemple.org"},
                      action="/compte/en-attente/corriger")
    assert mismatch.status_code == 400 and "Les deux adresses électroniques saisies sont différentes" in text(mismatch)
    corrected = submit(browser, "/compte/en-attente", {"correction-email": "helene@example.org",
                                                       "correction-email_again": "helene@example.org"},
                       action="/compte/en-attente/corriger")
    assert corrected.status_code == 302
    assert system.family_emails()[-1].payload["to"] == "helene@example.org"
    stale = submit(browser, f"/compte/confirmation?jeton={first_token}", {})
    assert stale.status_code == 410 and "Confirmer mon adresse" not in text(stale)
    assert submit(browser, f"/compte/confirmation?jeton={system.last_link_token()}", {}).status_code == 200


def test_a_confirmation_link_works_once_and_then_shows_the_french_message(system, browser):
    activate_guardian(system, browser)
    token_page = f"/compte/confirmation?jeton={system.last_link_token()}"
    again = submit(browser, token_page, {})
    assert again.status_code == 410 and "déjà été utilisé" in text(again)
    incomplete = browser.get("/compte/confirmation")
    assert incomplete.status_code == 400 and "Ce lien est incomplet" in text(incomplete)


# --- H1: refusals -------------------------------------------------------------------------------

def test_a_wrong_password_shows_one_message_and_keeps_the_login(system, browser):
    activate_guardian(system, browser)
    refused = sign_in(browser, "helene.dupont", "Wrong2026")
    assert refused.status_code == 401
    assert '<div class="fr-alert fr-alert--error' in refused.get_data(as_text=True)
    assert "Identifiant ou mot de passe incorrect." in text(refused)
    assert 'value="helene.dupont"' in refused.get_data(as_text=True)
    assert "Wrong2026" not in refused.get_data(as_text=True)
    assert browser.get("/accueil").headers["Location"] == "/"


def test_repeated_failures_show_the_throttling_message(system, browser):
    activate_guardian(system, browser)
    for _ in range(5):
        assert sign_in(browser, "helene.dupont", "Wrong2026").status_code == 401
    locked = sign_in(browser, "helene.dupont", "Lilas2026")
    assert locked.status_code == 429 and "Trop de tentatives infructueuses" in text(locked)
    assert browser.get("/accueil").headers["Location"] == "/"


def test_a_guardian_whose_access_was_removed_is_refused_at_sign_in_and_signed_out_at_once(system, browser):
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    assert browser.get("/accueil").status_code == 200
    with system.platform.runtime("accounts").uow() as uow:
        set_access_refused(uow, system.account("helene.dupont").id, True, now=utcnow(), actor="chef.demo")
        uow.commit()
    kicked = browser.get("/mon-compte")  # the profile is read again on every signed-in page
    assert kicked.headers["Location"] == "/"
    assert "L'accès aux services en ligne a été retiré" in text(browser.get("/"))
    refused = sign_in(browser, "helene.dupont", "Lilas2026")
    assert refused.status_code == 403 and "retiré" in text(refused)


# --- H4, H5: recovery ---------------------------------------------------------------------------

def test_forgot_login_emails_the_logins_or_sends_the_family_to_its_school(system, browser):
    activate_guardian(system, browser)
    assert "Identifiant oublié ?" in text(browser.get("/"))
    sent = submit(browser, "/identifiant-oublie", {"email": "helene@example.org"})
    assert sent.status_code == 200 and "Un courriel vous a été envoyé à helene@example.org" in text(sent)
    assert system.family_emails()[-1].payload["logins"] == ["helene.dupont"]
    unknown = submit(browser, "/identifiant-oublie", {"email": "nobody@example.org"})
    assert unknown.status_code == 200 and "Contactez votre établissement" in text(unknown)  # the same status


def test_forgot_password_shows_the_reference_and_the_emailed_link_sets_a_new_password(system, browser):
    activate_guardian(system, browser)
    assert "Mot de passe oublié ?" in text(browser.get("/"))
    asked = submit(browser, "/mot-de-passe-oublie", {"login": "helene.dupont"})
    reference = system.family_emails()[-1].payload["reference"]
    assert asked.status_code == 200 and f"La référence de cette demande est le n° {reference}" in text(asked)

    link = f"/mot-de-passe/nouveau?jeton={system.last_link_token()}"
    form = browser.get(link)
    assert hidden_fields(form.text, "/mot-de-passe/nouveau")["token"] == system.last_link_token()
    typo = submit(browser, link, {"login": "jean.dupont", "new_password": "Neuf2026", "new_password_again": "Neuf2026"})
    assert typo.status_code == 400 and "L'identifiant ne correspond pas" in text(typo)
    # A typo does not burn the link: the form comes back with the token still in its hidden field.
    retried = browser.post("/mot-de-passe/nouveau", data={
        **hidden_fields(typo.get_data(as_text=True), "/mot-de-passe/nouveau"),
        "login": "helene.dupont", "new_password": "Neuf2026", "new_password_again": "Neuf2026"})
    assert retried.headers["Location"] == "/"
    assert "Votre mot de passe a été modifié" in text(browser.get("/"))
    assert sign_in(browser, "helene.dupont", "Neuf2026").headers["Location"] == "/accueil"
    sign_out(browser)
    used = submit(
        browser, link, {"login": "helene.dupont", "new_password": "Autre2026", "new_password_again": "Autre2026"}
    )
    assert used.status_code == 410 and "Mot de passe oublié" in text(used)


def test_forgot_password_refuses_an_unknown_login_or_an_unconfirmed_address_with_their_messages(system, browser):
    unknown = submit(browser, "/mot-de-passe-oublie", {"login": "nobody.here"})
    assert unknown.status_code == 200 and "Cet identifiant est inconnu" in text(unknown)  # the same status
    # A parent who never signed in is sent to the letter, not told to confirm an address.
    temporary = system.notify("jean.dupont")
    never = submit(browser, "/mot-de-passe-oublie", {"login": "jean.dupont"})
    assert never.status_code == 200 and "mot de passe provisoire du courrier" in text(never)
    assert "confirmer votre adresse" not in text(never)
    # Once the activation has started, the address waits for its confirmation.
    sign_in(browser, "jean.dupont", temporary)
    first_login(browser, temporary, email="jean@example.org")
    submit(browser, "/compte/en-attente", {}, action="/deconnexion")  # signs out from the pending screen
    unconfirmed = submit(browser, "/mot-de-passe-oublie", {"login": "jean.dupont"})
    assert unconfirmed.status_code == 200 and "Vous devez d'abord confirmer votre adresse électronique" in text(
        unconfirmed
    )


# --- sessions end on the server ------------------------------------------------------------------

def replayed(system: System, saved: str) -> Client:
    """A fresh browser given a saved copy of another browser's portal cookie."""
    client = system.browser()
    client.set_cookie("ts_portal", saved)
    return client


def test_a_cookie_saved_before_signing_out_gets_the_sign_in_page(system, browser):
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    saved = browser.get_cookie("ts_portal").value
    assert replayed(system, saved).get("/accueil").status_code == 200
    sign_out(browser)
    for path in ("/accueil", "/mon-compte", "/mon-compte/regroupement"):
        assert replayed(system, saved).get(path).headers["Location"] == "/", path


def test_changing_the_password_ends_the_other_sessions_of_the_account_but_not_this_one(system, browser):
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    elsewhere = system.browser()
    sign_in(elsewhere, "helene.dupont", "Lilas2026")
    before = browser.get_cookie("ts_portal").value
    changed = submit(browser, "/mon-compte", {"mdp-current_password": "Lilas2026", "mdp-new_password": "Neuf2026",
                                              "mdp-new_password_again": "Neuf2026"}, action="/mon-compte/mot-de-passe")
    assert changed.headers["Location"] == "/mon-compte"
    assert browser.get("/accueil").status_code == 200  # this session goes on, under a new id
    assert browser.get_cookie("ts_portal").value != before
    assert replayed(system, before).get("/accueil").headers["Location"] == "/"
    ended = elsewhere.get("/accueil")
    assert ended.headers["Location"] == "/"
    assert "Le mot de passe de ce compte a été modifié" in text(elsewhere.get("/"))


def test_a_password_reset_by_the_school_ends_the_familys_sessions(system, browser):
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    assert browser.get("/accueil").status_code == 200
    with system.platform.runtime("accounts").uow() as uow:  # « Notifier et réinitialiser le mot de passe » (E2)
        account = uow.session.scalar(select(Account).where(Account.login == "helene.dupont"))
        prepare_letter(uow, account, reset_password=True, now=utcnow(), actor="chef.demo")
        uow.commit()
    assert browser.get("/accueil").headers["Location"] == "/"


def test_a_signed_in_session_ends_12_hours_after_sign_in_however_active(system, browser, monkeypatch):
    activate_guardian(system, browser)
    signed_at, started = time.time(), utcnow()
    sign_in(browser, "helene.dupont", "Lilas2026")
    for minutes in range(0, 12 * 60 + 50, 50):  # a page every 50 minutes: never idle for an hour
        monkeypatch.setattr("ts_portal.web.family_session.time.time", lambda minutes=minutes: signed_at + minutes * 60)
        monkeypatch.setattr(
            "ts_shared.web.server_session.utcnow", lambda minutes=minutes: started + timedelta(minutes=minutes)
        )
        response = browser.get("/accueil")
        if minutes < 12 * 60:
            assert response.status_code == 200, minutes
        else:
            assert response.headers["Location"] == "/", minutes


def test_an_idle_session_ends_after_an_hour(system, browser, monkeypatch):
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    later = time.time() + 61 * 60
    monkeypatch.setattr("ts_portal.web.family_session.time.time", lambda: later)
    assert browser.get("/accueil").headers["Location"] == "/"
    assert "Votre session a expiré" in text(browser.get("/"))


# --- H6: my account -----------------------------------------------------------------------------

def test_a_signed_in_family_changes_its_password(system, browser):
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    account = text(browser.get("/mon-compte"))
    assert "helene.dupont" in account and "helene@example.org" in account and "Léa DUPONT" in account
    wrong = submit(browser, "/mon-compte", {"mdp-current_password": "Wrong2026", "mdp-new_password": "Neuf2026",
                                            "mdp-new_password_again": "Neuf2026"}, action="/mon-compte/mot-de-passe")
    assert wrong.status_code == 401 and "Le mot de passe actuel est incorrect." in text(wrong)
    weak = submit(browser, "/mon-compte", {"mdp-current_password": "Lilas2026", "mdp-new_password": "neufneuf",
                                           "mdp-new_password_again": "neufneuf"}, action="/mon-compte/mot-de-passe")
    assert weak.status_code == 400
    changed = submit(browser, "/mon-compte", {"mdp-current_password": "Lilas2026", "mdp-new_password": "Neuf2026",
                                              "mdp-new_password_again": "Neuf2026"}, action="/mon-compte/mot-de-passe")
    assert changed.headers["Location"] == "/mon-compte"
    assert "Votre mot de passe a été modifié." in text(browser.get("/mon-compte"))
    sign_out(browser)
    assert sign_in(browser, "helene.dupont", "Lilas2026").status_code == 401
    assert sign_in(browser, "helene.dupont", "Neuf2026").headers["Location"] == "/accueil"


def test_a_signed_in_family_changes_its_address_once_the_new_one_is_confirmed(system, browser):
    activate_guardian(system, browser)
    sign_in(browser, "helene.dupont", "Lilas2026")
    changed = submit(browser, "/mon-compte", {"courriel-email": "new@example.org",
                                              "courriel-email_again": "new@example.org",
                                              "courriel-password": "Lilas2026"}, action="/mon-compte/adresse")
    assert changed.headers["Location"] == "/mon-compte"
    assert "Un courriel contenant un lien de confirmation a été envoyé à new@example.org" in text(
        browser.get("/mon-compte")
    )
    assert system.account("helene.dupont").email == "helene@example.org"
    confirmed = submit(browser, f"/compte/confirmation?jeton={system.last_link_token()}", {})
    assert "new@example.org" in text(confirmed) and "Retour à l'accueil" in text(confirmed)  # still signed in
    assert system.account("helene.dupont").email == "new@example.org"


# --- H8: merge ----------------------------------------------------------------------------------

def test_a_guardian_merges_another_letter_and_chooses_which_child_to_look_at(system, browser):
    activate_guardian(system, browser)
    other_password = system.notify("helene.dupont1")  # Hugo's letter
    sign_in(browser, "helene.dupont", "Lilas2026")
    assert "Regrouper des comptes" in text(browser.get("/mon-compte"))
    wrong_child = submit(browser, "/mon-compte/regroupement", {
        "courrier-other_login": "helene.dupont1", "courrier-other_password": other_password,
        "courrier-birth_date": "12/03/2013"}, action="/mon-compte/regroupement/courrier")
    assert wrong_child.status_code == 401 and "La date de naissance ne correspond pas" in text(wrong_child)
    merged = submit(browser, "/mon-compte/regroupement", {
        "courrier-other_login": "helene.dupont1", "courrier-other_password": other_password,
        "courrier-birth_date": "30/11/2014"}, action="/mon-compte/regroupement/courrier")
    shown = text(merged)
    assert merged.status_code == 200 and "2 enfants sont rattachés à votre compte helene.dupont" in shown
    assert "Léa DUPONT" in shown and "Hugo DUPONT" in shown and "Élève de 4A" in shown

    home = browser.get("/accueil")
    assert 'name="enfant"' in home.get_data(as_text=True) and "2 enfants sont rattachés" in text(home)
    hugo = f"{UAI}-{student_id_of(system, 'Hugo')}"
    chosen = browser.get(f"/accueil?enfant={hugo}")
    assert re.search(rf'<option value="{hugo}" selected>', chosen.get_data(as_text=True))
    assert browser.get(f"/accueil?enfant={UAI}-1002").status_code == 404  # Maël is not her child


def test_the_other_parent_joins_with_an_active_account_and_is_signed_out_of_the_merged_one(system, browser):
    activate_guardian(system, browser)
    jean = system.browser()
    activate_guardian(system, jean, "jean.dupont", email="jean@example.org", password="Jean2026x")
    sign_in(jean, "jean.dupont", "Jean2026x")
    assert jean.get("/accueil").status_code == 200

    sign_in(browser, "helene.dupont", "Lilas2026")
    merged = submit(browser, "/mon-compte/regroupement", {"compte-other_login": "jean.dupont",
                                                          "compte-other_password": "Jean2026x"},
                    action="/mon-compte/regroupement/compte")
    assert merged.status_code == 200
    assert "Bienvenue Mme Hélène DUPONT et M. Jean DUPONT" in text(browser.get("/accueil"))
    # Jean's own account is closed now: his session ends at his next page.
    assert jean.get("/accueil").headers["Location"] == "/"
    assert "Ce compte n'est plus ouvert" in text(jean.get("/"))


def test_a_student_cannot_open_the_merge_page(system, browser):
    temporary = system.notify("lea.dupont")
    sign_in(browser, "lea.dupont", temporary)
    first_login(browser, temporary, email="", new_password="Latin2026")
    assert "Regrouper des comptes" not in text(browser.get("/mon-compte"))
    assert browser.get("/mon-compte/regroupement").status_code == 403


def student_id_of(system: System, first_name: str) -> str:
    with system.platform.runtime("accounts").uow() as uow:
        return uow.session.scalar(select(Student.siecle_id).where(Student.first_name == first_name))


# --- protections ----------------------------------------------------------------------------------

def test_a_form_without_its_csrf_token_is_refused(system, browser):
    system.notify("helene.dupont")
    refused = browser.post("/", data={"login": "helene.dupont", "password": "anything"})
    assert refused.status_code == 400 and "Le formulaire a expiré" in text(refused)


@pytest.mark.parametrize("path", ["/accueil", "/mon-compte", "/mon-compte/regroupement", "/premiere-connexion",
                                  "/compte/en-attente"])
def test_signed_in_pages_send_back_to_the_sign_in_page_without_a_session(browser, path):
    response = browser.get(path)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_signed_in_form_posted_without_a_session_changes_nothing(system, browser):
    token = hidden_fields(browser.get("/").text, "/")["csrf_token"]
    response = browser.post("/mon-compte/mot-de-passe", data={
        "mdp-csrf_token": token, "mdp-current_password": "Lilas2026", "mdp-new_password": "Neuf2026",
        "mdp-new_password_again": "Neuf2026"})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_an_unreachable_accounts_service_shows_the_french_503_page(tmp_path):
    settings = settings_for(tmp_path).with_overrides(accounts_internal_url=f"http://127.0.0.1:{free_port()}")
    platform = Platform(settings)
    try:
        browser = Client(platform.spec("portal").create_app(platform.runtime("portal")))
        response = sign_in(browser, "helene.dupont", "Lilas2026")
        assert response.status_code == 503
        assert "Le service est momentanément indisponible" in text(response) and "Traceback" not in text(response)
        assert submit(browser, "/identifiant-oublie", {"email": "helene@example.org"}).status_code == 503
    finally:
        platform.dispose()


# --- the same journey in a real browser, over real HTTP, against the embedded system -------------

def _emailed_link(mail_folder: Path, path: str) -> str:
    """The link of the last email the notifier sent to the embedded SMTP sink."""
    for stored in sorted(mail_folder.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(stored.read_bytes(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",)).get_content()
        found = re.search(rf"https?://\S+{re.escape(path)}\?jeton=[\w\-.~%]+", body)
        if found:
            return found.group(0)
    raise AssertionError(f"no email with a {path} link in {mail_folder}")


def test_a_guardian_activates_the_account_in_a_real_browser(tmp_path):
    from ts_shared.runtime.embedded import build_embedded_system

    with chromium() as browser:
        reset_memory_broker()
        port = free_port()
        settings = settings_for(tmp_path).with_overrides(port=port, public_url=f"http://127.0.0.1:{port}",
                                                         relay_poll_seconds=0.1)
        system = build_embedded_system(settings, port=port)
        system.start()
        try:
            accounts = system.platform.runtime("accounts")
            with accounts.uow() as uow:  # a guardian of the demo school, and the child on the letter
                account, birth_date = uow.session.execute(
                    select(Account, Student.birth_date).join(AccountLink, AccountLink.account_id == Account.id)
                    .join(Student, Student.id == AccountLink.student_id)
                    .where(Account.kind == "guardian", AccountLink.ended_at.is_(None))
                    .order_by(Account.login).limit(1)
                ).one()
                _, temporary = prepare_letter(uow, account, reset_password=False, now=utcnow(), actor="test")
                record_notification(uow, account.id, "paper", at=utcnow(), actor="test")
                login = account.login
                uow.commit()

            page = browser.new_page()
            csp_errors = csp_errors_of(page)
            page.goto(f"{system.url}/")
            page.fill("#login", login)
            page.fill("#password", temporary)
            page.click("button:has-text('Se connecter')")
            page.wait_for_url("**/premiere-connexion")
            assert login in page.inner_text("main")
            assert page.locator("#temporary_password").count() == 0  # the sign-in checked it: not asked twice
            page.fill("#new_password", "Lilas2026")
            page.fill("#new_password_again", "Lilas2026")
            page.fill("#email", "parent@example.org")
            page.fill("#email_again", "parent@example.org")
            page.fill("#birth_date", birth_date.strftime("%d/%m/%Y"))
            page.click("button:has-text('Valider')")
            page.wait_for_url("**/compte/en-attente")
            assert "Votre compte est en attente de confirmation" in page.inner_text("main")

            # The notifier sends the confirmation email through the broker to the SMTP sink.
            mail = settings.data_dir / "mail"
            wait_for(lambda: any(mail.glob("*.eml")), timeout=30)
            page.goto(_emailed_link(mail, "/compte/confirmation"))
            page.click("button:has-text('Confirmer mon adresse')")
            assert "Votre compte Téléservices est opérationnel" in page.inner_text("main")

            page.click("a:has-text('Se connecter')")
            page.fill("#login", login)
            page.fill("#password", "Lilas2026")
            page.click("button:has-text('Se connecter')")
            page.wait_for_url("**/accueil")
            main = page.inner_text("main")
            assert main.startswith("Bienvenue ") and "Première connexion à Scolarité services" in main
            page.click("main button:has-text('Se déconnecter')")
            page.wait_for_url(f"{system.url}/")
            assert "Vous êtes déconnecté." in page.inner_text("main")
            assert csp_errors == []  # no inline script or style was needed
        finally:
            system.stop()
            reset_memory_broker()
