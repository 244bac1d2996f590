"""B8: continuity of access — a student who changes school within the academy keeps their account
and their guardians keep theirs (state kept, « conservé de l'établissement précédent »), provided
online services are open in the new school (seed 003 §4). docs/access-continuity.md explains the
rules to staff.

Continuity is never something an import can claim on its own (a head of school could otherwise
type another school's INE and a father's name, and take over the family's account):

- it is PENDING while the previous school still has the student enrolled: the arriving school
  gets no account at all for the student and its guardians (nothing to notify or reset, and no
  second account for the family); it completes by itself in the transaction of the previous
  school's import that records the departure (or of the arriving school's next import);
- a guardian's account is continued only for the same person: same name AND a shared contact
  detail of the previous school (email, phone or postal address); otherwise a new account;
- the family is told by email (confirmed address) and both schools' audit logs record it;
- the academy administrator sees the pending cases, those pending for more than CONFLICT_AFTER
  as conflicts (one INE enrolled in two schools), and resolves them: confirm the move (hand over)
  or refuse continuity (new accounts in the arriving school);
- a continued « Utilisé » account cannot be reset or replaced by the arriving school until the
  family has signed in once since (`reset_refusal`), unless the academy administrator, having
  checked with the family, authorises it (a family that lost its password and has no confirmed
  address to recover it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ts_accounts.adapters.orm import (
    AccessContinuity, Account, AccountEvent, AccountLink, Guardian, GuardianLink, School, Student,
)
from ts_accounts.domain.contacts import ContactCard, same_person
from ts_accounts.domain.lifecycle import AccountKind, AccountState
from ts_accounts.service_layer.academy_scope import managed_academy
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.directory import (
    NewCouple, bump_versions, chunks, create_accounts, emit_account_events, record_history,
)
from ts_accounts.service_layer.errors import Conflict, NotFound
from ts_accounts.service_layer.identity import display_name, request_family_email
from ts_shared.unit_of_work import UnitOfWork

PENDING, COMPLETED, REFUSED, CANCELLED = "pending", "completed", "refused", "cancelled"
# Why a continuity ended as it did.
PREVIOUS_SCHOOL_DEPARTURE = "previous_school_departure"
CONFIRMED_BY_ACADEMY = "confirmed_by_academy"
REFUSED_BY_ACADEMY = "refused_by_academy"
STUDENT_LEFT = "student_left"
NATIONAL_ID_CHANGED = "national_id_changed"
# A student enrolled in two schools this long is a conflict for the academy: schools re-import
# every week or so at the rentrée, so two weeks is more than a late export.
CONFLICT_AFTER = timedelta(days=15)

RESET_AUTHORISED = "continuity_reset_authorised"  # account history: the academy lifted the protection
NOT_YET_SIGNED_IN = (
    "Ce compte est conservé de l'établissement précédent de l'élève (continuité d'accès) et la famille ne s'y est "
    "pas encore connectée depuis : l'établissement ne peut ni réinitialiser son mot de passe ni le remplacer par un "
    "nouveau compte. La famille garde son identifiant et son mot de passe ; en cas d'oubli, elle utilise "
    "« Identifiant oublié » ou « Mot de passe oublié » sur le portail. Cette protection disparaît dès sa première "
    "connexion ; sans adresse électronique confirmée, l'administrateur académique peut, après vérification, autoriser "
    "la réinitialisation.")


def _name(student: Student) -> str:
    return f"{student.first_name} {student.display_last_name}"


def pending_continuity(session: Session, student_id: int) -> AccessContinuity | None:
    """The continuity this student of the arriving school waits for, if any."""
    return session.scalar(select(AccessContinuity).where(AccessContinuity.student_id == student_id,
                                                         AccessContinuity.status == PENDING))


def pending_students(session: Session, uai: str) -> dict[int, AccessContinuity]:
    """The school's students whose continuity is pending (the console shows « Continuité en attente »)."""
    return {claim.student_id: claim for claim in session.scalars(
        select(AccessContinuity).where(AccessContinuity.school_uai == uai, AccessContinuity.status == PENDING))}


def _protecting_link(session: Session, account: Account, school_uai: str | None = None) -> AccountLink | None:
    """The link that continued this used account into a school (`school_uai`, else any) and
    whose family has not signed in since, unless the academy authorised a reset since."""
    if account.state != AccountState.USED.value:
        return None
    query = select(AccountLink).where(AccountLink.account_id == account.id, AccountLink.ended_at.is_(None),
                                      AccountLink.kept_from_previous_school.is_(True))
    if school_uai is not None:
        query = query.where(AccountLink.school_uai == school_uai)
    link = session.scalar(query.order_by(AccountLink.started_at.desc()).limit(1))
    if link is None or (account.last_login_at is not None and account.last_login_at >= link.started_at):
        return None
    authorised = session.scalar(select(AccountEvent.id).where(
        AccountEvent.account_id == account.id, AccountEvent.action == RESET_AUTHORISED,
        AccountEvent.at >= link.started_at).limit(1))
    return None if authorised else link


def reset_refusal(session: Session, account: Account, school_uai: str) -> str | None:
    """Why the school may not reset this account's password nor replace it, or None: a used
    account continued into the school, whose family has not signed in since."""
    return NOT_YET_SIGNED_IN if _protecting_link(session, account, school_uai) else None


class ResetRefused(Conflict):
    def __init__(self):
        super().__init__(NOT_YET_SIGNED_IN)


def check_reset_allowed(session: Session, account: Account, school_uai: str) -> None:
    if reset_refusal(session, account, school_uai):
        raise ResetRefused()


class ContinuityPending(Conflict):
    def __init__(self, claim: AccessContinuity, previous_school: School):
        super().__init__(
            f"Continuité d'accès en attente : l'élève est encore inscrit(e) au {previous_school.name} "
            f"({previous_school.uai}). Les comptes de la famille seront rattachés à l'établissement dès que "
            "celui-ci aura enregistré son départ ; aucun compte n'est créé d'ici là (la famille en aurait deux). "
            "En cas de désaccord, l'administrateur académique tranche.")
        self.claim = claim


def refuse_new_account_while_pending(session: Session, student: Student) -> None:
    claim = pending_continuity(session, student.id)
    if claim is not None:
        raise ContinuityPending(claim, session.get_one(School, claim.previous_school_uai))


# --- arrivals, in the arriving school's import --------------------------------------------------

def _previous_students(session: Session, school: School, arriving: dict[int, str]) -> dict[int, int]:
    """Arriving student -> the student of the same INE in another school of the academy whose
    open accounts are the latest (a student who moved twice comes from the last school)."""
    by_national_id: dict[str, int] = {}
    for student_id, national_id in arriving.items():
        by_national_id.setdefault(national_id, student_id)
    previous: dict[int, int] = {}
    for chunk in chunks(sorted(by_national_id)):
        rows = session.execute(
            select(Student.national_id, Student.id)
            .join(AccountLink, AccountLink.student_id == Student.id)
            .join(Account, Account.id == AccountLink.account_id)
            .join(School, School.uai == Student.school_uai)
            .where(Student.national_id.in_(chunk), Student.school_uai != school.uai,
                   School.academy_code == school.academy_code, Account.closed_at.is_(None))
            .order_by(AccountLink.started_at, AccountLink.id)).all()
        for matched_national_id, previous_id in rows:  # the latest link wins
            previous[by_national_id[str(matched_national_id)]] = previous_id
    return previous


@dataclass
class Handover:
    kept: int = 0  # accounts continued
    created: int = 0  # accounts created for the couples no account could continue

    def add(self, other: Handover) -> None:
        self.kept += other.kept
        self.created += other.created


@dataclass
class Arrivals(Handover):
    looked_after: set[int] = field(default_factory=set)  # students the import must create no account for
    pending: int = 0


def continue_arrivals(uow: UnitOfWork, school: School, arriving: dict[int, str], *, now: datetime,
                      actor: Actor) -> Arrivals:
    """B8 for the students of `school` who have no account yet (student id -> INE): those coming
    from another school of the academy wait for, or get, that school's accounts."""
    session, outcome = uow.session, Arrivals()
    for student_id, claim in pending_students(session, school.uai).items():
        student = session.get_one(Student, student_id)
        if student.departed_at is not None:
            _close(uow, claim, CANCELLED, STUDENT_LEFT, now=now, actor=actor)
        elif arriving.get(student_id) != claim.national_id:
            _close(uow, claim, CANCELLED, NATIONAL_ID_CHANGED, now=now, actor=actor)
        elif session.get_one(Student, claim.previous_student_id).departed_at is not None:
            # The departure was recorded by an import that ran alongside this school's last one.
            outcome.add(complete(uow, claim, now=now, actor=actor, resolution=PREVIOUS_SCHOOL_DEPARTURE))
            outcome.looked_after.add(student_id)
        else:
            outcome.looked_after.add(student_id)
            outcome.pending += 1
    if school.services_activated_at is None:
        return outcome  # seed 003 §4: no continuity into a school whose online services are closed
    candidates = {student_id: national_id for student_id, national_id in arriving.items()
                  if student_id not in outcome.looked_after}
    for student_id, previous_id in _previous_students(session, school, candidates).items():
        previous = session.get_one(Student, previous_id)
        claim = AccessContinuity(academy_code=school.academy_code, national_id=candidates[student_id],
                                 school_uai=school.uai, student_id=student_id, previous_school_uai=previous.school_uai,
                                 previous_student_id=previous_id, status=PENDING, requested_at=now,
                                 requested_by=actor.login)
        session.add(claim)
        session.flush()
        outcome.looked_after.add(student_id)
        if previous.departed_at is not None:
            outcome.add(complete(uow, claim, now=now, actor=actor, resolution=PREVIOUS_SCHOOL_DEPARTURE))
        else:
            _audit_pending(session, claim, actor=actor, now=now)
            outcome.pending += 1
    return outcome


def complete_after_departures(uow: UnitOfWork, school_uai: str, *, now: datetime, actor: Actor) -> int:
    """In the import of the previous school: the continuities waiting for students it no longer
    has enrolled complete now. Returns how many."""
    session = uow.session
    claims = session.scalars(
        select(AccessContinuity).join(Student, Student.id == AccessContinuity.previous_student_id)
        .where(AccessContinuity.status == PENDING, AccessContinuity.previous_school_uai == school_uai,
               Student.departed_at.is_not(None)).order_by(AccessContinuity.id)).all()
    completed = 0
    for claim in claims:
        if session.get_one(Student, claim.student_id).departed_at is not None:
            _close(uow, claim, CANCELLED, STUDENT_LEFT, now=now, actor=actor)
        else:
            complete(uow, claim, now=now, actor=actor, resolution=PREVIOUS_SCHOOL_DEPARTURE)
            completed += 1
    return completed


# --- handing over ---------------------------------------------------------------------------------

def _missing_couples(session: Session, student: Student) -> dict[int | None, int | None]:
    """The student's couples in their school that have no account: guardian id (None: the
    student) -> legal rank."""
    if student.departed_at is not None:
        return {}
    wanted: dict[int | None, int | None] = {None: None}
    for guardian_id, rank in session.execute(
        select(GuardianLink.guardian_id, GuardianLink.legal_rank)
        .join(Guardian, Guardian.id == GuardianLink.guardian_id)
        .where(
            GuardianLink.student_id == student.id, GuardianLink.legal_rank.in_((1, 2)), Guardian.departed_at.is_(None)
        )
    ):
        wanted[guardian_id] = rank
    served = set(session.scalars(select(AccountLink.guardian_id).where(
        AccountLink.student_id == student.id, AccountLink.ended_at.is_(None))))
    return {guardian_id: rank for guardian_id, rank in wanted.items() if guardian_id not in served}


def _card(guardian: Guardian, account: Account | None = None) -> ContactCard:
    emails = [guardian.email or ""]
    if account is not None and account.email and account.email_confirmed_at is not None:
        emails.append(account.email)
    return ContactCard(first_name=guardian.first_name, last_name=guardian.last_name, emails=tuple(emails),
                       phones=tuple(p for p in (guardian.phone_home, guardian.phone_mobile, guardian.phone_work) if p),
                       address_lines=tuple(guardian.address_lines or ()), postal_code=guardian.postal_code,
                       city=guardian.city)


def _new_couples(session: Session, school_uai: str, student: Student,
                 couples: dict[int | None, int | None]) -> list[NewCouple]:
    new = []
    for guardian_id, rank in couples.items():
        if guardian_id is None:
            new.append(NewCouple(AccountKind.STUDENT, school_uai, student.id, None, None, student.first_name,
                                 student.display_last_name))
        else:
            guardian = session.get_one(Guardian, guardian_id)
            new.append(NewCouple(AccountKind.GUARDIAN, school_uai, student.id, guardian_id, rank, guardian.first_name,
                                 guardian.last_name))
    return new


def complete(uow: UnitOfWork, claim: AccessContinuity, *, now: datetime, actor: Actor, resolution: str) -> Handover:
    """Hand the previous school's accounts over to the arriving school: the student's account,
    and each guardian's account for the same person only; new accounts for the others. The
    family is told by email, both schools' audit logs record it."""
    session = uow.session
    student, school = session.get_one(Student, claim.student_id), session.get_one(School, claim.school_uai)
    previous_student, previous_school = (
        session.get_one(Student, claim.previous_student_id),
        session.get_one(School, claim.previous_school_uai),
    )
    couples = _missing_couples(session, student)

    student_account, guardian_accounts = None, {}  # previous guardian id -> account id (the latest)
    for account_id, guardian_id in session.execute(
            select(AccountLink.account_id, AccountLink.guardian_id).join(Account, Account.id == AccountLink.account_id)
            .where(AccountLink.student_id == previous_student.id, Account.closed_at.is_(None))
            .order_by(AccountLink.started_at, AccountLink.id)):
        if guardian_id is None:
            student_account = account_id
        else:
            guardian_accounts[guardian_id] = account_id
    known = [(_card(session.get_one(Guardian, guardian_id), session.get_one(Account, account_id)), account_id)
             for guardian_id, account_id in guardian_accounts.items()]
    kept: dict[int | None, str] = {}
    if None in couples and student_account is not None:
        kept[None] = student_account
    for guardian_id in [g for g in couples if g is not None]:
        arriving = _card(session.get_one(Guardian, guardian_id))
        match = next((account_id for card, account_id in known if same_person(card, arriving)), None)
        if match is not None:
            kept[guardian_id] = match

    # What still serves the student in the previous school stops (the academy confirmed a move
    # that school has not recorded); after a recorded departure its links have ended already.
    still_serving = session.execute(select(AccountLink.id, AccountLink.account_id).where(
        AccountLink.student_id == previous_student.id, AccountLink.ended_at.is_(None))).all()
    for chunk in chunks([row.id for row in still_serving]):
        session.execute(update(AccountLink).where(AccountLink.id.in_(chunk))
                        .values(ended_at=now, ended_reason="moved_to_another_school"))
    kept_ids = set(kept.values())
    ended_elsewhere = {row.account_id for row in still_serving} - kept_ids
    record_history(session, sorted(ended_elsewhere), "link_ended", now=now, actor=actor.login,
                   detail={"moved_to": school.uai})
    rows = [{"account_id": account_id, "school_uai": school.uai, "student_id": student.id, "guardian_id": guardian_id,
             "legal_rank": couples[guardian_id], "kept_from_previous_school": True, "started_at": now}
            for guardian_id, account_id in kept.items()]
    if rows:
        session.execute(insert(AccountLink), rows)
    record_history(session, sorted(kept_ids), "kept_from_previous_school", now=now, actor=actor.login,
                   detail={"school_uai": school.uai, "previous_school_uai": previous_school.uai})
    created = create_accounts(session, school.academy_code,
                              _new_couples(session, school.uai, student,
                                           {g: r for g, r in couples.items() if g not in kept}),
                              now=now, actor=actor.login)
    session.flush()

    logins = []
    for account_id in sorted(kept_ids):
        account = session.get_one(Account, account_id)
        logins.append(account.login)
        if account.email and account.email_confirmed_at is not None:
            request_family_email(uow, None, school_uai=school.uai, template="access_continuity", to=account.email,
                                 recipient_name=display_name(uow, account), account_id=account.id,
                                 logins=[account.login], extra={"school_name": school.name,
                                                                "previous_school_name": previous_school.name,
                                                                "student_name": student.first_name})
    bump_versions(session, kept_ids | ended_elsewhere)
    emit_account_events(uow, "account.updated", kept_ids, school_uai=school.uai)
    emit_account_events(uow, "account.updated", ended_elsewhere, school_uai=previous_school.uai)
    emit_account_events(uow, "account.created", created, school_uai=school.uai)

    why = ("départ enregistré par l'établissement précédent" if resolution == PREVIOUS_SCHOOL_DEPARTURE
           else "changement d'établissement confirmé par l'administrateur académique")
    kept_text = f"compte(s) conservé(s) : {', '.join(logins)}" if logins else "aucun compte conservé"
    detail = {"continuity_id": claim.id, "national_id": claim.national_id, "kept": logins, "created": len(created),
              "resolution": resolution, "school_uai": school.uai, "previous_school_uai": previous_school.uai}
    record(session, actor, school_uai=school.uai, action="continuity.completed", target=", ".join(logins)[:200] or None,
           now=now, detail=detail,
           summary=f"Continuité d'accès pour {_name(student)} (INE {claim.national_id}) depuis {previous_school.name} "
                   f"({previous_school.uai}), {why} : {kept_text} ; {len(created)} compte(s) créé(s)")
    record(session, actor, school_uai=previous_school.uai, action="continuity.completed",
           target=", ".join(logins)[:200] or None, now=now, detail=detail,
           summary=f"Continuité d'accès vers {school.name} ({school.uai}) pour {_name(previous_student)} "
                   f"(INE {claim.national_id}), {why} : {kept_text} (ils servent désormais cet établissement)")
    claim.status, claim.resolution, claim.resolved_at, claim.resolved_by = COMPLETED, resolution, now, actor.login
    return Handover(kept=len(kept), created=len(created))


def _close(uow: UnitOfWork, claim: AccessContinuity, status: str, resolution: str, *, now: datetime,
           actor: Actor) -> None:
    claim.status, claim.resolution, claim.resolved_at, claim.resolved_by = status, resolution, now, actor.login
    student = uow.session.get_one(Student, claim.student_id)
    reason = ("l'élève n'est plus inscrit(e) dans l'établissement" if resolution == STUDENT_LEFT
              else "l'INE de l'élève a changé dans l'import")
    record(uow.session, actor, school_uai=claim.school_uai, action="continuity.cancelled", now=now,
           detail={"continuity_id": claim.id, "national_id": claim.national_id, "resolution": resolution},
           summary=f"Continuité d'accès en attente annulée pour {_name(student)} (INE {claim.national_id}) : {reason}")


def _audit_pending(session: Session, claim: AccessContinuity, *, actor: Actor, now: datetime) -> None:
    student, school = session.get_one(Student, claim.student_id), session.get_one(School, claim.school_uai)
    previous_student, previous_school = (
        session.get_one(Student, claim.previous_student_id),
        session.get_one(School, claim.previous_school_uai),
    )
    detail = {"continuity_id": claim.id, "national_id": claim.national_id, "school_uai": school.uai,
              "previous_school_uai": previous_school.uai}
    record(
        session,
        actor,
        school_uai=school.uai,
        action="continuity.pending",
        now=now,
        detail=detail,
        summary=f"Continuité d'accès en attente pour {_name(student)} (INE {claim.national_id}) : l'élève est encore "
        f"inscrit(e) au {previous_school.name} ({previous_school.uai}) ; aucun compte n'est créé ni transmis "
        "avant que cet établissement n'enregistre son départ",
    )
    record(session, actor, school_uai=previous_school.uai, action="continuity.pending", now=now, detail=detail,
           summary=f"{school.name} ({school.uai}) a importé un élève de même INE que {_name(previous_student)} "
                   f"(INE {claim.national_id}), encore inscrit(e) ici : continuité d'accès en attente de son départ")


# --- the academy administrator's report ----------------------------------------------------------

@dataclass(frozen=True)
class PendingContinuityLine:
    id: int
    academy_code: str
    national_id: str
    student_name: str
    division: str | None
    school_uai: str
    school_name: str
    previous_student_name: str
    previous_division: str | None
    previous_school_uai: str
    previous_school_name: str
    requested_at: datetime
    conflict: bool  # enrolled in both schools for more than CONFLICT_AFTER


def pending_report(uow: UnitOfWork, actor: Actor, *, now: datetime) -> list[PendingContinuityLine]:
    """The pending continuities of the administrator's academy (every academy for a national
    administrator), conflicts first, oldest first."""
    session = uow.session
    scope = managed_academy(uow, actor)
    query = select(AccessContinuity).where(AccessContinuity.status == PENDING)
    if scope is not None:
        query = query.where(AccessContinuity.academy_code == scope)
    lines = []
    for claim in session.scalars(query.order_by(AccessContinuity.requested_at, AccessContinuity.id)):
        school = session.get_one(School, claim.school_uai)
        previous_school = session.get_one(School, claim.previous_school_uai)
        lines.append(PendingContinuityLine(
            id=claim.id, academy_code=claim.academy_code, national_id=claim.national_id,
            student_name=_name(claim.student), division=claim.student.division, school_uai=school.uai,
            school_name=school.name, previous_student_name=_name(claim.previous_student),
            previous_division=claim.previous_student.division, previous_school_uai=previous_school.uai,
            previous_school_name=previous_school.name, requested_at=claim.requested_at,
            conflict=now - claim.requested_at >= CONFLICT_AFTER))
    lines.sort(key=lambda line: (not line.conflict, line.requested_at, line.id))
    return lines


def _pending_in_scope(uow: UnitOfWork, actor: Actor, continuity_id: int) -> AccessContinuity:
    claim = uow.session.get(AccessContinuity, continuity_id)
    scope = managed_academy(uow, actor) if claim is not None else None
    if claim is None or (scope is not None and claim.academy_code != scope):
        raise NotFound("Cette continuité d'accès n'existe pas.")
    if claim.status != PENDING:
        raise Conflict("Cette continuité d'accès n'est plus en attente : elle a déjà été traitée.")
    if claim.student.departed_at is not None:
        raise Conflict("L'élève n'est plus inscrit(e) dans l'établissement d'arrivée : réimportez ses fichiers.")
    return claim


def confirm_move(uow: UnitOfWork, actor: Actor, continuity_id: int, *, now: datetime) -> AccessContinuity:
    """The administrator confirms the student moved: the accounts are handed over now, even
    though the previous school still lists the student."""
    claim = _pending_in_scope(uow, actor, continuity_id)
    complete(uow, claim, now=now, actor=actor, resolution=CONFIRMED_BY_ACADEMY)
    uow.commit()
    return claim


def refuse_continuity(uow: UnitOfWork, actor: Actor, continuity_id: int, *, now: datetime) -> AccessContinuity:
    """The administrator refuses continuity: the arriving school gets new accounts (new logins,
    Non notifié); the previous school's accounts stay where they are."""
    session = uow.session
    claim = _pending_in_scope(uow, actor, continuity_id)
    student, school = claim.student, session.get_one(School, claim.school_uai)
    previous_school = session.get_one(School, claim.previous_school_uai)
    created = create_accounts(session, school.academy_code,
                              _new_couples(session, school.uai, student, _missing_couples(session, student)),
                              now=now, actor=actor.login)
    session.flush()
    emit_account_events(uow, "account.created", created, school_uai=school.uai)
    claim.status, claim.resolution, claim.resolved_at, claim.resolved_by = REFUSED, REFUSED_BY_ACADEMY, now, actor.login
    detail = {"continuity_id": claim.id, "national_id": claim.national_id, "created": len(created),
              "school_uai": school.uai, "previous_school_uai": previous_school.uai}
    record(session, actor, school_uai=school.uai, action="continuity.refused", now=now, detail=detail,
           summary=f"Continuité d'accès refusée par l'administrateur académique pour {_name(student)} "
                   f"(INE {claim.national_id}) : {len(created)} nouveau(x) compte(s) créé(s), à notifier")
    record(session, actor, school_uai=previous_school.uai, action="continuity.refused", now=now, detail=detail,
           summary=f"Continuité d'accès vers {school.name} ({school.uai}) refusée par l'administrateur académique "
                   f"pour {_name(claim.previous_student)} (INE {claim.national_id}) : les comptes restent ici")
    uow.commit()
    return claim


def authorise_reset(uow: UnitOfWork, actor: Actor, login: str, *, now: datetime) -> tuple[Account, School]:
    """The administrator, having checked with the family (lost password, no confirmed address),
    lets the school the account was continued into reset it before the family signs in."""
    session = uow.session
    account = session.scalar(select(Account).where(Account.login == (login or "").strip().lower(),
                                                   Account.closed_at.is_(None)))
    scope = managed_academy(uow, actor) if account is not None else None
    if account is None or (scope is not None and account.academy_code != scope):
        raise NotFound(errors={"login": f"Le compte « {(login or '').strip()} » n'existe pas."})
    link = _protecting_link(session, account)
    if link is None:
        raise Conflict(errors={"login": f"Le compte {account.login} n'est pas protégé : ce n'est pas un compte "
                                        "« Utilisé » conservé d'un autre établissement en attente de la première "
                                        "connexion de la famille."})
    school = session.get_one(School, link.school_uai)
    record_history(session, [account.id], RESET_AUTHORISED, now=now, actor=actor.login,
                   detail={"school_uai": school.uai})
    record(session, actor, school_uai=school.uai, action="continuity.reset_authorised", target=account.login, now=now,
           summary=f"L'administrateur académique autorise la réinitialisation du compte {account.login}, conservé "
                   "d'un autre établissement, avant la première connexion de la famille")
    uow.commit()
    return account, school
