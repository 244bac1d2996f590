"""Statistics pages (menu « Statistiques »)."""
from __future__ import annotations

from flask import Blueprint, abort, g, render_template

from ts_shared.web.app import runtime_of
from ts_shared.web.staff_session import RIGHT_STATISTICS, staff_required
from ts_stats.service_layer.counters import STATES, account_counts

pages = Blueprint("stats", __name__, url_prefix="/admin/stats", template_folder="templates")

STATE_LABELS = {"not_notified": "Non notifié", "notified": "Notifié", "activating": "En cours d'activation",
                "used": "Utilisé"}
KIND_LABELS = {"student": "Comptes élèves", "guardian": "Comptes responsables"}


@pages.get("/")
@staff_required(RIGHT_STATISTICS)
def summary():
    if not g.staff.school_uai:
        abort(404)
    with runtime_of().uow() as uow:
        counts = account_counts(uow.session, g.staff.school_uai)
    return render_template("stats/summary.html", counts=counts, states=STATES, state_labels=STATE_LABELS,
                           kind_labels=KIND_LABELS)
