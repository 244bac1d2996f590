"""Ops commands of the stats service, mounted in `tsctl`: `tsctl stats rebuild|check`."""
from __future__ import annotations

from functools import partial

import click
from sqlalchemy import select

from ts_stats.adapters.accounts_client import SnapshotUnavailable, fetch_snapshot
from ts_stats.adapters.orm import School
from ts_stats.service_layer.rebuild import check_school, rebuild_school


def _runtime(ctx: click.Context):
    return ctx.obj.runtime("stats")


def _fetch(runtime):
    return partial(fetch_snapshot, runtime.settings)


@click.group("stats")
def stats_group():
    """Statistics counters: rebuild them from accounts, or check them against it."""


@stats_group.command("rebuild")
@click.option("--uai", required=True, help="The school whose counters are rebuilt, e.g. 0541234X")
@click.pass_context
def rebuild(ctx, uai):
    """Rebuild a school's counters from the snapshot accounts exports (after a lost queue)."""
    runtime = _runtime(ctx)
    try:
        with runtime.uow() as uow:
            report = rebuild_school(uow, _fetch(runtime), uai.strip().upper())
    except SnapshotUnavailable as error:
        raise click.ClickException(f"{uai} : {error}") from None
    click.echo(f"{uai} : {report.accounts_written} compte(s) réécrit(s), {report.accounts_newer_here} plus récent(s) "
               f"ici gardé(s), {report.stale_links_removed} rattachement(s) périmé(s) retiré(s).")


@stats_group.command("check")
@click.option("--uai", default=None, help="One school (default: every school the statistics know)")
@click.option("--limit", default=20, show_default=True, help="Differences printed per school")
@click.pass_context
def check(ctx, uai, limit):
    """Compare the counters' account copies with accounts; exit 1 on any difference."""
    runtime = _runtime(ctx)
    if uai:
        schools = [uai.strip().upper()]
    else:
        with runtime.uow() as uow:
            schools = list(uow.session.scalars(select(School.uai).order_by(School.uai)))
    differing = 0
    for school in schools:
        try:
            with runtime.uow() as uow:
                report = check_school(uow, _fetch(runtime), school)
        except SnapshotUnavailable as error:
            raise click.ClickException(f"{school} : {error}") from None
        if report.differences:
            differing += 1
            click.echo(f"{school} : {len(report.differences)} différence(s) sur {report.accounts_compared} compte(s)")
            for line in report.differences[:limit]:
                click.echo(f"  {line}")
        else:
            click.echo(f"{school} : OK ({report.accounts_compared} compte(s))")
    if differing:
        raise SystemExit(1)


COMMANDS = (stats_group,)
