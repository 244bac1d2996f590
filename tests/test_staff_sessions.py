"""Staff sessions end on the server (issue: no session outlives its rights). Tried as an attacker
would: a cookie saved before a logout, a password change or a reset by the head, replayed on
every service behind the gateway; an identity header forged or replayed past its minute; the
cookie read for what it tells. And the passwords themselves: changed in « Mon compte », reset by
the head for a delegate, set by ops, never one of the common ones."""
from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from html import unescape
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.test import Client

from support.nginx import nginx_gateway
from support.siecle_files import STUDENTS, students_file
from ts_accounts.adapters.orm import WEB_SESSIONS, Account, AuditEntry
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.accounts import prepare_letter, record_notification
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff, delegate
from ts_notifier.service_layer.school_settings import record_school_settings
from ts_shared.db import utcnow
from ts_shared.runtime.cli import cli
from ts_shared.runtime.gateway import Gateway
from ts_shared.service import ServiceRuntime
from ts_shared.web.staff_session import STAFF_IDENTITY_HEADER, StaffIdentity, seal_identity

UAI = "0541234X"
HEAD, HEAD_PASSWORD = "chef.moulin", "principale-moulin-2026"
SECRETARY, SECRETARY_PASSWORD = "secretariat.moulin", "secretariat-moulin-2026"
# One page of each staff service, and one API call: a replayed cookie must open none of them.
PAGES = {"accounts": "/admin/guardians/", "api": "/api/v1/me", "notifier": "/admin/letters/",
         "notifications": "/admin/notifications/", "stats": "/admin/stats/"}


def seed(platform, folder):
    """The module's data, made once; each test starts from a copy (conftest.py)."""
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        create_staff(uow, login=HEAD, display_name="Mme la Principale", password=HEAD_PASSWORD, head_of=UAI)
        activate_services(uow, UAI)
        delegate(uow, Actor(HEAD), uai=UAI, login=SECRETARY, rights=["guardian_access", "settings", "statistics"],
                 display_name="M. du Secrétariat", initial_password=SECRETARY_PASSWORD)
        uow.commit()
    with platform.runtime("notifier").uow() as uow:
        record_school_settings(uow.session, UAI, {
            "settings_version": 1, "name": "Collège Jean Moulin", "academy_code": "NCY",
            "letter_type": "teleservices", "ent_url": None, "open_services": ["vie_scolaire"],
            "address_lines": ["1 rue de la Paix", "54000 NANCY"], "phone": None})
        uow.commit()


def browser(platform) -> Client:
    return Client(Gateway({name: platform.app(name)
                           for name, spec in platform.specs.items()}))


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def signed_in(platform, login: str, password: str) -> Client:
    client = browser(platform)
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"csrf_token": _csrf(page.text), "login": login, "password": password})
    assert response.status_code == 302, response.text
    return client


def replay(platform, saved: str) -> Client:
    client = browser(platform)
    client.set_cookie("ts_staff", saved)
    return client


def opens(client: Client, path: str) -> bool:
    return client.get(path).status_code == 200


def post_form(client: Client, path: str, fields: dict):
    return client.post(path, data={"csrf_token": _csrf(client.get(path).text), **fields})


def refused_everywhere(client: Client) -> None:
    for service, path in PAGES.items():
        response = client.get(path)
        if service == "api":
            assert response.status_code == 401, path
        else:
            assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login"), path


def test_the_staff_cookie_holds_an_opaque_id_and_nothing_about_the_person(platform):
    head = signed_in(platform, HEAD, HEAD_PASSWORD)
    cookie = head.get_cookie("ts_staff").value
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie)
    assert all(opens(head, path) for path in PAGES.values())
    with platform.runtime("accounts").uow() as uow:
        [row] = uow.session.execute(select(WEB_SESSIONS)).all()
    assert row.subject.startswith("staff:") and cookie not in row.id_hash  # stored under its digest only


def test_a_cookie_saved_before_logout_opens_nothing_on_any_service(platform):
    head = signed_in(platform, HEAD, HEAD_PASSWORD)
    saved = head.get_cookie("ts_staff").value
    assert all(opens(replay(platform, saved), path) for path in PAGES.values())
    logout = head.post("/admin/logout", data={"csrf_token": _csrf(head.get("/admin/").text)})
    assert logout.status_code == 302
    refused_everywhere(replay(platform, saved))
    refused_everywhere(head)


def test_the_logout_button_of_a_notifier_page_signs_out(platform):
    """The header's logout form is rendered by the notifier and posted to accounts: one CSRF
    token for the whole console."""
    head = signed_in(platform, HEAD, HEAD_PASSWORD)
    token = _csrf(head.get("/admin/letters/").text)
    assert head.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    refused_everywhere(head)


def test_an_expired_session_opens_nothing(platform, monkeypatch):
    head = signed_in(platform, HEAD, HEAD_PASSWORD)
    assert opens(head, PAGES["notifier"])
    later = utcnow() + timedelta(minutes=platform.settings.staff_session_minutes, seconds=1)
    monkeypatch.setattr("ts_shared.web.server_session.utcnow", lambda: later)
    refused_everywhere(head)


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(platform):
    here = signed_in(platform, SECRETARY, SECRETARY_PASSWORD)
    elsewhere = signed_in(platform, SECRETARY, SECRETARY_PASSWORD)
    response = post_form(here, "/admin/compte", {"current_password": SECRETARY_PASSWORD,
                                                 "new_password": "un-secret-bien-neuf-26",
                                                 "new_password_again": "un-secret-bien-neuf-26"})
    assert response.status_code == 302
    assert "Votre mot de passe a été modifié" in here.get("/admin/compte").text
    assert all(opens(here, path) for path in PAGES.values())
    refused_everywhere(elsewhere)
    signed_in(platform, SECRETARY, "un-secret-bien-neuf-26")
    with platform.runtime("accounts").uow() as uow:
        [entry] = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.password_changed")).all()
    assert entry.school_uai == UAI and entry.staff_login == SECRETARY


@pytest.mark.parametrize("fields,message", [
    ({"current_password": "pas le bon", "new_password": "un-secret-bien-neuf-26",
      "new_password_again": "un-secret-bien-neuf-26"}, "Le mot de passe actuel est incorrect."),
    ({"current_password": SECRETARY_PASSWORD, "new_password": "password123", "new_password_again": "password123"},
     "Ce mot de passe fait partie des mots de passe les plus courants"),
    ({"current_password": SECRETARY_PASSWORD, "new_password": "court", "new_password_again": "court"},
     "Le mot de passe doit comporter au moins 10 caractères."),
    ({"current_password": SECRETARY_PASSWORD, "new_password": "un-secret-bien-neuf-26",
      "new_password_again": "un-autre-secret-26"}, "Les deux mots de passe saisis sont différents."),
    ({"current_password": SECRETARY_PASSWORD, "new_password": "secretariat.moulin-26",
      "new_password_again": "secretariat.moulin-26"}, "Le mot de passe ne doit pas contenir l'identifiant."),
    ({"current_password": "", "new_password": "", "new_password_again": ""}, "Saisissez votre mot de passe actuel."),
])
def test_a_bad_password_change_says_why_and_changes_nothing(platform, fields, message):
    here = signed_in(platform, SECRETARY, SECRETARY_PASSWORD)
    elsewhere = signed_in(platform, SECRETARY, SECRETARY_PASSWORD)
    response = post_form(here, "/admin/compte", fields)
    assert response.status_code == 400 and message in unescape(response.text)
    assert opens(elsewhere, PAGES["accounts"])
    signed_in(platform, SECRETARY, SECRETARY_PASSWORD)


def test_the_head_gives_a_delegate_a_new_password_and_the_delegates_sessions_end(platform):
    secretary = signed_in(platform, SECRETARY, SECRETARY_PASSWORD)
    head = signed_in(platform, HEAD, HEAD_PASSWORD)
    delegations = head.get("/admin/delegations").text
    path = re.search(r'href="(/admin/delegations/\d+/mot-de-passe)"', delegations).group(1)
    refused = post_form(head, path, {"new_password": "password123", "new_password_again": "password123"})
    assert refused.status_code == 400 and "mots de passe les plus courants" in refused.text
    assert opens(secretary, PAGES["notifier"])
    response = post_form(
        head, path, {"new_password": "nouveau-secret-du-26", "new_password_again": "nouveau-secret-du-26"}
    )
    assert response.status_code == 302
    refused_everywhere(secretary)
    signed_in(platform, SECRETARY, "nouveau-secret-du-26")
    assert opens(head, PAGES["accounts"])  # the head's own session goes on
    with platform.runtime("accounts").uow() as uow:
        [entry] = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.password_reset")).all()
    assert (entry.school_uai, entry.staff_login, entry.target) == (UAI, HEAD, SECRETARY)


def test_a_head_resets_only_delegates_of_the_school_who_head_no_other_school(platform):
    head = signed_in(platform, HEAD, HEAD_PASSWORD)
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai="0540099B", name="Collège Victor Hugo", academy_code="NCY")
        hugo = create_staff(uow, login="chef.hugo", display_name="M. Hugo", password=HEAD_PASSWORD, head_of="0540099B")
        other = create_staff(uow, login="cpe.hugo", display_name="Mme Cpe", password=HEAD_PASSWORD)
        uow.commit()
        hugo_id, other_id = hugo.id, other.id
    assert head.get(f"/admin/delegations/{other_id}/mot-de-passe").status_code == 404  # not delegated here
    with platform.runtime("accounts").uow() as uow:
        delegate(uow, Actor(HEAD), uai=UAI, login="chef.hugo", rights=["statistics"])
        uow.commit()
    response = post_form(head, f"/admin/delegations/{hugo_id}/mot-de-passe",
                         {"new_password": "nouveau-secret-du-26", "new_password_again": "nouveau-secret-du-26"})
    assert response.status_code == 400 and "ne peut être réinitialisé que par l'académie" in unescape(response.text)
    signed_in(platform, "chef.hugo", HEAD_PASSWORD)


def test_ops_set_a_staff_password_and_every_session_of_that_person_ends(platform, monkeypatch):
    head = signed_in(platform, HEAD, HEAD_PASSWORD)
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))
    runner = CliRunner()
    refused = runner.invoke(cli, ["staff", "set-password", "--login", HEAD], env={"TS_STAFF_PASSWORD": "azertyuiop"})
    assert refused.exit_code == 1 and "mots de passe les plus courants" in refused.output
    assert opens(head, PAGES["accounts"])
    result = runner.invoke(
        cli, ["staff", "set-password", "--login", HEAD], env={"TS_STAFF_PASSWORD": "chef-nouveau-2026"}
    )
    assert result.exit_code == 0, result.output
    assert "1 session(s) ouverte(s) fermée(s)" in result.output
    refused_everywhere(head)
    signed_in(platform, HEAD, "chef-nouveau-2026")


def test_a_forged_stale_or_foreign_identity_header_opens_no_notifier_or_stats_page(platform, monkeypatch):
    identity = StaffIdentity(staff_id=1, login=HEAD, display_name="Mme la Principale", school_uai=UAI,
                             school_name="Collège Jean Moulin", rights=frozenset({"settings", "statistics"}),
                             academy_admin=False, expires_at=time.time() + 3600)
    notifier = Client(platform.app("notifier"))
    stats = Client(platform.app("stats"))
    good = seal_identity(identity, platform.settings.internal_token)
    assert notifier.get("/admin/letters/", headers={STAFF_IDENTITY_HEADER: good}).status_code == 200  # the gateway's
    forged = seal_identity(identity, "not-the-internal-token-" * 2)
    payload, signature = good.split(".")
    tampered = payload[:-4] + "AAAA." + signature
    for header in (forged, tampered, "", "garbage"):
        assert notifier.get("/admin/letters/", headers={STAFF_IDENTITY_HEADER: header}).status_code == 302
        assert stats.get("/admin/stats/", headers={STAFF_IDENTITY_HEADER: header}).status_code == 302
    # Through the gateway, a client's own header never reaches the service.
    assert browser(platform).get("/admin/letters/", headers={STAFF_IDENTITY_HEADER: good}).status_code == 302
    # A header captured once is worthless a minute later.
    later = time.time() + 61
    monkeypatch.setattr("ts_shared.web.staff_session.time.time", lambda: later)
    assert notifier.get("/admin/letters/", headers={STAFF_IDENTITY_HEADER: good}).status_code == 302


def test_failed_sign_ins_from_one_address_never_lock_the_head_out_from_school(platform):
    def attempt(password: str, address: str):
        client = browser(platform)
        page = client.get("/admin/login", environ_base={"REMOTE_ADDR": address})
        return client.post("/admin/login", environ_base={"REMOTE_ADDR": address},
                           data={"csrf_token": _csrf(page.text), "login": HEAD, "password": password})

    for _ in range(5):
        assert attempt("pas-le-bon-mot-de-passe", "203.0.113.66").status_code == 401
    locked = attempt(HEAD_PASSWORD, "203.0.113.66")
    assert locked.status_code == 429 and "Réessayez dans 15 minute(s)" in unescape(locked.text)
    assert attempt(HEAD_PASSWORD, "192.0.2.10").status_code == 302  # the head, at school


# --- behind the real nginx, with every service a separate server ----------------------------------

@contextmanager
def served_apart(platform) -> Iterator[dict[str, int]]:
    """Each service's app in its own HTTP server (as the containers are); yields their ports."""
    servers = {name: make_server("127.0.0.1", 0, None, threaded=True) for name in platform.specs}
    settings = platform.settings.with_overrides(
        accounts_internal_url=f"http://127.0.0.1:{servers['accounts'].server_address[1]}")
    runtimes = [ServiceRuntime(spec, settings) for spec in platform.specs.values()]
    for runtime in runtimes:
        runtime.migrate()
        servers[runtime.spec.name].app = runtime.spec.create_app(runtime)
        threading.Thread(target=servers[runtime.spec.name].serve_forever, daemon=True).start()
    try:
        yield {name: server.server_address[1] for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.shutdown()
        for runtime in runtimes:
            runtime.dispose()


def _form_token(response) -> str:
    return _csrf(response.text)


def test_behind_nginx_a_revoked_or_logged_out_cookie_opens_nothing_on_any_service(platform, tmp_path):
    with platform.runtime("accounts").uow() as uow:  # a student account, to sign in at the portal
        files = [students_file(tmp_path / "e.xml", STUDENTS)]
        import_population(uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]),
                          actor="test")
        account = uow.session.scalar(select(Account).where(Account.login == "lea.dupont"))
        _, temporary = prepare_letter(uow, account, reset_password=False, now=utcnow(), actor="test")
        record_notification(uow, account.id, "paper", at=utcnow(), actor="test")
        uow.commit()
    with served_apart(platform) as ports, nginx_gateway(tmp_path / "nginx", ports) as port:
        url = f"http://127.0.0.1:{port}"

        def staff(login: str, password: str) -> requests.Session:
            session = requests.Session()
            signed = session.post(f"{url}/admin/login", allow_redirects=False, data={
                "csrf_token": _form_token(session.get(f"{url}/admin/login")), "login": login, "password": password})
            assert signed.status_code == 302, signed.text
            return session

        def replayed(cookie: str, name: str = "ts_staff") -> requests.Session:
            session = requests.Session()
            session.cookies.set(name, cookie)
            return session

        def status(session: requests.Session, path: str) -> int:
            return session.get(f"{url}{path}", allow_redirects=False).status_code

        secretary = staff(SECRETARY, SECRETARY_PASSWORD)
        saved = secretary.cookies["ts_staff"]
        assert {path: status(replayed(saved), path) for path in PAGES.values()} == dict.fromkeys(PAGES.values(), 200)
        head = staff(HEAD, HEAD_PASSWORD)
        delegations = head.get(f"{url}/admin/delegations").text
        revoke = re.search(r'action="(/admin/delegations/\d+/revoke)"', delegations).group(1)
        assert (
            head.post(f"{url}{revoke}", data={"csrf_token": _csrf(delegations)}, allow_redirects=False).status_code
            == 302
        )
        for service, path in PAGES.items():  # signed in, with no right left on the school
            assert status(replayed(saved), path) == (200 if service == "api" else 403), path  # /me: who, no school
        assert replayed(saved).get(f"{url}/api/v1/me").json()["rights"] == []

        saved = head.cookies["ts_staff"]
        assert head.post(f"{url}/admin/logout", data={"csrf_token": _csrf(head.get(f"{url}/admin/letters/").text)},
                         allow_redirects=False).status_code == 302
        for service, path in PAGES.items():
            assert status(replayed(saved), path) == (401 if service == "api" else 302), path

        family = requests.Session()
        first = family.post(f"{url}/", allow_redirects=False, data={
            "csrf_token": _form_token(family.get(f"{url}/")), "login": "lea.dupont", "password": temporary})
        assert first.headers["Location"] == "/premiere-connexion"
        page = family.get(f"{url}/premiere-connexion")
        home = family.post(f"{url}/premiere-connexion", allow_redirects=False, data={
            "csrf_token": _csrf(page.text), "temporary_password": temporary, "new_password": "Latin2026",
            "new_password_again": "Latin2026", "birth_date": "12/03/2013", "email": "", "email_again": ""})
        assert home.headers["Location"] == "/accueil", home.text
        saved = family.cookies["ts_portal"]
        assert status(replayed(saved, "ts_portal"), "/accueil") == 200
        family.post(f"{url}/deconnexion", data={"csrf_token": _csrf(family.get(f"{url}/accueil").text)})
        assert status(replayed(saved, "ts_portal"), "/accueil") == 302
