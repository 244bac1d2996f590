"""« Paramétrage › Courriers de notification » (D3): the list of the school's letter parts (the
header and one body per case), their preview with a fictitious family, the editor (insertable
fields, preview of the unsaved text, save, cancel) and the reset to the default text.

Behind the gateway under /admin/letters, with the console's shared staff session: the right
« Paramétrage » on the school the staff member works on. Every page works without JavaScript;
static/letters.js only adds the buttons that insert a field at the cursor."""
from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from ts_notifier.domain.letters import FIELDS, HEADER, HEADER_ZONES, LETTER_CLASSES, PART_LABELS, PARTS
from ts_notifier.service_layer import letter_parts as cases
from ts_notifier.service_layer.letter_templates import ALLOWED_FILTERS, LetterPartRejected
from ts_notifier.service_layer.letter_batch import LetterSettingsMissing, school_identity
from ts_notifier.service_layer.letter_pages import preview_pdf
from ts_shared.calendar import PARIS
from ts_shared.web.app import runtime_of, settings_of
from ts_shared.web.forms import ConfirmForm
from ts_shared.web.staff_session import RIGHT_SETTINGS, staff_actor, staff_required

blueprint = Blueprint("letters", __name__, url_prefix="/admin/letters", template_folder="templates",
                      static_folder="static", static_url_path="/static")

LETTER_TYPES = {"teleservices": "Téléservices", "mixed": "Mixte ENT/Téléservices", "ent_only": "ENT seul"}


class PartForm(FlaskForm):
    source = TextAreaField("Texte du courrier")


def _today() -> date:
    return datetime.now(PARIS).date()


def _school_uai() -> str:
    uai = g.staff.school_uai
    if not uai:
        abort(403, "Choisissez d'abord l'établissement sur lequel vous travaillez.")
    return uai


def _part_or_404(part: str) -> str:
    if part not in PARTS:
        abort(404)
    return part


def _breadcrumb(*trail: tuple[str, str]) -> list[tuple[str, str]]:
    return [("Paramétrage", "/admin/settings/welcome"), ("Courriers de notification", url_for("letters.index")),
            *trail]


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}.pdf"', "Cache-Control": "no-store"})


@blueprint.get("/")
@staff_required(RIGHT_SETTINGS)
def index():
    uai = _school_uai()
    with runtime_of().uow() as uow:
        parts = cases.list_parts(uow.session, uai)
        try:
            school = school_identity(uow.session, uai)
        except LetterSettingsMissing:
            school = None
    return render_template("notifier/letters/index.html", parts=parts, school=school, letter_types=LETTER_TYPES,
                           public_url=settings_of().public_url.rstrip("/") + "/", header=HEADER,
                           breadcrumb=_breadcrumb())


@blueprint.get("/<part>/apercu")
@staff_required(RIGHT_SETTINGS)
def preview(part: str):
    """« Visualiser »: the saved text (or the default) with the fictitious family."""
    uai, part = _school_uai(), _part_or_404(part)
    try:
        with runtime_of().uow() as uow:
            pdf = preview_pdf(uow.session, uai, part, public_url=settings_of().public_url, on=_today())
    except LetterSettingsMissing as error:
        flash(str(error), "error")
        return redirect(url_for("letters.index"))
    return _pdf(pdf, f"apercu-{part}")


def _editor(part: str, form: PartForm, *, errors=(), status: int = 200):
    return render_template("notifier/letters/edit.html", part=part, label=PART_LABELS[part], form=form,
                           errors=list(errors), fields=FIELDS, classes=LETTER_CLASSES, zones=HEADER_ZONES,
                           filters=ALLOWED_FILTERS, header=HEADER,
                           breadcrumb=_breadcrumb((f"Modifier : {PART_LABELS[part]}", ""))), status


@blueprint.route("/<part>/modifier", methods=["GET", "POST"])
@staff_required(RIGHT_SETTINGS)
def edit(part: str):
    """« Modifier »: the text with its fields; « Valider » saves it once every check passes."""
    uai, part = _school_uai(), _part_or_404(part)
    form = PartForm()
    if form.validate_on_submit():
        try:
            with runtime_of().uow() as uow:
                saved = cases.save_part(uow, uai, part, form.source.data or "", by=staff_actor(),
                                        public_url=settings_of().public_url, on=_today())
        except LetterPartRejected as error:
            return _editor(part, form, errors=error.messages, status=400)
        except LetterSettingsMissing as error:
            return _editor(part, form, errors=[str(error)], status=409)
        flash(f"Le texte « {PART_LABELS[part]} » est enregistré : les prochains courriers l'utiliseront.", "success")
        if saved.cleaned:
            flash("Des balises ou attributs non autorisés dans un courrier ont été retirés du texte.", "info")
        for warning in saved.warnings:
            flash(warning, "warning")
        return redirect(url_for("letters.index"))
    if not form.is_submitted():
        with runtime_of().uow() as uow:
            form.source.data = cases.current_source(uow.session, uai, part)
    return _editor(part, form, status=400 if form.is_submitted() else 200)


@blueprint.post("/<part>/previsualiser")
@staff_required(RIGHT_SETTINGS)
def preview_changes(part: str):
    """« Prévisualiser les modifications »: the PDF of the text being edited; nothing is saved."""
    uai, part = _school_uai(), _part_or_404(part)
    form = PartForm()
    if not form.validate_on_submit():
        return _editor(part, form, status=400)
    try:
        with runtime_of().uow() as uow:
            checked = cases.check_text(uow.session, uai, part, form.source.data or "",
                                       public_url=settings_of().public_url, on=_today())
    except LetterPartRejected as error:
        return _editor(part, form, errors=error.messages, status=400)
    except LetterSettingsMissing as error:
        return _editor(part, form, errors=[str(error)], status=409)
    return _pdf(checked.pdf, f"previsualisation-{part}")


@blueprint.route("/<part>/reinitialiser", methods=["GET", "POST"])
@staff_required(RIGHT_SETTINGS)
def reset(part: str):
    """« Réinitialiser »: back to the default text, after a confirmation."""
    uai, part = _school_uai(), _part_or_404(part)
    form = ConfirmForm()
    if form.validate_on_submit():
        with runtime_of().uow() as uow:
            changed = cases.reset_part(uow, uai, part, by=staff_actor())
        flash(f"Le texte « {PART_LABELS[part]} » est revenu au texte par défaut." if changed
              else f"Le texte « {PART_LABELS[part]} » était déjà le texte par défaut.", "success")
        return redirect(url_for("letters.index"))
    return render_template("notifier/letters/reset.html", part=part, label=PART_LABELS[part], form=form,
                           breadcrumb=_breadcrumb((f"Réinitialiser : {PART_LABELS[part]}", "")))
