"""Use cases on staff users: creation (ops command, demo seed) and sign-in."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from ts_accounts.adapters.orm import School, StaffAssignment, StaffUser
from ts_accounts.adapters.passwords import hash_password, needs_rehash, verify_password
from ts_accounts.service_layer.errors import AlreadyExists, AuthenticationFailed, InvalidInput, NotFound
from ts_shared.db import utcnow
from ts_shared.unit_of_work import UnitOfWork
from ts_shared.web.staff_session import SCHOOL_RIGHTS

_STAFF_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,99}$")
MIN_STAFF_PASSWORD = 10


@dataclass(frozen=True)
class StaffSignIn:
    """Who signed in, and on which school with which rights (the first school they work in)."""

    staff_id: int
    login: str
    display_name: str
    academy_admin: bool
    school_uai: str | None
    school_name: str | None
    rights: frozenset[str]


def create_staff(uow: UnitOfWork, *, login: str, display_name: str, password: str, email: str | None = None,
                 academy_admin: bool = False, head_of: str | None = None) -> StaffUser:
    login = (login or "").strip().lower()
    if not _STAFF_LOGIN.match(login):
        raise InvalidInput("Identifiant invalide : lettres minuscules, chiffres, « . », « - » ou « _ » (2 à 100).")
    if len(password or "") < MIN_STAFF_PASSWORD:
        raise InvalidInput(f"Le mot de passe doit comporter au moins {MIN_STAFF_PASSWORD} caractères.")
    if not (display_name or "").strip():
        raise InvalidInput("Le nom affiché est obligatoire.")
    if uow.session.scalar(select(StaffUser).where(StaffUser.login == login)) is not None:
        raise AlreadyExists(f"L'identifiant {login} est déjà utilisé.")
    staff = StaffUser(login=login, display_name=display_name.strip(), email=email, password_hash=hash_password(password),
                      academy_admin=academy_admin, active=True)
    if head_of is not None:
        if uow.session.get(School, head_of) is None:
            raise NotFound(f"L'établissement {head_of} n'existe pas.")
        staff.assignments.append(StaffAssignment(school_uai=head_of, is_head=True, rights=list(SCHOOL_RIGHTS)))
    uow.session.add(staff)
    uow.session.flush()
    return staff


def sign_in_staff(uow: UnitOfWork, *, login: str, password: str) -> StaffSignIn:
    staff = uow.session.scalar(select(StaffUser).where(StaffUser.login == (login or "").strip().lower()))
    if not verify_password(staff.password_hash if staff else None, password or "") or not staff.active:
        raise AuthenticationFailed("Identifiant ou mot de passe incorrect.")
    if needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    staff.last_login_at = utcnow()
    assignment = min(staff.assignments, key=lambda a: a.school_uai, default=None)
    rights = frozenset(SCHOOL_RIGHTS if assignment and assignment.is_head else (assignment.rights if assignment else ()))
    return StaffSignIn(staff.id, staff.login, staff.display_name, staff.academy_admin,
                       assignment.school_uai if assignment else None,
                       assignment.school.name if assignment else None, rights)
