"""E1/F1/F3 end to end on the embedded stack: accounts decides and issues credentials, the
notifier sends the emails over real SMTP and puts the paper letters in one PDF, accounts marks
Notifié only what was delivered."""
from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from support.bus import reset_memory_broker
from support.notifying import (
    ACTOR,
    UAI,
    SmtpServer,
    add_school_with_population,
    batch_completed,
    batch_pdf,
    division_rows,
    notified_accounts,
    notifier_knows_the_school,
    notify,
    passwords_sent,
)
from support.pipeline import run_services
from support.settings import settings_for
from ts_accounts.adapters.orm import Account, AuditEntry
from ts_accounts.domain.contacts import is_valid_email
from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.service_layer.notifications import Couple, request_class_list
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff, delegate
from ts_notifier.adapters.batches import Delivery, GeneratedFile, NotificationBatch
from ts_notifier.service_layer.files import files_folder, purge_files
from ts_notifier.service_layer.follow_up import progress
from ts_shared.config import SmtpSettings
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.runtime.gateway import Gateway
from ts_shared.runtime.process import Platform
from werkzeug.test import Client

OTHER_UAI = "0540099B"
PASSWORD = "un mot de passe du personnel"


@pytest.fixture
def smtp():
    servers = []

    def start(refused=()):
        server = SmtpServer(refused).start()
        servers.append(server)
        return server, server.port

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def make_platform(tmp_path):
    platforms = []

    def make(smtp_port: int) -> Platform:
        reset_memory_broker()
        settings = settings_for(tmp_path / f"p{len(platforms)}").with_overrides(
            smtp=SmtpSettings(host="127.0.0.1", port=smtp_port, sender="Collège <ce@example.org>"),
            public_url="https://scolarite.example.org")
        platform = Platform(settings)
        add_school_with_population(platform, tmp_path / f"export{len(platforms)}")
        # The notifier learns the school (its letters print it) from the settings event.
        run_services(platform, lambda: notifier_knows_the_school(platform), services=("accounts", "notifier"))
        platforms.append(platform)
        return platform

    yield make
    for platform in platforms:
        platform.dispose()
    reset_memory_broker()


def _batch_done(platform, batch_id: str, expected_notified: int) -> bool:
    return batch_completed(platform, batch_id) and notified_accounts(platform) >= expected_notified


@pytest.mark.parametrize("mode", ["email_and_paper", "email", "paper"])
def test_a_division_of_guardians_is_notified_in_each_mode(make_platform, smtp, mode):
    server, port = smtp()
    platform = make_platform(port)
    division = "6A"
    rows = division_rows(platform, division)
    with_email = [r for r in rows if r.email and is_valid_email(r.email)]
    order = notify(platform, [Couple(r.student_siecle_id, r.guardian_siecle_id) for r in rows], mode)
    expected_email = len(with_email) if mode != "paper" else 0
    expected_paper = {"email_and_paper": len(rows) - len(with_email), "email": 0, "paper": len(rows)}[mode]
    assert order.deliveries == expected_email + expected_paper
    run_services(platform, lambda: _batch_done(platform, order.batch_id, order.deliveries))

    passwords = passwords_sent(platform)
    assert len(server.messages) == expected_email
    for message in server.messages:
        text = message.get_body(preferencelist=("plain",)).get_content()
        login = next(login for login in passwords if login in text)
        assert passwords[login] in text  # the right password with the right login
    if expected_paper:
        pdf = batch_pdf(platform, order.batch_id)
        assert len(pdf.pages) == expected_paper  # one page per paper recipient
        paper_logins = [
            login
            for login in passwords
            if not any(login in m.get_body(preferencelist=("plain",)).get_content() for m in server.messages)
        ]
        for page in pdf.pages:
            page_text = page.extract_text()
            assert any(login in page_text and passwords[login] in page_text for login in paper_logins)
    with platform.runtime("accounts").uow() as uow:
        accounts = {a.login: a for a in uow.session.scalars(select(Account).where(Account.login.in_(list(passwords))))}
    assert all(a.state == "notified" for a in accounts.values())
    modes = sorted(a.notification_mode for a in accounts.values())
    assert modes == sorted(["email"] * expected_email + ["paper"] * expected_paper)
    # Who could not be notified (email only: no valid address) stays in the batch's recap, with why.
    with platform.runtime("notifier").uow() as uow:
        state = progress(uow.session, uow.session.get(NotificationBatch, order.batch_id))
    without_email = {r.guardian_siecle_id for r in rows if r not in with_email} if mode == "email" else set()
    assert {s.guardian_id for s in state.skipped} == without_email
    assert all(s.reason.startswith("pas d'adresse électronique valide dans SIECLE") for s in state.skipped)


def test_recipients_the_mail_server_refuses_are_exactly_those_in_the_recap(make_platform, smtp, tmp_path):
    rows = None
    server, port = smtp()
    platform = make_platform(port)
    rows = [r for r in division_rows(platform, "6A") if r.email and is_valid_email(r.email)]
    refused = {rows[0].email, rows[-1].email}
    server.refused |= refused
    order = notify(platform, [Couple(r.student_siecle_id, r.guardian_siecle_id) for r in rows], "email")
    run_services(platform, lambda: _batch_done(platform, order.batch_id, order.deliveries - len(refused)))
    with platform.runtime("notifier").uow() as uow:
        failed = uow.session.scalars(select(Delivery).where(Delivery.batch_id == order.batch_id,
                                                            Delivery.status == "failed")).all()
    assert {d.email for d in failed} == refused
    assert all("550" in d.error for d in failed)
    with platform.runtime("accounts").uow() as uow:
        states = {a.login: a.state for a in uow.session.scalars(select(Account))}
    refused_logins = {r.login for r in rows if r.email in refused}
    assert all(states[login] == "not_notified" for login in refused_logins)
    assert len(server.messages) == len(rows) - len(refused)


def test_a_class_list_is_rendered_as_pdf_and_csv_with_the_new_passwords(make_platform, smtp):
    _, port = smtp()
    platform = make_platform(port)
    with platform.runtime("accounts").uow() as uow:
        students = uow.session.scalars(select(Account).where(Account.kind == "student")).all()
        for account in students[:5]:
            account.state, account.notified_at = "notified", utcnow()
        uow.commit()
    division = division_rows(platform, "6A", AccountKind.STUDENT)
    with platform.runtime("accounts").uow() as uow:
        batch_id = request_class_list(uow, SecretBox(platform.settings.event_key), ACTOR, uai=UAI, division="6A",
                                      now=utcnow())
        uow.commit()

    def listed():
        with platform.runtime("notifier").uow() as uow:
            return len(uow.session.scalars(select(GeneratedFile).where(GeneratedFile.batch_id == batch_id)).all()) == 2

    run_services(platform, listed)
    with platform.runtime("notifier").uow() as uow:
        files = {
            f.kind: f for f in uow.session.scalars(select(GeneratedFile).where(GeneratedFile.batch_id == batch_id))
        }
    csv_text = (files_folder(platform.settings) / files["csv"].id).read_bytes().decode("utf-8")
    assert csv_text.startswith("\ufeffÉlève;Division;Date de naissance;Identifiant;Mot de passe provisoire")
    lines = csv_text.strip().splitlines()[1:]
    assert len(lines) == len(division)
    names = [line.split(";")[0] for line in lines]
    assert names == sorted(names, key=str.lower)  # alphabetical
    assert any("Compte à notifier" in line for line in lines)
    pdf = PdfReader(io.BytesIO((files_folder(platform.settings) / files["pdf"].id).read_bytes()))
    assert "Liste des comptes élèves – Division 6A" in pdf.pages[0].extract_text()


def _console(platform, login: str, password: str) -> Client:
    """A staff member signed in to the console, through the gateway (accounts signs in, the
    notifier reads the same session)."""
    gateway = Gateway({name: spec.create_app(platform.runtime(name))
                       for name, spec in platform.specs.items()})
    client = Client(gateway)
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/admin/login", data={"csrf_token": token, "login": login, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def test_the_letters_pdf_goes_to_the_staff_of_its_school_for_24_hours_every_download_audited(make_platform, smtp):
    _, port = smtp()
    platform = make_platform(port)
    with platform.runtime("accounts").uow() as uow:
        add_school(uow, uai=OTHER_UAI, name="Collège Victor Hugo", academy_code="NCY")
        activate_services(uow, OTHER_UAI)
        create_staff(uow, login="chef.moulin", display_name="Mme Claire Martin", password=PASSWORD, head_of=UAI)
        create_staff(uow, login="chef.hugo", display_name="M. Jean Hugo", password=PASSWORD, head_of=OTHER_UAI)
        delegate(uow, ACTOR, uai=UAI, login="stats.moulin", rights=["statistics"], display_name="M. Stats",
                 initial_password=PASSWORD)
        uow.commit()
    rows = division_rows(platform, "6A")
    order = notify(platform, [Couple(r.student_siecle_id, r.guardian_siecle_id) for r in rows], "paper")
    run_services(platform, lambda: _batch_done(platform, order.batch_id, order.deliveries))
    with platform.runtime("notifier").uow() as uow:
        [pdf] = uow.session.scalars(select(GeneratedFile).where(GeneratedFile.batch_id == order.batch_id,
                                                                     GeneratedFile.kind == "pdf")).all()
    url = f"/admin/notifications/files/{pdf.id}"

    other_head = _console(platform, "chef.hugo", PASSWORD)
    assert other_head.get(url).status_code == 404  # another school's head
    assert other_head.get(f"/admin/notifications/batches/{order.batch_id}?nouvelle=1").status_code == 404
    assert _console(platform, "stats.moulin", PASSWORD).get(url).status_code == 403  # no access right
    head = _console(platform, "chef.moulin", PASSWORD)
    response = head.get(url)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert len(PdfReader(io.BytesIO(response.data)).pages) == order.deliveries
    # A failed download, a jammed printer: the same file again, for its 24 hours (J3).
    again = head.get(url)
    assert again.status_code == 200 and again.data == response.data
    assert "déjà téléchargé le" in head.get(f"/admin/notifications/batches/{order.batch_id}").get_data(as_text=True)
    # A batch just requested, that the notifier has not received yet: a waiting page, not a 404.
    not_yet = "/admin/notifications/batches/4f1f4a52-0000-4000-8000-000000000000"
    assert "Notification en préparation" in head.get(not_yet + "?nouvelle=1").get_data(as_text=True)
    assert head.get(not_yet).status_code == 404

    def audited():
        with platform.runtime("accounts").uow() as uow:
            return uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "files.downloaded")
                                       .order_by(AuditEntry.id)).all()

    run_services(platform, lambda: len(audited()) == 2)
    first, second = audited()
    assert (first.school_uai, first.staff_login, first.target) == (UAI, "chef.moulin", pdf.filename)
    assert first.summary.startswith(f"Téléchargement des courriers « {pdf.filename} »")
    assert second.summary.startswith(f"Téléchargement (de nouveau) des courriers « {pdf.filename} »")

    # After 24 hours the purge deletes it; produced again, the letters of accounts still Notifié
    # print the same passwords.
    with platform.runtime("notifier").uow() as uow:
        purge_files(uow, now=pdf.expires_at)
    assert head.get(url).status_code == 404 and not (files_folder(platform.settings) / pdf.id).exists()
    run_services(platform, lambda: all(account.state == "notified" for account in division_accounts(platform, rows)))
    reorder = notify(platform, [Couple(r.student_siecle_id, r.guardian_siecle_id) for r in rows], "paper")
    run_services(platform, lambda: _batch_done(platform, reorder.batch_id, reorder.deliveries))
    with platform.runtime("notifier").uow() as uow:
        [reprinted] = uow.session.scalars(select(GeneratedFile).where(GeneratedFile.batch_id == reorder.batch_id,
                                                                           GeneratedFile.kind == "pdf")).all()
    content = head.get(f"/admin/notifications/files/{reprinted.id}").data
    assert pdf_texts(content) == pdf_texts(response.data)


def division_accounts(platform, rows) -> list:
    with platform.runtime("accounts").uow() as uow:
        return [uow.session.get(Account, row.account_id) for row in rows]


def pdf_texts(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def _replayed(platform, cookie_of: Client) -> Client:
    """A fresh browser given a saved copy of another browser's staff cookie."""
    client = Client(Gateway({name: spec.create_app(platform.runtime(name))
                             for name, spec in platform.specs.items()}))
    client.set_cookie("ts_staff", cookie_of.get_cookie("ts_staff").value)
    return client


def test_a_revoked_delegates_saved_cookie_opens_no_password_file_nor_any_page_of_any_service(make_platform, smtp):
    _, port = smtp()
    platform = make_platform(port)
    with platform.runtime("accounts").uow() as uow:
        create_staff(uow, login="chef.moulin", display_name="Mme Claire Martin", password=PASSWORD, head_of=UAI)
        secretary = delegate(uow, ACTOR, uai=UAI, login="secretariat.moulin", display_name="M. Secrétariat",
                             rights=["guardian_access", "settings", "statistics"], initial_password=PASSWORD)
        uow.commit()
        secretary_id = secretary.id
    rows = division_rows(platform, "6A")
    order = notify(platform, [Couple(r.student_siecle_id, r.guardian_siecle_id) for r in rows], "paper")
    run_services(platform, lambda: _batch_done(platform, order.batch_id, order.deliveries))
    with platform.runtime("notifier").uow() as uow:
        [pdf] = uow.session.scalars(select(GeneratedFile).where(GeneratedFile.batch_id == order.batch_id,
                                                                     GeneratedFile.kind == "pdf")).all()
    pages = ["/admin/letters/", "/admin/stats/", f"/admin/notifications/batches/{order.batch_id}", "/admin/guardians/"]

    saved = _console(platform, "secretariat.moulin", PASSWORD)
    assert all(saved.get(page).status_code == 200 for page in pages)  # what the delegate may open today
    head_console = _console(platform, "chef.moulin", PASSWORD)
    token = head_console.get("/api/v1/csrf-token").get_json()["csrf_token"]
    assert head_console.delete(f"/api/v1/delegations/{secretary_id}", headers={"X-CSRFToken": token}).status_code == 204

    replayed = _replayed(platform, saved)
    for url in pages + [f"/admin/notifications/files/{pdf.id}"]:
        assert replayed.get(url).status_code == 403, url  # signed in still, but no right on the school any more
    assert (files_folder(platform.settings) / pdf.id).exists()  # the passwords were not handed out
    assert head_console.get(f"/admin/notifications/files/{pdf.id}").status_code == 200
