"""The four services behind the in-process gateway (the embedded run's), through HTTP: routing as
nginx does it, health and metrics, the staff sign-in shared by the console's services."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import create_engine
from werkzeug.test import Client

from support.bus import reset_memory_broker
from ts_shared.runtime.gateway import BLOCKED_PREFIXES, ROUTES, Gateway, route_for


def seed(platform, folder):
    """The demo data of every service, made once; each test starts from a copy (conftest.py)."""
    for name, spec in platform.specs.items():
        if spec.seed_demo:
            spec.seed_demo(platform.runtime(name))


@pytest.fixture
def platform(platform):
    reset_memory_broker()
    return platform


@pytest.fixture
def apps(platform):
    return {name: platform.app(name) for name in platform.specs}


@pytest.fixture
def client(apps):
    return Client(Gateway(apps))


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _sign_in(client, login="chef.demo", password="demo-chef-2026", next_=None):
    page = client.get("/admin/login")
    url = "/admin/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"csrf_token": _csrf(page.text), "login": login, "password": password})


@pytest.mark.parametrize("path,service", [
    ("/", "portal"),
    ("/some/portal/page", "portal"),
    ("/admin", "accounts"),
    ("/admin/", "accounts"),
    ("/admin/login", "accounts"),
    ("/api/v1/anything", "accounts"),
    ("/admin/stats", "stats"),
    ("/admin/stats/", "stats"),
    ("/admin/statistics-elsewhere", "accounts"),  # a prefix matches whole path segments only
    ("/admin/letters/guardian_new", "notifier"),
    ("/admin/notifications/", "notifier"),
])
def test_the_gateway_sends_each_path_to_its_service(client, path, service):
    assert route_for(path) == service
    assert client.get(path).headers["X-TS-Service"] == service


@pytest.mark.parametrize("path", ["/internal/v1/authenticate", "/metrics", "/internal"])
def test_the_gateway_never_exposes_internal_apis_or_metrics(client, path):
    response = client.get(path)
    assert response.status_code == 404 and "X-TS-Service" not in response.headers


def test_every_route_of_the_gateway_has_a_service():
    assert {service for _, service in ROUTES} == {"accounts", "notifier", "portal", "stats"}
    assert all(prefix.startswith("/") for prefix in BLOCKED_PREFIXES)


@pytest.mark.parametrize("service", ["accounts", "notifier", "portal", "stats"])
def test_each_service_answers_health_readiness_and_metrics(apps, service):
    client = Client(apps[service])
    assert client.get("/healthz").json == {"status": "ok", "service": service}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "broker": "ok"}
    metrics = client.get("/metrics").text
    assert "ts_http_requests_total" in metrics and f'ts_outbox_pending{{service="{service}"}}' in metrics


def test_readiness_fails_when_the_database_cannot_be_reached(apps, platform, monkeypatch):
    # The stats database now lives on a server that refuses connections (for this test only: the
    # module's other tests share the platform).
    monkeypatch.setitem(platform.runtime("stats").__dict__, "engine",
                        create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    response = Client(apps["stats"]).get("/readyz")
    assert response.status_code == 503 and response.json["status"] == "not ready"
    assert response.json["checks"] == {"database": "error: OperationalError", "broker": "ok"}


def test_the_portal_and_the_console_serve_their_login_pages(client):
    portal = client.get("/")
    assert portal.status_code == 200 and "Connexion à Scolarité services" in portal.text
    assert "/assets/dsfr/dsfr.min.css" in portal.text
    assert client.get("/assets/dsfr/dsfr.min.css").status_code == 200
    console = client.get("/admin/", follow_redirects=True)
    assert console.request.path == "/admin/login" and "Connexion à Administration Téléservices" in console.text
    assert client.get("/admin/assets/dsfr/dsfr.min.css").status_code == 200


def test_a_staff_member_signs_in_once_for_every_console_service(client):
    assert client.get("/admin/stats/").headers["Location"].startswith("/admin/login?next=/admin/stats/")
    response = _sign_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    # C1: nothing but the activation screen until the school activates its online services.
    assert client.get("/admin/").headers["Location"] == "/admin/activation"
    activation = client.get("/admin/activation")
    assert "Activer les téléservices" in activation.text
    assert "Gestion des téléservices" not in activation.text  # no menu leads anywhere yet
    activated = client.post("/admin/activation", data={"csrf_token": _csrf(activation.text)})
    assert activated.headers["Location"] == "/admin/services/"
    home = client.get("/admin/")
    assert "Gestion des téléservices" in home.text and "Journal des actions" in home.text
    assert "Collège Jean Moulin" in home.text and re.search(r"Année \d{4}/\d{4}", home.text)
    stats = client.get("/admin/stats/")  # another service, same signed session
    assert stats.status_code == 200 and stats.headers["X-TS-Service"] == "stats"
    assert "<h1>Synthèse comptes élèves</h1>" in stats.text


def test_signing_out_ends_the_session_everywhere(client):
    _sign_in(client)
    home = client.get("/admin/", follow_redirects=True)
    client.post("/admin/logout", data={"csrf_token": _csrf(home.text)})
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/stats/").status_code == 302


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client):
    response = _sign_in(client, password="not-the-password")
    assert response.status_code == 401 and "Identifiant ou mot de passe incorrect" in response.text
    assert client.get("/admin/").status_code == 302


def test_an_overlong_login_is_refused_with_a_french_message(client):
    response = _sign_in(client, login="x" * 101)
    assert response.status_code in (400, 401) and "100 caractères au plus." in html.unescape(response.text)
    assert "Field cannot be longer" not in response.text


def test_a_form_without_its_csrf_token_is_refused(client):
    response = client.post("/admin/login", data={"login": "chef.demo", "password": "demo-chef-2026"})
    assert response.status_code == 400 and "formulaire a expiré" in response.text
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("target,landing", [
    ("/admin/stats/", "/admin/stats/"),
    ("//evil.example/admin", "/admin/"),
    ("https://evil.example/", "/admin/"),
])
def test_after_sign_in_only_console_pages_are_followed(client, target, landing):
    assert _sign_in(client, next_=target).headers["Location"] == landing


def test_a_delegate_without_the_statistics_right_cannot_open_statistics(client, platform):
    from ts_accounts.adapters.orm import StaffAssignment
    from ts_accounts.service_layer.schools import activate_services
    from ts_accounts.service_layer.staff import create_staff

    with platform.runtime("accounts").uow() as uow:
        staff = create_staff(uow, login="secretariat", display_name="M. Petit", password="a long passphrase")
        staff.assignments.append(StaffAssignment(school_uai="0541234X", is_head=False, rights=["student_access"]))
        activate_services(uow, "0541234X")
        uow.commit()
    _sign_in(client, login="secretariat", password="a long passphrase")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/stats/").status_code == 403


@pytest.mark.parametrize("path", ["/admin/stats/", "/admin/letters/", "/admin/letters/guardian_new/modifier",
                                  "/admin/letters/guardian_new/apercu", "/admin/notifications/"])
def test_before_activation_statistics_letters_and_notifications_lead_to_the_activation_screen(client, path):
    """C1: the notifier and stats read the school's activation in the identity the gateway forwards."""
    _sign_in(client)
    before = client.get(path)
    assert before.status_code == 302 and before.headers["Location"] == "/admin/activation", path
    activation = client.get("/admin/activation")
    assert "Activer les téléservices" in activation.text
    client.post("/admin/activation", data={"csrf_token": _csrf(activation.text)})
    after = client.get(path)  # (the preview may still wait for the school's settings to reach the notifier)
    assert after.headers["X-TS-Service"] in ("stats", "notifier")
    assert after.headers.get("Location") != "/admin/activation"
    assert after.status_code == 200 or path.endswith("/apercu")
