"""Staff sessions: who a staff member is, and what they may do, is decided by accounts alone,
on every request.

The accounts service signs a staff member in and keeps the session on the server (the cookie
`ts_staff` holds only an opaque id, see `server_session`): its row names the staff member and the
school being worked on, and ends at a fixed time. Rights are read from the accounts database at
every request, so a revoked delegation, a disabled account, a logout, a password change or an
expired session stop working at once.

The notifier and stats pages sit behind the same cookie but never read it for an identity: the
gateway (nginx `auth_request` in production, the in-process gateway in the embedded run) asks
accounts whose session it is (`STAFF_SESSION_CHECK_PATH`) and forwards the answer in a header
sealed with a key derived from the internal token and valid one minute (`STAFF_IDENTITY_HEADER`).
A request that did not come through the gateway has no identity.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, UTC
from functools import wraps
from collections.abc import Callable

from flask import abort, current_app, g, jsonify, redirect, request, session

from ts_shared.staff_actions import StaffActor
from ts_shared.web.server_session import server_session

STAFF_COOKIE = "ts_staff"
STAFF_SESSION_PURPOSE = "staff-session"
LOGIN_PATH = "/admin/login"
ACTIVATION_PATH = "/admin/activation"  # C1: the one page of a school before it activates its online services

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
    expires_at: float  # the session's end (seconds since the epoch)
    schools_count: int = 1  # schools this person works in (a switch is offered when more than one)
    school_activated: bool = True  # C1: until the head activates online services, only activation opens
    academy_code: str | None = None  # an academy administrator's academy (None: every academy)
    school_year: int | None = None  # I2: the school year the school is in (None: the calendar's)

    def can(self, right: str) -> bool:
        return right in self.rights

    def can_any(self, *rights: str) -> bool:
        return any(right in self.rights for right in rights)

    def to_dict(self) -> dict:
        return {**asdict(self), "rights": sorted(self.rights)}

    @classmethod
    def from_dict(cls, data: dict) -> StaffIdentity:
        return cls(**{**data, "rights": frozenset(data["rights"])})


# --- the session, as the accounts service keeps it --------------------------------------------

def staff_subject(staff_id: int) -> str:
    """Whose session it is, in the `web_sessions` table: every session of a staff member can be
    ended at once (password changed or reset, account disabled)."""
    return f"staff:{staff_id}"


def start_staff_session(*, staff_id: int, school_uai: str | None, lifetime_minutes: int) -> None:
    """A new session (a new id: no fixation of a pre-login session) that ends after
    `lifetime_minutes` whatever happens."""
    session.clear()
    server_session().rotate()
    server_session().subject = staff_subject(staff_id)
    server_session().expires_at = datetime.now(UTC) + timedelta(minutes=lifetime_minutes)
    session["staff"] = {"staff_id": staff_id, "school_uai": school_uai}
    g.pop("staff_identity", None)


def signed_in_staff() -> tuple[int, str | None] | None:
    """(staff id, school worked on) of this request's session, or None (accounts only)."""
    data = session.get("staff")
    if not isinstance(data, dict) or "staff_id" not in data:
        return None
    return int(data["staff_id"]), data.get("school_uai")


def session_expiry() -> float:
    """When this request's session ends (seconds since the epoch)."""
    expires_at = server_session().expires_at
    return expires_at.timestamp() if expires_at else time.time()


def switch_school(uai: str) -> None:
    session["staff"] = {**session["staff"], "school_uai": uai}
    g.pop("staff_identity", None)


def end_staff_session() -> None:
    """Sign out: the session's row is deleted and the cookie gets a new, empty id."""
    session.clear()
    server_session().rotate()
    server_session().subject, server_session().expires_at = None, None
    g.pop("staff_identity", None)


# --- who the staff member of this request is, on every service ---------------------------------

STAFF_RESOLVER = "ts.staff_resolver"


def current_staff() -> StaffIdentity | None:
    """The staff member of this request as accounts knows them now (resolved once per request by
    the app's resolver: the database in accounts, the gateway's header elsewhere)."""
    if "staff_identity" not in g:
        resolver: Callable[[], StaffIdentity | None] = current_app.extensions[STAFF_RESOLVER]
        g.staff_identity = resolver()
    return g.staff_identity


STAFF_SESSION_CHECK_PATH = "/internal/v1/staff-session"
STAFF_IDENTITY_HEADER = "X-TS-Staff-Identity"
_IDENTITY_HEADER_PURPOSE = b"staff-identity"
IDENTITY_HEADER_MAX_AGE = 60  # seconds: the header is made for one request


def _identity_key(internal_token: str) -> bytes:
    return hmac.new(internal_token.encode(), _IDENTITY_HEADER_PURPOSE, hashlib.sha256).digest()


def _signature(payload: str, internal_token: str) -> str:
    return hmac.new(_identity_key(internal_token), payload.encode(), hashlib.sha256).hexdigest()


def seal_identity(identity: StaffIdentity, internal_token: str) -> str:
    """The header value the gateway forwards: the identity and its time, with their HMAC."""
    body = json.dumps({"identity": identity.to_dict(), "at": time.time()}, separators=(",", ":"))
    payload = base64.urlsafe_b64encode(body.encode()).decode()
    return f"{payload}.{_signature(payload, internal_token)}"


def open_identity(value: str, internal_token: str) -> StaffIdentity | None:
    """The identity in a header sealed by `seal_identity`, or None when it is absent, forged,
    stale or malformed."""
    payload, _, signature = (value or "").partition(".")
    if not payload or not hmac.compare_digest(signature.encode(), _signature(payload, internal_token).encode()):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
        if abs(time.time() - float(data["at"])) > IDENTITY_HEADER_MAX_AGE:
            return None
        identity = StaffIdentity.from_dict(data["identity"])
    except (ValueError, KeyError, TypeError):
        return None
    return identity if identity.expires_at > time.time() else None


def identity_from_gateway() -> StaffIdentity | None:
    """The resolver of the notifier and stats: the identity the gateway checked with accounts."""
    return open_identity(request.headers.get(STAFF_IDENTITY_HEADER, ""),
                         current_app.extensions["ts.settings"].internal_token)


def staff_required(*rights: str, any_of: bool = False, needs_activation: bool | None = None):
    """Require a signed-in staff member holding every right in `rights` (or one of them, with
    `any_of`) on their school. Pages redirect to the sign-in form; API calls get a JSON 401/403.
    A page of the school (one that needs a right, unless `needs_activation=False`) opens only once
    the school has activated its online services (C1): until then it leads to the activation
    screen (an API call gets a 409)."""
    check_activation = bool(rights) if needs_activation is None else needs_activation

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
            if check_activation and identity.school_uai and not identity.school_activated:
                if request.path.startswith("/api/"):
                    return jsonify({"error": "Les téléservices de l'établissement ne sont pas encore activés.",
                                    "status": 409}), 409
                return redirect(ACTIVATION_PATH)
            g.staff = identity
            return view(*args, **kwargs)

        return wrapper

    return decorator


def staff_actor() -> StaffActor:
    """The signed-in staff member of this request, as the audit log names them (J2)."""
    return StaffActor(login=g.staff.login, staff_id=g.staff.staff_id, client_address=request.remote_addr)
