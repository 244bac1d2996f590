"""Who the staff member of a request is, read from the accounts database — the truth every
service relies on — and the internal endpoint through which the gateway asks it for the notifier
and stats pages (nginx `auth_request` in production, the in-process gateway in the embedded run).

The endpoint needs no internal token: it only tells the holder of a session cookie whose session
it is, and the gateway never routes `/internal` from outside.
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from ts_accounts.service_layer.errors import NotFound
from ts_accounts.service_layer.staff import current_access
from ts_shared.web.app import runtime_of, settings_of
from ts_shared.web.staff_session import (
    STAFF_IDENTITY_HEADER, STAFF_SESSION_CHECK_PATH, StaffIdentity, current_staff, end_staff_session,
    seal_identity, session_expiry, signed_in_staff,
)


def resolve_staff() -> StaffIdentity | None:
    """The staff member of this request's session with their rights now, or None (not signed in,
    session ended or expired, account disabled)."""
    signed_in = signed_in_staff()
    if signed_in is None:
        return None
    staff_id, uai = signed_in
    with runtime_of().uow() as uow:
        try:
            staff, access = current_access(uow, staff_id, uai)
        except NotFound:
            end_staff_session()
            return None
        return StaffIdentity(
            staff_id=staff.id, login=staff.login, display_name=staff.display_name,
            school_uai=access.uai if access else None, school_name=access.name if access else None,
            rights=access.rights if access else frozenset(), academy_admin=staff.academy_admin,
            expires_at=session_expiry(), schools_count=len(staff.assignments),
            school_activated=access.activated if access else True, academy_code=staff.academy_code,
            school_year=access.school_year if access else None,
        )


staff_session_check = Blueprint("staff_session_check", __name__)


@staff_session_check.get(STAFF_SESSION_CHECK_PATH)
def check_staff_session():
    """Always 200 (nginx's auth_request would turn a 401 into the answer itself): the identity,
    sealed, in a header when the session is a staff member's; the page's service decides."""
    identity = current_staff()
    response = jsonify({"signed_in": identity is not None})
    if identity is not None:
        response.headers[STAFF_IDENTITY_HEADER] = seal_identity(identity, settings_of().internal_token)
    response.headers["Cache-Control"] = "no-store"
    return response
