"""E2 and F2: finding and supporting one account — « Gérer le compte responsable / élève ».

Staff search a school's couples (guardian × student) or students, open one, see the guardian,
the student, the current account and its history, and act on it. Every query is scoped to the
school: an account is reachable only through a couple of the staff member's school."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, func, null, select
from sqlalchemy.orm import Session, aliased

from ts_accounts.adapters.orm import (
    Account, AccountEvent, AccountLink, Guardian, GuardianLink, Mef, OneTimeToken, School, Student,
)
from ts_accounts.domain.contacts import is_valid_email
from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.domain.names import french_order, name_key
from ts_accounts.service_layer.accounts import active_links, bump_version, couple_accounts, set_access_refused
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.continuity import (
    ResetRefused, check_reset_allowed, pending_continuity, pending_students, refuse_new_account_while_pending,
    reset_refusal,
)
from ts_accounts.service_layer.directory import (
    NewCouple, create_accounts, emit_account_events, lock_account, record_history,
)
from ts_accounts.service_layer.errors import InvalidInput, NotFound
from ts_accounts.service_layer.identity import request_family_email, send_confirmation_link
from ts_accounts.service_layer.notifications import (
    Couple, NotificationOrder, notification_address, plan_notifications,
)
from ts_accounts.service_layer.tokens import CONFIRM_EMAIL
from ts_shared.db import utcnow
from ts_shared.crypto import SecretBox
from ts_shared.unit_of_work import UnitOfWork

PAGE_SIZE = 100


@dataclass(frozen=True)
class SearchFilters:
    name_prefix: str | None = None  # first letters of the student's last name
    mef_code: str | None = None
    division: str | None = None
    states: tuple[str, ...] = ()  # empty: every state
    legal_rank: int | None = None


@dataclass(frozen=True)
class CoupleRow:
    """A row of the search: a student (student accounts) or a guardian of a student."""

    student_siecle_id: str
    student_last_name: str
    student_first_name: str
    birth_date: date
    division: str | None
    mef_code: str | None
    guardian_siecle_id: str | None
    guardian_name: str | None
    legal_rank: int | None
    email: str | None
    email_valid: bool
    address: str | None
    account_id: str | None
    login: str | None
    state: str | None
    notified_at: datetime | None
    notification_mode: str | None
    last_login_at: datetime | None
    kept_from_previous_school: bool
    access_refused: bool
    continuity_pending: bool = False  # B8: no account until the previous school records the departure
    student_name_key: str = ""  # the stored folded name (E2): the list's French order


def _address(guardian: Guardian | None) -> str | None:
    if guardian is None:
        return None
    parts = [*guardian.address_lines, " ".join(p for p in (guardian.postal_code, guardian.city) if p)]
    if guardian.country and guardian.country.upper() != "FRANCE":
        parts.append(guardian.country)
    return ", ".join(p for p in parts if p) or None


def search(session: Session, uai: str, kind: AccountKind, filters: SearchFilters) -> list[CoupleRow]:
    """The school's enrolled students (kind student) or legal guardian couples (kind guardian)
    matching the filters, with their current account, ordered by student then legal rank."""
    guardian = aliased(Guardian)
    link = aliased(AccountLink)
    conditions = [Student.school_uai == uai, Student.departed_at.is_(None)]
    prefix = name_key(filters.name_prefix)
    if filters.mef_code:
        conditions.append(Student.mef_code == filters.mef_code)
    if filters.division:
        conditions.append(Student.division == filters.division)
    query: Select
    if kind == AccountKind.STUDENT:
        query = (
            select(Student, null(), null(), link, Account)  # the guardian's columns, empty
            .outerjoin(link, (link.student_id == Student.id) & link.guardian_id.is_(None) & link.ended_at.is_(None))
            .outerjoin(Account, (Account.id == link.account_id) & Account.closed_at.is_(None))
        )
    else:
        query = (select(Student, GuardianLink, guardian, link, Account)
                 .join(GuardianLink, GuardianLink.student_id == Student.id)
                 .join(guardian, guardian.id == GuardianLink.guardian_id)
                 .outerjoin(link, (link.student_id == Student.id) & (link.guardian_id == guardian.id)
                            & link.ended_at.is_(None))
                 .outerjoin(Account, (Account.id == link.account_id) & Account.closed_at.is_(None)))
        conditions += [GuardianLink.legal_rank.in_((1, 2)), guardian.departed_at.is_(None)]
        if filters.legal_rank in (1, 2):
            conditions.append(GuardianLink.legal_rank == filters.legal_rank)
    if prefix and kind == AccountKind.STUDENT:
        conditions.append(starts_with(Student.name_key, prefix))
    elif prefix:  # a guardian calling gives their own name or their child's: each found by its own index
        named = aliased(Guardian)
        conditions.append(Student.id.in_(select(Student.id).where(
            Student.school_uai == uai, starts_with(Student.name_key, prefix)).scalar_subquery())
            | guardian.id.in_(select(named.id).where(named.school_uai == uai, starts_with(named.name_key, prefix))
                              .scalar_subquery()))
    if filters.states:
        conditions.append(Account.state.in_(filters.states))
    rows, waiting = [], pending_students(session, uai)
    for student, guardian_link, person, account_link, account in session.execute(query.where(*conditions)):
        rows.append(CoupleRow(
            student_siecle_id=student.siecle_id, student_last_name=student.display_last_name,
            student_first_name=student.first_name, birth_date=student.birth_date, division=student.division,
            mef_code=student.mef_code, guardian_siecle_id=person.siecle_id if person else None,
            guardian_name=" ".join(p for p in (person.last_name, person.first_name) if p) if person else None,
            legal_rank=guardian_link.legal_rank if guardian_link else None,
            email=person.email if person else None, email_valid=is_valid_email(person.email) if person else False,
            address=_address(person), account_id=account.id if account else None,
            login=account.login if account else None, state=account.state if account else None,
            notified_at=account.notified_at if account else None,
            notification_mode=account.notification_mode if account else None,
            last_login_at=account.last_login_at if account else None,
            kept_from_previous_school=bool(account_link and account_link.kept_from_previous_school),
            access_refused=bool(account and account.access_refused_at),
            continuity_pending=account is None and student.id in waiting, student_name_key=student.name_key,
        ))
    rows.sort(key=lambda r: ((r.student_name_key,) + french_order(r.student_first_name) + (r.student_last_name,),
                             r.student_siecle_id, r.legal_rank or 0))
    return rows


def starts_with(key: SQLColumnExpression[str], prefix: str) -> ColumnElement[bool]:
    """`key` (a stored `name_key`: lower-case letters and digits) begins with `prefix`, as a range
    the (school, key) index answers on every database (a LIKE would not use it on PostgreSQL
    without a pattern operator class)."""
    return (key >= prefix) & (key < prefix[:-1] + chr(ord(prefix[-1]) + 1))


def school_choices(session: Session, uai: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The MEFs (code, label) and divisions that have enrolled students, for the filters."""
    mefs = session.execute(
        select(Student.mef_code, func.max(Mef.short_label)).outerjoin(
            Mef, (Mef.school_uai == Student.school_uai) & (Mef.code == Student.mef_code))
        .where(Student.school_uai == uai, Student.departed_at.is_(None), Student.mef_code.is_not(None))
        .group_by(Student.mef_code).order_by(Student.mef_code)).all()
    divisions = session.scalars(select(Student.division).where(
        Student.school_uai == uai, Student.departed_at.is_(None), Student.division.is_not(None))
        .distinct().order_by(Student.division)).all()
    return ([(code, label or code) for code, label in mefs if code is not None],
            [division for division in divisions if division is not None])


# --- one couple ------------------------------------------------------------------------------------

@dataclass
class CoupleDetail:
    student: Student
    mef_label: str | None
    guardian: Guardian | None
    legal_rank: int | None
    account: Account | None
    link: AccountLink | None
    other_children: list[tuple[Student, str]] = field(default_factory=list)  # (student, school uai)
    history: list[tuple[Account, AccountLink]] = field(default_factory=list)
    events: list[AccountEvent] = field(default_factory=list)
    pending_from: School | None = None  # B8: the school whose departure the continuity waits for
    reset_refused: str | None = None  # B8: why the password cannot be reset nor the account replaced

    @property
    def guardian_email_valid(self) -> bool:
        return self.guardian is not None and is_valid_email(self.guardian.email)

    pending_email: OneTimeToken | None = None  # B5/H6: an address typed by the family, not confirmed yet

    @property
    def address(self) -> str | None:
        return _address(self.guardian)

    @property
    def confirmed_email(self) -> str | None:
        account = self.account
        return account.email if account and account.email_confirmed_at and is_valid_email(account.email) else None

    @property
    def write_address(self) -> str | None:
        """Where « Écrire un courriel » goes: the account's confirmed address, else a guardian's
        valid SIECLE address."""
        if self.confirmed_email:
            return self.confirmed_email
        return self.guardian.email if self.guardian and is_valid_email(self.guardian.email) else None

    @property
    def notification_address(self) -> str | None:
        """Where « Renotifier » by email goes (None: by letter only)."""
        return notification_address(self.account, self.guardian) if self.account else None


def couple_detail(session: Session, uai: str, student_siecle_id: str, guardian_siecle_id: str | None) -> CoupleDetail:
    """The couple of the school with its current account — NotFound for anything outside the
    school (another school's ids are simply unknown here)."""
    student = session.scalar(select(Student).where(Student.school_uai == uai, Student.siecle_id == student_siecle_id))
    if student is None:
        raise NotFound("Cet élève n'existe pas dans l'établissement.")
    guardian, rank = None, None
    if guardian_siecle_id is not None:
        guardian = session.scalar(
            select(Guardian).where(Guardian.school_uai == uai, Guardian.siecle_id == guardian_siecle_id)
        )
        guardian_link = session.get(GuardianLink, (guardian.id, student.id)) if guardian is not None else None
        if guardian is None or guardian_link is None:
            raise NotFound("Ce responsable n'est pas responsable de cet élève dans l'établissement.")
        rank = guardian_link.legal_rank
    link = session.scalar(select(AccountLink).where(
        AccountLink.school_uai == uai, AccountLink.student_id == student.id,
        AccountLink.guardian_id.is_(None) if guardian is None else AccountLink.guardian_id == guardian.id,
        AccountLink.ended_at.is_(None)))
    account = session.get(Account, link.account_id) if link else None
    detail = CoupleDetail(
        student=student, mef_label=None, guardian=guardian, legal_rank=rank, account=account, link=link
    )
    mef = session.get(Mef, (uai, student.mef_code)) if student.mef_code else None
    detail.mef_label = mef.long_label or mef.short_label if mef else None
    if account is not None:
        for other in active_links(session, account.id):
            if other.student_id != student.id:
                detail.other_children.append((session.get_one(Student, other.student_id), other.school_uai))
        detail.events = list(session.scalars(select(AccountEvent).where(AccountEvent.account_id == account.id)
                                             .order_by(AccountEvent.at.desc(), AccountEvent.id.desc())))
        detail.pending_email = session.scalars(select(OneTimeToken).where(
            OneTimeToken.account_id == account.id, OneTimeToken.purpose == CONFIRM_EMAIL,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > utcnow(), OneTimeToken.email.is_not(None))
            .order_by(OneTimeToken.created_at.desc(), OneTimeToken.id.desc()).limit(1)).first()
    detail.history = couple_accounts(session, student.id, guardian.id if guardian else None)
    if account is None:
        claim = pending_continuity(session, student.id)
        detail.pending_from = session.get(School, claim.previous_school_uai) if claim else None
    else:
        detail.reset_refused = reset_refusal(session, account, uai)
    return detail


def _current_account(detail: CoupleDetail, missing: str) -> Account:
    if detail.account is None:
        raise NotFound(missing)
    return detail.account


def renotify(uow: UnitOfWork, box: SecretBox, actor: Actor, *, uai: str, student_id: str, guardian_id: str | None,
             mode: str, reset_password: bool, now: datetime) -> NotificationOrder:
    """E2/F2 « Renotifier » one couple of the school (a student's account: by letter), with a new
    temporary password when asked — refused for an account continued from another school that the
    family has not used here yet (B8)."""
    detail = couple_detail(uow.session, uai, student_id, guardian_id)
    if reset_password and detail.account is not None:
        check_reset_allowed(uow.session, detail.account, uai)
    order = plan_notifications(uow, box, actor, uai=uai, couples=[Couple(student_id, guardian_id)],
                               mode=mode, reset_password=reset_password, now=now,
                               label=f"Renotification de {detail.account.login if detail.account else student_id}")
    uow.commit()
    return order


def change_access(uow: UnitOfWork, actor: Actor, *, uai: str, student_id: str, guardian_id: str | None,
                  refused: bool, now: datetime) -> Account:
    """B9: remove (the refusal coupon) or restore the couple's account's access to online services."""
    account = _current_account(couple_detail(uow.session, uai, student_id, guardian_id),
                               "Aucun compte en cours pour cet élève ou ce responsable.")
    set_access_refused(uow, account.id, refused, now=now, actor=actor.login)
    record(
        uow.session,
        actor,
        school_uai=uai,
        action="account.access_refused" if refused else "account.access_restored",
        summary=f"{'Retrait' if refused else 'Rétablissement'} de l'accès aux services en ligne pour {account.login}",
        target=account.login,
    )
    uow.commit()
    return account


def resend_activation(uow: UnitOfWork, box: SecretBox, actor: Actor, *, uai: str, student_id: str,
                      guardian_id: str | None, email: str | None, email_again: str | None, now: datetime) -> str:
    """E2: send a guardian's activation (confirmation) email again, to a corrected address if
    given. Returns the address it went to."""
    account = _current_account(couple_detail(uow.session, uai, student_id, guardian_id),
                               "Aucun compte en cours pour ce responsable.")
    sent_to = send_confirmation_link(uow, box, account, email=email, email_again=email_again, now=now,
                                     actor=actor.login)
    record(uow.session, actor, school_uai=uai, action="account.activation_resent", target=account.login,
           summary=f"Courriel d'activation renvoyé à {sent_to} pour {account.login}")
    uow.commit()
    return sent_to


def create_new_account(uow: UnitOfWork, actor: Actor, *, uai: str, student_id: str, guardian_id: str | None,
                       now: datetime) -> Account:
    """E2: a new account with a new normalised login for this couple. The old account stops
    serving it; closed if it serves nobody else (a merged account keeps its other children)."""
    session = uow.session
    detail = couple_detail(session, uai, student_id, guardian_id)
    old, link = detail.account, detail.link
    if old is not None:
        lock_account(session, old.id)  # decided on its latest state (see directory)
    # B8: no second account for a family whose continuity is pending, and no replacing of a
    # continued account before the family has signed in there (it would hand it to the school).
    if old is None:
        refuse_new_account_while_pending(session, detail.student)
    elif reset_refusal(session, old, uai):
        raise ResetRefused()
    if link is not None:
        link.ended_at, link.ended_reason = now, "replaced_by_new_account"
    student, guardian = detail.student, detail.guardian
    if guardian is not None and detail.legal_rank not in (1, 2):
        raise InvalidInput("Seuls les responsables légaux 1 et 2 ont un compte.")
    couple = (
        NewCouple(
            AccountKind.GUARDIAN,
            uai,
            student.id,
            guardian.id,
            detail.legal_rank,
            guardian.first_name,
            guardian.last_name,
        )
        if guardian
        else NewCouple(AccountKind.STUDENT, uai, student.id, None, None, student.first_name, student.display_last_name)
    )
    [new_id] = create_accounts(session, session.get_one(School, uai).academy_code, [couple], now=now, actor=actor.login)
    session.flush()
    new = session.get_one(Account, new_id)
    if old is not None:
        still_serving = active_links(session, old.id)
        bump_version(old)
        if not still_serving:
            old.closed_at, old.closed_reason = now, "replaced"
            record_history(session, [old.id], "deleted", now=now, actor=actor.login,
                           detail={"reason": "replaced", "new_login": new.login})
            emit_account_events(uow, "account.deleted", [old.id], school_uai=uai, extra={"reason": "replaced"})
        else:
            record_history(session, [old.id], "link_ended", now=now, actor=actor.login,
                           detail={"replaced_by": new.login})
            emit_account_events(uow, "account.updated", [old.id], school_uai=uai)
    emit_account_events(uow, "account.created", [new.id], school_uai=uai)
    who = (
        f"{guardian.last_name} {guardian.first_name} (responsable de {student.first_name} {student.display_last_name})"
        if guardian
        else f"{student.first_name} {student.display_last_name}"
    )
    record(session, actor, school_uai=uai, action="account.recreated", target=new.login,
           summary=f"Nouveau compte {new.login} pour {who}" + (f", à la place de {old.login}" if old else ""),
           detail={"old_login": old.login if old else None, "new_login": new.login})
    uow.commit()
    return new


@dataclass
class EmailOutcome:
    sent_to: list[str] = field(default_factory=list)
    without_address: list[str] = field(default_factory=list)


def write_to_guardians(uow: UnitOfWork, box, actor: Actor, *, uai: str, couples: list[tuple[str, str | None]],
                       subject: str, body: str, now: datetime) -> EmailOutcome:
    """« Écrire un courriel » (E2, and to a student since v17.1) / « Écrire à plusieurs
    responsables » (E1): one email per selected person who has a usable address — the account's
    confirmed one, else (a guardian) SIECLE's."""
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject or len(subject) > 200:
        raise InvalidInput("L'objet est obligatoire (200 caractères au plus).")
    if not body or len(body) > 10000:
        raise InvalidInput("Le message est obligatoire (10 000 caractères au plus).")
    session = uow.session
    school = session.get_one(School, uai)
    outcome, seen = EmailOutcome(), set()
    for student_siecle_id, guardian_siecle_id in couples:
        detail = couple_detail(session, uai, student_siecle_id, guardian_siecle_id)
        address = detail.write_address
        name = (f"{detail.guardian.first_name} {detail.guardian.last_name}" if detail.guardian
                else f"{detail.student.first_name} {detail.student.display_last_name}").strip()
        if address is None:
            outcome.without_address.append(name)
            continue
        if address.lower() in seen:  # one email per guardian, even with several children selected
            continue
        seen.add(address.lower())
        request_family_email(uow, box, school_uai=uai, template="staff_message", to=address,
                             recipient_name=name, account_id=detail.account.id if detail.account else None,
                             extra={"subject": subject, "body": body, "school_name": school.name})
        outcome.sent_to.append(address)
    if outcome.sent_to:
        record(session, actor, school_uai=uai, action="email.written", target=", ".join(outcome.sent_to[:5]),
               summary=f"Courriel « {subject} » envoyé à {len(outcome.sent_to)} "
                       + ("responsable(s)" if any(guardian for _, guardian in couples) else "élève(s)"),
               detail={"subject": subject, "recipients": len(outcome.sent_to)})
    uow.commit()
    return outcome
