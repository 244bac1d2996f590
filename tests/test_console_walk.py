"""The whole console (accounts, notifier and stats behind the gateway), walked by the head of the
demo school and by the academy administrator: every page, every form sent filled as a secretary
would and with each field wrong — never a 5xx; and no page shows a code or an id where a word is
due (`files.downloaded`, `merged_into:…`, a UUID)."""
from __future__ import annotations

import re

import lxml.html
import pytest
from werkzeug.test import Client

from support.bus import reset_memory_broker
from support.console_walk import ConsoleWalker, csrf, sign_in
from support.settings import settings_for
from ts_accounts.web.console.labels import AUDIT_ACTIONS, EVENT_LABELS
from ts_shared.messaging.events import EVENT_TYPES
from ts_shared.runtime.gateway import Gateway
from ts_shared.runtime.process import Platform

HEAD = ("chef.demo", "demo-chef-2026")
ACADEMY_ADMIN = ("admin.academie", "demo-admin-2026")

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
TOKEN = re.compile(r"[A-Za-z0-9_.:@/-]+")
# Codes stored by the system: the audit log's actions, the events, the accounts' history.
KNOWN_CODES = set(AUDIT_ACTIONS) | set(EVENT_LABELS) | set(EVENT_TYPES)


def codes_in(text: str) -> list[str]:
    """What reads as a code or an id: a known code (files.downloaded), a word joined by an
    underscore (merged_into:brigitte.collin, not_notified), a UUID. Logins (prenom.nom), email and
    web addresses are words of the page."""
    found = []
    for token in TOKEN.findall(text):
        token = token.strip(".:-")
        if "@" in token or "/" in token:
            continue
        if token in KNOWN_CODES and ("." in token or "_" in token) or "_" in token or UUID.search(token):
            found.append(token)
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The embedded run's data: the demo school (activated by its head) and its staff."""
    reset_memory_broker()
    platform = Platform(settings_for(tmp_path_factory.mktemp("walk")))
    for name, spec in platform.specs.items():
        platform.runtime(name).migrate()
        if spec.seed_demo:
            spec.seed_demo(platform.runtime(name))
    gateway = Gateway({name: spec.create_app(platform.runtime(name)) for name, spec in platform.specs.items()})
    client = Client(gateway)
    sign_in(client, *HEAD)
    activation = client.get("/admin/activation")
    client.post("/admin/activation", data={"csrf_token": csrf(activation.text)})
    yield gateway
    platform.dispose()


@pytest.fixture(scope="module")
def walks(demo):
    return {"head": ConsoleWalker(Client(demo), login=HEAD[0], password=HEAD[1]).run(),
            "academy": ConsoleWalker(Client(demo), login=ACADEMY_ADMIN[0], password=ACADEMY_ADMIN[1],
                                     start="/admin/academy/schools").run()}


def test_in_the_embedded_run_lefe_finds_herve_lefevre(demo):
    client = Client(demo)
    sign_in(client, *HEAD)
    found = client.get("/admin/guardians/?nom=lefe&rechercher=1")
    assert found.status_code == 200 and "Lefèvre Hervé" in found.text


@pytest.mark.parametrize("who", ["head", "academy"])
def test_every_console_form_answers_without_a_server_error(walks, who):
    walk = walks[who]
    forms = {(v.method, v.url) for v in walk.visits if v.variant != "page"}
    assert len(forms) > (40 if who == "head" else 10)  # the walk did reach the console's forms
    assert [(v.method, v.url, v.variant, v.status) for v in walk.failures()] == []


def _visible_text(html: str) -> str:
    document = lxml.html.fromstring(html)
    for hidden in document.xpath("//script|//style|//head|//input|//textarea|//code"):  # <code>: letter syntax
        hidden.drop_tree()
    return document.text_content()


@pytest.mark.parametrize("who", ["head", "academy"])
def test_no_console_page_shows_a_code_or_a_uuid(walks, who):
    shown = {}
    for visit in walks[who].pages():
        text = _visible_text(visit.text)
        for found in codes_in(text):
            shown.setdefault(found, visit.url)
    assert len(walks[who].pages()) > (60 if who == "head" else 8)
    assert shown == {}


def test_the_code_detector_sees_what_the_issue_saw():
    assert codes_in("Action : files.downloaded · account.access_refused") == [
        "files.downloaded", "account.access_refused"]
    assert codes_in("Fin : 30/11/2026 (merged_into:brigitte.collin)") == ["merged_into:brigitte.collin"]
    assert codes_in("jean.dupont — ce.0541234x@ac-nancy-metz.fr — https://x.fr/a_b — 3e.A — import.") == []
    assert codes_in("lot 3f2b8c1e-0d4a-4b7e-9c1f-2a3b4c5d6e7f") == ["3f2b8c1e-0d4a-4b7e-9c1f-2a3b4c5d6e7f"]
