"""Notification benchmark (E1, F1): the letters' PDF, then a whole school notified end to end.

    .venv/bin/python bench/notify_bench.py                    # both parts (about 5 minutes)
    .venv/bin/python bench/notify_bench.py --skip-school      # (a) only: the letters' PDF
    .venv/bin/python bench/notify_bench.py --skip-letters --workers 2
    .venv/bin/python bench/notify_bench.py --pool 2           # (a) plus chunks over 2 processes, merged

(a) Letters per second for ONE process rendering full-featured paper letters: a batch of 300
    letters of mixed cases (guardians with the refusal coupon, students), with the school's
    settings (letter type, services, address, head), the QR code, one page each — the notifier's
    `render_letters_pdf` — and, side by side, the SAME HTML rendered by a bare
    `xhtml2pdf.pisa.CreatePDF` call (so the cost of our document and the cost of our code around
    it can be told apart). Best of --repeat runs after a warm-up; wall-clock seconds, CPU seconds
    beside them (the machine may be shared). `--pool N` also renders the batch in chunks across N
    processes and merges the chunk PDFs into one file with pypdf.

(b) A generated school of 1,000 students (about 1,300 guardians, 1,800 guardian letters or
    emails) notified END TO END on the real broker and databases: RabbitMQ on 127.0.0.1:5672 (a
    fresh virtual host, made with rabbitmqctl) and PostgreSQL on 127.0.0.1:5432 (fresh accounts
    and notifier databases; the accounts one is cloned from a template holding the imported
    school). Staff are played by this process: one `request_notifications` per division and
    population, as the console does it — every division's guardians in mode email_and_paper,
    then every division's students on paper. An SMTP server in this process (aiosmtpd) accepts
    every email. The other processes are the production ones, started as subprocesses:
    `tsctl worker notifier` (1, then 2), `tsctl worker accounts`, `tsctl relay accounts` and
    `tsctl relay notifier`. The clock starts at the first request and stops when every delivery
    has been reported back and applied by accounts (every requested account Notifié) and every
    batch is complete in the notifier's database. Stats and portal workers do not run (their
    queues just fill up).

    After each run, one division (its guardians, then its students: two clicks) is notified again
    on paper with the workers idle: the seconds until both PDFs are ready (the accounts are Notifié
    by then, so the same passwords are printed again).

Targets on the 2-core machine: the whole school <= 60 s with 2 workers, 2 workers >= 1.6x one,
a division's PDF <= 5 s, our letters >= 1.2x bare xhtml2pdf. The last line is machine-readable:
notify_bench: letters_per_s=<n> bare_xhtml2pdf_per_s=<n> school_1_worker_s=<s> school_2_workers_s=<s>
division_pdf_s=<s>
"""
from __future__ import annotations

import argparse
import base64
import io
import math
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from sqlalchemy import create_engine, func, select, text

UAI = "0541234X"
ACADEMY = "NCY"
PUBLIC_URL = "https://scolarite.ac-bench.example.org"
POSTGRES_ADMIN_URL = os.environ.get("TS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RABBITMQ = os.environ.get("TS_BENCH_RABBITMQ", "127.0.0.1:5672")
TSCTL = [sys.executable, "-m", "ts_shared.runtime.cli"]
ON = date(2026, 9, 2)

# A collège's settings, as the notifier holds them after school.settings_changed.
SCHOOL_SETTINGS = {
    "settings_version": 1, "name": "Collège Jean Moulin", "academy_code": ACADEMY, "academy_name": "Nancy-Metz",
    "letter_type": "mixed", "ent_url": "https://ent.monbureaunumerique.example.fr/",
    "open_services": ["vie_scolaire", "notes", "lsun", "fiche_renseignements", "paiement"],
    "address_lines": ["12 rue de la République", "BP 42", "54000 Nancy"], "phone": "03 83 00 00 00",
    "city": "Nancy", "head_name": "Mme Claire Martin",
}
GUARDIAN_CASES = {"guardian_new": 70, "guardian_activating": 5, "guardian_used_new_password": 5,
                  "guardian_used_reminder": 10, "guardian_continuity": 10}
STUDENT_CASES = {"student_new": 70, "student_used_new_password": 10, "student_used_reminder": 10,
                 "student_continuity": 10}


def quiet_environment(data_dir: Path) -> dict[str, str]:
    return {"TS_DATA_DIR": str(data_dir), "TS_LOG_LEVEL": "WARNING", "TS_LOG_FORMAT": "text"}


# --- (a) the letters' PDF ------------------------------------------------------------------------------

def _login(first: str, last: str) -> str:
    plain = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode().lower()
    return "".join(c for c in plain if c.isalnum() or c == ".")


def sample_letters(count: int, seed: int):
    """`count` paper letters of a realistic batch: two thirds guardians (with the coupon), one
    third students, mostly new accounts; sorted as the notifier sorts a batch."""
    from ts_accounts.demo.synthetic_siecle import generate_school
    from ts_notifier.domain.letters import CASES_WITH_PASSWORD
    from ts_notifier.service_layer.letter_batch import LetterData

    rng = random.Random(seed)
    school = generate_school(UAI, max(count, 30), seed=seed)
    students = {s.siecle_id: s for s in school.students}
    guardians = {g.siecle_id: g for g in school.guardians}

    def student_dict(s):
        return {"student_id": s.siecle_id, "last_name": s.usage_name or s.last_name, "first_name": s.first_name,
                "birth_date": s.birth_date, "division": s.division}

    def password(case):
        return "".join(rng.choice("ABCDEFGHJKMNPRSTUVWXYZ23456789") for _ in range(8)) \
            if case in CASES_WITH_PASSWORD else None

    letters = []
    links = [link for link in school.links if link.legal_rank in (1, 2)]
    for link in links[: count - count // 3]:
        g, s = guardians[link.guardian_id], students[link.student_id]
        case = rng.choices(list(GUARDIAN_CASES), weights=list(GUARDIAN_CASES.values()))[0]
        recipient = {"civility": g.civility, "last_name": g.last_name, "first_name": g.first_name, "email": None,
                     "address": {"lines": g.address_lines, "postal_code": g.postal_code, "city": g.city,
                                 "country": g.country}}
        letters.append(LetterData(case, recipient, student_dict(s), _login(g.first_name, g.last_name), password(case),
                                  kept_from_previous_school=case.endswith("continuity")))
    for s in school.students[: count - len(letters)]:
        case = rng.choices(list(STUDENT_CASES), weights=list(STUDENT_CASES.values()))[0]
        recipient = {"civility": None, "last_name": s.usage_name or s.last_name, "first_name": s.first_name,
                     "email": None, "address": None}
        letters.append(LetterData(case, recipient, student_dict(s), _login(s.first_name, s.last_name),
                                  password(case), kept_from_previous_school=case.endswith("continuity")))
    letters.sort(key=lambda d: f"{d.student['last_name']} {d.student['first_name']} {d.recipient['last_name']} "
                               f"{d.recipient['first_name']}".lower())
    return letters


def _timed(function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _bare_render(html: str) -> bytes:
    from xhtml2pdf import pisa

    output = io.BytesIO()
    status = pisa.CreatePDF(html, dest=output, encoding="utf-8")
    if status.err:
        raise RuntimeError(f"xhtml2pdf reported {status.err} error(s)")
    return output.getvalue()


def _bare_runs(html: str, repeat: int) -> tuple[list[tuple[float, float]], int]:
    """In a fresh interpreter that never imported the notifier (so xhtml2pdf as installed, none of
    the notifier's adjustments): a warm-up, then `repeat` renders of `html`."""
    _bare_render(html[: html.index("<pdf:nexttemplate")] + "</body></html>")
    runs = []
    for _ in range(repeat):
        pdf, wall, cpu = _timed(_bare_render, html)
        runs.append((wall, cpu))
    return runs, len(pdf)


def _render_chunk(html: str) -> bytes:
    from ts_notifier.adapters.pdf import html_to_pdf

    return html_to_pdf(html)


def _merge(pdfs: list[bytes]) -> bytes:
    writer = PdfWriter()
    for content in pdfs:
        writer.append(PdfReader(io.BytesIO(content)))
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def bench_letters(args) -> tuple[float, float]:
    from ts_notifier.service_layer.letter_pages import letters_html, render_letters_pdf
    from ts_notifier.service_layer.school_settings import record_school_settings
    from ts_shared.config import Settings
    from ts_shared.runtime.process import Platform

    work = Path(tempfile.mkdtemp(prefix="notify-bench-letters-"))
    platform = Platform(Settings.from_env(quiet_environment(work)))
    runtime = platform.runtime("notifier")
    with runtime.uow() as uow:
        record_school_settings(uow.session, UAI, SCHOOL_SETTINGS)
        uow.commit()
    letters = sample_letters(args.letters, args.seed)
    cases = {}
    for letter in letters:
        cases[letter.letter_case] = cases.get(letter.letter_case, 0) + 1
    print(f"(a) letters: {len(letters)} paper letters, one page each — "
          + ", ".join(f"{n} {case}" for case, n in sorted(cases.items())), flush=True)

    def render():
        with runtime.uow() as uow:
            return render_letters_pdf(uow.session, UAI, letters, public_url=PUBLIC_URL, on=ON)

    with runtime.uow() as uow:
        render_letters_pdf(uow.session, UAI, letters[:10], public_url=PUBLIC_URL, on=ON)  # warm-up
        html = letters_html(uow.session, UAI, letters, public_url=PUBLIC_URL, on=ON)

    ours = []
    for _ in range(args.repeat):
        pdf, wall, cpu = _timed(render)
        ours.append((wall, cpu))
    with multiprocessing.get_context("spawn").Pool(1) as bare_process:
        bare, bare_size = bare_process.apply(_bare_runs, (html, args.repeat))
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    if pages != len(letters):
        raise SystemExit(f"render_letters_pdf gave {pages} pages for {len(letters)} letters")
    best, best_bare = min(ours), min(bare)
    letters_per_s, bare_per_s = len(letters) / best[0], len(letters) / best_bare[0]
    print(f"  render_letters_pdf (notifier)    : {best[0]:.2f} s wall, {best[1]:.2f} s CPU -> "
          f"{letters_per_s:.1f} letters/s  (runs: {', '.join(f'{w:.2f}' for w, _ in ours)} s; "
          f"{len(pdf) / 1e6:.2f} MB, {pages} pages)")
    print(f"  bare pisa.CreatePDF, same HTML   : {best_bare[0]:.2f} s wall, {best_bare[1]:.2f} s CPU -> "
          f"{bare_per_s:.1f} letters/s  (runs: {', '.join(f'{w:.2f}' for w, _ in bare)} s; "
          f"{bare_size / 1e6:.2f} MB; HTML {len(html) / 1e6:.2f} MB; in a fresh process: xhtml2pdf as "
          f"installed, without the notifier's adjustments)", flush=True)

    if args.pool:
        size = -(-len(letters) // args.pool)
        with runtime.uow() as uow:
            chunks = [letters_html(uow.session, UAI, letters[i:i + size], public_url=PUBLIC_URL, on=ON)
                      for i in range(0, len(letters), size)]
        with ProcessPoolExecutor(args.pool) as pool:
            list(pool.map(_render_chunk, [chunks[0][: chunks[0].index("<pdf:nexttemplate")] + "</body></html>"]
                          * args.pool))  # warm-up: every process imports and renders once
            runs = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                pdfs = list(pool.map(_render_chunk, chunks))
                rendered = time.perf_counter() - started
                merged = _merge(pdfs)
                runs.append((time.perf_counter() - started, rendered))
        merged_pages = len(PdfReader(io.BytesIO(merged)).pages)
        total, rendered = min(runs)
        print(f"  experiment: {len(chunks)} chunks over {args.pool} processes + pypdf merge: {total:.2f} s "
              f"(render {rendered:.2f} s, merge {total - rendered:.2f} s) -> {len(letters) / total:.1f} letters/s, "
              f"{merged_pages} pages, {len(merged) / 1e6:.2f} MB", flush=True)
    platform.dispose()
    shutil.rmtree(work, ignore_errors=True)
    return letters_per_s, bare_per_s


# --- (b) a whole school, end to end -------------------------------------------------------------------

def _admin_engine():
    return create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def create_database(name: str, template: str | None = None) -> str:
    engine = _admin_engine()
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str) -> None:
    engine = _admin_engine()
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CountingSmtp:
    """An SMTP server's handler that accepts every message and counts them."""

    def __init__(self):
        self.messages = 0
        self.bytes = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages += 1
            self.bytes += len(envelope.original_content or b"")
        return "250 OK"


def production_environment(data_dir: Path, broker_url: str, databases: dict[str, str], smtp_port: int,
                           relay_poll: float) -> dict[str, str]:
    env = {
        "TS_MODE": "production", "TS_DATA_DIR": str(data_dir), "TS_BROKER_URL": broker_url,
        "TS_SECRET_KEY": secrets.token_urlsafe(48), "TS_INTERNAL_TOKEN": secrets.token_urlsafe(32),
        "TS_EVENT_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "TS_CREDENTIAL_KEY": secrets.token_urlsafe(48),
        "TS_PUBLIC_URL": PUBLIC_URL, "TS_SMTP_HOST": "127.0.0.1", "TS_SMTP_PORT": str(smtp_port),
        "TS_MAIL_FROM": "Collège Jean Moulin <ne-pas-repondre@bench.example.org>",
        "TS_LOG_LEVEL": "WARNING", "TS_LOG_FORMAT": "text", "TS_RELAY_POLL_SECONDS": str(relay_poll),
    }
    for service, url in databases.items():
        env[f"TS_{service.upper()}_DATABASE_URL"] = url
    return env


def prepare_school_template(work: Path, students: int, seed: int) -> str:
    """A database holding the school (identity, head, services open) and its imported population."""
    from ts_accounts.adapters.orm import Academy, School
    from ts_accounts.adapters.siecle import inspect_export
    from ts_accounts.demo.synthetic_siecle import generate_school, write_export
    from ts_accounts.service_layer.imports import import_population, source_from_exports
    from ts_accounts.service_layer.schools import activate_services, add_school
    from ts_accounts.service_layer.staff import create_staff
    from ts_shared.config import Settings
    from ts_shared.runtime.process import Platform

    name = f"ts_bench_tmpl_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    platform = Platform(Settings.from_env({**quiet_environment(work / "template"), "TS_ACCOUNTS_DATABASE_URL": url}))
    runtime = platform.runtime("accounts")  # embedded settings: migrated on first use
    files = write_export(generate_school(UAI, students, seed=seed), work / "export")
    with runtime.uow() as uow:
        school = add_school(uow, uai=UAI, name=SCHOOL_SETTINGS["name"], academy_code=ACADEMY, city="Nancy")
        uow.session.get(Academy, ACADEMY).name = "Nancy-Metz"
        school.address_lines, school.postal_code, school.phone = ["12 rue de la République", "BP 42"], "54000", \
            "03 83 00 00 00"
        create_staff(uow, login="chef.bench", display_name="Mme Claire Martin", password="bench-chef-2026",
                     head_of=UAI)
        uow.session.flush()
        activate_services(uow, UAI)  # announces the settings, head included
        import_population(uow, uai=UAI, source=source_from_exports(UAI, [inspect_export(f) for f in files]),
                          actor="bench")
        uow.commit()
        assert uow.session.get(School, UAI) is not None
    platform.dispose()
    return name


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (Linux /proc), children excluded."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


@dataclass
class SchoolRun:
    workers: int
    seconds: float = 0.0
    issue_seconds: float = 0.0
    issue_cpu: float = 0.0
    passwords: int = 0
    batches: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    accounts: int = 0
    emails: int = 0
    failed: int = 0
    pdfs: int = 0
    pdf_pages: int = 0
    batches_done_at: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    requests_first: bool = False
    division_pdf_s: float = float("nan")
    division_letters: int = 0


def run_school(args, work: Path, template: str, workers: int) -> SchoolRun:
    from aiosmtpd.controller import Controller

    from ts_accounts.domain.lifecycle import AccountKind
    from ts_accounts.service_layer.audit import Actor
    from ts_accounts.service_layer.notifications import Couple
    from ts_accounts.service_layer.support import SearchFilters, search
    from ts_notifier.adapters.batches import NotificationBatch
    from ts_notifier.adapters.orm import SchoolLetterSettings
    from ts_shared.config import Settings
    from ts_shared.crypto import SecretBox
    from ts_shared.messaging.outbox import pending_count
    from ts_shared.runtime.process import Platform

    run = SchoolRun(workers=workers, requests_first=args.requests_first)
    tag = uuid.uuid4().hex[:8]
    vhost = f"ts_bench_{tag}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    databases = {"accounts": create_database(f"ts_bench_accounts_{tag}", template=template),
                 "notifier": create_database(f"ts_bench_notifier_{tag}")}
    data_dir = work / f"run-{workers}"
    handler = CountingSmtp()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = production_environment(data_dir, f"amqp://guest:guest@{RABBITMQ}/{vhost}", databases, smtp.port,
                                 args.relay_poll)
    settings = Settings.from_env(env)
    platform = Platform(settings)
    accounts, notifier = platform.runtime("accounts"), platform.runtime("notifier")
    notifier.migrate()
    processes: dict[str, subprocess.Popen] = {}
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def start(name: str, *command: str) -> None:
        log = open(logs / f"{name}.log", "wb")
        processes[name] = subprocess.Popen([*TSCTL, *command], env={**os.environ, **env}, stdout=log,
                                           stderr=subprocess.STDOUT)

    try:
        start("relay-accounts", "relay", "accounts")
        start("relay-notifier", "relay", "notifier")
        start("worker-accounts", "worker", "accounts")
        for index in range(workers):
            start(f"worker-notifier-{index + 1}", "worker", "notifier")

        def ready() -> bool:
            with notifier.uow() as uow:
                known = uow.session.get(SchoolLetterSettings, UAI) is not None
            return known and pending_count(accounts.engine, accounts.spec.tables.outbox) == 0

        _wait(ready, processes, logs, timeout=300, what="the import's events published and the school known")

        # What staff see before they click: the divisions and, in each, the couples to notify.
        with accounts.uow() as uow:
            divisions = sorted({row.division for row in search(uow.session, UAI, AccountKind.STUDENT, SearchFilters())
                                if row.division})
            plan = []
            for kind, mode in ((AccountKind.GUARDIAN, "email_and_paper"), (AccountKind.STUDENT, "paper")):
                for division in divisions:
                    rows = search(uow.session, UAI, kind, SearchFilters(division=division))
                    couples = [Couple(r.student_siecle_id, r.guardian_siecle_id) for r in rows]
                    label = f"{'Responsables' if kind == AccountKind.GUARDIAN else 'Élèves'} de {division}"
                    plan.append((label, mode, couples, {r.account_id for r in rows if r.account_id}))
        expected_accounts = set().union(*(ids for *_, ids in plan))
        box, actor = SecretBox(settings.event_key), Actor("chef.bench")
        cpu_before = {name: _cpu_seconds(p.pid) for name, p in processes.items()}

        consumers = [name for name in processes if name.startswith("worker-")]
        if args.requests_first:  # the consumers wait while every request is issued and published
            _stop([processes.pop(name) for name in consumers])
        started = time.perf_counter()
        cpu_started = time.process_time()
        issue_requests(accounts, plan, box, actor, run)
        run.issue_seconds = time.perf_counter() - started
        run.issue_cpu = time.process_time() - cpu_started
        total = sum(run.deliveries.values())
        print(f"  {workers} notifier worker(s): {run.batches} requests issued in {run.issue_seconds:.1f} s, "
              f"{run.issue_cpu:.2f} s CPU in the accounts use case", flush=True)
        if args.requests_first:
            _wait(lambda: pending_count(accounts.engine, accounts.spec.tables.outbox) == 0, processes, logs,
                  timeout=300, what="every request published")
            started = time.perf_counter()  # from now on: the consumers alone
            for name in consumers:
                start(name, "worker", name.split("-")[1])
            cpu_before.update({name: 0.0 for name in consumers})

        processed = accounts.spec.tables.processed_events
        batches_done = None

        def done() -> bool:
            nonlocal batches_done
            if batches_done is None:
                with notifier.uow() as uow:
                    complete = uow.session.scalar(select(func.count()).select_from(NotificationBatch)
                                                  .where(NotificationBatch.completed_at.is_not(None)))
                if complete < run.batches:
                    return False
                batches_done = time.perf_counter() - started
            with accounts.engine.connect() as connection:
                applied = connection.execute(select(func.count()).select_from(processed).where(
                    processed.c.event_type.in_(("notification.delivered", "notification.failed")))).scalar_one()
            return applied >= total

        _wait(done, processes, logs, timeout=args.timeout, what="every delivery applied by accounts")
        run.seconds = time.perf_counter() - started
        run.batches_done_at = batches_done
        run.cpu = {name: _cpu_seconds(p.pid) - cpu_before[name] for name, p in processes.items()}
        run.cpu["bench (requests, SMTP server)"] = time.process_time() - cpu_started

        check_run(run, accounts, notifier, expected_accounts, handler, data_dir)
        if not args.requests_first:
            run.division_pdf_s, run.division_letters = division_on_paper(accounts, notifier, plan, box, actor,
                                                                         processes, logs)
        return run
    finally:
        _stop(list(processes.values()))
        smtp.stop()
        platform.dispose()
        for url in databases.values():
            drop_database(url.rsplit("/", 1)[1])
        try:
            rabbitmqctl("delete_vhost", vhost)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            print(f"  (could not delete the RabbitMQ vhost {vhost}: {error}; rabbitmqctl delete_vhost {vhost})")


def check_run(run: SchoolRun, accounts, notifier, expected_accounts: set, handler: CountingSmtp,
              data_dir: Path) -> None:
    """Every requested account Notifié, every paper letter a page, every email accepted or failed."""
    from ts_accounts.adapters.orm import Account
    from ts_notifier.adapters.batches import Delivery, GeneratedFile

    with accounts.uow() as uow:
        notified = uow.session.scalars(select(Account.id).where(Account.notified_at.is_not(None))).all()
        run.passwords = uow.session.scalar(select(func.count()).select_from(Account)
                                           .where(Account.credential_serial > 0)) or 0
    missing = expected_accounts - set(notified)
    run.accounts = len(expected_accounts)
    with notifier.uow() as uow:
        run.failed = uow.session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "failed")
        ) or 0
        files = uow.session.scalars(select(GeneratedFile).where(GeneratedFile.kind == "pdf")).all()
    run.emails = handler.messages
    run.pdfs = len(files)
    run.pdf_pages = sum(len(PdfReader(data_dir / "files" / f.id).pages) for f in files)
    if missing:
        raise SystemExit(f"{len(missing)} requested account(s) are not Notifié at the end")
    if run.pdf_pages != run.deliveries.get("paper", 0) or run.emails + run.failed != run.deliveries.get("email", 0):
        raise SystemExit(f"deliveries {run.deliveries} but {run.emails} emails, {run.failed} failed, "
                         f"{run.pdf_pages} PDF pages")


def issue_requests(accounts, plan, box, actor, run: SchoolRun) -> None:
    """Staff's clicks: one `request_notifications` per division and population, as the console does."""
    from ts_accounts.service_layer.notifications import request_notifications
    from ts_shared.db import utcnow

    for label, mode, couples, _ in plan:
        if not couples:
            continue
        with accounts.uow() as uow:
            order = request_notifications(uow, box, actor, uai=UAI, couples=couples, mode=mode,
                                          reset_password=False, now=utcnow(), label=label)
            uow.commit()
        if order.deliveries:
            run.batches += 1
        for channel, n in order.by_channel.items():
            run.deliveries[channel] = run.deliveries.get(channel, 0) + n
        run.skipped += len(order.skipped)


def division_on_paper(accounts, notifier, plan, box, actor, processes, logs: Path) -> tuple[float, int]:
    """What a secretary lives every day: one division (its guardians, then its students: two
    clicks) notified again on paper, the workers idle. Seconds from the first click until both
    PDFs are ready to download, and the letters they hold (the accounts are Notifié now: the same
    passwords are printed again)."""
    from ts_accounts.service_layer.notifications import request_notifications
    from ts_notifier.adapters.batches import GeneratedFile
    from ts_shared.db import utcnow

    division = max((label.rsplit(" de ", 1)[1] for label, *_ in plan), key=lambda d: sum(
        len(couples) for label, _, couples, _ in plan if label.endswith(f" de {d}")))
    started = time.perf_counter()
    batches, letters = [], 0
    for label, _, couples, _ in plan:
        if label.endswith(f" de {division}") and couples:
            with accounts.uow() as uow:
                order = request_notifications(uow, box, actor, uai=UAI, couples=couples, mode="paper",
                                              reset_password=False, now=utcnow(), label=f"{label} (courrier)")
                uow.commit()
            batches.append(order.batch_id)
            letters += order.deliveries

    def ready() -> bool:
        with notifier.uow() as uow:
            return len(uow.session.scalars(select(GeneratedFile.batch_id).where(
                GeneratedFile.batch_id.in_(batches), GeneratedFile.kind == "pdf")).all()) == len(batches)

    _wait(ready, processes, logs, timeout=120, what=f"the PDFs of division {division}")
    seconds = time.perf_counter() - started
    print(f"    division {division} on paper ({letters} letters, {len(batches)} clicks): PDFs ready {seconds:.1f} s "
          "after the first click", flush=True)
    return seconds, letters


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(condition, processes, logs: Path, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        dead = [name for name, p in processes.items() if p.poll() is not None]
        if dead:
            tail = (logs / f"{dead[0]}.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"{', '.join(dead)} stopped while waiting for {what}:\n{tail}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what} (logs in {logs})")
        time.sleep(0.2)


def print_run(run: SchoolRun) -> None:
    deliveries = ", ".join(f"{n} {channel}" for channel, n in sorted(run.deliveries.items()))
    print(f"    deliveries: {deliveries} ({run.skipped} couples skipped) for {run.accounts} accounts; "
          f"{run.emails} emails accepted by the SMTP server, {run.failed} failed; "
          f"{run.pdfs} PDFs, {run.pdf_pages} pages")
    print(f"    every batch complete at {run.batches_done_at:.1f} s, every account Notifié at {run.seconds:.1f} s "
          + ("after the consumers started (requests issued beforehand, in " if run.requests_first else
             "(requests issued in ") + f"{run.issue_seconds:.1f} s)")
    print("    CPU seconds during the run: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in run.cpu.items()),
          flush=True)


def bench_school(args) -> dict[int, SchoolRun]:
    for tool in ("rabbitmqctl",):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH: the end-to-end part needs RabbitMQ's rabbitmqctl")
    work = Path(tempfile.mkdtemp(prefix="notify-bench-school-"))
    print(f"(b) school: {args.students} students, RabbitMQ {RABBITMQ} (fresh vhost per run), PostgreSQL "
          f"(fresh accounts and notifier databases per run); subprocesses: tsctl worker notifier ×N, "
          f"tsctl worker accounts, tsctl relay accounts, tsctl relay notifier (TS_RELAY_POLL_SECONDS="
          f"{args.relay_poll}); work folder {work}", flush=True)
    started = time.perf_counter()
    template = prepare_school_template(work, args.students, args.seed)
    print(f"  school generated and imported into a template database in {time.perf_counter() - started:.1f} s",
          flush=True)
    results = {}
    try:
        for workers in args.workers:
            run = run_school(args, work, template, workers)
            print_run(run)
            results[workers] = run
    finally:
        drop_database(template)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--letters", type=int, default=300, help="letters in the batch of part (a)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of part (a); the best is kept")
    parser.add_argument("--pool", type=int, default=0,
                        help="(a) also render the batch in chunks over this many processes, merged with pypdf")
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="notifier workers of each run of (b)")
    parser.add_argument("--relay-poll", type=float, default=0.1, help="TS_RELAY_POLL_SECONDS of the relays")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a run of (b) may take")
    parser.add_argument("--requests-first", action="store_true",
                        help="(b) diagnostic: issue every request with the consumers stopped, then time only the "
                             "consumers (notifier and accounts workers) draining them; not the benchmark's figure")
    parser.add_argument("--skip-letters", action="store_true")
    parser.add_argument("--skip-school", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) of part (b)")
    args = parser.parse_args()

    letters_per_s = bare_per_s = float("nan")
    if not args.skip_letters:
        letters_per_s, bare_per_s = bench_letters(args)
    school = {}
    if not args.skip_school:
        school = bench_school(args)
    if args.requests_first:
        school = {}  # a diagnostic, not the end-to-end figure the last line gives
    nan = float("nan")
    one, two = (school[n].seconds if n in school else nan for n in (1, 2))
    division = min((run.division_pdf_s for run in school.values()), default=nan)
    if 1 in school and 2 in school:
        print(f"  speed-up with 2 workers: {one / two:.2f}× (target ≥ 1.6)")
    if not math.isnan(letters_per_s):
        print(f"  ratio notifier / bare xhtml2pdf: {letters_per_s / bare_per_s:.2f} (target ≥ 1.2)")
    print(f"notify_bench: letters_per_s={letters_per_s:.1f} bare_xhtml2pdf_per_s={bare_per_s:.1f} "
          f"school_1_worker_s={one:.1f} school_2_workers_s={two:.1f} division_pdf_s={division:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
