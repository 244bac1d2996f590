"""The statistics pages beyond G1/G2: « Synthèse accès téléservices » (G3: charts with their detail
on hover, each followed by its table, refreshed without a reload, CSV), the academy's campaign
view, and who may open what."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, UTC
from html import unescape

from ts_shared.calendar import PARIS
from ts_shared.messaging.envelope import new_event, parse_event
from ts_stats.domain.summaries import school_year_bounds

from support.events import account_snapshot

UAI, OTHER, ELSEWHERE = "0541234X", "0542222Y", "0751111A"
NOW = datetime.now(UTC)


def _apply(platform, *events):
    consumer = platform.runtime("stats").consumer()
    for event in events:
        consumer.apply(parse_event(event.to_message()))  # as it arrives: validated by its schema


def _school(uai: str, name: str, academy: str, version: int = 1, labels=None):
    return new_event("school.settings_changed", {
        "settings_version": version, "name": name, "academy_code": academy, "services_activated": True,
        "service_labels": labels or {"notes": "Notes", "vie_scolaire": "Vie scolaire"}}, producer="accounts",
        school_uai=uai)


def _access(service: str, mefstat: str | None, at: datetime, uai: str = UAI):
    return new_event("portal.service_accessed", {"kind": "guardian", "service_code": service, "mefstat": mefstat,
                                                  "month": at.astimezone(PARIS).strftime("%Y-%m"),
                                                  "accessed_at": at.isoformat()},
                     producer="portal", school_uai=uai)


def _account(n: int, uai: str, *, kind="guardian", state="not_notified", notified_at=None, activated_at=None,
             student: int | None = None):
    snapshot = account_snapshot(n, school_uai=uai, kind=kind, state=state)
    if student is not None:  # a guardian of that account's student
        snapshot["children"][0]["student_id"] = str(1000 + student)
    snapshot.update(notified_at=notified_at and notified_at.isoformat(),
                    activated_at=activated_at and activated_at.isoformat())
    snapshot["children"][0]["mef_label"] = "3EME"
    return new_event("account.created", {"account": snapshot}, producer="accounts", school_uai=uai)


def test_accesses_per_month_service_and_mefstat_with_their_tables_refreshed_live(platform, pages):
    start, _ = school_year_bounds(date.today())
    this_month = NOW
    first_month = start + timedelta(days=3)
    notes = _access("notes", "1031", this_month)
    _apply(platform, _school(UAI, "Collège Jean Moulin", "NCY"), _account(1, UAI),
           notes, notes,  # delivered twice: counted once
           _access("notes", "1031", first_month), _access("vie_scolaire", None, this_month),
           _access("notes", "1031", start - timedelta(days=10)))  # last school year: not shown
    page = pages().get("/admin/stats/acces")
    html = unescape(page.get_data(as_text=True))
    assert page.status_code == 200 and "Synthèse accès téléservices" in html
    assert 'data-refresh-url="/admin/stats/acces/donnees"' in html and "stats-live.js" in html
    months = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre")
    month = f"{months[NOW.astimezone(PARIS).month - 1]} {NOW.astimezone(PARIS).year}"
    # Each chart: a bar whose hover title gives the detail; then its table with the same numbers.
    assert f"<title>{month} : 2 accès (Notes : 1; Vie scolaire : 1)</title>" in html
    assert "<title>Notes : 2 accès" in html
    assert f'<tr><th scope="row">{month}</th><td>2</td>' in html
    assert '<tr><th scope="row">Notes</th><td>2</td>' in html
    assert '<tr><th scope="row">3EME (MEFSTAT 1031)</th><td>2</td>' in html
    assert '<tr><th scope="row">MEFSTAT non renseigné</th><td>1</td>' in html
    assert re.findall(r'<tr class="ts-sum"><th scope="row">Total</th><td>(\d+)</td>', html) == ["3", "3", "3"]
    # New accesses arrive: the fragment the page fetches has them (no reload).
    fragment = pages().get("/admin/stats/acces/donnees")
    assert fragment.headers["Cache-Control"] == "no-store" and "<html" not in fragment.get_data(as_text=True)
    _apply(platform, _access("notes", "1031", this_month))
    assert "<title>Notes : 3 accès" in unescape(pages().get("/admin/stats/acces/donnees").get_data(as_text=True))
    # CSV per chart.
    response = pages().get("/admin/stats/acces-services.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["Service", "Nombre d'accès"], ["Notes", "3"], ["Vie scolaire", "1"], ["Total", "4"]]
    assert pages().get("/admin/stats/acces-inconnu.csv").status_code == 404
    assert pages().get("/admin/stats/static/stats-live.js").status_code == 200


def test_a_label_typed_as_a_formula_is_neutralised_in_the_csv(platform, pages):
    _apply(platform, _school(UAI, "Collège Jean Moulin", "NCY", labels={"x": "=HYPERLINK(\"http://evil\")"}),
           _access("x", None, NOW))
    data = pages().get("/admin/stats/acces-services.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in data


def _campaign(platform):
    monday = NOW - timedelta(days=NOW.weekday() + 7)
    _apply(platform, _school(UAI, "Collège Jean Moulin", "NCY"), _school(OTHER, "Collège Alfred Mézières", "NCY"),
           _school(ELSEWHERE, "Lycée Louis-le-Grand", "PAR"),
           _account(1, UAI, kind="student", state="used", notified_at=monday, activated_at=monday),
           _account(2, UAI, kind="student", state="notified", notified_at=monday + timedelta(days=1)),
           _account(3, UAI, kind="guardian", state="used", notified_at=monday, activated_at=NOW, student=1),
           _account(4, UAI, kind="guardian", state="notified", notified_at=monday, student=2),
           _account(5, OTHER, kind="student"), _account(6, OTHER, kind="guardian"),
           _account(7, ELSEWHERE, kind="student", state="used", notified_at=monday, activated_at=monday))


def test_the_academy_sees_every_school_of_its_academy_flagged_sorted_and_as_csv(platform, pages, identity):
    _campaign(platform)
    admin = identity(school_uai=None, rights=(), academy_admin=True, academy_code="NCY")
    page = pages(admin).get("/admin/stats/academie")
    html = unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    assert "Collège Jean Moulin (0541234X)" in html and "Collège Alfred Mézières (0542222Y)" in html
    assert "Lycée Louis-le-Grand" not in html  # another academy
    table = html.split("<h2>Comptes utilisés par semaine")[0]
    rows = re.findall(r'<tr( class="ts-never-notified")?>\s*<th scope="row">([^<]+)</th>', table)
    assert rows == [(' class="ts-never-notified"', "Collège Alfred Mézières (0542222Y)"),
                    ("", "Collège Jean Moulin (0541234X)")]
    assert "jamais notifié" in html
    jean_moulin = html.split("Collège Jean Moulin (0541234X)</th>")[1].split("</tr>")[0]
    assert re.findall(r"<td>([^<]*)</td>", jean_moulin)[:5] == ["2", "1", "50 %", "1", "50 %"]
    # Sorted by % of students with a used account, highest first.
    by_percent = unescape(pages(admin).get("/admin/stats/academie?tri=students_percent&ordre=desc")
                          .get_data(as_text=True))
    assert by_percent.index("Collège Jean Moulin (0541234X)") < by_percent.index("Collège Alfred Mézières (0542222Y)")
    assert 'aria-sort="descending"' in by_percent
    assert pages(admin).get("/admin/stats/academie?tri=%3Cscript%3E&etablissement=nope").status_code == 200
    # The weekly curve: the academy, and one school beside it; its table.
    curve = unescape(pages(admin).get(f"/admin/stats/academie?etablissement={OTHER}").get_data(as_text=True))
    assert "<polyline" in curve and "Collège Alfred Mézières, semaine du" in curve
    last_row = curve.split("Comptes utilisés (élèves et responsables)")[1].split("</tbody>")[0].split("<tr>")[-1]
    assert re.findall(r"<td>(\d+)</td>", last_row) == ["2", "0"]
    csv_rows = list(csv.reader(io.StringIO(pages(admin).get("/admin/stats/academie.csv").data.decode("utf-8-sig")),
                               delimiter=";"))
    assert csv_rows[0][0] == "Établissement" and len(csv_rows) == 3
    assert csv_rows[1][-1] == "jamais notifié" and csv_rows[2][:3] == ["Collège Jean Moulin (0541234X)", "2", "1"]
    # The view keeps each school's line until its accounts change: a change shows at the next view.
    used = account_snapshot(5, school_uai=OTHER, kind="student", state="used", version=2)
    used.update(notified_at=NOW.isoformat(), activated_at=NOW.isoformat())
    _apply(platform, new_event("account.activated", {"account": used}, producer="accounts", school_uai=OTHER))
    again = unescape(pages(admin).get("/admin/stats/academie").get_data(as_text=True))
    other_line = again.split("Collège Alfred Mézières (0542222Y)</th>")[1].split("</tr>")[0]
    assert re.findall(r"<td>([^<]*)</td>", other_line)[:3] == ["2", "1", "50 %"] and "jamais notifié" not in other_line
    # An administrator of every academy sees them all.
    national = pages(identity(school_uai=None, rights=(), academy_admin=True)).get("/admin/stats/academie")
    assert "Lycée Louis-le-Grand" in unescape(national.get_data(as_text=True))


def test_rights_a_delegate_sees_the_school_pages_only_an_academy_administrator_the_academy_view_only(
        platform, pages, identity, delegate):
    _campaign(platform)
    school_pages = ("/admin/stats/", "/admin/stats/responsables", "/admin/stats/acces", "/admin/stats/acces/donnees",
                    "/admin/stats/eleves.csv", "/admin/stats/responsables.csv", "/admin/stats/acces-mois.csv")
    academy_pages = ("/admin/stats/academie", "/admin/stats/academie.csv")
    for path in school_pages:
        assert pages(delegate).get(path).status_code == 200, path
    for path in academy_pages:
        assert pages(delegate).get(path).status_code == 403, path
    admin = identity(school_uai=None, rights=(), academy_admin=True, academy_code="NCY")
    for path in school_pages:
        assert pages(admin).get(path).status_code == 403, path
    without_statistics = identity(rights={"guardian_access"})
    for path in school_pages:
        assert pages(without_statistics).get(path).status_code == 403, path
    anonymous = pages()
    anonymous.identity = None
    assert anonymous.get("/admin/stats/academie").status_code == 302
    # Each school sees only itself: the other school's counts are nowhere on its page.
    other = pages(identity(school_uai=OTHER, school_name="Collège Alfred Mézières", rights={"statistics"}))
    html = unescape(other.get("/admin/stats/").get_data(as_text=True))
    assert "<td>2</td><td>1</td><td>0</td><td>0</td><td>0 %</td><td>0</td>" in html and "Jean Moulin" not in html
    # The menu offers the three pages.
    menu = unescape(pages(delegate).get("/admin/stats/").get_data(as_text=True))
    for label in ("Synthèse comptes élèves", "Synthèse comptes responsables", "Synthèse accès téléservices"):
        assert label in menu
    assert "Campagne de notification" in unescape(pages(admin).get("/admin/stats/academie").get_data(as_text=True))
