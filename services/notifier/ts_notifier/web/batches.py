"""Following notifications (E1, F1, F3): the batches of the school, one batch's live progress,
its downloads (deleted once downloaded, J3) and the recap of who could not be notified."""
from __future__ import annotations

import io

from flask import Blueprint, abort, g, jsonify, render_template, request, send_file, url_for
from sqlalchemy import select

from ts_notifier.adapters.batches import GeneratedFile, NotificationBatch
from ts_notifier.service_layer.batches import hand_over_file, progress
from ts_shared.db import utcnow
from ts_shared.web.app import runtime_of
from ts_shared.web.forms import ConfirmForm
from ts_shared.web.staff_session import RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, staff_actor, staff_required

blueprint = Blueprint("batches", __name__, url_prefix="/admin/notifications", template_folder="templates")
RIGHTS = {"guardians": RIGHT_GUARDIAN_ACCESS, "students": RIGHT_STUDENT_ACCESS}


def _batch_or_404(session, batch_id: str) -> NotificationBatch:
    """A batch of the staff member's school that they may follow (404 for anything else)."""
    batch = session.get(NotificationBatch, batch_id)
    if batch is None or batch.school_uai != g.staff.school_uai or not g.staff.can(RIGHTS[batch.population]):
        abort(404)
    return batch


@blueprint.get("/")
@staff_required(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def index():
    populations = [p for p, right in RIGHTS.items() if g.staff.can(right)]
    with runtime_of().uow() as uow:
        batches = uow.session.scalars(
            select(NotificationBatch).where(NotificationBatch.school_uai == g.staff.school_uai,
                                            NotificationBatch.population.in_(populations))
            .order_by(NotificationBatch.created_at.desc()).limit(50)).all()
        summaries = [progress(uow.session, batch) for batch in batches]
    return render_template("notifier/batches.html", summaries=summaries,
                           breadcrumb=[("Suivi des notifications", request.path)])


@blueprint.get("/batches/<batch_id>")
@staff_required(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def batch(batch_id: str):
    with runtime_of().uow() as uow:
        if request.args.get("nouvelle") and uow.session.get(NotificationBatch, batch_id) is None:
            # Just requested from the accounts console: the batch is on its way over the broker.
            return render_template("notifier/batch_pending.html", batch_id=batch_id,
                                   breadcrumb=[("Suivi des notifications", url_for("batches.index")),
                                               ("Notification en préparation", request.path)])
        state = progress(uow.session, _batch_or_404(uow.session, batch_id))
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
        state = progress(uow.session, _batch_or_404(uow.session, batch_id))
        return jsonify({
            "expected": state.batch.expected, "received": state.batch.received, "done": state.done,
            "percent": state.percent, "counts": state.counts, "completed": state.batch.completed_at is not None,
            "files": [{"id": f.id, "kind": f.kind, "filename": f.filename, "url": url_for("batches.download", file_id=f.id)}
                      for f in state.files],
            "failures": len(state.failures),
        })


@blueprint.get("/files/<file_id>")
@staff_required(RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, any_of=True)
def download(file_id: str):
    """J3: the file holding clear passwords goes to the staff of its school, once; it is deleted
    from the server as soon as it has been sent."""
    runtime = runtime_of()
    with runtime.uow() as uow:
        file = uow.session.get(GeneratedFile, file_id)
        if file is None or file.deleted_at is not None:
            abort(404)
        _batch_or_404(uow.session, file.batch_id)
        content = hand_over_file(uow, file, by=staff_actor(), now=utcnow())
        if content is None:
            abort(404)
        uow.commit()
        filename, kind = file.filename, file.kind
    response = send_file(io.BytesIO(content), as_attachment=True, download_name=filename,
                         mimetype="application/pdf" if kind == "pdf" else "text/csv; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response
