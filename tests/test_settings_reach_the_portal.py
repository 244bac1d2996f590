"""The console's « Paramétrage » (D1, D5) reaches the families' portal: what a head of school saves
through the gateway leaves the accounts outbox as `school.settings_changed`, and the portal's
worker puts it in the portal's read model — on the embedded stack (SQLite, in-memory broker).
Then the welcome message editor in a real browser (skipped without Chromium)."""
from __future__ import annotations

import re

import pytest
from werkzeug.test import Client

from support.browser import chromium, csp_errors_of, served
from support.bus import reset_memory_broker, run_worker_until
from ts_accounts.adapters.orm import School
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.settings import visible_text
from ts_accounts.service_layer.staff import create_staff
from ts_portal.service_layer.school_settings import school_settings
from ts_shared.runtime.gateway import Gateway
from ts_shared.runtime.process import build_worker

UAI = "0541234X"
HEAD, PASSWORD = "chef.moulin", "principale-2026"
MESSAGE = ('<p>Bonjour, l\'établissement organise une journée <strong>« Portes ouvertes »</strong> le 15 mai. '
           '<a href="https://www.college-moulin.example.fr/portes-ouvertes" onclick="track()">Programme</a>'
           '<script>alert("x")</script></p>')
SANITISED = ('<p>Bonjour, l\'établissement organise une journée <strong>« Portes ouvertes »</strong> le 15 mai. '
             '<a href="https://www.college-moulin.example.fr/portes-ouvertes" target="_blank" '
             'rel="noopener noreferrer">Programme</a></p>')
LINKS = [("Le site de l'établissement", "https://www.college-moulin.example.fr/"),
         ("Le site de l'académie", "https://www.ac-nancy-metz.fr/")]


def seed(platform, folder):
    """The module's data, made once; each test starts from a copy (conftest.py)."""
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        create_staff(uow, login=HEAD, display_name="Mme la Principale", password=PASSWORD, head_of=UAI)
        activate_services(uow, UAI)
        uow.commit()


@pytest.fixture
def platform(platform):
    reset_memory_broker()
    yield platform
    reset_memory_broker()


@pytest.fixture
def gateway(platform):
    return Gateway({name: platform.app(name) for name in platform.specs})


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _submit(client, path, data):
    return client.post(path, data={"csrf_token": _csrf(client.get(path).text), **data})


def _head_console(gateway) -> Client:
    client = Client(gateway)
    assert _submit(client, "/admin/login", {"login": HEAD, "password": PASSWORD}).status_code == 302
    return client


def _accounts_version(platform) -> int:
    with platform.runtime("accounts").uow() as uow:
        return uow.session.get(School, UAI).settings_version


def _portal_copy(platform):
    with platform.runtime("portal").uow() as uow:
        return school_settings(uow.session, UAI)


def test_a_welcome_message_and_useful_links_saved_in_the_console_reach_the_portal_read_model(platform, gateway):
    console = _head_console(gateway)
    saved = _submit(console, "/admin/settings/welcome", {"message": MESSAGE, "action": "save"})
    assert saved.status_code == 302 and saved.headers["X-TS-Service"] == "accounts"
    for label, url in LINKS:
        assert _submit(console, "/admin/settings/links", {"label": label, "url": url}).status_code == 302

    relay = platform.runtime("accounts").relay()
    try:
        assert relay.publish_pending() >= 4  # school added, activated, message, two links
    finally:
        relay.close()
    version = _accounts_version(platform)
    worker = build_worker(platform, "portal")
    run_worker_until(worker, lambda: (copy := _portal_copy(platform)) is not None and copy.settings_version == version)

    copy = _portal_copy(platform)
    assert copy.welcome_message_html == SANITISED
    assert copy.useful_links == [{"label": label, "url": url} for label, url in LINKS]
    assert copy.name == "Collège Jean Moulin" and copy.services_activated is True


def test_the_settings_scripts_and_stylesheet_are_served_through_the_gateway(gateway):
    console = _head_console(gateway)
    page = console.get("/admin/settings/welcome").text
    assets = re.findall(r'(?:src|href)="(/admin/settings-static/[^"]+)"', page)
    assert set(assets) == {"/admin/settings-static/settings-welcome.js", "/admin/settings-static/settings.css"}
    for path in assets + ["/admin/settings-static/settings-ent.js"]:
        response = Client(gateway).get(path)  # public files: no session needed
        assert response.status_code == 200 and response.headers["X-TS-Service"] == "accounts"
        assert "Content-Security-Policy" in response.headers


# --- the editor in a real browser ----------------------------------------------------------------

SELECT_WORD = """(word) => {
  const walker = document.createTreeWalker(document.getElementById("welcome-editor"), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.nodeValue.indexOf(word);
    if (at >= 0) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + word.length);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      return true;
    }
  }
  return false;
}"""


def test_the_welcome_message_editor_formats_links_counts_and_previews_in_a_real_browser(platform, gateway):
    with served(gateway) as url, chromium() as browser:
        from playwright.sync_api import expect

        page = browser.new_page()
        csp_errors = csp_errors_of(page)
        page.goto(f"{url}/admin/login")
        page.fill("#login", HEAD)
        page.fill("#password", PASSWORD)
        page.click("button:has-text('Se connecter')")
        page.wait_for_url("**/admin/")
        page.goto(f"{url}/admin/settings/welcome")

        # With JavaScript: the editor and its toolbar, not the textarea nor the « Aperçu » button.
        editor = page.locator("#welcome-editor")
        expect(editor).to_be_visible()
        expect(page.locator("textarea#message")).to_be_hidden()
        expect(page.locator("button[data-preview-button]")).to_be_hidden()
        editor.click()
        page.keyboard.type("Bonjour à tous")
        expect(page.locator("#welcome-counter")).to_have_text("(14/2000 caractères maximum)")
        expect(page.locator("#welcome-preview")).to_have_text("Bonjour à tous")

        assert page.evaluate(SELECT_WORD, "tous")
        page.click("button[data-command=bold]")
        expect(page.locator("#welcome-preview b, #welcome-preview strong")).to_have_text("tous")

        # A link on the selected text: only http(s) addresses.
        assert page.evaluate(SELECT_WORD, "Bonjour")
        page.fill("#welcome-link-url", "javascript:alert(1)")
        page.click("button[data-command=createLink]")
        expect(page.locator("#welcome-editor-error")).to_contain_text("http:// ou https://")
        assert page.locator("#welcome-editor a").count() == 0
        assert page.evaluate(SELECT_WORD, "Bonjour")
        page.fill("#welcome-link-url", "https://www.ac-nancy-metz.fr/")
        page.click("button[data-command=createLink]")
        link = page.locator("#welcome-preview a")
        expect(link).to_have_text("Bonjour")
        expect(link).to_have_attribute("href", "https://www.ac-nancy-metz.fr/")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")

        # Over 2000 characters: the counter and the message say so at once.
        editor.click()
        page.keyboard.press("End")
        page.keyboard.insert_text(" " + "x" * 1990)
        expect(page.locator("#welcome-counter")).to_have_text("(2005/2000 caractères maximum)")
        expect(page.locator("#welcome-editor-error")).to_contain_text("dépasse 2000 caractères")
        for _ in range(10):
            page.keyboard.press("Backspace")
        expect(page.locator("#welcome-counter")).to_have_text("(1995/2000 caractères maximum)")
        expect(page.locator("#welcome-editor-error")).to_be_hidden()

        page.click("button:has-text('Valider')")
        page.wait_for_url("**/admin/settings/welcome")
        expect(page.locator("main")).to_contain_text("Le message d'accueil est enregistré")

        # D2: the ENT part shows only for the ENT letter types; « Aperçu du lien » follows the typing.
        page.goto(f"{url}/admin/settings/ent")
        ent_part = page.locator("[data-ent-part]")
        expect(ent_part).to_be_hidden()
        page.locator("label[for=letter_type-1]").click()
        expect(ent_part).to_be_visible()
        preview = page.locator("#ent-url-preview")
        expect(preview).to_have_attribute("aria-disabled", "true")
        page.fill("#ent_url", "https://ent.college-moulin.example.fr/")
        expect(preview).to_have_attribute("href", "https://ent.college-moulin.example.fr/")
        expect(preview).to_have_attribute("target", "_blank")
        page.locator("label[for=letter_type-0]").click()
        expect(ent_part).to_be_hidden()
    assert csp_errors == []  # no inline script or style was needed
    with platform.runtime("accounts").uow() as uow:
        stored = uow.session.get(School, UAI).welcome_message_html
    assert stored.startswith('<a href="https://www.ac-nancy-metz.fr/" target="_blank" rel="noopener noreferrer">'
                             'Bonjour</a> à <b>tous'), stored
    assert visible_text(stored) == "Bonjour à tous " + "x" * 1980
