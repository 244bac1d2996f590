"""« Synthèse accès téléservices » in headless Chromium: the page refreshes its charts and tables
by itself when the portal's events arrive (no reload), under the console's Content Security
Policy, and the chart's bars carry their detail."""
from __future__ import annotations

from datetime import UTC, datetime

from support.browser import chromium, csp_errors_of, served
from ts_shared.messaging.envelope import new_event, parse_event
from ts_shared.web.staff_session import STAFF_IDENTITY_HEADER, seal_identity

UAI = "0541234X"


def _access(service: str):
    return parse_event(new_event("portal.service_accessed", {
        "kind": "student", "service_code": service, "mefstat": "1031", "month": datetime.now(UTC).strftime("%Y-%m"),
        "accessed_at": datetime.now(UTC).isoformat()}, producer="portal", school_uai=UAI).to_message())


def _school():
    return parse_event(new_event("school.settings_changed", {
        "settings_version": 1, "name": "Collège Jean Moulin", "academy_code": "NCY", "services_activated": True,
        "service_labels": {"notes": "Notes", "vie_scolaire": "Vie scolaire"}}, producer="accounts",
        school_uai=UAI).to_message())


def test_the_access_page_refreshes_itself_when_accesses_arrive(platform, delegate, monkeypatch):
    monkeypatch.setattr("ts_stats.web.pages.ACCESS_REFRESH_SECONDS", 1)
    stats = platform.runtime("stats")
    consumer = stats.consumer()
    consumer.apply(_school())
    consumer.apply(_access("notes"))
    app = stats.spec.create_app(stats)
    token = platform.settings.internal_token

    def as_the_gateway(environ, start_response):  # what nginx adds after asking accounts
        environ["HTTP_" + STAFF_IDENTITY_HEADER.upper().replace("-", "_")] = seal_identity(delegate, token)
        return app(environ, start_response)

    with served(as_the_gateway) as url, chromium() as browser:
        page = browser.new_page()
        refused = csp_errors_of(page)
        page.goto(f"{url}/admin/stats/acces")
        services = page.locator("#acces-services table")
        assert services.locator("tr", has_text="Notes").locator("td").first.inner_text() == "1"
        assert "Notes : 1 accès" in page.locator("#acces-services svg g title").first.text_content()
        consumer.apply(_access("notes"))
        consumer.apply(_access("vie_scolaire"))
        page.wait_for_function("() => document.querySelector('#acces-services').textContent.includes('Vie scolaire')",
                               timeout=20000)
        assert services.locator("tr", has_text="Notes").locator("td").first.inner_text() == "2"
        assert "Chiffres mis à jour" in page.locator("#acces-etat").inner_text()
        assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # never reloaded
        assert refused == []
