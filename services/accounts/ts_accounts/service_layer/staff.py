"""J1: staff users, their sign-in, their rights on schools, and delegation by the head."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, select

from ts_accounts.adapters.orm import WEB_SESSIONS, School, StaffAssignment, StaffUser
from ts_accounts.adapters.passwords import hash_password, needs_rehash, verify_password
from ts_accounts.domain.contacts import is_valid_email
from ts_accounts.domain.credentials import staff_password_problems
from ts_accounts.service_layer import throttling
from ts_accounts.service_layer.academy_scope import school_in_scope
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.errors import AlreadyExists, AuthenticationFailed, InvalidInput, NotFound
from ts_accounts.service_layer.schools import announce_settings
from ts_shared.db import utcnow
from ts_shared.emails import MAX_EMAIL_LENGTH
from ts_shared.unit_of_work import UnitOfWork
from ts_shared.web.server_session import ending
from ts_shared.web.staff_session import DELEGABLE_RIGHTS, SCHOOL_RIGHTS, staff_subject

_STAFF_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,99}$")

RIGHT_LABELS = {
    "services": "Gestion des téléservices",
    "settings": "Paramétrage (dont les courriers)",
    "guardian_access": "Accès des responsables (gérer et notifier leurs comptes)",
    "student_access": "Accès des élèves (gérer et notifier leurs comptes)",
    "statistics": "Statistiques",
    "import": "Import des fichiers SIECLE",
    "audit": "Journal des actions",
    "delegate": "Délégations",
}


@dataclass(frozen=True)
class SchoolAccess:
    uai: str
    name: str
    is_head: bool
    rights: frozenset[str]
    activated: bool  # C1: the school's online services are activated
    school_year: int | None = None  # I2: the school year the school is in


@dataclass(frozen=True)
class StaffSignIn:
    staff_id: int
    login: str
    display_name: str
    academy_admin: bool
    schools: tuple[SchoolAccess, ...]

    @property
    def first_school(self) -> SchoolAccess | None:
        return self.schools[0] if self.schools else None


def _access(assignment: StaffAssignment) -> SchoolAccess:
    rights = frozenset(SCHOOL_RIGHTS) if assignment.is_head else frozenset(assignment.rights) & set(DELEGABLE_RIGHTS)
    return SchoolAccess(assignment.school_uai, assignment.school.name, assignment.is_head, rights,
                        assignment.school.services_activated_at is not None, assignment.school.school_year)


def schools_of(staff: StaffUser) -> tuple[SchoolAccess, ...]:
    return tuple(sorted((_access(a) for a in staff.assignments), key=lambda access: (access.name, access.uai)))


def create_staff(uow: UnitOfWork, *, login: str, display_name: str, password: str, email: str | None = None,
                 academy_admin: bool = False, academy_code: str | None = None, head_of: str | None = None,
                 password_field: str = "password") -> StaffUser:
    """The step that adds a staff user (the caller commits): an academy administrator manages
    `academy_code` (None: every academy); `head_of`: the school they head. `password_field`: the
    caller's name for the password, in its error."""
    login = (login or "").strip().lower()
    if not _STAFF_LOGIN.match(login):
        raise InvalidInput(errors={"login": "Identifiant invalide : lettres minuscules, chiffres, « . », « - » ou "
                                            "« _ » (2 à 100)."})
    _check_staff_password(password, login=login, field=password_field)
    if not (display_name or "").strip():
        raise InvalidInput(errors={"display_name": "Le nom affiché est obligatoire."})
    email = (email or "").strip() or None
    if email is not None and (not is_valid_email(email) or len(email) > MAX_EMAIL_LENGTH):
        raise InvalidInput(errors={"email": "Saisissez une adresse électronique valide, par exemple "
                                            "claire.martin@ac-nancy-metz.fr."})
    if uow.session.scalar(select(StaffUser).where(StaffUser.login == login)) is not None:
        raise AlreadyExists(errors={"login": f"L'identifiant {login} est déjà utilisé."})
    academy_code = (academy_code or "").strip().upper() or None
    if academy_code is not None and not academy_admin:
        raise InvalidInput("Seul un administrateur académique est rattaché à une académie.")
    staff = StaffUser(
        login=login,
        display_name=display_name.strip(),
        email=email,
        password_hash=hash_password(password),
        academy_admin=academy_admin,
        academy_code=academy_code,
        active=True,
    )
    school = None
    if head_of is not None:
        school = uow.session.get(School, head_of)
        if school is None:
            raise NotFound(f"L'établissement {head_of} n'existe pas.")
        staff.assignments.append(StaffAssignment(school_uai=head_of, is_head=True, rights=list(SCHOOL_RIGHTS)))
    uow.session.add(staff)
    uow.session.flush()
    if school is not None:
        announce_settings(uow, school)  # the letters sign with the head's name
    return staff


def register_staff(uow: UnitOfWork, *, login: str, display_name: str, password: str, email: str | None = None,
                   academy_admin: bool = False, academy_code: str | None = None,
                   head_of: str | None = None) -> StaffUser:
    """Ops (`tsctl staff create`): a staff user, e.g. the first academy administrator."""
    staff = create_staff(uow, login=login, display_name=display_name, password=password, email=email,
                         academy_admin=academy_admin, academy_code=academy_code, head_of=head_of)
    uow.commit()
    return staff


def sign_in_staff(uow: UnitOfWork, *, login: str, password: str, client_address: str | None = None,
                  now: datetime | None = None) -> StaffSignIn:
    """Check a staff member's credentials (throttled per login and per address, like families);
    the sign-in is recorded in the audit log of their first school."""
    now = now or utcnow()
    keys = throttling.keys("staff", login, client_address)
    throttling.check(uow.session, keys, now)
    staff = uow.session.scalar(select(StaffUser).where(StaffUser.login == (login or "").strip().lower()))
    if not verify_password(staff.password_hash if staff else None, password or "") or not staff or not staff.active:
        throttling.record_failure(uow.session, keys, now)
        uow.commit()
        raise AuthenticationFailed("Identifiant ou mot de passe incorrect.")
    throttling.record_success(uow.session, keys)
    if needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    staff.last_login_at = now
    signed_in = StaffSignIn(staff.id, staff.login, staff.display_name, staff.academy_admin, schools_of(staff))
    school = signed_in.first_school
    record(uow.session, Actor(staff.login, staff.id, client_address), school_uai=school.uai if school else None,
           action="staff.signed_in", summary=f"Connexion de {staff.display_name}", now=now)
    uow.commit()
    return signed_in


def current_access(uow: UnitOfWork, staff_id: int, uai: str | None) -> tuple[StaffUser, SchoolAccess | None]:
    """What a signed-in staff member may do now (rights are read at every request, so a
    revoked delegation stops working at once). NotFound if the account was disabled."""
    staff = uow.session.get(StaffUser, staff_id)
    if staff is None or not staff.active:
        raise NotFound("Ce compte du personnel n'est plus actif.")
    access = next((a for a in schools_of(staff) if a.uai == uai), None)
    return staff, access


# --- passwords (J1) ------------------------------------------------------------------------------

def _check_staff_password(password: str, *, login: str, field: str, again: str | None = None) -> None:
    problems = staff_password_problems(password, login=login)
    if again is not None and password != again:
        problems.append("Les deux mots de passe saisis sont différents.")
    if problems:
        raise InvalidInput(errors={field: " ".join(problems)})


def _replace_password(uow: UnitOfWork, staff: StaffUser, password: str, *, keep_session: str | None = None) -> int:
    """Set the password and end the person's sessions (all, or all but `keep_session`, the one
    that made the change): a session stolen before the change is worthless after it."""
    staff.password_hash = hash_password(password)
    ended = uow.session.execute(ending(WEB_SESSIONS, subject=staff_subject(staff.id), keep_sid=keep_session))
    return cast(CursorResult, ended).rowcount  # a DELETE's result


def change_own_password(uow: UnitOfWork, actor: Actor, *, school_uai: str | None, current_password: str,
                        new_password: str, new_password_again: str, current_session: str,
                        now: datetime | None = None) -> None:
    """« Mon compte »: a staff member changes their password (the current one is asked, and
    guesses are throttled); their other sessions end."""
    now = now or utcnow()
    staff = uow.session.get(StaffUser, actor.staff_id)
    if staff is None or not staff.active:
        raise NotFound("Ce compte du personnel n'est plus actif.")
    keys = throttling.keys("staff-password", staff.login, None)
    throttling.check(uow.session, keys, now)
    if not verify_password(staff.password_hash, current_password or ""):
        throttling.record_failure(uow.session, keys, now)
        uow.commit()
        raise AuthenticationFailed(errors={"current_password": "Le mot de passe actuel est incorrect."})
    throttling.record_success(uow.session, keys)
    if new_password == current_password:
        raise InvalidInput(errors={"new_password": "Le nouveau mot de passe doit être différent de l'actuel."})
    _check_staff_password(new_password, login=staff.login, field="new_password", again=new_password_again)
    ended = _replace_password(uow, staff, new_password, keep_session=current_session)
    record(uow.session, actor, school_uai=school_uai, action="staff.password_changed", target=staff.login,
           summary=f"{staff.display_name} ({staff.login}) a changé son mot de passe",
           detail={"other_sessions_ended": ended})
    uow.commit()


def reset_delegate_password(uow: UnitOfWork, actor: Actor, *, uai: str, staff_id: int, new_password: str,
                            new_password_again: str) -> StaffUser:
    """The head gives a delegate of the school a new password (to pass on); the delegate's
    sessions end. A head of school or an academy administrator is reset by the academy (tsctl)."""
    assignment = uow.session.scalar(select(StaffAssignment).where(
        StaffAssignment.school_uai == uai, StaffAssignment.staff_id == staff_id, StaffAssignment.is_head.is_(False)))
    if assignment is None:
        raise NotFound("Cette délégation n'existe pas.")
    staff = assignment.staff
    if staff.academy_admin or any(a.is_head for a in staff.assignments):
        raise InvalidInput(f"Le mot de passe de {staff.display_name} ne peut être réinitialisé que par "
                           "l'académie : ce personnel est aussi chef d'établissement ou administrateur.")
    _check_staff_password(new_password, login=staff.login, field="new_password", again=new_password_again)
    ended = _replace_password(uow, staff, new_password)
    record(uow.session, actor, school_uai=uai, action="staff.password_reset", target=staff.login,
           summary=f"Nouveau mot de passe pour {staff.display_name} ({staff.login})",
           detail={"sessions_ended": ended})
    uow.commit()
    return staff


def set_staff_password(uow: UnitOfWork, *, login: str, password: str) -> int:
    """Ops (`tsctl staff set-password`): a new password for any staff member; their sessions end.
    Returns how many sessions ended."""
    staff = uow.session.scalar(select(StaffUser).where(StaffUser.login == (login or "").strip().lower()))
    if staff is None:
        raise NotFound(f"Le personnel {login} n'existe pas.")
    _check_staff_password(password, login=staff.login, field="password")
    ended = _replace_password(uow, staff, password)
    uow.commit()
    return ended


# --- delegation (J1) ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delegate:
    staff_id: int
    login: str
    display_name: str
    email: str | None
    rights: tuple[str, ...]
    last_login_at: datetime | None


def list_delegates(uow: UnitOfWork, uai: str) -> list[Delegate]:
    rows = uow.session.execute(
        select(StaffUser, StaffAssignment).join(StaffAssignment, StaffAssignment.staff_id == StaffUser.id)
        .where(StaffAssignment.school_uai == uai, StaffAssignment.is_head.is_(False)).order_by(StaffUser.display_name)
    ).all()
    return [Delegate(staff.id, staff.login, staff.display_name, staff.email,
                     tuple(r for r in DELEGABLE_RIGHTS if r in assignment.rights), staff.last_login_at)
            for staff, assignment in rows]


def _clean_rights(rights) -> list[str]:
    unknown = set(rights) - set(DELEGABLE_RIGHTS)
    if unknown:
        raise InvalidInput(errors={"rights": f"Droit(s) inconnu(s) : {', '.join(sorted(unknown))}."})
    if not rights:
        raise InvalidInput(errors={"rights": "Choisissez au moins une partie de la console à déléguer."})
    return [r for r in DELEGABLE_RIGHTS if r in rights]


def _existing_or_new_colleague(uow: UnitOfWork, *, login: str, display_name: str | None, email: str | None,
                               initial_password: str | None) -> StaffUser:
    """The staff user of that login, created if there is none yet."""
    login = (login or "").strip().lower()
    staff = uow.session.scalar(select(StaffUser).where(StaffUser.login == login))
    if staff is None:
        staff = _new_colleague(uow, login=login, display_name=display_name, email=email,
                               initial_password=initial_password)
    return staff


def _new_colleague(uow: UnitOfWork, *, login: str, display_name: str | None, email: str | None,
                   initial_password: str | None) -> StaffUser:
    """A staff member named by the head or the academy who has no account yet: created here."""
    if not display_name or not initial_password:
        missing = "initial_password" if not initial_password else "display_name"
        raise InvalidInput(errors={missing: "Ce personnel n'a pas encore de compte : indiquez son nom et un mot de "
                                            "passe initial."})
    return create_staff(uow, login=login, display_name=display_name, password=initial_password, email=email,
                        password_field="initial_password")


def delegate(uow: UnitOfWork, actor: Actor, *, uai: str, login: str, rights, display_name: str | None = None,
             email: str | None = None, initial_password: str | None = None) -> StaffUser:
    """Give a colleague (an existing staff user, or a new one created here) rights on the school."""
    rights = _clean_rights(rights)
    staff = _existing_or_new_colleague(uow, login=login, display_name=display_name, email=email,
                                       initial_password=initial_password)
    assignment = next((a for a in staff.assignments if a.school_uai == uai), None)
    if assignment is not None and assignment.is_head:
        raise InvalidInput(f"{staff.display_name} est chef d'établissement : il a déjà tous les droits.")
    if assignment is None:
        staff.assignments.append(StaffAssignment(school_uai=uai, is_head=False, rights=rights))
    else:
        assignment.rights = rights
    labels = ", ".join(RIGHT_LABELS[r] for r in rights)
    record(uow.session, actor, school_uai=uai, action="delegation.granted", target=staff.login,
           summary=f"Délégation à {staff.display_name} ({staff.login}) : {labels}", detail={"rights": rights})
    uow.commit()
    return staff


def revoke_delegation(uow: UnitOfWork, actor: Actor, *, uai: str, staff_id: int) -> None:
    assignment = uow.session.scalar(select(StaffAssignment).where(
        StaffAssignment.school_uai == uai, StaffAssignment.staff_id == staff_id, StaffAssignment.is_head.is_(False)))
    if assignment is None:
        raise NotFound("Cette délégation n'existe pas.")
    staff = assignment.staff
    uow.session.delete(assignment)
    record(uow.session, actor, school_uai=uai, action="delegation.revoked", target=staff.login,
           summary=f"Fin de la délégation de {staff.display_name} ({staff.login})")
    uow.commit()


def appoint_head(uow: UnitOfWork, actor: Actor, *, uai: str, login: str, display_name: str | None = None,
                 email: str | None = None, initial_password: str | None = None) -> StaffUser:
    """The academy names a head of school (created here if new); the letters sign with the name."""
    school = school_in_scope(uow, actor, uai)
    staff = _existing_or_new_colleague(uow, login=login, display_name=display_name, email=email,
                                       initial_password=initial_password)
    assignment = next((a for a in staff.assignments if a.school_uai == uai), None)
    if assignment is None:
        staff.assignments.append(StaffAssignment(school_uai=uai, is_head=True, rights=list(SCHOOL_RIGHTS)))
    else:
        assignment.is_head, assignment.rights = True, list(SCHOOL_RIGHTS)
    record(uow.session, actor, school_uai=uai, action="head.appointed", target=staff.login,
           summary=f"{staff.display_name} ({staff.login}) nommé(e) chef d'établissement de {school.name}")
    uow.session.flush()
    announce_settings(uow, school)
    uow.commit()
    return staff
