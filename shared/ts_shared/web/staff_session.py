"""Staff sessions, verified the same way by every service behind the gateway.

The accounts service signs a staff member in and writes the session; the notifier and stats
pages read the same signed cookie (same name, same derived key), so a secretary signs in once for
the whole console. The session carries the school and the rights granted on it, and an absolute
expiry; every request re-checks both on the server.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import wraps
from typing import Iterable

from flask import abort, g, jsonify, redirect, request, session

from ts_shared.staff_actions import StaffActor

STAFF_COOKIE = "ts_staff"
STAFF_SESSION_PURPOSE = "staff-session"
LOGIN_PATH = "/admin/login"

# The console's rights on a school (J1), one per menu of the console. A head of school holds all
# of them; a delegate those the head gave. Reading the audit log and delegating are the head's.
# Academy administrators manage schools and heads (a flag of their own, no school right).
RIGHT_SERVICES = "services"  # « Gestion des téléservices »
RIGHT_SETTINGS = "settings"  # « Paramétrage » (letters included)
RIGHT_GUARDIAN_ACCESS = "guardian_access"  # « Accès des responsables »: manage and notify guardians
RIGHT_STUDENT_ACCESS = "student_access"  # « Accès des élèves »: manage and notify students
RIGHT_STATISTICS = "statistics"  # « Statistiques »
RIGHT_IMPORT = "import"  # import SIECLE / CSV files
RIGHT_AUDIT = "audit"  # the head only
RIGHT_DELEGATE = "delegate"  # the head only
DELEGABLE_RIGHTS = (RIGHT_SERVICES, RIGHT_SETTINGS, RIGHT_GUARDIAN_ACCESS, RIGHT_STUDENT_ACCESS, RIGHT_STATISTICS,
                    RIGHT_IMPORT)
SCHOOL_RIGHTS = DELEGABLE_RIGHTS + (RIGHT_AUDIT, RIGHT_DELEGATE)


@dataclass(frozen=True)
class StaffIdentity:
    staff_id: int
    login: str
    display_name: str
    school_uai: str | None
    school_name: str | None
    rights: frozenset[str]
    academy_admin: bool
    expires_at: float
    schools_count: int = 1  # schools this person works in (a switch is offered when more than one)
    school_activated: bool = True  # C1: until the head activates online services, only activation opens

    def can(self, right: str) -> bool:
        return right in self.rights

    def can_any(self, *rights: str) -> bool:
        return any(right in self.rights for right in rights)

    def to_session(self) -> dict:
        return {
            "staff_id": self.staff_id,
            "login": self.login,
            "display_name": self.display_name,
            "school_uai": self.school_uai,
            "school_name": self.school_name,
            "rights": sorted(self.rights),
            "academy_admin": self.academy_admin,
            "expires_at": self.expires_at,
            "schools_count": self.schools_count,
            "school_activated": self.school_activated,
        }

    @classmethod
    def from_session(cls, data: dict) -> "StaffIdentity":
        return cls(
            staff_id=int(data["staff_id"]),
            login=str(data["login"]),
            display_name=str(data["display_name"]),
            school_uai=data.get("school_uai"),
            school_name=data.get("school_name"),
            rights=frozenset(data.get("rights", ())),
            academy_admin=bool(data.get("academy_admin")),
            expires_at=float(data["expires_at"]),
            schools_count=int(data.get("schools_count", 1)),
            school_activated=bool(data.get("school_activated", True)),
        )


def start_staff_session(*, staff_id: int, login: str, display_name: str, school_uai: str | None,
                        school_name: str | None, rights: Iterable[str], academy_admin: bool,
                        lifetime_minutes: int, schools_count: int = 1, school_activated: bool = True) -> StaffIdentity:
    identity = StaffIdentity(staff_id, login, display_name, school_uai, school_name, frozenset(rights),
                             academy_admin, time.time() + lifetime_minutes * 60, schools_count, school_activated)
    session.clear()  # a new session id: no fixation of a pre-login session
    session["staff"] = identity.to_session()
    session.permanent = True
    return identity


def update_staff_session(identity: StaffIdentity) -> None:
    """Write back what changed (rights revoked or granted, another school chosen) so that every
    service reading the cookie sees it; the expiry does not move."""
    if session.get("staff") != identity.to_session():
        session["staff"] = identity.to_session()


def end_staff_session() -> None:
    session.clear()


def current_staff() -> StaffIdentity | None:
    data = session.get("staff")
    if not data:
        return None
    try:
        identity = StaffIdentity.from_session(data)
    except (KeyError, TypeError, ValueError):
        session.clear()
        return None
    if identity.expires_at < time.time():
        session.clear()
        return None
    return identity


def staff_required(*rights: str, any_of: bool = False):
    """Require a signed-in staff member holding every right in `rights` (or one of them, with
    `any_of`) on their school. Pages redirect to the sign-in form; API calls get a JSON 401/403."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            identity = current_staff()
            if identity is None:
                if request.path.startswith("/api/"):
                    return jsonify({"error": "Authentification requise.", "status": 401}), 401
                return redirect(f"{LOGIN_PATH}?next={request.full_path if request.query_string else request.path}")
            allowed = identity.can_any(*rights) if any_of else all(identity.can(right) for right in rights)
            if rights and not allowed:
                abort(403)
            g.staff = identity
            return view(*args, **kwargs)

        return wrapper

    return decorator


def staff_actor() -> StaffActor:
    """The signed-in staff member of this request, as the audit log names them (J2)."""
    return StaffActor(login=g.staff.login, staff_id=g.staff.staff_id, client_address=request.remote_addr)
