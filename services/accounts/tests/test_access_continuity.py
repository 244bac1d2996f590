"""B8 continuity of access, through HTTP where staff act: a head of school cannot take over the
family account of a student another school still has enrolled; continuity waits for that school's
departure, continues a guardian's account only for the same person, tells the family and both
schools, protects a continued account until the family signs in; the academy administrator
resolves what waits too long. And imports that would empty most of a school need a confirmation
(SIECLE and CSV, console, API and tsctl)."""
from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from werkzeug.test import Client

from support.console import csrf
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
from ts_accounts.adapters.csv_population import COLUMNS
from ts_accounts.adapters.orm import AccessContinuity, Account, AccountLink, AuditEntry, Guardian, Student
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.domain.contacts import ContactCard, normalised_phone, same_person
from ts_accounts.service_layer.accounts import prepare_letter, record_notification
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import activate_services, add_school
from ts_accounts.service_layer.staff import create_staff
from ts_shared.crypto import SecretBox
from ts_shared.db import utcnow
from ts_shared.messaging.envelope import parse_event
from ts_shared.runtime.cli import cli
from ts_shared.web.internal_api import TOKEN_HEADER

CLOSED_UAI, FOREIGN_UAI = "0540099K", "0999999Z"
PASSWORD = "a long passphrase"
FATHER_PASSWORD, LEA_PASSWORD = "Papa2026ok", "Lea2026ok"
LEA_INE = "1234567890A"


def seed(platform, folder):
    """The collège X (UAI) has Léa enrolled; her father Jean and Léa have activated their
    accounts (Jean confirmed jean.dupont@example.org). The lycée Y (OTHER_UAI) of the same academy
    has its services open; another school of the academy has not opened them yet."""
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        add_school(uow, uai=OTHER_UAI, name="Lycée Henri Poincaré", academy_code="NCY")
        add_school(uow, uai=CLOSED_UAI, name="Lycée Fermé", academy_code="NCY")
        add_school(uow, uai=FOREIGN_UAI, name="Collège d'une autre académie", academy_code="XYZ")
        for uai in (UAI, OTHER_UAI, FOREIGN_UAI):
            activate_services(uow, uai)
        create_staff(uow, login="chef.x", display_name="Chef du collège", password=PASSWORD, head_of=UAI)
        create_staff(uow, login="chef.y", display_name="Chef du lycée", password=PASSWORD, head_of=OTHER_UAI)
        create_staff(uow, login="admin.ncy", display_name="Admin NCY", password=PASSWORD, academy_admin=True,
                     academy_code="NCY")
        create_staff(uow, login="admin.xyz", display_name="Admin XYZ", password=PASSWORD, academy_admin=True,
                     academy_code="XYZ")
        uow.commit()
    run_import(platform, UAI, [students_file(folder / "x-e.xml", STUDENTS),
                               guardians_file(folder / "x-r.xml", PEOPLE, LINKS, ADDRESSES)])
    activate(platform, "jean.dupont", FATHER_PASSWORD, email="jean.dupont@example.org")
    activate(platform, "lea.dupont", LEA_PASSWORD)


def run_import(platform, uai, paths, **options):
    with platform.runtime("accounts").uow() as uow:
        report = import_population(uow, uai=uai, source=source_from_exports(uai, [inspect_export(p) for p in paths]),
                                   actor="test", **options)
        uow.commit()
    return report


def activate(platform, login, password, *, email=None):
    """The family's own activation: a letter, the first login, the email confirmed."""
    with platform.runtime("accounts").uow() as uow:
        account = uow.session.scalar(select(Account).where(Account.login == login))
        _, temporary = prepare_letter(uow, account, reset_password=False, now=utcnow(), actor="test")
        record_notification(uow, account.id, "paper", at=utcnow(), actor="test")
        uow.commit()
    api = family_api(platform)
    body = {"login": login, "temporary_password": temporary, "new_password": password, "new_password_again": password,
            "birth_date": "2013-03-12", "email": email, "email_again": email}
    assert api("first-login", body).status_code == 200
    if email:
        token = SecretBox(platform.settings.event_key).open(outbox(platform, "family_email.requested")[-1]
                                                            .payload["link_token_encrypted"])
        assert api("confirm-email", {"token": token}).status_code == 200


def family_api(platform):
    """The identity API the portal calls for families."""
    client = Client(platform.app("accounts"))

    def call(path, body):
        return client.post(f"/internal/v1/{path}", json=body, headers={TOKEN_HEADER: platform.settings.internal_token})

    return call


def outbox(platform, event_type):
    table = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        return [parse_event(json.loads(row)) for row in connection.execute(
            select(table.c.envelope).where(table.c.event_type == event_type).order_by(table.c.id)).scalars()]


def console(app, login) -> Client:
    client = Client(app)
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"csrf_token": csrf(page.text), "login": login, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return client


def api_token(client) -> dict:
    return {"X-CSRFToken": client.get("/api/v1/csrf-token").json["csrf_token"]}


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


def post(client, path, data, *, page="/admin/"):
    return client.post(path, data={"csrf_token": csrf(client.get(page).text), **data})


def csv_file(*rows: dict) -> bytes:
    lines = [";".join(COLUMNS)] + [";".join(row.get(column, "") for column in COLUMNS) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def upload(client, files: list[tuple[str, bytes]], *, format="siecle", confirm=False):
    data = {"csrf_token": csrf(client.get("/admin/import").text), "format": format,
            "files": [(io.BytesIO(content), name) for name, content in files]}
    if confirm:
        data["confirm_departures"] = "y"
    return client.post("/admin/import", data=data, content_type="multipart/form-data")


def links(platform, login):
    """(school, student SIECLE id, guardian SIECLE id or None) served by this account now."""
    with platform.runtime("accounts").uow() as uow:
        account = uow.session.scalar(select(Account).where(Account.login == login))
        return {(link.school_uai, link.student.siecle_id, link.guardian.siecle_id if link.guardian else None)
                for link in account.links if link.ended_at is None}


def school_logins(platform, uai, student_siecle_id):
    with platform.runtime("accounts").uow() as uow:
        student = uow.session.scalar(
            select(Student).where(Student.school_uai == uai, Student.siecle_id == student_siecle_id)
        )
        return {
            (link.guardian.siecle_id if link.guardian else None): (link.account.login, link.kept_from_previous_school)
            for link in uow.session.scalars(
                select(AccountLink).where(AccountLink.student_id == student.id, AccountLink.ended_at.is_(None))
            )
        }


def continuities(platform):
    with platform.runtime("accounts").uow() as uow:
        return [(c.school_uai, c.previous_school_uai, c.status, c.resolution)
                for c in uow.session.scalars(select(AccessContinuity).order_by(AccessContinuity.id))]


def audit(platform, action):
    with platform.runtime("accounts").uow() as uow:
        return [(entry.school_uai, entry.summary) for entry in
                uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def x_records_the_departure(platform, tmp_path):
    """The collège's own import no longer lists Léa (1001)."""
    return run_import(platform, UAI, [students_file(tmp_path / "x2-e.xml", STUDENTS[1:]),
                                      guardians_file(tmp_path / "x2-r.xml", PEOPLE, LINKS[2:], ADDRESSES)])


def lycee_files(tmp_path, people, *, uai=OTHER_UAI, students=None):
    """Léa arriving in the lycée (id 77001, same INE), with the guardians given."""
    students = students or [student_xml("77001", "DUPONT", "Léa", "12/03/2013", "2DE1", ine=LEA_INE, mef="20010017110")]
    return [
        students_file(tmp_path / f"{uai}-e.xml", students, uai=uai),
        guardians_file(
            tmp_path / f"{uai}-r.xml",
            people,
            [("77001", pid, rank) for pid, rank in (("88001", 1), ("88002", 2)) if any(p[0] == pid for p in people)],
            ADDRESSES,
            uai=uai,
        ),
    ]


# Léa's parents as the lycée's SIECLE has them: Hélène with her email, Jean with the family address.
SAME_PARENTS = [("88001", "MME", "Dupont", "Hélène", "helene.dupont@example.org", None),
                ("88002", "M.", "DUPONT", "Jean", None, "77")]


# --- finding 1: the attack ------------------------------------------------------------------------

def test_a_head_of_school_cannot_take_over_the_family_account_of_a_student_still_enrolled_elsewhere(platform, app):
    """The lycée's head imports a CSV naming Léa's INE and « Jean DUPONT » as her father, then
    resets his password, prints a letter and signs in with a made-up birth date."""
    head_y = console(app, "chef.y")
    forged = csv_file({"eleve_id": "E1", "nom": "DUPONT", "prenom": "Léa", "date_naissance": "01/01/2012",
                       "division": "2A", "ine": LEA_INE, "resp1_id": "R1", "resp1_nom": "DUPONT",
                       "resp1_prenom": "Jean", "resp1_mel": "intrus@example.org"})
    response = upload(head_y, [("eleves.csv", forged)], format="csv")
    assert response.status_code == 200 and "Import terminé." in text(response)

    post(head_y, "/admin/guardians/E1/R1/-/notify", {"mode": "paper", "reset_password": "y"})
    stolen = [
        SecretBox(platform.settings.event_key).open(request.payload["temporary_password_encrypted"])
        for request in outbox(platform, "notification.requested")
        if request.payload["account"]["login"] == "jean.dupont" and request.payload["temporary_password_encrypted"]
    ]
    family = family_api(platform)
    for password in stolen:  # what the printed letter would say
        family("first-login", {"login": "jean.dupont", "temporary_password": password, "new_password": "Pirate2026",
                               "new_password_again": "Pirate2026", "birth_date": "2012-01-01"})
    assert family("authenticate", {"login": "jean.dupont", "password": "Pirate2026"}).status_code == 401
    assert family("authenticate", {"login": "jean.dupont", "password": FATHER_PASSWORD}).status_code == 200
    assert links(platform, "jean.dupont") == {(UAI, "1001", "9002")}  # still the collège's
    assert stolen == []
    page = text(head_y.get("/admin/guardians/E1/R1"))
    assert "Continuité en attente" in page and "jean.dupont" not in page


def test_while_the_student_is_enrolled_elsewhere_the_arriving_school_gets_no_account_at_all(platform, app, tmp_path):
    report = run_import(platform, OTHER_UAI, lycee_files(tmp_path, SAME_PARENTS))
    assert report.accounts_created == 0 and report.accounts_kept_from_previous_school == 0
    assert report.continuities_pending == 1
    assert school_logins(platform, OTHER_UAI, "77001") == {}  # no second account for the family meanwhile
    assert continuities(platform) == [(OTHER_UAI, UAI, "pending", None)]
    assert [uai for uai, _ in audit(platform, "continuity.pending")] == [OTHER_UAI, UAI]
    head_y = console(app, "chef.y")
    assert "Continuité en attente" in text(head_y.get("/admin/guardians/?nom=dup&rechercher=1"))
    response = post(head_y, "/admin/guardians/77001/88002/-/new-account", {"confirm": "y"})
    assert "Continuité d'accès en attente : l'élève est encore inscrit(e) au Collège Jean Moulin" in text(
        head_y.get(response.headers["Location"]))
    api = head_y.post("/api/v1/accounts/guardians/77001/88002/new-account", headers=api_token(head_y))
    assert api.status_code == 409 and "Continuité d'accès en attente" in api.json["error"]
    assert school_logins(platform, OTHER_UAI, "77001") == {}
    notified = head_y.post("/api/v1/accounts/guardians/77001/88002/notify", json={"mode": "paper"},
                           headers=api_token(head_y))
    assert notified.status_code == 202 and notified.json["deliveries"] == 0
    assert "continuité d'accès en attente" in notified.json["skipped"][0]
    # Re-importing the same files keeps waiting, and creates nothing either.
    again = run_import(platform, OTHER_UAI, lycee_files(tmp_path, SAME_PARENTS))
    assert again.accounts_created == 0 and len(continuities(platform)) == 1


# --- completion -----------------------------------------------------------------------------------

@pytest.mark.parametrize("order", ["arrival_first", "departure_first"])
def test_continuity_completes_when_the_previous_school_records_the_departure_in_either_order(platform, tmp_path, order):
    if order == "arrival_first":
        assert run_import(platform, OTHER_UAI, lycee_files(tmp_path, SAME_PARENTS)).continuities_pending == 1
        departure = x_records_the_departure(platform, tmp_path)
        assert departure.continuities_completed_elsewhere == 1  # in the collège's own import
    else:
        x_records_the_departure(platform, tmp_path)
        arrival = run_import(platform, OTHER_UAI, lycee_files(tmp_path, SAME_PARENTS))
        assert arrival.accounts_kept_from_previous_school == 3 and arrival.accounts_created == 0
    assert school_logins(platform, OTHER_UAI, "77001") == {None: ("lea.dupont", True),
                                                           "88001": ("helene.dupont", True),
                                                           "88002": ("jean.dupont", True)}
    assert links(platform, "lea.dupont") == {(OTHER_UAI, "77001", None)}
    assert links(platform, "jean.dupont") == {(OTHER_UAI, "77001", "88002")}
    assert continuities(platform) == [(OTHER_UAI, UAI, "completed", "previous_school_departure")]
    # The family is told, at the address it confirmed (Léa and Hélène confirmed none).
    [email] = [e for e in outbox(platform, "family_email.requested") if e.payload["template"] == "access_continuity"]
    assert email.payload["to"] == "jean.dupont@example.org" and email.payload["logins"] == ["jean.dupont"]
    assert email.payload["school_name"] == "Lycée Henri Poincaré"
    assert email.payload["previous_school_name"] == "Collège Jean Moulin"
    # Both schools' audit logs say so.
    completed = audit(platform, "continuity.completed")
    assert [uai for uai, _ in completed] == [OTHER_UAI, UAI]
    assert "depuis Collège Jean Moulin" in completed[0][1] and "jean.dupont" in completed[0][1]
    assert "vers Lycée Henri Poincaré" in completed[1][1]
    updated = [e for e in outbox(platform, "account.updated") if e.payload["account"]["login"] == "jean.dupont"]
    assert updated[-1].school_uai == OTHER_UAI
    assert [c["school_uai"] for c in updated[-1].payload["account"]["children"]] == [OTHER_UAI]


def test_the_family_email_is_rendered_in_french_by_the_notifier():
    from ts_notifier.service_layer.family_emails import render

    email = render("access_continuity", {"recipient_name": "M. Jean DUPONT", "logins": ["jean.dupont"],
                                         "school_name": "Lycée Henri Poincaré", "student_name": "Léa",
                                         "previous_school_name": "Collège Jean Moulin",
                                         "portal_url": "https://scolarite.example.org/"})
    assert email.subject == "Scolarité services : votre compte sert désormais pour Lycée Henri Poincaré"
    assert ("Votre compte Scolarité services jean.dupont sert désormais pour l'établissement Lycée Henri Poincaré, "
            "où Léa est maintenant inscrit(e) (continuité d'accès depuis Collège Jean Moulin).") in email.text
    assert "contactez sans attendre Collège Jean Moulin" in email.text and "Lycée Henri Poincaré" in email.html


def test_a_guardian_with_the_same_name_but_no_shared_contact_detail_gets_a_new_account(platform, tmp_path):
    x_records_the_departure(platform, tmp_path)
    strangers = [("88001", "MME", "DUPONT", "Hélène", "autre.helene@example.org", None),  # another address
                 ("88002", "M.", "Dupont", "Jean", None, None)]  # the name alone
    report = run_import(platform, OTHER_UAI, lycee_files(tmp_path, strangers))
    logins = school_logins(platform, OTHER_UAI, "77001")
    assert logins[None] == ("lea.dupont", True)  # the student's own account follows the INE
    assert logins["88001"][0] != "helene.dupont" and logins["88002"][0] != "jean.dupont"
    assert not logins["88001"][1] and not logins["88002"][1]
    assert report.accounts_kept_from_previous_school == 1 and report.accounts_created == 2
    assert links(platform, "jean.dupont") == set()  # left with Léa's departure, not handed over


def test_a_guardian_matched_by_name_and_phone_keeps_the_account(platform, tmp_path):
    """The collège has the father's mobile number; the lycée typed it differently."""
    x_records_the_departure(platform, tmp_path)
    with platform.runtime("accounts").uow() as uow:
        uow.session.execute(update(Guardian).where(Guardian.school_uai == UAI, Guardian.siecle_id == "9002")
                            .values(phone_mobile="06 12 34 56 78"))
        uow.commit()
    people = [("88002", "M.", "DUPONT", "Jean", None, None)]
    paths = lycee_files(tmp_path, people)
    paths[1].write_text(
        paths[1]
        .read_text(encoding="utf-8")
        .replace("<PRENOM>Jean</PRENOM>", "<PRENOM>Jean</PRENOM><TEL_PORTABLE>+33 6 12 34 56 78</TEL_PORTABLE>"),
        encoding="utf-8",
    )
    run_import(platform, OTHER_UAI, paths)
    assert school_logins(platform, OTHER_UAI, "77001")["88002"] == ("jean.dupont", True)


def test_same_person_needs_the_name_and_one_shared_contact_detail():
    known = ContactCard("Jean", "DUPONT", emails=("Jean.Dupont@example.org",), phones=("06 12 34 56 78",),
                        address_lines=("3 rue des Lilas",), postal_code="54000", city="NANCY")
    assert same_person(known, ContactCard("jean", "Dupont", emails=("jean.dupont@example.org",)))
    assert same_person(known, ContactCard("Jean", "DUPONT", phones=("0033612345678",)))
    assert same_person(known, ContactCard("Jean", "DUPONT", address_lines=("3 RUE DES LILAS",), postal_code="54000",
                                          city="Nancy"))
    assert not same_person(known, ContactCard("Jean", "DUPONT"))  # the name alone
    assert not same_person(known, ContactCard("Jean", "DUPONT", phones=("06 12 34 56 79",), city="NANCY"))
    assert not same_person(known, ContactCard("Paul", "DUPONT", emails=("jean.dupont@example.org",)))
    assert normalised_phone("+33 (0)6 12 34 56 78") == normalised_phone("06.12.34.56.78") == "+33612345678"
    assert normalised_phone("pas de numéro") is None


def test_no_continuity_into_a_school_whose_online_services_are_not_open(platform, tmp_path):
    x_records_the_departure(platform, tmp_path)
    report = run_import(platform, CLOSED_UAI, lycee_files(tmp_path, SAME_PARENTS, uai=CLOSED_UAI))
    assert report.accounts_kept_from_previous_school == 0 and report.accounts_created == 3
    assert continuities(platform) == []
    assert links(platform, "lea.dupont") == set() and links(platform, "jean.dupont") == set()


def test_a_student_returning_to_a_school_is_continued_back_and_the_family_told_again(platform, tmp_path):
    x_records_the_departure(platform, tmp_path)
    run_import(platform, OTHER_UAI, lycee_files(tmp_path, SAME_PARENTS))
    # Léa leaves the lycée and comes back to the collège.
    run_import(platform, OTHER_UAI, [students_file(tmp_path / "y2-e.xml", [], uai=OTHER_UAI)], confirm_departures=True)
    run_import(platform, UAI, [students_file(tmp_path / "x3-e.xml", STUDENTS),
                               guardians_file(tmp_path / "x3-r.xml", PEOPLE, LINKS, ADDRESSES)])
    assert school_logins(platform, UAI, "1001") == {None: ("lea.dupont", True), "9001": ("helene.dupont", True),
                                                    "9002": ("jean.dupont", True)}
    emails = [
        e.payload for e in outbox(platform, "family_email.requested") if e.payload["template"] == "access_continuity"
    ]
    assert [(e["to"], e["school_name"]) for e in emails] == [("jean.dupont@example.org", "Lycée Henri Poincaré"),
                                                            ("jean.dupont@example.org", "Collège Jean Moulin")]


# --- the continued account is protected until the family signs in --------------------------------

def test_a_continued_used_account_cannot_be_reset_or_replaced_before_the_family_signs_in_there(platform, app, tmp_path):
    x_records_the_departure(platform, tmp_path)
    run_import(platform, OTHER_UAI, lycee_files(tmp_path, SAME_PARENTS))
    head_y = console(app, "chef.y")
    api = head_y.post("/api/v1/accounts/guardians/77001/88002/notify", json={"mode": "paper", "reset_password": True},
                      headers=api_token(head_y))
    assert api.status_code == 409 and "la famille ne s'y est pas encore connectée" in api.json["error"]
    page = text(head_y.get("/admin/guardians/77001/88002"))
    assert "la famille ne s'y est pas encore connectée" in page and "Réinitialiser le mot de passe" not in page
    response = post(head_y, "/admin/guardians/77001/88002/-/notify", {"mode": "paper", "reset_password": "y"})
    assert "ne peut ni réinitialiser son mot de passe ni le remplacer" in text(head_y.get(response.headers["Location"]))
    response = post(head_y, "/admin/guardians/77001/88002/-/new-account", {"confirm": "y"})
    assert "ne peut ni réinitialiser" in text(head_y.get(response.headers["Location"]))
    assert head_y.post("/api/v1/accounts/students/77001/new-account", headers=api_token(head_y)).status_code == 409
    # The students' mass notification with reset skips the continued student and says why.
    head_y.post("/admin/students/notify", data={"csrf_token": csrf(head_y.get("/admin/students/notify").text),
                                                "mode": "paper", "division": "2DE1", "reset_password": "y",
                                                "couple": ["77001"]})
    assert outbox(platform, "notification.requested") == []
    assert (
        family_api(platform)("authenticate", {"login": "jean.dupont", "password": FATHER_PASSWORD}).status_code == 200
    )
    assert school_logins(platform, OTHER_UAI, "77001")["88002"] == ("jean.dupont", True)

    # Once the family has signed in, the lycée may reset as for any account.
    reset = head_y.post("/api/v1/accounts/guardians/77001/88002/notify", json={"mode": "paper", "reset_password": True},
                        headers=api_token(head_y))
    assert reset.status_code == 202 and reset.json["deliveries"] == 1
    assert family_api(platform)("authenticate", {"login": "lea.dupont", "password": LEA_PASSWORD}).status_code == 200
    replaced = head_y.post("/api/v1/accounts/students/77001/new-account", headers=api_token(head_y))
    assert replaced.status_code == 201 and replaced.json["login"] != "lea.dupont"


def test_the_academy_administrator_can_authorise_the_reset_of_a_kept_account_for_a_family_that_lost_it(
        platform, app, tmp_path):
    """Léa forgot her password and has no confirmed address: after checking, the academy lets
    the lycée reset her kept account."""
    x_records_the_departure(platform, tmp_path)
    run_import(platform, OTHER_UAI, lycee_files(tmp_path, SAME_PARENTS))
    head_y = console(app, "chef.y")

    def reset():
        return head_y.post("/api/v1/accounts/students/77001/notify", json={"mode": "paper", "reset_password": True},
                           headers=api_token(head_y))

    assert reset().status_code == 409
    assert head_y.post("/api/v1/academy/continuity/reset-authorisations", json={"login": "lea.dupont"},
                       headers=api_token(head_y)).status_code == 403
    other = console(app, "admin.xyz")
    assert other.post("/api/v1/academy/continuity/reset-authorisations", json={"login": "lea.dupont"},
                      headers=api_token(other)).status_code == 404
    assert reset().status_code == 409
    admin = console(app, "admin.ncy")
    page = "/admin/academy/continuity"
    refused = post(
        admin, "/admin/academy/continuity/reset-authorisation", {"account_login": "helene.dupont1"}, page=page
    )
    assert refused.status_code == 400 and "n'est pas protégé" in text(refused)
    response = post(admin, "/admin/academy/continuity/reset-authorisation", {"account_login": "lea.dupont"}, page=page)
    assert "Lycée Henri Poincaré (0573321A) peut désormais réinitialiser le mot de passe du compte lea.dupont" in text(
        admin.get(response.headers["Location"]))
    assert reset().status_code == 202
    [(uai, summary)] = audit(platform, "continuity.reset_authorised")
    assert uai == OTHER_UAI and "lea.dupont" in summary
    assert "Réinitialisation autorisée par l'administrateur académique" in text(head_y.get("/admin/students/77001"))


# --- the academy administrator's report -----------------------------------------------------------

def test_the_academy_report_lists_pending_and_conflicting_continuities_and_resolves_them(platform, app, tmp_path):
    students = [student_xml("77001", "DUPONT", "Léa", "12/03/2013", "2DE1", ine=LEA_INE),
                student_xml("77002", "N'DIAYE", "Maël", "01/01/2012", "2DE1", ine="2234567890B")]
    run_import(platform, OTHER_UAI, lycee_files(tmp_path, SAME_PARENTS, students=students))
    with platform.runtime("accounts").uow() as uow:  # Léa's has waited three weeks
        uow.session.execute(update(AccessContinuity).where(AccessContinuity.national_id == LEA_INE)
                            .values(requested_at=utcnow() - timedelta(days=21)))
        uow.commit()
        lea_id, mael_id = (uow.session.scalar(select(AccessContinuity.id).where(AccessContinuity.national_id == ine))
                           for ine in (LEA_INE, "2234567890B"))
    admin = console(app, "admin.ncy")
    page = text(admin.get("/admin/academy/continuity"))
    assert "Conflits (1)" in page and "En attente (1)" in page
    assert page.index("Léa DUPONT (1234567890A)") < page.index("En attente (1)") < page.index("Maël N'DIAYE")
    listed = admin.get("/api/v1/academy/continuity").json
    assert [(line["national_id"], line["conflict"]) for line in listed] == [(LEA_INE, True), ("2234567890B", False)]

    # Scoped to the administrator's academy; heads of school have no access.
    other = console(app, "admin.xyz")
    assert (
        "Léa" not in text(other.get("/admin/academy/continuity")) and other.get("/api/v1/academy/continuity").json == []
    )
    assert post(other, f"/admin/academy/continuity/{lea_id}/confirm", {},
                page="/admin/academy/continuity").status_code == 404
    assert other.post(f"/api/v1/academy/continuity/{lea_id}/refuse", headers=api_token(other)).status_code == 404
    head = console(app, "chef.y")
    assert head.get("/admin/academy/continuity").status_code == 403
    assert head.get("/api/v1/academy/continuity").status_code == 403
    assert post(head, f"/admin/academy/continuity/{lea_id}/confirm", {}).status_code == 403
    assert continuities(platform) == [(OTHER_UAI, UAI, "pending", None)] * 2

    # Confirm Léa's move: handed over now, although the collège still lists her.
    response = post(admin, f"/admin/academy/continuity/{lea_id}/confirm", {}, page="/admin/academy/continuity")
    assert "Changement d'établissement confirmé pour Léa DUPONT" in text(admin.get(response.headers["Location"]))
    assert school_logins(platform, OTHER_UAI, "77001")[None] == ("lea.dupont", True)
    assert links(platform, "lea.dupont") == {(OTHER_UAI, "77001", None)}
    # Refuse Maël's: the lycée gets new accounts, the collège keeps its own.
    refused = admin.post(f"/api/v1/academy/continuity/{mael_id}/refuse", headers=api_token(admin))
    assert refused.status_code == 200 and refused.json["status"] == "refused"
    assert school_logins(platform, OTHER_UAI, "77002")[None] == ("mael.n-diaye1", False)
    assert links(platform, "mael.n-diaye") == {(UAI, "1002", None)}
    assert admin.post(f"/api/v1/academy/continuity/{mael_id}/confirm", headers=api_token(admin)).status_code == 409
    assert [
        (uai, action) for action in ("continuity.completed", "continuity.refused") for uai, _ in audit(platform, action)
    ] == [
        (OTHER_UAI, "continuity.completed"),
        (UAI, "continuity.completed"),
        (OTHER_UAI, "continuity.refused"),
        (UAI, "continuity.refused"),
    ]
    with platform.runtime("accounts").uow() as uow:
        assert {entry.staff_login for entry in uow.session.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(("continuity.completed", "continuity.refused"))))} == {"admin.ncy"}
    assert "Aucune continuité d'accès en attente" in text(admin.get("/admin/academy/continuity"))


# --- finding 8: imports that would empty the school ----------------------------------------------

def enrolled(platform, uai=UAI) -> int:
    with platform.runtime("accounts").uow() as uow:
        return len(uow.session.scalars(select(Student.id).where(Student.school_uai == uai,
                                                                Student.departed_at.is_(None))).all())


@pytest.mark.parametrize("students,message", [
    ([], "Le fichier ElevesSansAdresses.xml ne contient aucun élève : l'importer déclarerait partis les 4 élève(s)"),
    (STUDENTS[:1], "Le fichier ElevesSansAdresses.xml déclarerait partis 3 des 4 élèves inscrits"),
])
def test_a_siecle_export_that_would_empty_the_school_needs_a_confirmation_in_the_console(platform, app, tmp_path,
                                                                                         students, message):
    content = students_file(tmp_path / "ElevesSansAdresses.xml", students).read_bytes()
    head = console(app, "chef.x")
    refused = text(upload(head, [("ElevesSansAdresses.xml", content)]))
    assert "Import non effectué : départs à confirmer" in refused and message in refused
    assert "Rien n'a été modifié." in refused and enrolled(platform) == 4
    accepted = text(upload(head, [("ElevesSansAdresses.xml", content)], confirm=True))
    assert "Import terminé." in accepted and enrolled(platform) == len(students)
    assert "(départs confirmés)" in audit(platform, "import.done")[-1][1]


def test_a_siecle_export_that_would_empty_the_school_needs_a_confirmation_through_the_api(platform, app, tmp_path):
    content = students_file(tmp_path / "ElevesSansAdresses.xml", []).read_bytes()
    head = console(app, "chef.x")

    def send(query=""):
        return head.post(f"/api/v1/imports{query}", data={"files": [(io.BytesIO(content), "ElevesSansAdresses.xml")]},
                         headers=api_token(head), content_type="multipart/form-data")

    refused = send()
    assert refused.status_code == 409 and "ne contient aucun élève" in refused.json["error"]
    assert "confirm_departures=true" in refused.json["error"] and enrolled(platform) == 4
    accepted = send("?confirm_departures=true")
    assert accepted.status_code == 201 and accepted.json["departed"] == {"élèves": 4} and enrolled(platform) == 0


def test_tsctl_refuses_an_export_that_would_empty_the_school_without_confirm_departures(
    platform, tmp_path, monkeypatch
):
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))
    path = students_file(tmp_path / "ElevesSansAdresses.xml", STUDENTS[:1])
    result = CliRunner().invoke(cli, ["import", "siecle", "--uai", UAI, str(path)])
    assert result.exit_code == 1 and "déclarerait partis 3 des 4 élèves inscrits" in result.output
    assert "--confirm-departures" in result.output and enrolled(platform) == 4
    result = CliRunner().invoke(cli, ["import", "siecle", "--uai", UAI, "--confirm-departures", str(path)])
    assert result.exit_code == 0, result.output
    assert enrolled(platform) == 1


def test_a_csv_that_would_empty_the_school_needs_the_same_confirmation(platform, app):
    head = console(app, "chef.x")
    one = csv_file({"eleve_id": "1001", "nom": "DUPONT", "prenom": "Léa", "date_naissance": "12/03/2013",
                    "division": "3A", "ine": LEA_INE})
    assert "départs à confirmer" in text(upload(head, [("eleves.csv", one)], format="csv")) and enrolled(platform) == 4
    assert "Import terminé." in text(upload(head, [("eleves.csv", one)], format="csv", confirm=True))
    assert enrolled(platform) == 1
