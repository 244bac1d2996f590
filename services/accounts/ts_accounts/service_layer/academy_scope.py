"""Which academy an academy administrator manages: checked by every academy use case, so that
an administrator of one academy can neither see nor change another's schools or catalogue.
Ops commands (no staff id) and national administrators (no academy) see every academy."""
from __future__ import annotations

from ts_accounts.adapters.orm import School, StaffUser
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.errors import InvalidInput, NotFound
from ts_shared.unit_of_work import UnitOfWork


def managed_academy(uow: UnitOfWork, actor: Actor) -> str | None:
    """The academy code the actor is limited to, or None for all of them."""
    if actor.staff_id is None:
        return None
    staff = uow.session.get(StaffUser, actor.staff_id)
    if staff is None or not staff.active or not staff.academy_admin:
        raise NotFound("Page réservée aux administrateurs académiques.")
    return staff.academy_code


def check_academy(uow: UnitOfWork, actor: Actor, academy_code: str) -> None:
    """Another academy's resources do not exist for this administrator (404, like foreign ids)."""
    scope = managed_academy(uow, actor)
    if scope is not None and scope != (academy_code or "").strip().upper():
        raise NotFound(f"L'académie {academy_code} n'existe pas.")


def check_new_school_academy(uow: UnitOfWork, actor: Actor, academy_code: str) -> None:
    scope = managed_academy(uow, actor)
    if scope is not None and scope != (academy_code or "").strip().upper():
        raise InvalidInput(errors={"academy_code": f"Le code de l'académie doit être {scope} : vous administrez "
                                                   "cette académie seulement."})


def school_in_scope(uow: UnitOfWork, actor: Actor, uai: str) -> School:
    school = uow.session.get(School, (uai or "").strip().upper())
    scope = managed_academy(uow, actor) if school is not None else None
    if school is None or (scope is not None and school.academy_code != scope):
        raise NotFound(f"L'établissement {uai} n'existe pas.")
    return school
