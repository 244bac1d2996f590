"""Browser journeys on « Scolarité services » in headless Chromium, on the embedded system (gateway,
services, bus, mail sink): every page visited is checked with axe-core at 360 and 1280 px (no
serious or critical violation) and kept as a screenshot in test-artifacts/portal/."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.test import Client

from support.accessibility import AccessibilityCheck
from support.browser import chromium, csp_errors_of
from support.bus import reset_memory_broker, wait_for
from support.portal import first_login, sign_in, submit, text
from support.settings import settings_for
from support.siecle_files import ADDRESSES, LINKS, OTHER_UAI, PEOPLE, STUDENTS, guardians_file, students_file
from test_portal_home import set_up_school
from test_portal_journeys import _emailed_link
from ts_accounts.adapters.orm import Account, AccountLink, Guardian, Student
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.demo.seed import DEMO_UAI
from ts_accounts.service_layer.accounts import prepare_letter, record_notification
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import add_school
from ts_portal.adapters.orm import SchoolPortalSettings
from ts_shared.db import utcnow
from ts_shared.runtime.mail_sink import free_port

DEMO_HEAD, DEMO_HEAD_PASSWORD = "chef.demo", "demo-chef-2026"


@pytest.fixture
def embedded(tmp_path):
    from ts_shared.runtime.embedded import build_embedded_system

    reset_memory_broker()
    port = free_port()
    settings = settings_for(tmp_path).with_overrides(port=port, public_url=f"http://127.0.0.1:{port}",
                                                     relay_poll_seconds=0.1)
    system = build_embedded_system(settings, port=port)
    system.start()
    yield system
    system.stop()
    reset_memory_broker()


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def _settings_reached_the_portal(system, uai: str) -> bool:
    with system.platform.runtime("portal").uow() as uow:
        settings = uow.session.get(SchoolPortalSettings, uai)
        return settings is not None and bool(settings.useful_links) and bool(settings.open_services)


def open_schools(system) -> None:
    """The demo school and a lycée of the same academy, both with their services open."""
    accounts = system.platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=OTHER_UAI, name="Lycée Henri Poincaré", academy_code="NCY")
        uow.commit()
    folder = system.platform.settings.data_dir
    files = [students_file(folder / "e.xml", STUDENTS, uai=OTHER_UAI),
             guardians_file(folder / "r.xml", PEOPLE, LINKS, ADDRESSES, uai=OTHER_UAI)]
    with accounts.uow() as uow:
        import_population(uow, uai=OTHER_UAI, actor="test",
                          source=source_from_exports(OTHER_UAI, [inspect_export(f) for f in files]))
        uow.commit()
    set_up_school(accounts, DEMO_UAI, address="contact.0541234x@ac-nancy-metz.fr")
    set_up_school(accounts, OTHER_UAI, address="ce.0573321a@ac-nancy-metz.fr", academic_label=None,
                  services=("vie_scolaire", "notes", "fiche_renseignements", "paiement"))
    wait_for(lambda: _settings_reached_the_portal(system, DEMO_UAI) and _settings_reached_the_portal(system, OTHER_UAI),
             timeout=30)


def letter(system, uai: str, *, first: int = 0) -> tuple[str, str, str]:
    """A letter for a guardian account of the school: (login, temporary password, child's birth date);
    `child_named` then says whose."""
    with system.platform.runtime("accounts").uow() as uow:
        account, student = uow.session.execute(
            select(Account, Student).join(AccountLink, AccountLink.account_id == Account.id)
            .join(Student, Student.id == AccountLink.student_id).join(Guardian, Guardian.id == AccountLink.guardian_id)
            .where(Account.kind == "guardian", AccountLink.ended_at.is_(None), AccountLink.school_uai == uai)
            .order_by(Account.login).offset(first).limit(1)).one()
        _, temporary = prepare_letter(uow, account, reset_password=False, now=utcnow(), actor="test")
        record_notification(uow, account.id, "paper", at=utcnow(), actor="test")
        uow.commit()
        child_named[account.login] = f"{student.first_name} {student.display_last_name}"
        return account.login, temporary, student.birth_date.strftime("%d/%m/%Y")


child_named: dict[str, str] = {}


def activate(system, login: str, temporary: str, birth: str, email: str) -> None:
    """Letter, first login and confirmation link, over HTTP through the gateway."""
    client = Client(system.gateway_server.app)
    sign_in(client, login, temporary)
    pending = first_login(client, temporary, birth=birth, email=email, new_password="Lilas2026")
    assert pending.headers["Location"] == "/compte/en-attente", text(pending)
    mail = system.platform.settings.data_dir / "mail"
    wait_for(lambda: any(email in path.read_text(errors="replace") for path in mail.glob("*.eml")), timeout=30)
    link = _emailed_link(mail, "/compte/confirmation")
    assert submit(client, link[link.index("/compte/confirmation"):], {}).status_code == 200


def _accesses_counted(system) -> int:
    from ts_stats.adapters.orm import ServiceAccessCount

    table = ServiceAccessCount.__table__
    with system.platform.runtime("stats").engine.connect() as connection:
        return connection.execute(select(func.coalesce(func.sum(table.c["count"]), 0))).scalar_one()


def sign_in_page(page, url: str, login: str, password: str) -> None:
    page.goto(f"{url}/")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("main button:has-text('Se connecter')")


def sign_out_is_reachable_on_a_phone(page) -> bool:
    """At 360 px the header's tools are hidden: the « Menu » button opens them, sign-out included."""
    page.set_viewport_size({"width": 360, "height": 800})
    page.click("#bouton-menu-portail")
    visible = page.locator("#menu-portail button:has-text('Se déconnecter')").first.is_visible()
    page.click("#menu-portail button.fr-btn--close")
    page.set_viewport_size({"width": 1280, "height": 900})
    return visible


def test_a_guardian_of_two_children_in_two_schools_uses_the_portal_on_a_phone_and_a_laptop(embedded, browser):
    system, url = embedded, embedded.url
    open_schools(system)
    login, temporary, birth = letter(system, OTHER_UAI)
    activate(system, login, temporary, birth, "parent.deux@example.org")
    demo_login, demo_temporary, demo_birth = letter(system, DEMO_UAI)  # the other child's letter
    checks = AccessibilityCheck("portal")
    page = browser.new_page()
    csp_errors = csp_errors_of(page)

    page.goto(f"{url}/")
    checks.check(page, "Connexion")
    sign_in_page(page, url, login, "Lilas2026")
    page.wait_for_url("**/accueil")
    # H8 across schools of the academy: the other letter joins this account.
    page.goto(f"{url}/mon-compte/regroupement")
    checks.check(page, "Regroupement")
    page.fill("#courrier-other_login", demo_login)
    page.fill("#courrier-other_password", demo_temporary)
    page.fill("#courrier-birth_date", demo_birth.replace("/", ""))  # typed on a phone's numeric keypad
    page.click("main button:has-text('Regrouper')")
    assert "2 enfants sont rattachés" in page.inner_text("main")

    page.goto(f"{url}/accueil")
    assert "2 enfants sont rattachés à votre compte" in page.inner_text("main")
    assert sign_out_is_reachable_on_a_phone(page)
    checks.check(page, "Accueil")
    opened = []
    for index in range(page.locator("#enfant option").count()):
        page.select_option("#enfant", index=index)
        page.click("main button:has-text('Afficher')")
        page.wait_for_load_state()
        main = page.inner_text("main")
        assert "La scolarité de" in main
        tiles = page.locator("ul.ts-tiles a")
        hrefs = [tiles.nth(i).get_attribute("href") for i in range(tiles.count())]
        assert hrefs and all("enfant=" in href for href in hrefs)
        for href in hrefs:
            page.goto(f"{url}{href}")
            assert page.locator("h1").inner_text()
            if href.startswith(("/services/notes", "/services/ent")):
                checks.check(page, f"Service {href.split('?')[0].rsplit('/', 1)[1]} {index}")
            opened.append(href.split("?")[0])
        page.goto(f"{url}/accueil?{hrefs[0].split('?')[1]}")
    assert "/services/paiement" in opened and "/services/ent" in opened  # the lycée's, the collège's
    # G3: the statistics count each opening, per school and service, from the portal's events.
    wait_for(lambda: _accesses_counted(system) == len(opened), timeout=30)

    page.click("main a:has-text('Liens utiles')")
    assert "Cantine : les menus" in page.inner_text("main")
    checks.check(page, "Liens utiles")
    page.goto(f"{url}/accueil")
    page.click("main a:has-text('Contacter l')")
    assert "03 83 12 34 56" in page.inner_text("main")
    checks.check(page, "Contact")
    page.click("main button:has-text('Envoyer le message')")  # empty: both errors at once, focused
    page.wait_for_load_state()
    assert page.evaluate("document.activeElement.id") == "erreurs", page.inner_text("main")[:800]
    checks.check(page, "Contact avec erreurs")
    page.fill("#subject", "Rendez-vous avec le professeur principal")
    page.fill("#message", "Bonjour,\n\nPourrions-nous convenir d'un rendez-vous ?")
    page.click("main button:has-text('Envoyer le message')")
    assert "Votre message a été envoyé" in page.inner_text("main")
    # In the embedded run the emails are in /dev/mail: the school's, and the family's copy.
    mail = system.platform.settings.data_dir / "mail"
    wait_for(lambda: sum("Rendez-vous avec le professeur principal" in p.read_text(errors="replace")
                         for p in mail.glob("*.eml")) >= 2, timeout=30)
    page.goto(f"{url}/dev/mail/")
    assert "Rendez-vous avec le professeur principal" in page.inner_text("body")

    page.goto(f"{url}/mon-compte")
    checks.check(page, "Mon compte")
    for path, name in (("/aide", "Aide"), ("/mentions-legales", "Mentions légales"),
                       ("/donnees-personnelles", "Données personnelles"), ("/accessibilite", "Accessibilité")):
        page.goto(f"{url}{path}")
        checks.check(page, name)
    page.goto(f"{url}/accueil")
    page.set_viewport_size({"width": 360, "height": 800})
    page.click("#bouton-menu-portail")
    page.click("#menu-portail button:has-text('Se déconnecter')")
    page.wait_for_url(f"{url}/")
    assert "Vous êtes déconnecté." in page.inner_text("main")
    assert checks.problems == {}
    assert csp_errors == []


def test_an_activation_with_three_errors_is_fixed_in_one_go(embedded, browser):
    system, url = embedded, embedded.url
    open_schools(system)
    login, temporary, birth = letter(system, OTHER_UAI)
    checks = AccessibilityCheck("portal-activation")
    page = browser.new_page()
    page.set_viewport_size({"width": 360, "height": 800})
    sign_in_page(page, url, login, temporary)
    page.wait_for_url("**/premiere-connexion")
    assert page.locator("#temporary_password").count() == 0  # the sign-in checked it
    assert f"Date de naissance de {child_named[login]}" in page.inner_text("main")
    assert sign_out_is_reachable_on_a_phone(page)
    checks.check(page, "Première connexion")
    page.fill("#new_password", "Lilas2026")
    page.fill("#new_password_again", "Lilas2027")
    page.fill("#email", "parent@example.org")
    page.fill("#email_again", "parent@exemple.org")
    page.fill("#birth_date", "01.01.2001")
    page.click("main button:has-text('Valider')")
    summary = page.locator("[data-ts-error-summary]")
    assert "3 erreurs" in summary.inner_text()
    assert page.evaluate("document.activeElement.id") == "erreurs"
    assert page.get_attribute("#birth_date", "aria-invalid") == "true"
    assert page.input_value("#email") == "parent@example.org" and page.input_value("#new_password") == ""
    checks.check(page, "Première connexion avec erreurs")
    page.fill("#new_password", "Lilas2026")
    page.fill("#new_password_again", "Lilas2026")
    page.fill("#email_again", "parent@example.org")
    page.fill("#birth_date", birth.replace("/", "-"))
    page.click("main button:has-text('Valider')")
    page.wait_for_url("**/compte/en-attente")
    assert sign_out_is_reachable_on_a_phone(page)
    checks.check(page, "En attente de confirmation")
    page.goto(f"{url}/mot-de-passe-oublie")
    checks.check(page, "Mot de passe oublié")
    assert checks.problems == {}


def test_a_head_of_school_simulates_an_account_that_cannot_change_anything(embedded, browser):
    system, url = embedded, embedded.url
    open_schools(system)
    login, temporary, birth = letter(system, DEMO_UAI)
    activate(system, login, temporary, birth, "parent@example.org")
    with system.platform.runtime("accounts").uow() as uow:
        account = uow.session.scalar(select(Account).where(Account.login == login))
        link = uow.session.scalars(select(AccountLink).where(AccountLink.account_id == account.id)).first()
        student = uow.session.get(Student, link.student_id)
        guardian = uow.session.get(Guardian, link.guardian_id)
        before = (account.version, account.last_login_at, account.password_hash, account.email)
    checks = AccessibilityCheck("portal-simulation")
    page = browser.new_page()
    page.goto(f"{url}/admin/login")
    page.fill("#login", DEMO_HEAD)
    page.fill("#password", DEMO_HEAD_PASSWORD)
    page.click("main button:has-text('Se connecter')")
    page.goto(f"{url}/admin/guardians/{student.siecle_id}/{guardian.siecle_id}")
    page.click("main button:has-text('Simuler l')")
    page.wait_for_url("**/simulation?jeton=*")
    assert "Aucune modification ne sera effectuée" in page.inner_text("main")
    checks.check(page, "Avertissement de simulation")
    page.click("main button:has-text('Accéder en consultation seule')")
    page.wait_for_url("**/accueil")
    assert "ACCÈS EN CONSULTATION SEULE" in page.inner_text("header")
    checks.check(page, "Accueil en simulation")
    page.goto(f"{url}/mon-compte")
    assert "Ce lien n'est pas actif dans la simulation" in page.inner_text("main")
    checks.check(page, "Mon compte en simulation")
    # A write the page does not offer, sent anyway from the page: refused on the server.
    status = page.evaluate("""async () => {
        const token = document.querySelector("input[name=csrf_token]").value;
        const body = new URLSearchParams({csrf_token: token, "mdp-current_password": "Lilas2026",
            "mdp-new_password": "Autre2026", "mdp-new_password_again": "Autre2026"});
        return (await fetch("/mon-compte/mot-de-passe", {method: "POST", body})).status;
    }""")
    assert status == 403
    with system.platform.runtime("accounts").uow() as uow:
        account = uow.session.scalar(select(Account).where(Account.login == login))
        assert (account.version, account.last_login_at, account.password_hash, account.email) == before
    assert checks.problems == {}
