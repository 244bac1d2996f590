"""Statistics pages (menu « Statistiques », seed 003 §6) and the academy's campaign view. Thin
views: who may see what, then one read use case, then a template or a CSV file."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, g, render_template, request

from ts_shared.calendar import french_date
from ts_shared.csv_export import export_filename, spreadsheet_csv
from ts_shared.web.app import runtime_of
from ts_shared.web.staff_session import RIGHT_STATISTICS, staff_required
from ts_stats.domain.summaries import CAMPAIGN_SORTS, GUARDIAN_COLUMNS, STUDENT_COLUMNS, Summary, percent
from ts_stats.service_layer.summaries import (
    academy_campaign, access_series, guardian_summary, student_summary, used_accounts_per_week,
)
from ts_stats.web.charts import bar_chart, line_chart

pages = Blueprint("stats", __name__, url_prefix="/admin/stats", template_folder="templates")

# Refresh period of « Synthèse accès téléservices » (seconds): the portal's events arrive continuously.
ACCESS_REFRESH_SECONDS = 15

PAGES = {
    "students": ("Synthèse comptes élèves", "Synthèse des comptes élèves", STUDENT_COLUMNS, student_summary),
    "guardians": ("Synthèse comptes responsables", "Synthèse des comptes responsables", GUARDIAN_COLUMNS,
                  guardian_summary),
}


def _school_uai() -> str:
    """The school the staff member works on (the right was checked by staff_required)."""
    if not g.staff.school_uai:
        abort(404)
    return g.staff.school_uai


def _csv_response(rows: list[list], *parts: str) -> Response:
    name = export_filename(*parts, date.today().isoformat())
    return Response(spreadsheet_csv(rows), mimetype="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def _summary_rows(summary: Summary, columns) -> list[list]:
    """The page's tables as one sheet: the MEF tables' lines, their « Somme », then the school's."""
    rows = [["MEF", "Division", *columns]]
    for table in summary.mefs:
        rows += [[table.label, division, *counts.cells()] for division, counts in table.divisions]
        rows.append([table.label, "Somme", *table.total.cells()])
    rows.append(["Établissement", "Total", *summary.school.cells()])
    return rows


def _summary_page(kind: str, *, csv: bool):
    title, caption, columns, use_case = PAGES[kind]
    uai = _school_uai()
    with runtime_of().uow() as uow:
        summary = use_case(uow.session, uai)
    if csv:
        return _csv_response(_summary_rows(summary, columns), title, uai, g.staff.school_name or "")
    return render_template("stats/summary.html", title=title, caption=caption, columns=columns, summary=summary,
                           csv_url=f"/admin/stats/{'eleves' if kind == 'students' else 'responsables'}.csv",
                           breadcrumb=[("Statistiques", "/admin/stats/"), (title, request.path)])


@pages.get("/")
@staff_required(RIGHT_STATISTICS)
def students():
    return _summary_page("students", csv=False)


@pages.get("/eleves.csv")
@staff_required(RIGHT_STATISTICS)
def students_csv():
    return _summary_page("students", csv=True)


@pages.get("/responsables")
@staff_required(RIGHT_STATISTICS)
def guardians():
    return _summary_page("guardians", csv=False)


@pages.get("/responsables.csv")
@staff_required(RIGHT_STATISTICS)
def guardians_csv():
    return _summary_page("guardians", csv=True)


# --- G3 ------------------------------------------------------------------------------------------

def _access_series():
    with runtime_of().uow() as uow:
        return access_series(uow.session, _school_uai())


def _access_context():
    series = _access_series()
    return {"series": [(s, bar_chart(s.title, s.points, s.details)) for s in series]}


@pages.get("/acces")
@staff_required(RIGHT_STATISTICS)
def accesses():
    return render_template("stats/accesses.html", refresh_seconds=ACCESS_REFRESH_SECONDS, **_access_context(),
                           breadcrumb=[("Statistiques", "/admin/stats/"),
                                       ("Synthèse accès téléservices", request.path)])


@pages.get("/acces/donnees")
@staff_required(RIGHT_STATISTICS)
def accesses_fragment():
    """The charts and tables alone: what the page fetches to refresh itself."""
    response = Response(render_template("stats/_accesses.html", **_access_context()))
    response.headers["Cache-Control"] = "no-store"
    return response


@pages.get("/acces-<key>.csv")
@staff_required(RIGHT_STATISTICS)
def accesses_csv(key: str):
    chosen = next((s for s in _access_series() if s.key == key), None)
    if chosen is None:
        abort(404)
    rows = [[chosen.heading, "Nombre d'accès"], *([label, count] for label, count in chosen.points),
            ["Total", chosen.total]]
    return _csv_response(rows, chosen.title, g.staff.school_uai, g.staff.school_name or "")


# --- the academy's campaign ----------------------------------------------------------------------

CAMPAIGN_COLUMNS = (
    ("name", "Établissement"), ("students", "Nombre d'élèves"), ("students_used", "Comptes élèves utilisés"),
    ("students_percent", "% d'élèves avec comptes utilisés"), ("guardians_used", "Comptes responsables utilisés"),
    ("guardians_percent", "% de comptes resp. utilisés"), ("last_notified", "Dernière notification"),
)


def _academy_admin():
    if not g.staff.academy_admin:
        abort(403)
    return g.staff.academy_code  # None: an administrator of every academy


def _campaign(academy_code):
    sort = request.args.get("tri", "name")
    sort = sort if sort in CAMPAIGN_SORTS else "name"
    descending = request.args.get("ordre") == "desc"
    with runtime_of().uow() as uow:
        schools, used_by_day = academy_campaign(uow, academy_code)
    schools.sort(key=CAMPAIGN_SORTS[sort], reverse=descending)
    return schools, used_by_day, sort, descending


def _campaign_cells(school) -> list:
    return [f"{school.name} ({school.uai})", school.students, school.student_accounts_used,
            percent(school.student_accounts_used, school.students), school.guardian_accounts_used,
            percent(school.guardian_accounts_used, school.guardian_accounts),
            french_date(school.last_notified_at) if school.last_notified_at else "jamais notifié"]


@pages.get("/academie")
@staff_required()
def academy():
    academy_code = _academy_admin()
    schools, used_by_day, sort, descending = _campaign(academy_code)
    known = {s.uai: s.name for s in sorted(schools, key=CAMPAIGN_SORTS["name"])}
    chosen = request.args.get("etablissement")
    chosen = chosen if chosen in known else None
    academy_curve = used_accounts_per_week(used_by_day, known)
    school_curve = used_accounts_per_week(used_by_day, [chosen]) if chosen else None
    labels = [french_date(week) for week, _ in academy_curve]
    series = [("Académie", [count for _, count in academy_curve])]
    if school_curve is not None:
        series.append((known[chosen], [count for _, count in school_curve]))
    chart = line_chart("Comptes utilisés par semaine depuis la rentrée", labels, series, "comptes utilisés")
    return render_template(
        "stats/academy.html", schools=schools, rows=[(s, _campaign_cells(s)) for s in schools],
        columns=CAMPAIGN_COLUMNS, sort=sort, descending=descending, known=known, chosen=chosen, chart=chart,
        curve_labels=labels, curve_series=series,
        breadcrumb=[("Académie", "/admin/academy/schools"), ("Campagne de notification", request.path)])


@pages.get("/academie.csv")
@staff_required()
def academy_csv():
    academy_code = _academy_admin()
    schools, _, _, _ = _campaign(academy_code)
    rows = [[label for _, label in CAMPAIGN_COLUMNS], *(_campaign_cells(s) for s in schools)]
    return _csv_response(rows, "Campagne de notification", academy_code or "toutes-academies")
