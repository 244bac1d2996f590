"""What every console view of the accounts service shares: server-side authorisation on each
request, the school being worked on and who acts (for the use cases' audit entries), French
messages for errors."""
from __future__ import annotations

from functools import wraps
from pathlib import Path
from collections.abc import Mapping

from flask import abort, flash, g, jsonify, redirect, request, url_for
from flask_wtf import FlaskForm
from wtforms import Field

from ts_accounts.adapters.orm import School
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.errors import AccountsError
from ts_shared.web.app import runtime_of
from ts_shared.web.staff_session import ACTIVATION_PATH, StaffIdentity, staff_required

TEMPLATES = Path(__file__).parent / "templates"


def console_page(*rights: str, any_of: bool = False, needs_activation: bool = True, academy: bool = False,
                 school_optional: bool = False):
    """A console view: signed in, and checked against the database on every request — the staff
    member still active, still working in the session's school, still holding `rights` there.
    Sets `g.staff` (fresh identity), `g.school` and `g.actor`. Until the school has
    activated its online services (C1) only the activation screen opens. `academy`: a page of
    academy administrators, who need no school right. `school_optional`: the page also serves
    staff working in no school (the home page)."""

    def decorator(view):
        @staff_required()
        @wraps(view)
        def wrapper(*args, **kwargs):
            identity: StaffIdentity = g.staff  # read from the database for this request
            with runtime_of().uow() as uow:
                school = uow.session.get(School, identity.school_uai) if identity.school_uai else None
                foreign = academy and _outside_managed_academy(uow.session, identity.academy_code, kwargs)
            g.school = school
            g.actor = Actor(login=identity.login, staff_id=identity.staff_id, client_address=request.remote_addr)
            if academy:
                if not identity.academy_admin:
                    abort(403)
                if foreign:
                    abort(404)  # another academy's school or catalogue does not exist for this administrator
            elif school is None:
                if not school_optional:
                    abort(403)
            else:
                allowed = identity.can_any(*rights) if any_of else all(identity.can(r) for r in rights)
                if not allowed:
                    abort(403)
                if needs_activation and school.services_activated_at is None:
                    if request.path.startswith("/api/"):
                        return jsonify({"error": "Les téléservices de l'établissement ne sont pas encore activés.",
                                        "status": 409}), 409
                    return redirect(ACTIVATION_PATH)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _outside_managed_academy(session, academy_code: str | None, view_arguments: dict) -> bool:
    """Whether the page names a school or an academy other than the one the administrator
    manages (the academy use cases check it again)."""
    if academy_code is None:
        return False
    if "academy_code" in view_arguments and view_arguments["academy_code"].strip().upper() != academy_code:
        return True
    school = session.get(School, view_arguments["uai"].strip().upper()) if "uai" in view_arguments else None
    return school is not None and school.academy_code != academy_code


def follow_batch(batch_id: str):
    """To the notifier's page of a batch just requested: it waits there for the notifier to
    receive the batch (`nouvelle`), then shows its live progress."""
    return redirect(f"/admin/notifications/batches/{batch_id}?nouvelle=1")


def follow_order(order, back: str):
    """After a notification was requested: who was left out and why, then the batch's progress
    (or back to `back` when nobody could be notified)."""
    for who, why in order.skipped:
        flash(f"Non notifié : {who} — {why}", "warning")
    if not order.deliveries:
        flash("Aucun compte n'a pu être notifié.", "error")
        return redirect(back)
    return follow_batch(order.batch_id)


def done(message: str, endpoint: str, **values):
    """Flash a success message and go back (post/redirect/get)."""
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


def failed(message: str) -> None:
    flash(message, "error")


EXPIRED = "Le formulaire a expiré ou n'est pas valide. Rechargez la page et recommencez."


def show_errors(form: FlaskForm, error: AccountsError, fields: Mapping[str, str] | None = None) -> None:
    """A use case's refusal on the form's page: each message under its field (`fields` maps the
    use case's name of a field to the form's, where they differ); a message for no field of the
    form, or a refusal that names no field, is flashed."""
    problems: list[tuple[str | None, str]] = list(error.errors.items()) if error.errors else [(None, str(error))]
    for name, message in problems:
        field = getattr(form, (fields or {}).get(name, name), None) if name else None
        if isinstance(field, Field):
            field.errors = [*field.errors, message]
        else:
            failed(message)
