"""The stats service owns its numbers: a scripted sequence of the accounts service's real events
over a fixture school — delivered out of order, some twice, one redelivered after a worker died
before its commit, one after it died between commit and acknowledgement — leaves G1 and G2 equal
to what the test counts directly in the accounts database; the pages show those numbers and the
CSV files equal the pages."""
from __future__ import annotations

import csv
import io
import json
import random
import threading
from collections import defaultdict
from contextlib import contextmanager
from datetime import date, datetime, timedelta, UTC
from html import unescape

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.test import Client

from support.events import account_created
from support.notifying import UAI, add_school_with_population
from support.settings import environment_for
from ts_accounts.adapters.orm import Account, AccountLink, Mef, Student
from ts_accounts.service_layer import identity
from ts_accounts.service_layer.accounts import issue_temporary_password, record_notification, set_access_refused
from ts_shared.crypto import SecretBox
from ts_shared.messaging.envelope import parse_event
from ts_shared.runtime.cli import cli
from ts_stats.domain.summaries import NO_DIVISION, percent, school_year_bounds
from ts_stats.service_layer.summaries import guardian_summary, student_summary

NOW = datetime.now(UTC)
LAST_YEAR = school_year_bounds(date.today())[0] - timedelta(days=40)  # notified before this school year began


def _accounts(platform, kind: str) -> list[Account]:
    with platform.runtime("accounts").uow() as uow:
        return list(uow.session.scalars(
            select(Account).join(AccountLink, AccountLink.account_id == Account.id)
            .where(Account.kind == kind, AccountLink.school_uai == UAI).order_by(Account.login)).unique())


def _birth_date(platform, account_id: str) -> date:
    with platform.runtime("accounts").uow() as uow:
        return uow.session.scalar(select(Student.birth_date).join(AccountLink, AccountLink.student_id == Student.id)
                                  .where(AccountLink.account_id == account_id).limit(1))


def _notify(platform, account: Account, at: datetime) -> str:
    with platform.runtime("accounts").uow() as uow:
        password = issue_temporary_password(uow, uow.session.get(Account, account.id), now=at, actor="test")
        record_notification(uow, account.id, "paper", at=at, actor="test")
        uow.commit()
    return password


def _first_login(platform, account: Account, password: str, email: str | None) -> None:
    with platform.runtime("accounts").uow() as uow:
        identity.first_login(uow, SecretBox(platform.settings.event_key), login=account.login,
                             temporary_password=password, new_password="Nouveau2026", new_password_again="Nouveau2026",
                             birth_date=_birth_date(platform, account.id), email=email, email_again=email,
                             client_address=None, now=NOW)


def _outbox_events(platform, types) -> list:
    outbox = platform.runtime("accounts").spec.tables.outbox
    with platform.runtime("accounts").engine.connect() as connection:
        rows = connection.execute(select(outbox.c.envelope).order_by(outbox.c.id)).scalars()
        return [event for event in (parse_event(json.loads(row)) for row in rows) if event.type in types]


def _confirm_emails(platform) -> None:
    box = SecretBox(platform.settings.event_key)
    for event in _outbox_events(platform, {"family_email.requested"}):
        number = int(event.payload["to"].removeprefix("parent").split("@")[0])
        if event.payload["template"] == "confirm_email" and number % 4 == 0:
            with platform.runtime("accounts").uow() as uow:
                identity.confirm_email(uow, token=box.open(event.payload["link_token_encrypted"]), now=NOW)


def _school_life(platform) -> None:
    """What a school year does to accounts: letters (some last year), first logins, confirmed
    addresses, refusal coupons."""
    add_school_with_population(platform, platform.settings.data_dir / "export", students=45)
    students, guardians = _accounts(platform, "student"), _accounts(platform, "guardian")
    for number, account in enumerate(students[:20]):
        password = _notify(platform, account, NOW - timedelta(days=3))
        if number % 3 == 0:
            _first_login(platform, account, password, None)  # Utilisé
    for number, account in enumerate(guardians[:40]):
        password = _notify(platform, account, LAST_YEAR if number % 5 == 0 else NOW - timedelta(days=2))
        if number % 2 == 0:
            _first_login(platform, account, password, f"parent{number}@example.org")  # En cours d'activation
    _confirm_emails(platform)  # those whose number is a multiple of 4: Utilisé
    with platform.runtime("accounts").uow() as uow:
        for account in (students[1], students[30], guardians[3], guardians[50]):
            set_access_refused(uow, account.id, True, now=NOW, actor="test")
        uow.commit()


def _expected(platform) -> tuple[dict, dict]:
    """G1 and G2 per (MEF label, division), counted in the accounts database by this test."""
    with platform.runtime("accounts").uow() as uow:
        rows = uow.session.execute(
            select(Account.kind, Account.state, Account.notified_at, Account.access_refused_at, Student.id,
                   Student.division, Mef.short_label)
            .join(AccountLink, AccountLink.account_id == Account.id).join(Student, Student.id == AccountLink.student_id)
            .outerjoin(Mef, (Mef.school_uai == Student.school_uai) & (Mef.code == Student.mef_code))
            .where(AccountLink.school_uai == UAI, AccountLink.ended_at.is_(None), Account.closed_at.is_(None))).all()
    start, end = school_year_bounds(date.today())
    students, guardians = defaultdict(lambda: defaultdict(int)), defaultdict(lambda: defaultdict(int))
    pupils, with_used_guardian = defaultdict(set), defaultdict(set)
    for kind, state, notified_at, refused_at, student, division, mef in rows:
        key = (mef, division or NO_DIVISION)
        pupils[key].add(student)
        counts = students[key] if kind == "student" else guardians[key]
        counts[state] += 1
        counts["refused"] += refused_at is not None
        counts["total"] += 1
        if kind == "guardian" and state in ("notified", "activating"):
            counts["this_year"] += start <= notified_at < end
        if kind == "guardian" and state == "used":
            with_used_guardian[key].add(student)
    g1 = {key: [len(pupils[key]), c["not_notified"], c["notified"] + c["activating"], c["used"],
                percent(c["used"], len(pupils[key])), c["refused"]] for key, c in students.items()}
    g2 = {key: [c["total"], c["not_notified"], c["notified"] + c["activating"], c["this_year"], c["used"],
                percent(c["used"], c["total"], spaced=False),
                percent(len(with_used_guardian[key]), len(pupils[key]), spaced=False), c["refused"]]
          for key, c in guardians.items()}
    return g1, g2


def _lines(summary) -> dict:
    return {(table.label, division): counts.cells() for table in summary.mefs for division, counts in table.divisions}


def _deliver_scripted(platform, events) -> None:
    """Out of order, duplicates, a crash before a commit and one between commit and ack."""
    consumer = platform.runtime("stats").consumer()
    shuffled = random.Random(15).sample(events, len(events))
    doubled = [copy for event in shuffled for copy in ((event, event) if hash(event.id) % 5 == 0 else (event,))]
    victim = doubled[len(doubled) // 2]
    original = consumer.subscription.handlers[victim.type]

    def dies_before_commit(uow, event):
        original(uow, event)
        raise SystemExit("worker killed before its commit")

    consumer.subscription.handlers[victim.type] = dies_before_commit
    with pytest.raises(SystemExit):
        consumer.apply(victim)
    consumer.subscription.handlers[victim.type] = original
    applied = [consumer.apply(event) for event in doubled]  # the victim comes again: applied now
    assert consumer.apply(doubled[0]) is False  # killed after its commit, before its ack: redelivered, dropped
    assert applied.count(True) == len({event.id for event in events})


def test_counts_from_events_equal_the_accounts_database(platform, pages, delegate):
    _school_life(platform)
    events = _outbox_events(platform, platform.spec("stats").consumes)
    assert {e.type for e in events} >= {"account.created", "account.notified", "account.activation_started",
                                        "account.activated", "account.updated", "school.settings_changed"}
    # Out of order for real: some account's later event comes before its creation.
    first_seen = {}
    for index, event in enumerate(random.Random(15).sample(events, len(events))):
        first_seen.setdefault(event.payload.get("account", {}).get("account_id"), (index, event.type))
    assert any(kind != "account.created" for key, (_, kind) in first_seen.items() if key)
    _deliver_scripted(platform, events)

    g1, g2 = _expected(platform)
    with platform.runtime("stats").uow() as uow:
        students, guardians = student_summary(uow.session, UAI), guardian_summary(uow.session, UAI)
    assert _lines(students) == g1
    assert _lines(guardians) == g2
    with platform.runtime("accounts").uow() as uow:
        enrolled = len(uow.session.scalars(select(Student.id).where(Student.departed_at.is_(None))).all())
    assert students.school.students == enrolled and students.school.used == 7 and students.school.refused == 2
    assert guardians.school.used == 10 and guardians.school.notified_or_activating == 30
    assert guardians.school.notified_this_year == 24  # 6 notified last school year: not « année courante »

    # The pages show them, and each CSV file is its page.
    for path, summary in (("/admin/stats/", students), ("/admin/stats/responsables", guardians)):
        html = unescape(pages().get(path).get_data(as_text=True))
        school_line = "".join(f"<td>{cell}</td>" for cell in summary.school.cells())
        assert school_line in html
        for table in summary.mefs:
            assert f"<caption>{table.label} :</caption>" in html
            for division, counts in table.divisions:
                assert f'<tr><th scope="row">{division}</th>' + "".join(f"<td>{c}</td>" for c in counts.cells()) in html
    for path, summary, title in (("/admin/stats/eleves.csv", students, "synthese-comptes-eleves"),
                                 ("/admin/stats/responsables.csv", guardians, "synthese-comptes-responsables")):
        response = pages(delegate).get(path)
        assert response.data.startswith(b"\xef\xbb\xbf")
        name = response.headers["Content-Disposition"]
        assert f"{title}_0541234x_college-jean-moulin_{date.today().isoformat()}.csv" in name
        rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
        assert rows[0][:2] == ["MEF", "Division"] and len(rows[0]) == 2 + len(summary.school.cells())
        assert rows[-1] == ["Établissement", "Total", *map(str, summary.school.cells())]
        body = {(row[0], row[1]): row[2:] for row in rows[1:-1]}
        assert len(body) == sum(len(table.divisions) + 1 for table in summary.mefs)
        for table in summary.mefs:
            for division, counts in table.divisions:
                assert body[(table.label, division)] == [str(c) for c in counts.cells()]
            assert body[(table.label, "Somme")] == [str(c) for c in table.total.cells()]


@contextmanager
def accounts_serving(platform):
    """The accounts service on a real local port, for stats' internal call."""
    app = platform.runtime("accounts").spec.create_app(platform.runtime("accounts"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_rebuild_from_the_accounts_snapshot_after_a_lost_queue_and_check_says_so(platform):
    _school_life(platform)
    events = _outbox_events(platform, platform.spec("stats").consumes)
    consumer = platform.runtime("stats").consumer()
    for event in events[: len(events) // 2]:  # the queue was lost after this
        consumer.apply(event)
    consumer.apply(account_created(999, school_uai=UAI))  # an account accounts does not know here (stale)
    runner = CliRunner()
    with accounts_serving(platform) as url:
        env = {**environment_for(platform.settings), "TS_ACCOUNTS_INTERNAL_URL": url}
        before = runner.invoke(cli, ["stats", "check", "--uai", UAI, "--limit", "1000"], env=env)
        assert before.exit_code == 1, before.output
        assert "différence(s)" in before.output and "account-999 : compté ici" in before.output
        rebuilt = runner.invoke(cli, ["stats", "rebuild", "--uai", UAI], env=env)
        assert rebuilt.exit_code == 0, rebuilt.output
        assert "1 rattachement(s) périmé(s) retiré(s)" in rebuilt.output
        after = runner.invoke(cli, ["stats", "check"], env=env)  # every school stats knows
        assert after.exit_code == 0 and f"{UAI} : OK" in after.output, after.output
        unknown = runner.invoke(cli, ["stats", "rebuild", "--uai", "0999999Z"], env=env)
        assert unknown.exit_code == 1 and "Établissement 0999999Z inconnu" in unknown.output
    g1, g2 = _expected(platform)
    with platform.runtime("stats").uow() as uow:
        assert _lines(student_summary(uow.session, UAI)) == g1
        assert _lines(guardian_summary(uow.session, UAI)) == g2
    # The events still in flight when the rebuild ran arrive afterwards: nothing changes.
    for event in events[len(events) // 2:]:
        consumer.apply(event)
    with platform.runtime("stats").uow() as uow:
        assert _lines(student_summary(uow.session, UAI)) == g1
        assert _lines(guardian_summary(uow.session, UAI)) == g2


def test_the_snapshot_needs_the_internal_token(platform):
    client = Client(platform.runtime("accounts").spec.create_app(platform.runtime("accounts")))
    assert client.post("/internal/v1/statistics-snapshot", json={"uai": UAI}).status_code == 401
