"""B3–B10 as use cases: notifications, temporary credentials, expiry, refusal of access, history —
each change with its account.* event in the outbox."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, UTC

import pytest
from sqlalchemy import select

from support.siecle_files import ADDRESSES, LINKS, PEOPLE, STUDENTS, UAI, guardians_file, students_file
from ts_accounts.adapters.orm import Account
from ts_accounts.adapters.siecle import inspect_export
from ts_accounts.domain.lifecycle import LetterCase
from ts_accounts.service_layer.accounts import (
    account_history, couple_accounts, expire_accounts, issue_temporary_password, prepare_letter,
    record_notification, set_access_refused, temporary_password_matches,
)
from ts_accounts.service_layer.errors import InvalidInput
from ts_accounts.service_layer.imports import import_population, source_from_exports
from ts_accounts.service_layer.schools import add_school
from ts_shared.messaging.envelope import parse_event

T0 = datetime(2026, 9, 5, 9, 0, tzinfo=UTC)


def seed(platform, folder):
    accounts = platform.runtime("accounts")
    with accounts.uow() as uow:
        add_school(uow, uai=UAI, name="Collège Jean Moulin", academy_code="NCY")
        uow.commit()
    files = [students_file(folder / "e.xml", STUDENTS), guardians_file(folder / "r.xml", PEOPLE, LINKS, ADDRESSES)]
    with accounts.uow() as uow:
        import_population(uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]),
                          actor="test", clock=lambda: T0)
        uow.commit()


def by_login(uow, login) -> Account:
    return uow.session.scalar(select(Account).where(Account.login == login))


def events_of(platform, event_type):
    outbox = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        return [parse_event(json.loads(row)) for row in connection.execute(
            select(outbox.c.envelope).where(outbox.c.event_type == event_type).order_by(outbox.c.id)).scalars()]


def test_a_notification_gives_a_temporary_password_then_notifie_with_date_and_mode(platform):
    with platform.runtime("accounts").uow() as uow:
        account = by_login(uow, "helene.dupont")
        decision, password = prepare_letter(uow, account, reset_password=False, now=T0, actor="chef.demo")
        assert decision.letter_case == LetterCase.GUARDIAN_NEW and len(password) == 8
        assert account.state == "not_notified"  # only a delivered letter notifies
        record_notification(uow, account.id, "email", at=T0 + timedelta(minutes=2), actor="notifier")
        uow.commit()
    with platform.runtime("accounts").uow() as uow:
        account = by_login(uow, "helene.dupont")
        assert (account.state, account.notification_mode, account.notified_at) == (
            "notified",
            "email",
            T0 + timedelta(minutes=2),
        )
        assert temporary_password_matches(uow, account, password) and account.temporary_password_hash is None
        assert [h.action for h in account_history(uow.session, account.id)] == [
            "created", "temporary_password_issued", "notified"]
    [event] = events_of(platform, "account.notified")
    assert event.payload["account"]["state"] == "notified" and event.payload["account"]["notification_mode"] == "email"


def test_a_second_temporary_password_replaces_the_first(platform):
    with platform.runtime("accounts").uow() as uow:
        account = by_login(uow, "lea.dupont")
        first = issue_temporary_password(uow, account, now=T0, actor="chef.demo")
        second = issue_temporary_password(uow, account, now=T0, actor="chef.demo")
        uow.commit()
        assert first != second and account.credential_serial == 2
        assert not temporary_password_matches(uow, account, first)
        assert temporary_password_matches(uow, account, second)


def test_an_unknown_notification_mode_or_a_closed_account_is_refused(platform):
    with platform.runtime("accounts").uow() as uow:
        with pytest.raises(InvalidInput, match="Mode de notification inconnu"):
            record_notification(uow, by_login(uow, "lea.dupont").id, "pigeon", at=T0, actor="notifier")


def test_an_illegal_transition_is_refused_in_french_as_a_conflict_and_changes_nothing(platform):
    from ts_accounts.domain.lifecycle import Transition
    from ts_accounts.service_layer.accounts import TransitionRefused, apply_transition
    from ts_accounts.service_layer.errors import Conflict

    with platform.runtime("accounts").uow() as uow:
        account = by_login(uow, "lea.dupont")
        with pytest.raises(TransitionRefused) as refused:
            apply_transition(account, Transition.CONFIRM_EMAIL)
        assert isinstance(refused.value, Conflict)
        assert str(refused.value) == ("La confirmation de l'adresse électronique n'est pas possible : ce compte est "
                                      "« Non notifié ».")
        assert (account.state, account.version) == ("not_notified", 1)


def test_an_account_not_activated_three_months_after_notification_is_replaced_by_a_new_login(platform):
    with platform.runtime("accounts").uow() as uow:
        account = by_login(uow, "helene.dupont")
        prepare_letter(uow, account, reset_password=False, now=T0, actor="chef.demo")
        record_notification(uow, account.id, "paper", at=T0, actor="notifier")
        uow.commit()
    with platform.runtime("accounts").uow() as uow:
        assert expire_accounts(uow, now=T0 + timedelta(days=90)).deleted == []
        report = expire_accounts(uow, now=T0 + timedelta(days=92))
        uow.commit()
    assert report.deleted == [("helene.dupont", "expired_not_activated")] and report.recreated == 1
    with platform.runtime("accounts").uow() as uow:
        old = by_login(uow, "helene.dupont")
        assert old.closed_reason == "expired_not_activated"
        history = couple_accounts(uow.session, old.links[0].student_id, old.links[0].guardian_id)
        assert [(a.login, a.state, a.closed_at is None) for a, _ in history] == [
            ("helene.dupont", "notified", False), ("helene.dupont2", "not_notified", True)]
    [deleted] = events_of(platform, "account.deleted")
    assert deleted.payload["reason"] == "expired_not_activated" and deleted.payload["account"]["closed"] is True
    assert events_of(platform, "account.created")[-1].payload["account"]["login"] == "helene.dupont2"


def test_refusing_and_restoring_access_is_recorded_and_announced(platform):
    with platform.runtime("accounts").uow() as uow:
        account_id = by_login(uow, "lea.dupont").id
        set_access_refused(uow, account_id, True, now=T0, actor="chef.demo")
        set_access_refused(uow, account_id, True, now=T0, actor="chef.demo")  # already refused: nothing new
        set_access_refused(uow, account_id, False, now=T0 + timedelta(days=1), actor="chef.demo")
        uow.commit()
        assert [(h.action, h.actor) for h in account_history(uow.session, account_id)][1:] == [
            ("access_refused", "chef.demo"), ("access_restored", "chef.demo")]
    assert [e.payload["account"]["access_refused"] for e in events_of(platform, "account.updated")] == [True, False]


def test_tsctl_says_how_many_letters_a_rotation_of_the_credential_key_would_void(platform, monkeypatch):
    from click.testing import CliRunner

    from ts_accounts.adapters.passwords import hash_password
    from ts_shared.runtime.cli import cli

    with platform.runtime("accounts").uow() as uow:
        issue_temporary_password(uow, by_login(uow, "lea.dupont"), now=T0, actor="chef.demo")
        issue_temporary_password(uow, by_login(uow, "helene.dupont"), now=T0, actor="chef.demo")
        legacy = by_login(uow, "jean.dupont")
        legacy.temporary_password_hash, legacy.temporary_password_issued_at = hash_password("DCBRJDWH"), T0
        uow.commit()
    monkeypatch.setenv("TS_DATA_DIR", str(platform.settings.data_dir))
    result = CliRunner().invoke(cli, ["credentials", "status"])
    assert result.exit_code == 0, result.output
    assert "2 dérivés de TS_CREDENTIAL_KEY, 1 antérieurs" in result.output
    assert "Changer TS_CREDENTIAL_KEY rend invalides tous les mots de passe provisoires déjà remis" in result.output
    assert "rend invalides" in CliRunner().invoke(cli, ["credentials", "--help"]).output
