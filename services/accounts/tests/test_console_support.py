"""E2/F2 « Gérer le compte »: support actions that do what their label says — renotify by email
when the family can get it (a guardian's SIECLE address; the confirmed address of a used account),
a button that says what it will do, the refusal coupon as an instruction, breadcrumbs that lead
somewhere, a pending address shown, an email to a student (v17.1); words, not codes, in the
account's history and the audit log (J2)."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from support.settings import settings_for
from support.siecle_files import ADDRESSES, LINKS, PEOPLE, STUDENTS, UAI, guardians_file, students_file
from ts_accounts.adapters.orm import Account, AccountLink, AuditEntry
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.accounts import prepare_letter, record_notification
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.messaging.envelope import parse_event
from ts_shared.runtime.process import Platform
from ts_shared.web.internal_api import TOKEN_HEADER

PASSWORD = "a long passphrase"


@pytest.fixture
def platform(tmp_path):
    platform = Platform(settings_for(tmp_path))
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        create_staff(uow, login="chef.demo", display_name="Mme Martin", password=PASSWORD, head_of=UAI)
        activate_services(uow, UAI)
        uow.commit()
    files = [students_file(tmp_path / "e.xml", STUDENTS), guardians_file(tmp_path / "r.xml", PEOPLE, LINKS, ADDRESSES)]
    with accounts.uow() as uow:
        import_population(uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]),
                          actor="test")
        uow.commit()
    yield platform
    platform.dispose()


@pytest.fixture
def client(platform):
    client = Client(platform.spec("accounts").create_app(platform.runtime("accounts")))
    page = client.get("/admin/login")
    client.post("/admin/login", data={"csrf_token": csrf(page.text), "login": "chef.demo", "password": PASSWORD})
    return client


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def outbox(platform, event_type):
    table = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        return [parse_event(json.loads(row)) for row in connection.execute(
            select(table.c.envelope).where(table.c.event_type == event_type).order_by(table.c.id)).scalars()]


def family_api(platform):
    client = Client(platform.spec("accounts").create_app(platform.runtime("accounts")))
    return lambda path, body: client.post(f"/internal/v1/{path}", json=body,
                                          headers={TOKEN_HEADER: platform.settings.internal_token})


def activate(platform, login, password, birth, *, email=None):
    """The family's own activation: a letter, the first login, the email confirmed."""
    with platform.runtime("accounts").uow() as uow:
        account = uow.session.scalar(select(Account).where(Account.login == login))
        _, temporary = prepare_letter(uow, account, reset_password=False, now=utcnow(), actor="test")
        record_notification(uow, account.id, "paper", at=utcnow(), actor="test")
        uow.commit()
        account_id = account.id
    api = family_api(platform)
    body = {"login": login, "temporary_password": temporary, "new_password": password, "new_password_again": password,
            "birth_date": birth, "email": email, "email_again": email}
    assert api("first-login", body).status_code == 200
    if email:
        token = SecretBox(platform.settings.event_key).open(outbox(platform, "family_email.requested")[-1]
                                                            .payload["link_token_encrypted"])
        assert api("confirm-email", {"token": token}).status_code == 200
    return account_id


def checked_mode(page: str) -> str:
    return re.search(r'<input checked[^>]*name="mode"[^>]*value="([a-z_]+)"'
                     r'|<input[^>]*name="mode"[^>]*value="([a-z_]+)"'
                     r'[^>]*checked', page).group(0)


def test_renotify_defaults_to_email_when_the_guardian_has_a_valid_address(client):
    with_email = client.get("/admin/guardians/1001/9001").text  # Hélène Dupont: a valid SIECLE address
    assert 'value="email"' in checked_mode(with_email) and "Courriel à helene.dupont@example.org" in with_email
    without = client.get("/admin/guardians/1001/9002").text  # Jean Dupont: no address
    assert 'value="paper"' in checked_mode(without) and 'value="email"' not in without
    invalid = client.get("/admin/guardians/1002/9003").text  # awa.n-diaye@gmail: malformed
    assert 'value="paper"' in checked_mode(invalid) and 'value="email"' not in invalid


def test_a_used_account_is_renotified_by_email_to_its_confirmed_address(platform, client):
    activate(platform, "jean.dupont", "Motdepasse12", "2013-03-12", email="jean.perso@example.net")
    page = client.get("/admin/guardians/1001/9002")
    assert "Utilisé" in page.text and 'value="email"' in checked_mode(page.text)
    assert "Courriel à jean.perso@example.net" in page.text
    # the button says what it will do, and says it again when the box is ticked (support-detail.js)
    assert 'data-label-reset="Renotifier avec un nouveau mot de passe"' in page.text
    assert ">Renotifier (rappel de l'identifiant)</button>" in page.text
    assert client.get("/admin/support-static/support-detail.js").status_code == 200
    response = client.post("/admin/guardians/1001/9002/-/notify", data={"csrf_token": csrf(page.text), "mode": "email"})
    assert response.status_code == 302
    [request] = outbox(platform, "notification.requested")[-1:]
    assert request.payload["channel"] == "email" and request.payload["recipient"]["email"] == "jean.perso@example.net"


def test_a_student_is_renotified_and_written_to_at_the_confirmed_address(platform, client):
    activate(platform, "lea.dupont", "Motdepasse12", "2013-03-12", email="lea.eleve@example.net")
    page = client.get("/admin/students/1001")
    assert "Courriel à lea.eleve@example.net" in page.text and "Écrire un courriel" in page.text
    write = client.post("/admin/students/1001/-/write", data={
        "csrf_token": csrf(page.text), "subject": "Casier", "body": "Merci de passer au secrétariat."})
    assert write.status_code == 302
    assert "Le courriel est envoyé à lea.eleve@example.net." in client.get(write.headers["Location"]).text
    sent = outbox(platform, "family_email.requested")[-1].payload
    assert sent["template"] == "staff_message" and sent["to"] == "lea.eleve@example.net"
    # a student without a confirmed address: no email offered, nothing to write to
    other = client.get("/admin/students/1003").text
    assert "Écrire un courriel" not in other and 'value="email"' not in other


def test_a_pending_address_is_shown_until_confirmed(platform, client):
    account_id = activate(platform, "lea.dupont", "Motdepasse12", "2013-03-12", email="lea.eleve@example.net")
    api = family_api(platform)
    assert api("change-email", {"account_id": account_id, "password": "Motdepasse12",
                                "email": "lea.nouvelle@example.net",
                                "email_again": "lea.nouvelle@example.net"}).status_code == 200
    page = client.get("/admin/students/1001").text
    assert "Courriel en attente de confirmation" in page and "lea.nouvelle@example.net" in page
    assert "Courriel à lea.eleve@example.net" in page  # until confirmed, the old address is the one used


def test_the_refusal_coupon_reads_as_an_instruction_and_breadcrumbs_are_links(client):
    page = client.get("/admin/guardians/1001/9001").text
    assert "À faire à réception du coupon de refus" in page and "Coupon de refus reçu :" not in page
    assert '<a class="fr-breadcrumb__link" href="/admin/guardians/notify">Accès des responsables</a>' in page
    assert '<a class="fr-breadcrumb__link" href="/admin/guardians/">Gérer le compte responsable / élève</a>' in page
    assert 'href="#"' not in page


def test_the_history_and_the_audit_log_read_as_french(platform, client):
    with platform.runtime("accounts").uow() as uow:
        link = uow.session.scalar(select(AccountLink).join(Account, Account.id == AccountLink.account_id)
                                  .where(Account.login == "helene.dupont", AccountLink.ended_at.is_(None)).limit(1))
        link.ended_at, link.ended_reason = utcnow(), "merged_into:brigitte.collin"
        uow.session.add(AuditEntry(at=utcnow(), staff_login="chef.demo", school_uai=UAI, action="files.downloaded",
                                   summary="Téléchargement des courriers", detail={},
                                   target="3f2b8c1e-0d4a-4b7e-9c1f-2a3b4c5d6e7f"))
        uow.session.add(AuditEntry(at=utcnow(), staff_login="chef.demo", school_uai=UAI,
                                   action="account.access_refused",
                                   summary="Retrait de l'accès", target="jean.dupont", detail={}))
        uow.commit()
    history = client.get("/admin/guardians/1001/9001").text
    assert "regroupé dans brigitte.collin" in history and "merged_into" not in history
    audit = client.get("/admin/audit").text
    assert "Fichier de mots de passe téléchargé" in audit and "fichier de mots de passe" in audit
    assert '<option value="files.downloaded">Fichier de mots de passe téléchargé</option>' in audit
    assert '<option value="account.access_refused">Accès aux services en ligne retiré</option>' in audit
    assert ">files.downloaded<" not in audit and "3f2b8c1e" not in audit


# --- « Comptes bientôt supprimés » (seed 003 §5) and the expiry job in the audit log (I1) ---------

def notify_days_ago(platform, login, days):
    from datetime import timedelta

    with platform.runtime("accounts").uow() as uow:
        account = uow.session.scalar(select(Account).where(Account.login == login))
        prepare_letter(uow, account, reset_password=False, now=utcnow(), actor="test")
        record_notification(uow, account.id, "paper", at=utcnow() - timedelta(days=days), actor="test")
        uow.commit()


def test_accounts_soon_deleted_are_listed_by_division_and_renotified_in_one_go(platform, client):
    notify_days_ago(platform, "helene.dupont", 80)  # 3A (Léa's mother): deleted in 11 days
    notify_days_ago(platform, "jean.dupont", 30)  # deleted in 61 days: not yet
    notify_days_ago(platform, "awa.n-diaye", 90)  # 3B: deleted tomorrow
    page = client.get("/admin/guardians/expiring")
    assert page.status_code == 200 and "Comptes bientôt supprimés" in page.text
    text = page.text
    assert "helene.dupont" in text and "awa.n-diaye" in text and "jean.dupont" not in text
    assert "Division 3A : 1 compte(s)" in text and "Division 3B : 1 compte(s)" in text
    assert "Division 4A" not in text and "Renotifier les 2 compte(s)" in text
    one_division = client.get("/admin/guardians/expiring?division=3B").text
    assert "awa.n-diaye" in one_division and "helene.dupont" not in one_division
    assert '<input type="hidden" name="division" value="3B">' in one_division
    before = len(outbox(platform, "notification.requested"))
    response = client.post("/admin/guardians/expiring", data={"csrf_token": csrf(page.text)})
    assert response.status_code == 302 and "/admin/notifications/batches/" in response.headers["Location"]
    requested = outbox(platform, "notification.requested")[before:]
    # one letter each
    assert sorted(e.payload["account"]["login"] for e in requested) == ["awa.n-diaye", "helene.dupont"]
    assert {e.payload["channel"] for e in requested if e.payload["account"]["login"] == "helene.dupont"} == {"email"}
    with platform.runtime("accounts").uow() as uow:
        entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "notification.requested")).all()[-1]
    assert entry.target == "Rappel avant suppression des comptes responsables"
    assert "Comptes bientôt supprimés" in client.get("/admin/").text  # in the menu


def test_the_expiry_job_writes_its_deletions_in_the_schools_audit_log(platform, client):
    from ts_accounts.jobs import expire_job

    notify_days_ago(platform, "helene.dupont", 95)
    notify_days_ago(platform, "awa.n-diaye", 92)
    assert "2 compte(s) supprimé(s)" in expire_job(platform.runtime("accounts"))
    with platform.runtime("accounts").uow() as uow:
        [entry] = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "accounts.expired")).all()
    assert entry.school_uai == UAI and entry.detail["count"] == 2 and entry.staff_login == "système"
    assert entry.summary.startswith("Suppression automatique de 2 compte(s) : 2 non activé(s) dans les 3 mois")
    audit = client.get("/admin/audit").text
    assert "Suppression des comptes non activés ou inutilisés" in audit and "awa.n-diaye, helene.dupont" in audit
    assert "0 compte(s) supprimé(s)" in expire_job(platform.runtime("accounts"))  # a run with nothing to do says so
    with platform.runtime("accounts").uow() as uow:
        assert len(uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "accounts.expired")).all()) == 1
