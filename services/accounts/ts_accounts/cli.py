"""Ops commands of the accounts service, mounted in `tsctl`."""
from __future__ import annotations

import click

from ts_accounts.service_layer import schools as school_cases
from ts_accounts.service_layer import staff as staff_cases
from ts_accounts.service_layer.errors import AccountsError


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
            school = school_cases.add_school(uow, uai=uai, name=name, academy_code=academy_code, city=city)
            uow.commit()
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
@click.option("--academy-admin", is_flag=True, help="Manages schools and heads of the academy")
@click.password_option("--password", help="Prompted (hidden, twice) when not given; use TS_STAFF_PASSWORD in scripts",
                       envvar="TS_STAFF_PASSWORD")
@click.pass_context
def staff_create(ctx, login, display_name, email, head_of, academy_admin, password):
    """Create a staff user (e.g. the first academy administrator)."""
    try:
        with _runtime(ctx).uow() as uow:
            staff = staff_cases.create_staff(uow, login=login, display_name=display_name, password=password,
                                             email=email, academy_admin=academy_admin,
                                             head_of=head_of.upper() if head_of else None)
            uow.commit()
    except AccountsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Personnel {staff.login} créé.")


COMMANDS = [school_group, staff_group]
