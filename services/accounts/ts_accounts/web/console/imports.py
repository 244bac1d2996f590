"""Import page: SIECLE exports (or the CSV format) uploaded by staff, then the import report."""
from __future__ import annotations

from flask import Blueprint, flash, g, render_template, request
from flask_wtf import FlaskForm
from flask_wtf.file import FileRequired
from wtforms import BooleanField, MultipleFileField, RadioField

from ts_accounts.adapters.csv_population import read_csv_population
from ts_accounts.adapters.siecle import ImportFileError, inspect_export
from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.service_layer.imports import (
    DeparturesToConfirm, import_population, source_from_csv, source_from_exports,
)
from ts_accounts.web.console.common import audit, console_page
from ts_accounts.web.uploads import as_uploaded, problems_as_uploaded, saved_uploads
from ts_shared.web.app import runtime_of
from ts_shared.web.staff_session import RIGHT_IMPORT

blueprint = Blueprint("imports", __name__, url_prefix="/admin", template_folder="templates")


class ImportForm(FlaskForm):
    format = RadioField("Format", choices=[("siecle", "Exports SIECLE BEE (XML, zippés ou non)"),
                                           ("csv", "Fichier CSV (établissements sans SIECLE)")], default="siecle")
    files = MultipleFileField("Fichiers", validators=[FileRequired("Choisissez au moins un fichier.")])
    # Asked for only when the export would empty most of the school (or lists no student).
    confirm_departures = BooleanField("Je confirme ces départs : les élèves que le fichier ne liste plus ont bien "
                                      "quitté l'établissement")


def _summary(report) -> str:
    parts = [f"{report.created.get(kind, 0)} {kind} créés, {report.updated.get(kind, 0)} mis à jour, "
             f"{report.departed.get(kind, 0)} partis" for kind in ("élèves", "responsables")
             if any(kind in bucket for bucket in (report.created, report.updated, report.unchanged, report.departed))]
    return "; ".join(parts) + f"; {report.accounts_created} compte(s) créé(s)"


@blueprint.route("/import", methods=["GET", "POST"])
@console_page(RIGHT_IMPORT)
def import_page():
    form = ImportForm()
    report, problems, departures = None, [], None
    if form.validate_on_submit():
        uploads = [f for f in request.files.getlist(form.files.name) if f and f.filename]
        with saved_uploads(uploads) as paths:
            try:
                with runtime_of().uow() as uow:
                    if form.format.data == "csv":
                        if len(paths) != 1:
                            raise ImportFileError("import", "un seul fichier CSV par import")
                        source = source_from_csv(uploads[0].filename, read_csv_population(paths[0]))
                    else:
                        source = source_from_exports(g.school.uai, [inspect_export(path) for path in paths])
                    report = import_population(uow, uai=g.school.uai, source=source, actor=g.actor.login,
                                               confirm_departures=form.confirm_departures.data)
                    audit(uow, "import.done", f"Import de {', '.join(u.filename for u in uploads)} : {_summary(report)}"
                          + (" (départs confirmés)" if form.confirm_departures.data else ""),
                          detail={"rejected": len(report.rejected), "warnings": len(report.warnings),
                                  "departures_confirmed": form.confirm_departures.data})
                    uow.commit()
            except ImportFileError as error:
                problems = problems_as_uploaded(error, uploads)
                flash("Import refusé : aucune donnée n'a été modifiée. Corrigez le fichier puis recommencez.", "error")
            except DeparturesToConfirm as error:
                departures = as_uploaded(str(error), uploads)
            except AccountsError as error:
                flash(str(error), "error")
        if report is not None:
            flash("Import terminé.", "success")
    return render_template("accounts/imports/import.html", form=form, report=report, problems=problems,
                           departures=departures,
                           breadcrumb=[("Gestion des téléservices", "#"), ("Import des fichiers SIECLE", request.path)])
