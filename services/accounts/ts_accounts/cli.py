"""Ops commands of the accounts service, mounted in `tsctl`."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ts_accounts.adapters.siecle import ImportFileError
from ts_accounts.domain.lifecycle import STATE_LABELS, AccountState
from ts_accounts.domain.population import ImportReport
from ts_accounts.domain.schools import InvalidUai, normalise_uai
from ts_accounts.service_layer import academy as academy_cases
from ts_accounts.service_layer import imports
from ts_accounts.service_layer import schools as school_cases
from ts_accounts.service_layer import staff as staff_cases
from ts_accounts.service_layer.accounts import outstanding_temporary_passwords
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.duplicates import guardian_duplicates
from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.service_layer.listing import CSV_HEADER, school_accounts
from ts_accounts.service_layer.population import DeparturesToConfirm
from ts_accounts.service_layer.school_year import start_school_year
from ts_shared.calendar import current_school_year, school_year_label
from ts_shared.csv_export import SpreadsheetWriter
from ts_shared.db import utcnow

OPS = Actor(login="tsctl")  # who acts, in the audit log, when ops run a command


def _runtime(ctx: click.Context):
    return ctx.obj.runtime("accounts")


@click.group("school")
def school_group():
    """Schools (établissements) of the academy directory."""


@school_group.command("add")
@click.option("--uai", required=True, help="UAI code, e.g. 0541234X")
@click.option("--name", required=True, help="School name as shown to families and staff")
@click.option("--academy", "academy_code", required=True, help="Academy code (the login directory it shares)")
@click.option("--city", default=None)
@click.pass_context
def school_add(ctx, uai, name, academy_code, city):
    """Add a school."""
    try:
        with _runtime(ctx).uow() as uow:
            school = academy_cases.create_school(uow, OPS, uai=uai, name=name, academy_code=academy_code, city=city)
    except AccountsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Établissement {school.uai} « {school.name} » ajouté (académie {school.academy_code}).")


@school_group.command("list")
@click.pass_context
def school_list(ctx):
    """List the schools."""
    with _runtime(ctx).uow() as uow:
        for school in school_cases.list_schools(uow):
            state = "activé" if school.services_activated_at else "non activé"
            click.echo(f"{school.uai}\t{school.academy_code}\t{state}\t{school.name}")


@click.group("staff")
def staff_group():
    """Staff users of the console."""


@staff_group.command("create")
@click.option("--login", required=True)
@click.option("--name", "display_name", required=True, help="Name shown in the console and the audit log")
@click.option("--email", default=None)
@click.option("--head-of", default=None, help="UAI of the school this person heads (all rights on it)")
@click.option("--academy-admin", is_flag=True, help="Manages schools, heads and the services catalogue")
@click.option("--academy", "academy_code", default=None,
              help="With --academy-admin: the academy managed (e.g. NCY); without it, every academy")
@click.password_option("--password", help="Prompted (hidden, twice) when not given; use TS_STAFF_PASSWORD in scripts",
                       envvar="TS_STAFF_PASSWORD")
@click.pass_context
def staff_create(ctx, login, display_name, email, head_of, academy_admin, academy_code, password):
    """Create a staff user (e.g. the first academy administrator)."""
    try:
        with _runtime(ctx).uow() as uow:
            staff = staff_cases.register_staff(uow, login=login, display_name=display_name, password=password,
                                               email=email, academy_admin=academy_admin, academy_code=academy_code,
                                               head_of=head_of.upper() if head_of else None)
    except AccountsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Personnel {staff.login} créé.")


@staff_group.command("set-password")
@click.option("--login", required=True)
@click.password_option("--password", help="Prompted (hidden, twice) when not given; use TS_STAFF_PASSWORD in scripts",
                       envvar="TS_STAFF_PASSWORD")
@click.pass_context
def staff_set_password(ctx, login, password):
    """Give a staff member a new password (e.g. a head of school who forgot theirs); every session
    they have open ends."""
    try:
        with _runtime(ctx).uow() as uow:
            ended = staff_cases.set_staff_password(uow, login=login, password=password)
    except AccountsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Mot de passe de {login.strip().lower()} changé ; {ended} session(s) ouverte(s) fermée(s).")


def _uai(value: str) -> str:
    try:
        return normalise_uai(value)
    except InvalidUai as error:
        raise click.BadParameter(str(error)) from None


@click.group("academy")
def academy_group():
    """Academies (their schools share one login directory)."""


@academy_group.command("set-login-format")
@click.argument("academy_code")
@click.argument("login_format", type=click.Choice(["first.last", "f.last"]))
@click.pass_context
def academy_set_login_format(ctx, academy_code, login_format):
    """Login format of new accounts: prenom.nom (first.last) or p.nom (f.last)."""
    try:
        with _runtime(ctx).uow() as uow:
            academy = school_cases.set_login_format(uow, academy_code, login_format)
    except AccountsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Académie {academy.code} : nouveaux identifiants au format {academy.login_format}.")


@academy_group.command("set-name")
@click.argument("academy_code")
@click.argument("name")
@click.pass_context
def academy_set_name(ctx, academy_code, name):
    """The academy's name as letters print it (e.g. NCY "Nancy-Metz")."""
    try:
        with _runtime(ctx).uow() as uow:
            academy = school_cases.set_academy_name(uow, academy_code, name)
    except AccountsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Académie {academy.code} : {academy.name}.")


def print_report(report: ImportReport) -> None:
    click.echo(f"Import pour {report.uai} : {', '.join(report.files)}")
    kinds = sorted(set(report.created) | set(report.updated) | set(report.unchanged) | set(report.departed))
    for kind in kinds:
        click.echo(
            f"  {kind:<14} créés {report.created.get(kind, 0):>6}   mis à jour {report.updated.get(kind, 0):>6}   "
            f"inchangés {report.unchanged.get(kind, 0):>6}   partis {report.departed.get(kind, 0):>6}"
        )
    click.echo(f"  comptes créés {report.accounts_created}, conservés d'un autre établissement "
               f"{report.accounts_kept_from_previous_school}, liens clos {report.account_links_ended}")
    if report.continuities_pending or report.continuities_completed_elsewhere:
        click.echo(f"  continuités d'accès en attente {report.continuities_pending} (élèves encore inscrits dans leur "
                   f"établissement précédent), achevées vers d'autres établissements "
                   f"{report.continuities_completed_elsewhere}")
    click.echo(f"  rejetés {len(report.rejected)}")
    for rejection in report.rejected:
        click.echo(f"    - {rejection.source} — {rejection.record} : {rejection.reason}")
    if report.warnings:
        click.echo(f"  avertissements {len(report.warnings)}")
        for warning in report.warnings:
            click.echo(f"    - {warning.source} — {warning.record} : {warning.reason}")


def _run_import(ctx, uai: str, file_format: str, paths: list[Path], confirm_departures: bool) -> None:
    try:
        with _runtime(ctx).uow() as uow:
            report = imports.import_files(uow, OPS, uai=uai, file_format=file_format, paths=paths,
                                          confirm_departures=confirm_departures)
    except ImportFileError as error:
        for problem in error.problems:
            click.echo(f"Fichier rejeté — {problem}", err=True)
        click.echo("Import annulé : aucune donnée n'a été modifiée.", err=True)
        sys.exit(1)
    except DeparturesToConfirm as error:
        click.echo(f"Import annulé — {error}", err=True)
        click.echo("Si ces départs sont réels, relancez la commande avec --confirm-departures.", err=True)
        sys.exit(1)
    except AccountsError as error:
        raise click.ClickException(str(error)) from None
    print_report(report)


@click.group("import")
def import_group():
    """Import a school's population (students, guardians, MEF, divisions)."""


_confirm_departures = click.option(
    "--confirm-departures", is_flag=True,
    help="Import even a students export that lists nobody or would mark more than half of the enrolled students "
         "as departed (without it: refused, exit status 1, nothing changed)")


@import_group.command("siecle")
@click.option("--uai", required=True, callback=lambda ctx, param, value: _uai(value))
@_confirm_departures
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def import_siecle(ctx, uai, confirm_departures, files):
    """Import SIECLE BEE exports (each FILE an .xml or a .zip holding one; the kind of each is
    told by its root element). Exit status 1 if a file is rejected (then nothing is changed)."""
    _run_import(ctx, uai, imports.SIECLE, list(files), confirm_departures)


@import_group.command("csv")
@click.option("--uai", required=True, callback=lambda ctx, param, value: _uai(value))
@_confirm_departures
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def import_csv(ctx, uai, confirm_departures, file):
    """Import the CSV format of schools without SIECLE (docs/import-csv.md)."""
    _run_import(ctx, uai, imports.CSV, [file], confirm_departures)


@click.command("duplicates")
@click.option("--uai", required=True, callback=lambda ctx, param, value: _uai(value))
@click.pass_context
def duplicates_command(ctx, uai):
    """List probable duplicate guardian records (A2), to merge in SIECLE before notifying."""
    with _runtime(ctx).uow() as uow:
        groups = guardian_duplicates(uow.session, uai)
    if not groups:
        click.echo("Aucun doublon probable de responsable.")
        return
    click.echo(f"{len(groups)} groupe(s) de doublons probables de responsables :")
    for number, group in enumerate(groups, start=1):
        click.echo(f"\n{number}. {' ; '.join(group.reasons)}")
        for guardian in group.guardians:
            flag = "  ⚠ compte activé : ne pas supprimer cette fiche" if guardian.account_active else ""
            click.echo(f"   - {guardian.guardian_id} {guardian.last_name} {guardian.first_name}"
                       f" <{guardian.email or 'sans courriel'}> {guardian.address or 'sans adresse'}"
                       f" — enfant(s) : {', '.join(guardian.children) or 'aucun'}{flag}")


@click.group("accounts")
def accounts_group():
    """Accounts of the academy directory."""


@accounts_group.command("list")
@click.option("--uai", required=True, callback=lambda ctx, param, value: _uai(value))
@click.option("--division", default=None)
@click.option("--format", "output", type=click.Choice(["csv", "table"]), default="table", show_default=True)
@click.pass_context
def accounts_list(ctx, uai, division, output):
    """One row per account serving the school (per student, per guardian × student)."""
    with _runtime(ctx).uow() as uow:
        rows = school_accounts(uow.session, uai, division=division)
    if output == "csv":
        writer = SpreadsheetWriter(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for row in rows:
            writer.writerow(row.csv_values())
        return
    click.echo(f"{'Division':<8} {'Élève':<32} {'Compte':<11} {'Identifiant':<32} {'État':<22} Notifié le")
    for row in rows:
        who = "élève" if row.kind == "student" else f"resp. {row.legal_rank}"
        notified = row.notified_at.strftime("%d/%m/%Y") if row.notified_at else ""
        kept = " (conservé)" if row.kept_from_previous_school else ""
        click.echo(f"{(row.division or ''):<8} {row.student_name[:32]:<32} {who:<11} {row.login[:32]:<32} "
                   f"{STATE_LABELS[AccountState(row.state)] + kept:<22} {notified}")
    click.echo(f"{len(rows)} compte(s)")


ROTATION_WARNING = ("Changer TS_CREDENTIAL_KEY rend invalides tous les mots de passe provisoires déjà remis "
                    "(courriers, courriels, listes de classe) : les familles concernées devront être renotifiées.")


@click.group("credentials", help="Temporary passwords (B3). " + ROTATION_WARNING)
def credentials_group():
    pass


@credentials_group.command("status")
@click.pass_context
def credentials_status(ctx):
    """How many letters handed out still open an account, i.e. what rotating TS_CREDENTIAL_KEY voids."""
    with _runtime(ctx).uow() as uow:
        derived, hashed = outstanding_temporary_passwords(uow.session)
    click.echo(f"Mots de passe provisoires en circulation : {derived} dérivés de TS_CREDENTIAL_KEY, "
               f"{hashed} antérieurs (empreinte argon2, indépendants de la clé).")
    click.echo(ROTATION_WARNING)
    click.echo(f"Une rotation invaliderait {derived} courrier(s) ; renotifiez ensuite ces comptes "
               "(« Notifier en masse » : un nouveau mot de passe est alors imprimé).")


@click.command("rollover")
@click.option("--year", type=click.IntRange(2000, 2100), default=None,
              help="The school year to start (2027 for 2027/2028); by default the calendar's (Paris time)")
@click.pass_context
def rollover_command(ctx, year):
    """Start the school year (I2) in every school still in an earlier one — what the periodic job
    does by itself on 1 September; running it again changes nothing."""
    try:
        with _runtime(ctx).uow() as uow:
            moved = start_school_year(uow, year=year, now=utcnow(), actor=OPS)
    except AccountsError as error:
        raise click.ClickException(str(error)) from None
    label = school_year_label(year if year is not None else current_school_year())
    if moved:
        click.echo(f"Année scolaire {label} commencée dans {len(moved)} établissement(s) : {', '.join(moved)}.")
    else:
        click.echo(f"Tous les établissements sont déjà en année scolaire {label} : rien à faire.")


COMMANDS = [school_group, staff_group, academy_group, import_group, duplicates_command, accounts_group,
            rollover_command, credentials_group]

