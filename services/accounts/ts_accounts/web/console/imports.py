"""Import page: SIECLE exports (or the CSV format) uploaded by staff, then the import report."""
from __future__ import annotations

from flask import Blueprint, flash, g, render_template, request
from flask_wtf import FlaskForm
from flask_wtf.file import FileRequired
from wtforms import BooleanField, MultipleFileField, RadioField

from ts_accounts.adapters.siecle import ImportFileError
from ts_accounts.service_layer.errors import AccountsError
from ts_accounts.service_layer.imports import CSV, SIECLE, import_files
from ts_accounts.service_layer.population import DeparturesToConfirm
from ts_accounts.web.console.common import console_page, show_errors
from ts_accounts.web.uploads import as_uploaded, problems_as_uploaded, saved_uploads
from ts_shared.web.app import runtime_of
from ts_shared.web.staff_session import RIGHT_IMPORT

blueprint = Blueprint("imports", __name__, url_prefix="/admin", template_folder="templates")


class ImportForm(FlaskForm):
    format = RadioField("Format", choices=[(SIECLE, "Exports SIECLE BEE (XML, zippés ou non)"),
                                           (CSV, "Fichier CSV (établissements sans SIECLE)")], default=SIECLE)
    files = MultipleFileField("Fichiers", validators=[FileRequired("Choisissez au moins un fichier.")])
    # Asked for only when the export would empty most of the school (or lists no student).
    confirm_departures = BooleanField("Je confirme ces départs : les élèves que le fichier ne liste plus ont bien "
                                      "quitté l'établissement")


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
                    report = import_files(uow, g.actor, uai=g.school.uai, file_format=form.format.data, paths=paths,
                                          names=[upload.filename for upload in uploads],
                                          confirm_departures=form.confirm_departures.data)
            except ImportFileError as error:
                problems = problems_as_uploaded(error, uploads)
                flash("Import refusé : aucune donnée n'a été modifiée. Corrigez le fichier puis recommencez.", "error")
            except DeparturesToConfirm as error:
                departures = as_uploaded(str(error), uploads)
            except AccountsError as error:
                show_errors(form, error)
        if report is not None:
            flash("Import terminé.", "success")
    return render_template("accounts/imports/import.html", form=form, report=report, problems=problems,
                           departures=departures,
                           breadcrumb=[("Gestion des téléservices", "#"), ("Import des fichiers SIECLE", request.path)])
