"""The internal identity API the portal calls (H1–H8): each call's success and each refusal."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, UTC

import pytest
from sqlalchemy import select
from werkzeug.test import Client

import ts_accounts.web.identity_api as identity_api_module
from support.siecle_files import (
    ADDRESSES,
    LINKS,
    OTHER_UAI,
    PEOPLE,
    STUDENTS,
    UAI,
    guardians_file,
    student_xml,
    students_file,
)
from ts_accounts.adapters.orm import Account, OneTimeToken
from ts_accounts.adapters.passwords import hash_password
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.service_layer.accounts import expire_accounts, prepare_letter, record_notification
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.notifications import (
    PAPER, Couple, record_delivery, request_class_list, request_notifications,
)
from ts_accounts.service_layer.support import renotify
from ts_accounts.service_layer.schools import add_school
from ts_accounts.service_layer.tokens import CONFIRM_EMAIL, issue_token
from ts_shared.crypto import SecretBox
from ts_shared.messaging.envelope import parse_event
from ts_shared.web.internal_api import TOKEN_HEADER

START = datetime(2026, 9, 10, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(identity_api_module, "utcnow", clock)
    return clock


def seed(platform, folder):
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        add_school(uow, uai=OTHER_UAI, name="Lycée Henri Poincaré", academy_code="NCY")
        add_school(uow, uai="0999999Z", name="Collège d'une autre académie", academy_code="XYZ")
        uow.commit()
    paths = [students_file(folder / "e.xml", STUDENTS), guardians_file(folder / "r.xml", PEOPLE, LINKS, ADDRESSES)]
    other = [
        students_file(folder / "o.xml", [student_xml("3001", "DUPONT", "Léa", "12/03/2013", "6A")], uai="0999999Z"),
        guardians_file(
            folder / "p.xml", [("7001", "MME", "DUPONT", "Hélène", None, None)], [("3001", "7001", 1)], uai="0999999Z"
        ),
    ]
    for uai, files in ((UAI, paths), ("0999999Z", other)):
        with accounts.uow() as uow:
            import_population(uow, uai=uai, source=source_from_exports(uai, [inspect_export(p) for p in files]),
                              actor="test", clock=lambda: START - timedelta(days=8))
            uow.commit()


@pytest.fixture
def api(platform):
    app = platform.app("accounts")
    client = Client(app)
    token = platform.settings.internal_token

    def call(path, body, *, expected=200, with_token=True):
        headers = {TOKEN_HEADER: token} if with_token else {}
        response = client.post(f"/internal/v1/{path}", json=body, headers=headers)
        assert response.status_code == expected, response.get_data(as_text=True)
        return response

    return call


def notify(platform, login, *, at=START - timedelta(days=1), reset_password=False) -> str | None:
    """What the notifier's delivery does: a (new) temporary password, then Notifié."""
    with platform.runtime("accounts").uow() as uow:
        account = uow.session.scalar(select(Account).where(Account.login == login))
        _, password = prepare_letter(uow, account, reset_password=reset_password, now=at, actor="test")
        record_notification(uow, account.id, "paper", at=at, actor="test")
        uow.commit()
    return password


def account(platform, login) -> Account:
    with platform.runtime("accounts").uow() as uow:
        return uow.session.scalar(select(Account).where(Account.login == login))


def outbox_events(platform, event_type):
    outbox = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        rows = connection.execute(select(outbox.c.envelope).where(outbox.c.event_type == event_type)
                                  .order_by(outbox.c.id)).scalars()
        return [parse_event(json.loads(row)) for row in rows]


def outbox_raw(platform) -> list[str]:
    outbox = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        return list(connection.execute(select(outbox.c.envelope)).scalars())


def email_link_token(platform, event) -> str:
    return SecretBox(platform.settings.event_key).open(event.payload["link_token_encrypted"])


def activate_guardian(platform, api, login="helene.dupont", birth="2013-03-12", email="helene@example.org"):
    password = notify(platform, login)
    api("first-login", {"login": login, "temporary_password": password, "new_password": "Lilas2026",
                        "new_password_again": "Lilas2026", "birth_date": birth, "email": email, "email_again": email})
    token = email_link_token(platform, outbox_events(platform, "family_email.requested")[-1])
    api("confirm-email", {"token": token})
    return password


# --- authenticate (H1) ---------------------------------------------------------------------------

def test_a_used_account_signs_in_and_gets_its_profile(platform, api, clock):
    activate_guardian(platform, api)
    clock.now = START + timedelta(days=1)
    body = api(
        "authenticate", {"login": "helene.dupont", "password": "Lilas2026", "client_address": "203.0.113.7"}
    ).json
    assert body["state"] == "used" and body["kind"] == "guardian" and not body["first_login_required"]
    assert body["display_name"] == "Mme Hélène DUPONT"
    assert body["children"] == [
        {
            "school_uai": UAI,
            "school_name": "Collège Jean Moulin",
            "student_id": "1001",
            "first_name": "Léa",
            "last_name": "DUPONT",
            "division": "3A",
            "mef_code": "10310019110",
            "birth_date": "2013-03-12",
            "legal_rank": 1,
            "mefstat": None,
        }
    ]
    again = api("authenticate", {"login": "helene.dupont", "password": "Lilas2026"}).json
    assert again["previous_login_at"] == (START + timedelta(days=1)).isoformat()


def test_a_temporary_password_only_opens_the_first_login(platform, api):
    password = notify(platform, "lea.dupont")
    body = api("authenticate", {"login": "lea.dupont", "password": password}).json
    assert body["first_login_required"] is True and body["state"] == "notified"


@pytest.mark.parametrize("login,password", [("helene.dupont", "Wrong2026"), ("nobody.here", "Lilas2026")])
def test_a_wrong_password_or_an_unknown_login_gets_one_message(platform, api, login, password):
    activate_guardian(platform, api)
    body = api("authenticate", {"login": login, "password": password}, expected=401).json
    assert body["error"] == "Identifiant ou mot de passe incorrect."


def test_repeated_failures_lock_the_login_for_a_while(platform, api, clock):
    activate_guardian(platform, api)
    for _ in range(5):
        api("authenticate", {"login": "helene.dupont", "password": "Wrong2026"}, expected=401)
    locked = api("authenticate", {"login": "helene.dupont", "password": "Lilas2026"}, expected=429)
    assert "Trop de tentatives" in locked.json["error"] and int(locked.headers["Retry-After"]) > 0
    clock.now = START + timedelta(minutes=16)
    api("authenticate", {"login": "helene.dupont", "password": "Lilas2026"})


def test_repeated_failures_from_one_address_lock_that_address(platform, api):
    for n in range(50):
        api("authenticate", {"login": f"someone{n}", "password": "x", "client_address": "198.51.100.9"}, expected=401)
    api("authenticate", {"login": "lea.dupont", "password": "x", "client_address": "198.51.100.9"}, expected=429)
    api("authenticate", {"login": "lea.dupont", "password": "x", "client_address": "198.51.100.10"}, expected=401)


def test_failures_from_one_address_do_not_lock_the_family_out_from_another(platform, api):
    activate_guardian(platform, api)
    for _ in range(5):
        api("authenticate", {"login": "helene.dupont", "password": "Wrong2026", "client_address": "203.0.113.66"},
            expected=401)
    api("authenticate", {"login": "helene.dupont", "password": "Lilas2026", "client_address": "203.0.113.66"},
        expected=429)
    api("authenticate", {"login": "helene.dupont", "password": "Lilas2026", "client_address": "198.51.100.20"})


@pytest.fixture
def argon2_checks(monkeypatch):
    """The work each call makes (the time an answer takes): its argon2 verifications (the chosen
    password; a temporary password from before derived ones) and its temporary password
    derivations, in order."""
    import ts_accounts.service_layer.accounts as accounts_module
    import ts_accounts.service_layer.identity as identity_module

    counted = []

    def counting(module, name, kind):
        real = getattr(module, name)

        def call(*args):
            counted.append(kind)
            return real(*args)
        monkeypatch.setattr(module, name, call)

    counting(identity_module, "verify_password", "argon2")
    counting(accounts_module, "verify_password", "argon2")
    counting(accounts_module, "matches_derived", "derivation")
    return counted


def test_a_wrong_sign_in_costs_the_same_work_whatever_the_account(platform, api, argon2_checks):
    activate_guardian(platform, api)  # Utilisé
    notify(platform, "jean.dupont")  # Notifié: a temporary password and no chosen one
    work = {}
    for login in ("nobody.here", "jean.dupont", "helene.dupont", "lea.dupont"):
        argon2_checks.clear()
        api("authenticate", {"login": login, "password": "Wrong2026"}, expected=401)
        work[login] = tuple(argon2_checks)
    assert set(work.values()) == {("argon2", "derivation")}, work
    for login in ("nobody.here", "jean.dupont"):
        argon2_checks.clear()
        api("first-login", {"login": login, "temporary_password": "WRONGPWD", "new_password": "Neuf2026",
                            "new_password_again": "Neuf2026", "birth_date": "2013-03-12", "email": "a@example.org",
                            "email_again": "a@example.org"}, expected=401)
        work[f"first-login {login}"] = tuple(argon2_checks)
    helene = account(platform, "helene.dupont").id
    for login in ("nobody.here", "jean.dupont", "lea.dupont"):
        argon2_checks.clear()
        api("merge", {"account_id": helene, "other_login": login, "other_password": "Wrong2026"}, expected=401)
        work[f"merge {login}"] = tuple(argon2_checks)
    assert set(work.values()) == {("argon2", "derivation")}, work


# --- recovery (H4, H5): limited, and telling nothing from its status --------------------------------

def _recovery_emails(platform, template):
    return [e for e in outbox_events(platform, "family_email.requested") if e.payload["template"] == template]


@pytest.mark.parametrize("login", ["helene.dupont", "nobody.here"])
def test_forgot_password_is_limited_per_login_known_or_not(platform, api, clock, login):
    activate_guardian(platform, api)
    for _ in range(3):
        api("forgot-password", {"login": login, "client_address": "198.51.100.1"})
    refused = api("forgot-password", {"login": login, "client_address": "198.51.100.2"}, expected=429)
    assert refused.json["error"].startswith("Trop de demandes. Réessayez dans ")
    assert len(_recovery_emails(platform, "forgot_password")) == (3 if login == "helene.dupont" else 0)
    clock.now = START + timedelta(minutes=61)
    api("forgot-password", {"login": login, "client_address": "198.51.100.1"})


def test_forgot_login_and_password_are_limited_per_client_address(platform, api):
    for n in range(10):
        api("forgot-password", {"login": f"someone{n}", "client_address": "203.0.113.7"})
    api("forgot-login", {"email": "x@example.org", "client_address": "203.0.113.7"}, expected=429)
    api("forgot-login", {"email": "x@example.org", "client_address": "203.0.113.8"})


def test_one_mailbox_gets_at_most_five_recovery_emails_an_hour_and_the_answer_does_not_change(platform, api):
    activate_guardian(platform, api, "helene.dupont")
    activate_guardian(platform, api, "helene.dupont1", birth="2014-11-30")  # the same address
    answers = [api("forgot-password", {"login": login}).json["outcome"]
               for login in ("helene.dupont", "helene.dupont", "helene.dupont", "helene.dupont1", "helene.dupont1")]
    answers += [api("forgot-login", {"email": "helene@example.org"}).json["outcome"] for _ in range(2)]
    assert set(answers) == {"sent"}
    assert len(_recovery_emails(platform, "forgot_password")) + len(_recovery_emails(platform, "forgot_login")) == 5


def test_a_guardian_whose_access_was_removed_is_refused(platform, api):
    from ts_accounts.service_layer.accounts import set_access_refused

    activate_guardian(platform, api)
    with platform.runtime("accounts").uow() as uow:
        set_access_refused(uow, account(platform, "helene.dupont").id, True, now=START, actor="chef.demo")
        uow.commit()
    body = api("authenticate", {"login": "helene.dupont", "password": "Lilas2026"}, expected=403).json
    assert "retiré" in body["error"]
    assert outbox_events(platform, "account.updated")[-1].payload["account"]["access_refused"] is True


def test_the_identity_api_requires_the_internal_token_and_a_valid_body(api):
    assert api("authenticate", {"login": "x", "password": "y"}, expected=401, with_token=False).json["error"] == \
        "internal token required"
    body = api("authenticate", {"login": "x"}, expected=400).json
    assert body["fields"] == {"password": ["Missing data for required field."]}


# --- first login (H2) and confirmation (H3) -----------------------------------------------------

def test_a_guardian_first_login_starts_activation_and_sends_the_confirmation_link(platform, api):
    password = notify(platform, "helene.dupont")
    body = api("first-login", {"login": "helene.dupont", "temporary_password": password, "new_password": "Lilas2026",
                               "new_password_again": "Lilas2026", "birth_date": "2013-03-12",
                               "email": "helene@example.org", "email_again": "helene@example.org"}).json
    assert body["state"] == "activating" and body["pending_confirmation"] is True
    [email] = outbox_events(platform, "family_email.requested")
    assert email.payload["template"] == "confirm_email" and email.payload["to"] == "helene@example.org"
    assert len(email_link_token(platform, email)) >= 40
    assert not [row for row in outbox_raw(platform) if password in row]  # never in clear at rest
    assert outbox_events(platform, "account.activation_started")[0].payload["account"]["state"] == "activating"
    # The temporary password no longer opens anything; the chosen one reaches the pending screen.
    api("authenticate", {"login": "helene.dupont", "password": password}, expected=401)
    assert api("authenticate", {"login": "helene.dupont", "password": "Lilas2026"}).json["pending_confirmation"]


def test_the_confirmation_link_activates_the_account_once(platform, api):
    password = notify(platform, "helene.dupont")
    api("first-login", {"login": "helene.dupont", "temporary_password": password, "new_password": "Lilas2026",
                        "new_password_again": "Lilas2026", "birth_date": "2013-03-12",
                        "email": "helene@example.org", "email_again": "helene@example.org"})
    token = email_link_token(platform, outbox_events(platform, "family_email.requested")[0])
    body = api("confirm-email", {"token": token}).json
    assert body["state"] == "used" and body["email_confirmed"] is True
    assert outbox_events(platform, "account.activated")[0].payload["account"]["state"] == "used"
    assert "déjà été utilisé" in api("confirm-email", {"token": token}, expected=410).json["error"]
    with platform.runtime("accounts").uow() as uow:
        stored = uow.session.scalars(select(OneTimeToken.token_hash)).all()
    assert token not in stored  # only its hash is kept


@pytest.mark.parametrize("change,status,message", [
    ({"birth_date": "2013-03-13"}, 400, "La date de naissance ne correspond pas"),
    ({"temporary_password": "AAAAAAAA"}, 401, "mot de passe provisoire incorrect"),
    ({"new_password": "court1", "new_password_again": "court1"}, 400, "de 8 à 14 caractères"),
    ({"new_password_again": "Lilas2027"}, 400, "Les deux mots de passe saisis sont différents"),
    ({"email": None, "email_again": None}, 400, "L'adresse électronique est obligatoire"),
    ({"email_again": "other@example.org"}, 400, "Les deux adresses électroniques saisies sont différentes"),
    ({"email": "helene@example", "email_again": "helene@example"}, 400, "n'est pas une adresse électronique valide"),
])
def test_a_first_login_with_a_wrong_field_is_refused_and_changes_nothing(platform, api, change, status, message):
    password = notify(platform, "helene.dupont")
    body = {"login": "helene.dupont", "temporary_password": password, "new_password": "Lilas2026",
            "new_password_again": "Lilas2026", "birth_date": "2013-03-12", "email": "helene@example.org",
            "email_again": "helene@example.org", **change}
    assert message in api("first-login", body, expected=status).json["error"]
    assert account(platform, "helene.dupont").state == "notified"
    assert outbox_events(platform, "family_email.requested") == []


def test_a_first_login_reports_every_wrong_field_at_once(platform, api):
    password = notify(platform, "helene.dupont")
    body = api("first-login", {"login": "helene.dupont", "temporary_password": password, "new_password": "Lilas2026",
                               "new_password_again": "Lilas2027", "birth_date": "2013-03-13",
                               "email": "helene@example.org", "email_again": "helene@exemple.org"}, expected=400).json
    assert set(body["fields"]) == {"birth_date", "new_password", "email"}
    assert account(platform, "helene.dupont").state == "notified"


def test_the_sign_in_ticket_opens_the_first_login_until_a_newer_letter(platform, api):
    password = notify(platform, "helene.dupont")
    ticket = api("authenticate", {"login": "helene.dupont", "password": password}).json["first_login_ticket"]
    assert ticket and password not in ticket
    body = {"login": "helene.dupont", "ticket": ticket, "new_password": password, "new_password_again": password,
            "birth_date": "2013-03-12", "email": "helene@example.org", "email_again": "helene@example.org"}
    refused = api("first-login", body, expected=400).json  # the new password is the temporary one
    assert "différent du mot de passe provisoire" in refused["fields"]["new_password"]
    api("first-login", {**body, "ticket": "forged"}, expected=401)
    assert api("first-login", {**body, "new_password": "Lilas2026", "new_password_again": "Lilas2026"}).json[
        "state"] == "activating"


def test_a_student_first_login_makes_the_account_used_and_the_email_is_optional(platform, api):
    password = notify(platform, "lea.dupont")
    body = api("first-login", {"login": "lea.dupont", "temporary_password": password, "new_password": "Latin2026",
                               "new_password_again": "Latin2026", "birth_date": "2013-03-12"}).json
    assert body["state"] == "used" and body["email"] is None
    assert outbox_events(platform, "account.activated")[0].payload["account"]["state"] == "used"
    assert outbox_events(platform, "family_email.requested") == []
    api("authenticate", {"login": "lea.dupont", "password": password}, expected=401)
    assert api("authenticate", {"login": "lea.dupont", "password": "Latin2026"}).json["state"] == "used"


def test_a_confirmation_left_unclicked_for_seven_days_does_not_bring_the_letter_back(platform, api, clock):
    """B7: the account stays En cours d'activation; the letter's password stays dead (the 2013
    model brought it back); the family asks for the link again, or the school renotifies."""
    password = notify(platform, "helene.dupont")
    first_login = {"login": "helene.dupont", "temporary_password": password, "new_password": "Lilas2026",
                   "new_password_again": "Lilas2026", "birth_date": "2013-03-12",
                   "email": "helene@example.org", "email_again": "helene@example.org"}
    api("first-login", first_login)
    token = email_link_token(platform, outbox_events(platform, "family_email.requested")[0])
    with platform.runtime("accounts").uow() as uow:
        report = expire_accounts(uow, now=START + timedelta(days=7, minutes=1))
        uow.commit()
    assert report.deleted == [] and account(platform, "helene.dupont").state == "activating"
    clock.now = START + timedelta(days=7, minutes=2)
    api("authenticate", {"login": "helene.dupont", "password": password}, expected=401)
    api("first-login", first_login, expected=401)
    api("confirm-email", {"token": token}, expected=410)
    # Her chosen password still shows her the pending confirmation, from which she asks again.
    assert api("authenticate", {"login": "helene.dupont", "password": "Lilas2026"}).json["pending_confirmation"]
    api("resend-confirmation", {"account_id": account(platform, "helene.dupont").id})
    api("confirm-email", {"token": email_link_token(platform, outbox_events(platform, "family_email.requested")[-1])})
    assert account(platform, "helene.dupont").state == "used"


def test_a_school_renotifying_an_expired_activation_gives_a_new_password_that_works(platform, api, clock):
    password = notify(platform, "helene.dupont")
    api("first-login", {"login": "helene.dupont", "temporary_password": password, "new_password": "Lilas2026",
                        "new_password_again": "Lilas2026", "birth_date": "2013-03-12",
                        "email": "helene@example.org", "email_again": "helene@example.org"})
    clock.now = START + timedelta(days=8)
    new_password, batch = request_letter(platform, "1001", "9001", at=START + timedelta(days=8))
    assert new_password != password
    api("authenticate", {"login": "helene.dupont", "password": password}, expected=401)
    assert api("authenticate", {"login": "helene.dupont", "password": new_password}).json["first_login_required"]


# --- temporary passwords printed again (B3; seeds 001, 003 §5) ------------------------------------

def class_list_password(platform, division: str, login: str) -> str | None:
    box = SecretBox(platform.settings.event_key)
    with platform.runtime("accounts").uow() as uow:
        request_class_list(uow, box, Actor("chef.test"), uai=UAI, division=division, now=START)
    rows = outbox_events(platform, "class_list.requested")[-1].payload["rows"]
    [row] = [row for row in rows if row["login"] == login]
    return box.open(row["temporary_password_encrypted"]) if row["temporary_password_encrypted"] else None


def test_a_notified_account_renotified_twice_and_on_a_class_list_shows_one_password_that_signs_in(platform, api):
    first, batch = request_letter(platform, "1001", at=START - timedelta(days=3))
    deliver(platform, "lea.dupont", batch, at=START - timedelta(days=3))
    assert account(platform, "lea.dupont").state == "notified"
    second, batch = request_letter(platform, "1001", at=START - timedelta(days=2))
    deliver(platform, "lea.dupont", batch, at=START - timedelta(days=2))
    third, _ = request_letter(platform, "1001", at=START - timedelta(days=1))
    listed = class_list_password(platform, "3A", "lea.dupont")
    assert len({first, second, third, listed}) == 1 and len(first) == 8
    assert account(platform, "lea.dupont").credential_serial == 1  # nothing was issued again
    body = api("first-login", {"login": "lea.dupont", "temporary_password": listed, "new_password": "Tilleul2026",
                               "new_password_again": "Tilleul2026", "birth_date": "2013-03-12"}).json
    assert body["state"] == "used"
    api("authenticate", {"login": "lea.dupont", "password": first}, expected=401)  # used up


def test_a_guardian_renotified_keeps_the_letter_password_until_the_school_resets_it(platform, api):
    first, batch = request_letter(platform, "1001", "9001", at=START - timedelta(days=2))
    deliver(platform, "helene.dupont", batch, at=START - timedelta(days=2))
    assert request_letter(platform, "1001", "9001", at=START - timedelta(days=1))[0] == first
    box = SecretBox(platform.settings.event_key)
    with platform.runtime("accounts").uow() as uow:  # E2 « Notifier et réinitialiser le mot de passe »
        renotify(uow, box, Actor("chef.test"), uai=UAI, student_id="1001", guardian_id="9001", mode=PAPER,
                 reset_password=True, now=START - timedelta(hours=1))
    reset = box.open(outbox_events(platform, "notification.requested")[-1].payload["temporary_password_encrypted"])
    assert reset != first
    api("authenticate", {"login": "helene.dupont", "password": first}, expected=401)
    assert api("authenticate", {"login": "helene.dupont", "password": reset}).json["first_login_required"]


def test_an_activating_guardian_renotified_gets_a_new_password_and_a_used_one_a_login_reminder(platform, api, clock):
    first, _ = request_letter(platform, "1001", "9001", at=START - timedelta(days=2))
    api("first-login", {"login": "helene.dupont", "temporary_password": first, "new_password": "Lilas2026",
                        "new_password_again": "Lilas2026", "birth_date": "2013-03-12",
                        "email": "helene@example.org", "email_again": "helene@example.org"})
    second, _ = request_letter(platform, "1001", "9001", at=START + timedelta(days=1))
    assert second not in (None, first)
    assert api("authenticate", {"login": "helene.dupont", "password": second}).json["first_login_required"]
    api("authenticate", {"login": "helene.dupont", "password": first}, expected=401)
    activate_guardian(platform, api, login="jean.dupont", email="jean@example.org")
    box = SecretBox(platform.settings.event_key)
    with platform.runtime("accounts").uow() as uow:
        request_notifications(uow, box, Actor("chef.test"), uai=UAI, couples=[Couple("1001", "9002")], mode=PAPER,
                              reset_password=False, now=START, label="Notification des comptes")
    reminder = outbox_events(platform, "notification.requested")[-1].payload
    assert (reminder["letter_case"], reminder["temporary_password_encrypted"]) == ("guardian_used_reminder", None)


def test_a_temporary_password_is_typed_in_any_case_with_spaces_around_it(platform, api):
    password = notify(platform, "lea.dupont")
    typed = f"  {password.lower()} "
    assert api("authenticate", {"login": "lea.dupont", "password": typed}).json["first_login_required"]
    api("first-login", {"login": "lea.dupont", "temporary_password": typed, "new_password": typed.strip(),
                        "new_password_again": typed.strip(), "birth_date": "2013-03-12"}, expected=400)
    body = api("first-login", {"login": "lea.dupont", "temporary_password": f"{password[:4].lower()} {password[4:]}",
                               "new_password": "Tilleul2026", "new_password_again": "Tilleul2026",
                               "birth_date": "2013-03-12"}).json
    assert body["state"] == "used"


def test_a_letter_from_before_derived_passwords_still_signs_in_then_is_replaced(platform, api):
    """Accounts notified with an argon2 temporary hash (before migration 0009) keep working."""
    with platform.runtime("accounts").uow() as uow:
        legacy = uow.session.scalar(select(Account).where(Account.login == "lea.dupont"))
        legacy.state, legacy.notified_at = "notified", START - timedelta(days=5)
        legacy.temporary_password_hash = hash_password("DCBRJDWH")
        legacy.temporary_password_issued_at = START - timedelta(days=5)
        uow.commit()
    assert api("authenticate", {"login": "lea.dupont", "password": "dcbr jdwh"}).json["first_login_required"]
    # Only a hash exists: a class list cannot print it again, so it prints a new one (and says so).
    listed = class_list_password(platform, "3A", "lea.dupont")
    assert listed != "DCBRJDWH" and account(platform, "lea.dupont").temporary_password_hash is None
    api("authenticate", {"login": "lea.dupont", "password": "DCBRJDWH"}, expected=401)
    assert api("authenticate", {"login": "lea.dupont", "password": listed}).json["first_login_required"]
    # From then on it is printed again like any other.
    assert class_list_password(platform, "3A", "lea.dupont") == listed


def test_an_account_deleted_three_months_after_its_latest_notification_never_signs_in_again(platform, api):
    first, batch = request_letter(platform, "1001", at=START - timedelta(days=120))
    deliver(platform, "lea.dupont", batch, at=START - timedelta(days=120))
    _, batch = request_letter(platform, "1001", at=START - timedelta(days=60))  # renotified: the clock starts again
    deliver(platform, "lea.dupont", batch, at=START - timedelta(days=60))
    with platform.runtime("accounts").uow() as uow:
        assert expire_accounts(uow, now=START).deleted == []
        report = expire_accounts(uow, now=START + timedelta(days=32))
        uow.commit()
    assert report.deleted == [("lea.dupont", "expired_not_activated")] and report.recreated == 1
    api("authenticate", {"login": "lea.dupont", "password": first}, expected=401)
    api("first-login", {"login": "lea.dupont", "temporary_password": first, "new_password": "Tilleul2026",
                        "new_password_again": "Tilleul2026", "birth_date": "2013-03-12"}, expected=401)
    # The new account's letter has another login and another password.
    new_password, _ = request_letter(platform, "1001", at=START + timedelta(days=33))
    renewed = outbox_events(platform, "notification.requested")[-1].payload["account"]["login"]
    assert renewed != "lea.dupont" and new_password != first


# --- a letter used before its delivery report comes back -----------------------------------------
# The temporary password works as soon as it is issued; the notifier's report that makes the account
# Notifié may lag by minutes (a rentrée batch): the family must not wait for it, and the report,
# when it comes, must not undo what the family did meanwhile.

def request_letter(platform, student_id: str, guardian_id: str | None = None, *, at: datetime) -> tuple[str, str]:
    """What the school's notification does: a new temporary password in a letter on its way (no
    delivery report yet). Returns the password and the batch."""
    box = SecretBox(platform.settings.event_key)
    with platform.runtime("accounts").uow() as uow:
        order = request_notifications(uow, box, Actor("chef.test"), uai=UAI, couples=[Couple(student_id, guardian_id)],
                                      mode=PAPER, reset_password=False, now=at, label="Notification des comptes")
        uow.commit()
    [request] = [
        e for e in outbox_events(platform, "notification.requested") if e.payload["batch_id"] == order.batch_id
    ]
    return box.open(request.payload["temporary_password_encrypted"]), order.batch_id


def deliver(platform, login: str, batch_id: str, *, at: datetime) -> None:
    """The notifier's report that the letter was produced, as the accounts consumer applies it."""
    with platform.runtime("accounts").uow() as uow:
        record_delivery(
            uow, account_id=account(platform, login).id, channel="paper", delivered_at=at, batch_id=batch_id
        )
        uow.commit()


def test_a_guardian_signs_in_with_the_letter_before_its_delivery_report_and_the_late_report_keeps_the_activation(
        platform, api, clock):
    password, batch = request_letter(platform, "1001", "9001", at=START - timedelta(hours=1))
    assert account(platform, "helene.dupont").state == "not_notified"  # the report is on its way
    body = api("first-login", {"login": "helene.dupont", "temporary_password": password, "new_password": "Lilas2026",
                               "new_password_again": "Lilas2026", "birth_date": "2013-03-12",
                               "email": "helene@example.org", "email_again": "helene@example.org"}).json
    assert body["state"] == "activating"
    # The letter did reach her: notified when it was requested, on paper — the console and the
    # statistics say so at once.
    signed = account(platform, "helene.dupont")
    assert (signed.notified_at, signed.notification_mode) == (START - timedelta(hours=1), "paper")
    started = outbox_events(platform, "account.activation_started")[-1].payload["account"]
    assert (started["state"], started["notified_at"], started["version"]) == (
        "activating", START - timedelta(hours=1), signed.version)

    deliver(platform, "helene.dupont", batch, at=START - timedelta(minutes=50))
    reported = account(platform, "helene.dupont")
    assert (reported.state, reported.notified_at, reported.version) == (
        "activating", START - timedelta(minutes=50), signed.version + 1)
    assert outbox_events(platform, "account.notified")[-1].payload["account"]["state"] == "activating"
    token = email_link_token(platform, outbox_events(platform, "family_email.requested")[-1])
    assert api("confirm-email", {"token": token}).json["state"] == "used"


def test_a_student_signs_in_with_the_letter_before_its_delivery_report(platform, api, clock):
    password, batch = request_letter(platform, "1001", at=START - timedelta(hours=1))
    body = api("first-login", {"login": "lea.dupont", "temporary_password": password, "new_password": "Latin2026",
                               "new_password_again": "Latin2026", "birth_date": "2013-03-12"}).json
    assert body["state"] == "used"
    assert account(platform, "lea.dupont").notified_at == START - timedelta(hours=1)
    deliver(platform, "lea.dupont", batch, at=START - timedelta(minutes=50))
    assert (account(platform, "lea.dupont").state, account(platform, "lea.dupont").notified_at) == (
        "used", START - timedelta(minutes=50))


def test_a_guardian_renotified_during_a_pending_activation_starts_over_with_the_new_letter_before_its_report(
        platform, api, clock):
    first = notify(platform, "helene.dupont")
    api("first-login", {"login": "helene.dupont", "temporary_password": first, "new_password": "Lilas2026",
                        "new_password_again": "Lilas2026", "birth_date": "2013-03-12",
                        "email": "helene@exemple.org", "email_again": "helene@exemple.org"})  # a typo
    mistyped = email_link_token(platform, outbox_events(platform, "family_email.requested")[-1])
    # The school sends a new letter (E1); she uses it before the notifier's report is back.
    second, batch = request_letter(platform, "1001", "9001", at=START + timedelta(hours=1))
    clock.now = START + timedelta(hours=2)
    api("first-login", {"login": "helene.dupont", "temporary_password": first, "new_password": "Tilleul2026",
                        "new_password_again": "Tilleul2026", "birth_date": "2013-03-12",
                        "email": "helene@example.org", "email_again": "helene@example.org"}, expected=401)
    body = api("first-login", {"login": "helene.dupont", "temporary_password": second, "new_password": "Tilleul2026",
                               "new_password_again": "Tilleul2026", "birth_date": "2013-03-12",
                               "email": "helene@example.org", "email_again": "helene@example.org"}).json
    assert (body["state"], body["email"]) == ("activating", "helene@example.org")
    api("confirm-email", {"token": mistyped}, expected=410)  # the first activation's link stopped working
    # The report of the letter she already used does not undo her new activation.
    deliver(platform, "helene.dupont", batch, at=START + timedelta(hours=3))
    assert account(platform, "helene.dupont").state == "activating"
    token = email_link_token(platform, outbox_events(platform, "family_email.requested")[-1])
    assert api("confirm-email", {"token": token}).json["email"] == "helene@example.org"
    assert api("authenticate", {"login": "helene.dupont", "password": "Tilleul2026"}).json["state"] == "used"


def test_a_report_of_a_letter_requested_during_a_pending_activation_starts_it_over(platform, api, clock):
    first = notify(platform, "helene.dupont")
    api("first-login", {"login": "helene.dupont", "temporary_password": first, "new_password": "Lilas2026",
                        "new_password_again": "Lilas2026", "birth_date": "2013-03-12",
                        "email": "helene@example.org", "email_again": "helene@example.org"})
    link = email_link_token(platform, outbox_events(platform, "family_email.requested")[-1])
    second, batch = request_letter(platform, "1001", "9001", at=START + timedelta(hours=1))
    deliver(platform, "helene.dupont", batch, at=START + timedelta(hours=2))
    assert account(platform, "helene.dupont").state == "notified"  # E1: the new letter starts over
    api("confirm-email", {"token": link}, expected=410)
    assert api("authenticate", {"login": "helene.dupont", "password": second}).json["first_login_required"]


def test_a_step_the_accounts_state_no_longer_allows_is_refused_with_a_409_in_french(platform, api, clock):
    # A confirmation link still alive for an account whose state changed since (events and
    # requests cross): confirming is not possible any more — a refusal, never a server error.
    with platform.runtime("accounts").uow() as uow:
        token = issue_token(uow.session, account(platform, "helene.dupont").id, CONFIRM_EMAIL, now=START,
                            lifetime=timedelta(days=7), email="helene@example.org")
        uow.commit()
    body = api("confirm-email", {"token": token}, expected=409).json
    assert body == {"status": 409, "error": "La confirmation de l'adresse électronique n'est pas possible : ce compte "
                                            "est « Non notifié »."}
    assert (account(platform, "helene.dupont").state, account(platform, "helene.dupont").email) == (
        "not_notified",
        None,
    )


def test_a_pending_guardian_can_correct_the_address_and_get_the_link_again(platform, api):
    password = notify(platform, "helene.dupont")
    account_id = api("first-login", {"login": "helene.dupont", "temporary_password": password,
                                     "new_password": "Lilas2026", "new_password_again": "Lilas2026",
                                     "birth_date": "2013-03-12", "email": "helene@exemple.org",
                                     "email_again": "helene@exemple.org"}).json["account_id"]
    first = email_link_token(platform, outbox_events(platform, "family_email.requested")[0])
    body = api("resend-confirmation", {"account_id": account_id, "email": "helene@example.org",
                                       "email_again": "helene@example.org"}).json
    assert body == {"sent_to": "helene@example.org"}
    resent = outbox_events(platform, "family_email.requested")[1]
    assert resent.payload["to"] == "helene@example.org"
    api("confirm-email", {"token": first}, expected=410)  # the earlier link stopped working
    assert api("confirm-email", {"token": email_link_token(platform, resent)}).json["email"] == "helene@example.org"
    assert "n'attend pas de confirmation" in api("resend-confirmation", {"account_id": account_id},
                                                 expected=409).json["error"]


# --- recovery (H4, H5) ---------------------------------------------------------------------------

def test_forgot_login_emails_every_login_of_a_confirmed_address(platform, api):
    activate_guardian(platform, api, "helene.dupont")
    activate_guardian(platform, api, "helene.dupont1", birth="2014-11-30")
    assert api("forgot-login", {"email": "HELENE@example.org "}).json == {"outcome": "sent"}
    reminder = outbox_events(platform, "family_email.requested")[-1]
    assert reminder.payload["template"] == "forgot_login"
    assert reminder.payload["logins"] == ["helene.dupont", "helene.dupont1"]
    # The same status for an unknown address: the portal words it, no script reads existence from it.
    assert api("forgot-login", {"email": "nobody@example.org"}).json == {"outcome": "unknown"}


def test_forgot_password_sends_a_link_with_a_reference_and_the_link_sets_a_new_password(platform, api):
    activate_guardian(platform, api)
    reference = api("forgot-password", {"login": "helene.dupont"}).json["reference"]
    assert reference.startswith("R-") and len(reference) == 10
    email = outbox_events(platform, "family_email.requested")[-1]
    assert email.payload["template"] == "forgot_password" and email.payload["reference"] == reference
    token = email_link_token(platform, email)
    api("reset-password", {"token": token, "login": "jean.dupont", "new_password": "Neuf2026",
                           "new_password_again": "Neuf2026"}, expected=400)  # a typo does not burn the link
    api("reset-password", {"token": token, "login": "helene.dupont", "new_password": "Neuf2026",
                           "new_password_again": "Neuf2026"})
    api("reset-password", {"token": token, "login": "helene.dupont", "new_password": "Autre2026",
                           "new_password_again": "Autre2026"}, expected=410)  # but it works once
    api("authenticate", {"login": "helene.dupont", "password": "Neuf2026"})
    api("authenticate", {"login": "helene.dupont", "password": "Lilas2026"}, expected=401)


def test_forgot_password_needs_a_known_login_with_a_confirmed_address(platform, api):
    assert api("forgot-password", {"login": "nobody"}).json == {"outcome": "unknown", "reference": None}
    notify(platform, "jean.dupont")
    # Never signed in: the letter is the way in (the portal says so), not an address to confirm.
    assert api("forgot-password", {"login": "jean.dupont"}).json == {"outcome": "not_activated", "reference": None}
    with platform.runtime("accounts").uow() as uow:
        uow.session.scalar(select(Account).where(Account.login == "jean.dupont")).state = "activating"
        uow.commit()
    assert api("forgot-password", {"login": "jean.dupont"}).json == {"outcome": "unconfirmed", "reference": None}
    assert not [
        e for e in outbox_events(platform, "family_email.requested") if e.payload["template"] == "forgot_password"
    ]


# --- my account (H6) -----------------------------------------------------------------------------

def test_a_signed_in_family_changes_its_password(platform, api):
    activate_guardian(platform, api)
    account_id = account(platform, "helene.dupont").id
    api("change-password", {"account_id": account_id, "current_password": "Wrong2026", "new_password": "Neuf2026",
                            "new_password_again": "Neuf2026"}, expected=401)
    api("change-password", {"account_id": account_id, "current_password": "Lilas2026", "new_password": "neufneuf",
                            "new_password_again": "neufneuf"}, expected=400)
    api("change-password", {"account_id": account_id, "current_password": "Lilas2026", "new_password": "Neuf2026",
                            "new_password_again": "Neuf2026"})
    api("authenticate", {"login": "helene.dupont", "password": "Neuf2026"})


def test_a_changed_email_is_used_once_the_new_address_is_confirmed(platform, api):
    activate_guardian(platform, api)
    account_id = account(platform, "helene.dupont").id
    api("change-email", {"account_id": account_id, "password": "Wrong2026", "email": "new@example.org",
                         "email_again": "new@example.org"}, expected=401)
    api("change-email", {"account_id": account_id, "password": "Lilas2026", "email": "new@example.org",
                         "email_again": "new@example.org"})
    assert account(platform, "helene.dupont").email == "helene@example.org"  # until confirmed
    token = email_link_token(platform, outbox_events(platform, "family_email.requested")[-1])
    assert api("confirm-email", {"token": token}).json["email"] == "new@example.org"
    assert api("profile", {"account_id": account_id}).json["state"] == "used"
    api("profile", {"account_id": "no-such-account"}, expected=404)


# --- merge (H8) ----------------------------------------------------------------------------------

def test_a_guardian_merges_another_letter_with_its_login_temporary_password_and_the_childs_birth_date(platform, api):
    activate_guardian(platform, api)
    main_id = account(platform, "helene.dupont").id
    other_password = notify(platform, "helene.dupont1")
    api("merge", {"account_id": main_id, "other_login": "helene.dupont1", "other_password": other_password,
                  "birth_date": "2013-03-12"}, expected=401)  # Léa's birth date, not Hugo's
    body = api("merge", {"account_id": main_id, "other_login": "helene.dupont1", "other_password": other_password,
                         "birth_date": "2014-11-30"}).json
    assert [child["first_name"] for child in body["children"]] == ["Léa", "Hugo"]
    assert account(platform, "helene.dupont1").closed_reason == "merged"
    merged = outbox_events(platform, "account.merged")[0].payload
    assert (
        len(merged["account"]["children"]) == 2
        and merged["absorbed_account_id"] == account(platform, "helene.dupont1").id
    )
    assert outbox_events(platform, "account.deleted")[0].payload["reason"] == "merged"
    api("authenticate", {"login": "helene.dupont1", "password": other_password}, expected=401)


def test_the_other_parent_can_join_with_an_active_account_for_a_joint_account(platform, api):
    activate_guardian(platform, api)
    jean_password = notify(platform, "jean.dupont")
    api("first-login", {"login": "jean.dupont", "temporary_password": jean_password, "new_password": "Jean2026x",
                        "new_password_again": "Jean2026x", "birth_date": "2013-03-12", "email": "jean@example.org",
                        "email_again": "jean@example.org"})
    api("confirm-email", {"token": email_link_token(platform, outbox_events(platform, "family_email.requested")[-1])})
    body = api("merge", {"account_id": account(platform, "helene.dupont").id, "other_login": "jean.dupont",
                         "other_password": "Jean2026x"}).json
    assert body["display_name"] == "Mme Hélène DUPONT et M. Jean DUPONT"
    # Léa is the child of both parents: the joint account lists her once.
    assert [(child["first_name"], child["legal_rank"]) for child in body["children"]] == [("Léa", 1)]


def test_a_merge_is_refused_across_academies_or_from_an_account_not_yet_active(platform, api):
    activate_guardian(platform, api)
    main_id = account(platform, "helene.dupont").id
    # Hélène Dupont of the other academy: logins are unique everywhere, so she is helene.dupont2.
    other = account(platform, "helene.dupont2")
    assert other.academy_code == "XYZ"
    other_password = notify(platform, "helene.dupont2")
    api("merge", {"account_id": main_id, "other_login": "helene.dupont2", "other_password": other_password,
                  "birth_date": "2013-03-12"}, expected=401)
    jean = account(platform, "jean.dupont")
    assert (
        "Seul un compte responsable activé"
        in api(
            "merge",
            {"account_id": jean.id, "other_login": "helene.dupont", "other_password": "Lilas2026"},
            expected=409,
        ).json["error"]
    )


def test_guessing_the_current_password_from_a_session_is_throttled(platform, api):
    activate_guardian(platform, api)
    account_id = account(platform, "helene.dupont").id
    for _ in range(5):
        api("change-password", {"account_id": account_id, "current_password": "Wrong2026", "new_password": "Neuf2026",
                                "new_password_again": "Neuf2026"}, expected=401)
    body = api("change-password", {"account_id": account_id, "current_password": "Lilas2026",
                                   "new_password": "Neuf2026", "new_password_again": "Neuf2026"}, expected=429).json
    assert body["retry_after"] > 0 and "Trop de tentatives" in body["error"]
