"""Following notifications (E1, F1, F3): the batches of the school, one batch's live progress,
its downloads (deleted once downloaded, J3) and the recap of who could not be notified."""
from __future__ import annotations

import io

from flask import Blueprint, abort, g, jsonify, render_template, request, send_file, url_for

from ts_notifier.service_layer.follow_up import (
    FileUnavailable, Progress, batch_received, download_file, followed_batch, progress, recent_batches,
)
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of
from ts_shared.web.forms import ConfirmForm
from ts_shared.web.staff_session import RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, staff_actor, staff_required

blueprint = Blueprint("batches", __name__, url_prefix="/admin/notifications", template_folder="templates")
RIGHTS = {"guardians": RIGHT_GUARDIAN_ACCESS, "students": RIGHT_STUDENT_ACCESS}


def _populations() -> list[str]:
    """The populations whose batches the signed-in staff member may follow."""
    return [population for population, right in RIGHTS.items() if g.staff.can(right)]


def _progress_or_404(session, batch_id: str) -> Progress:
    """A batch of the staff member's school that they may follow (404 for anything else)."""
    batch = followed_batch(session, batch_id, school_uai=g.staff.school_uai, populations=_populations())
    if batch is None:
        abort(404)
    return progress(session, batch)


@blueprint.get("/")
@staff_required(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def index():
    with runtime_of().uow() as uow:
        summaries = recent_batches(uow.session, school_uai=g.staff.school_uai, populations=_populations())
    return render_template("notifier/batches.html", summaries=summaries,
                           breadcrumb=[("Suivi des notifications", request.path)])


@blueprint.get("/batches/<batch_id>")
@staff_required(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def batch(batch_id: str):
    with runtime_of().uow() as uow:
        if request.args.get("nouvelle") and not batch_received(uow.session, batch_id):
            # Just requested from the accounts console: the batch is on its way over the broker.
            return render_template("notifier/batch_pending.html", batch_id=batch_id,
                                   breadcrumb=[("Suivi des notifications", url_for("batches.index")),
                                               ("Notification en préparation", request.path)])
        state = _progress_or_404(uow.session, batch_id)
    section = "Accès des responsables" if state.batch.population == "guardians" else "Accès des élèves"
    return render_template("notifier/batch.html", state=state, rerun_form=ConfirmForm(), console_section=section,
                           rerun_url=f"/admin/{state.batch.population}/notify",
                           breadcrumb=[(section, "#"), ("Suivi des notifications", url_for("batches.index")),
                                       (state.batch.label, request.path)])


@blueprint.get("/batches/<batch_id>/progress")
@staff_required(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def batch_progress(batch_id: str):
    """The live progress bar's source (polled by a static script)."""
    with runtime_of().uow() as uow:
        state = _progress_or_404(uow.session, batch_id)
        return jsonify(
            {
                "expected": state.batch.expected,
                "received": state.batch.received,
                "done": state.done,
                "percent": state.percent,
                "counts": state.counts,
                "completed": state.batch.completed_at is not None,
                "files": [
                    {
                        "id": f.id,
                        "kind": f.kind,
                        "filename": f.filename,
                        "url": url_for("batches.download", file_id=f.id),
                    }
                    for f in state.files
                ],
                "failures": len(state.failures),
                "skipped": len(state.skipped),
            }
        )


@blueprint.get("/files/<file_id>")
@staff_required(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def download(file_id: str):
    """J3: a file holding clear passwords, for its 24 hours (see download_file)."""
    try:
        with runtime_of().uow() as uow:
            file = download_file(uow, file_id, school_uai=g.staff.school_uai, populations=_populations(),
                                 by=staff_actor(), now=utcnow())
    except FileUnavailable:
        abort(404)
    response = send_file(io.BytesIO(file.content), as_attachment=True, download_name=file.filename,
                         mimetype="application/pdf" if file.kind == "pdf" else "text/csv; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response
