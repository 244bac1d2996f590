"""E1, F1, F3 on the accounts side: selecting accounts, deciding each case, issuing credentials,
asking the notifier — and recording what the notifier reports back."""
from __future__ import annotations

import json
from datetime import datetime, UTC

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from support.console import csrf
from support.siecle_files import ADDRESSES, LINKS, PEOPLE, STUDENTS, UAI, guardians_file, students_file
from ts_accounts.adapters.orm import Account, AccountEvent, AuditEntry, StaffUser
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.consumers import notification_delivered, notification_failed
from ts_accounts.service_layer.accounts import temporary_password_matches
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff
from ts_shared.crypto import SecretBox
from ts_shared.messaging.envelope import new_event, parse_event


def seed(platform, folder):
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        create_staff(uow, login="chef.demo", display_name="Mme Martin", password="a long passphrase", head_of=UAI)
        activate_services(uow, UAI)
        uow.commit()
    files = [students_file(folder / "e.xml", STUDENTS), guardians_file(folder / "r.xml", PEOPLE, LINKS, ADDRESSES)]
    with accounts.uow() as uow:
        import_population(
            uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]), actor="test"
        )
        uow.commit()


@pytest.fixture
def client(platform):
    client = Client(platform.app("accounts"))
    page = client.get("/admin/login")
    client.post(
        "/admin/login", data={"csrf_token": csrf(page.text), "login": "chef.demo", "password": "a long passphrase"}
    )
    return client


def outbox(platform, event_type):
    table = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        return [parse_event(json.loads(row)) for row in connection.execute(
            select(table.c.envelope).where(table.c.event_type == event_type).order_by(table.c.id)).scalars()]


def account(platform, login) -> Account:
    with platform.runtime("accounts").uow() as uow:
        return uow.session.scalar(select(Account).where(Account.login == login))


def accepts(platform, login, password) -> bool:
    """Whether the account takes `password` as its temporary password."""
    with platform.runtime("accounts").uow() as uow:
        return temporary_password_matches(uow, uow.session.scalar(select(Account).where(Account.login == login)),
                                          password)


def test_the_mass_notification_page_lists_the_division_with_invalid_emails_flagged(client):
    page = client.get("/admin/guardians/notify?division=3B")
    assert page.status_code == 200
    assert "N&#39;DIAYE" in page.text and "Légal 1" in page.text
    assert page.text.count("Format d'adresse de messagerie invalide") == 2  # awa.ndiaye@gmail: icon title and label
    assert "<span data-ts-selected-count>2</span> compte(s) sélectionné(s) sur 2" in page.text


def test_notifying_by_email_and_paper_sends_email_where_siecle_has_a_valid_address(platform, client):
    page = client.get("/admin/guardians/notify?division=3A")
    response = client.post("/admin/guardians/notify", data={
        "csrf_token": csrf(page.text), "mode": "email_and_paper", "division": "3A",
        "couple": ["1001:9001", "1001:9002"]})
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/notifications/batches/")
    requests = outbox(platform, "notification.requested")
    assert [(r.payload["recipient"]["first_name"], r.payload["channel"]) for r in requests] == [
        ("Hélène", "email"), ("Jean", "paper")]
    assert {r.payload["batch_id"] for r in requests} == {
        response.headers["Location"].rsplit("/", 1)[1].removesuffix("?nouvelle=1")
    }
    assert all(r.payload["batch_size"] == 2 and r.payload["letter_case"] == "guardian_new" for r in requests)
    password = SecretBox(platform.settings.event_key).open(requests[0].payload["temporary_password_encrypted"])
    assert accepts(platform, "helene.dupont", password)
    assert account(platform, "helene.dupont").state == "not_notified"  # until the notifier delivers
    with platform.runtime("accounts").uow() as uow:
        [entry] = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "notification.requested")).all()
    assert "2 compte(s) à notifier (1 par courriel, 1 par courrier)" in entry.summary


def test_email_only_skips_guardians_without_a_valid_address_and_says_so(platform, client):
    page = client.get("/admin/guardians/notify?division=3B")
    response = client.post("/admin/guardians/notify", data={
        "csrf_token": csrf(page.text), "mode": "email", "division": "3B", "couple": ["1002:9003"]})
    assert response.status_code == 302 and "batches" not in response.headers["Location"]
    assert outbox(platform, "notification.requested") == []
    follow = client.get(response.headers["Location"])
    assert "pas d&#39;adresse électronique valide dans SIECLE" in follow.text


def test_a_couple_of_another_school_cannot_be_slipped_into_the_selection(platform, client):
    page = client.get("/admin/guardians/notify?division=3A")
    client.post("/admin/guardians/notify", data={"csrf_token": csrf(page.text), "mode": "paper",
                                                 "couple": ["1001:9001", "999999:888888"]})
    assert len(outbox(platform, "notification.requested")) == 1


def test_an_account_selected_twice_gets_one_letter_whose_password_works(platform, client):
    # (as a merged account (H8) reached through two of its children would be)
    page = client.get("/admin/guardians/notify?division=3A")
    client.post("/admin/guardians/notify", data={"csrf_token": csrf(page.text), "mode": "paper",
                                                 "couple": ["1001:9001", "1001:9001", "1001:9002"]})
    requests = outbox(platform, "notification.requested")
    assert sorted(r.payload["recipient"]["first_name"] for r in requests) == ["Hélène", "Jean"]
    assert {r.payload["batch_size"] for r in requests} == {2}
    box = SecretBox(platform.settings.event_key)
    for request in requests:  # each letter's password is the one the account will accept
        assert accepts(platform, request.payload["account"]["login"],
                       box.open(request.payload["temporary_password_encrypted"]))


def test_students_are_notified_on_paper_and_used_accounts_get_a_new_password_only_when_asked(platform, client):
    with platform.runtime("accounts").uow() as uow:
        used = uow.session.scalar(select(Account).where(Account.login == "lea.dupont"))
        used.state = "used"
        uow.commit()
    page = client.get("/admin/students/notify?division=3A")
    assert "notifiez d'abord leurs responsables" in page.text  # Léa is 13 and her parents are not notified
    client.post("/admin/students/notify", data={"csrf_token": csrf(page.text), "mode": "email", "couple": ["1001"]})
    assert outbox(platform, "notification.requested") == []  # students are never notified by email
    client.post("/admin/students/notify", data={"csrf_token": csrf(page.text), "mode": "paper", "couple": ["1001"]})
    client.post("/admin/students/notify", data={"csrf_token": csrf(page.text), "mode": "paper", "couple": ["1001"],
                                                "reset_password": "y"})
    first, second = outbox(platform, "notification.requested")
    assert (first.payload["channel"], first.payload["letter_case"], first.payload["temporary_password_encrypted"]) == (
        "paper", "student_used_reminder", None)
    assert (second.payload["letter_case"], second.payload["temporary_password_encrypted"] is not None) == (
        "student_used_new_password", True)


def test_writing_to_several_guardians_sends_one_email_each_to_those_with_an_address(platform, client):
    page = client.get("/admin/guardians/notify?division=3A")
    client.post("/admin/guardians/write", data={
        "csrf_token": csrf(page.text), "subject": "Réunion parents-professeurs", "body": "Bonjour,\n\nÀ jeudi.",
        "couple": ["1001:9001", "1001:9002", "1004:9001"]}, headers={"Referer": "http://localhost/admin/guardians/notify"})
    emails = outbox(platform, "family_email.requested")
    assert [e.payload["to"] for e in emails] == ["helene.dupont@example.org"]  # once, although two children
    assert (
        emails[0].payload["template"] == "staff_message"
        and emails[0].payload["subject"] == "Réunion parents-professeurs"
    )


def test_a_class_list_gives_new_passwords_only_to_notified_accounts_not_yet_activated(platform, client):
    with platform.runtime("accounts").uow() as uow:
        uow.session.scalar(select(Account).where(Account.login == "lea.dupont")).state = "notified"
        uow.session.scalar(select(Account).where(Account.login == "mael.n-diaye")).state = "used"
        uow.commit()
    for division, expected in (("3A", ["lea.dupont"]), ("3B", ["lea.dupont1", "mael.n-diaye"])):
        page = client.get("/admin/students/class-lists")
        response = client.post("/admin/students/class-lists", data={"csrf_token": csrf(page.text), "kind": "division",
                                                                    "division": division})
        assert response.status_code == 302
        rows = outbox(platform, "class_list.requested")[-1].payload["rows"]
        assert [row["login"] for row in rows] == expected
    rows_3a = outbox(platform, "class_list.requested")[0].payload["rows"]
    password = SecretBox(platform.settings.event_key).open(rows_3a[0]["temporary_password_encrypted"])
    assert accepts(platform, "lea.dupont", password)
    rows_3b = {row["login"]: row for row in outbox(platform, "class_list.requested")[1].payload["rows"]}
    assert rows_3b["mael.n-diaye"]["password_note"] == "*****"
    assert rows_3b["lea.dupont1"]["password_note"] == "Compte à notifier"


def test_a_delivered_notification_makes_the_account_notifie_with_date_and_mode(platform):
    accounts = platform.runtime("accounts")
    helene = account(platform, "helene.dupont")
    at = datetime(2026, 9, 3, 10, 0, tzinfo=UTC)
    delivered = parse_event(new_event("notification.delivered", {
        "batch_id": "b", "delivery_id": "d", "account_id": helene.id, "channel": "email", "delivered_at": at},
        producer="notifier", school_uai=UAI).to_message())
    failed = parse_event(new_event("notification.failed", {
        "batch_id": "b", "delivery_id": "e", "account_id": account(platform, "jean.dupont").id, "channel": "email",
        "error": "550 mailbox unavailable"}, producer="notifier", school_uai=UAI).to_message())
    with accounts.uow() as uow:
        notification_delivered(uow, delivered)
        notification_failed(uow, failed)
        uow.commit()
    helene = account(platform, "helene.dupont")
    assert (helene.state, helene.notification_mode, helene.notified_at) == ("notified", "email", at)
    assert account(platform, "jean.dupont").state == "not_notified"
    with accounts.uow() as uow:
        [history] = uow.session.scalars(select(AccountEvent).where(AccountEvent.action == "notification_failed")).all()
    assert history.detail["error"] == "550 mailbox unavailable"
    assert outbox(platform, "account.notified")[-1].payload["account"]["notification_mode"] == "email"


# --- support actions while the account's state moves under them (events in flight) --------------

def _api_token(client) -> dict:
    return {"X-CSRFToken": client.get("/api/v1/csrf-token").get_json()["csrf_token"]}


def test_resending_the_activation_email_of_an_account_no_longer_pending_is_a_409_in_french(client):
    # E.g. a delivery report of a new letter has just made the account Notifié again (E1).
    response = client.post(
        "/api/v1/accounts/guardians/1001/9001/resend-activation", json={}, headers=_api_token(client)
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == "Ce compte n'attend pas de confirmation d'adresse électronique."


def test_a_refusal_that_no_console_view_catches_is_a_french_error_page_never_a_server_error(client, monkeypatch):
    import ts_accounts.web.console.support as console_support
    from ts_accounts.service_layer.accounts import TransitionRefused

    def refused(*args, **kwargs):
        raise TransitionRefused("La notification n'est pas possible : ce compte est « En cours d'activation ».")

    monkeypatch.setattr(console_support, "change_access", refused)
    page = client.get("/admin/guardians/1001/9001")
    response = client.post("/admin/guardians/1001/9001/-/access", data={"csrf_token": csrf(page.text), "refuse": "1"})
    assert response.status_code == 409
    assert "La notification n&#39;est pas possible : ce compte est « En cours d&#39;activation »." in response.text


# --- an email typed in a console form is checked by the project's rule (no email_validator) -----

def test_delegating_with_an_email_address_saves_it_and_a_malformed_one_gets_a_french_error(platform, client):
    def delegate(login, email):
        page = client.get("/admin/delegations")
        return client.post("/admin/delegations", data={
            "csrf_token": csrf(page.text), "login": login, "display_name": "M. Paul Petit", "email": email,
            "initial_password": "un mot de passe initial", "rights": ["statistics"]})

    malformed = delegate("adjoint.petit", "paul.petit@college")
    assert malformed.status_code == 200 and "Saisissez une adresse électronique valide" in malformed.text
    saved = delegate("adjoint.petit", "paul.petit@college.fr")
    assert saved.status_code == 302
    with platform.runtime("accounts").uow() as uow:
        staff = uow.session.scalar(select(StaffUser).where(StaffUser.login == "adjoint.petit"))
        assert staff.email == "paul.petit@college.fr"


@pytest.mark.parametrize("email,message", [
    ("helene.dupont@example.org", "Ce compte n&#39;attend pas de confirmation d&#39;adresse électronique."),
    ("helene.dupont@example", "Adresse électronique invalide."),
])
def test_resending_the_activation_email_to_a_corrected_address_answers_in_french(client, email, message):
    page = client.get("/admin/guardians/1001/9001")
    response = client.post("/admin/guardians/1001/9001/-/resend-activation",
                           data={"csrf_token": csrf(page.text), "email": email, "email_again": email})
    assert response.status_code == 302
    assert message in client.get(response.headers["Location"]).text
