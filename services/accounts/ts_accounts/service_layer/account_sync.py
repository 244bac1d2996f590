"""B1, B8 and I3, at the end of an import: the school's accounts brought in line with its
population. Every enrolled student and every guardian with legal rank 1 or 2 gets an account if
they have none — kept from a previous school of the academy when the student comes from one
(continuity, service_layer.continuity: pending while that school still has the student enrolled)
— and the accounts of departures and lost legal ranks stop serving them (the account lives on);
continuities waiting for this school's departures complete."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from ts_accounts.adapters.orm import AccountLink, Guardian, GuardianLink, School, Student
from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.domain.names import folded_name
from ts_accounts.domain.population import ImportReport
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.continuity import complete_after_departures, continue_arrivals
from ts_accounts.service_layer.directory import (
    NewCouple, bump_versions, chunks, create_accounts, emit_account_events, record_history,
)
from ts_accounts.service_layer.population import BATCH
from ts_shared.unit_of_work import UnitOfWork


def sync_accounts(uow: UnitOfWork, school: School, report: ImportReport, *, now: datetime, actor: str,
                  changed_students: set[int]) -> None:
    """`changed_students`: the students whose division or MEF the import changed (their accounts'
    snapshots are announced again)."""
    session, uai = uow.session, school.uai
    students = {row.id: row for row in session.execute(
        select(Student.id, Student.siecle_id, Student.first_name, Student.last_name, Student.usage_name,
               Student.national_id, Student.departed_at).where(Student.school_uai == uai))}
    guardians = {row.id: row for row in session.execute(
        select(Guardian.id, Guardian.siecle_id, Guardian.first_name, Guardian.last_name, Guardian.email,
               Guardian.departed_at).where(Guardian.school_uai == uai))}
    links = session.execute(
        select(GuardianLink.guardian_id, GuardianLink.student_id, GuardianLink.legal_rank)
        .join(Guardian, Guardian.id == GuardianLink.guardian_id).where(Guardian.school_uai == uai)).all()

    wanted: dict[tuple[int, int | None], int | None] = {}  # (student, guardian) -> legal rank
    for student in students.values():
        if student.departed_at is None:
            wanted[(student.id, None)] = None
    for guardian_id, student_id, rank in links:
        if rank in (1, 2) and students[student_id].departed_at is None and guardians[guardian_id].departed_at is None:
            wanted[(student_id, guardian_id)] = rank

    current = {(row.student_id, row.guardian_id): row for row in session.execute(
        select(AccountLink.id, AccountLink.account_id, AccountLink.student_id, AccountLink.guardian_id,
               AccountLink.legal_rank).where(AccountLink.school_uai == uai, AccountLink.ended_at.is_(None)))}

    touched: set[str] = set()
    # Links that no longer serve anyone here end; the account lives on (continuity, B8).
    ending = [(key, row) for key, row in current.items() if key not in wanted]
    for chunk in chunks(ending, BATCH):
        for (student_id, guardian_id), row in chunk:
            reason = ("departed" if students[student_id].departed_at is not None
                      else "guardian_departed" if guardian_id and guardians[guardian_id].departed_at is not None
                      else "no_longer_legal_guardian")
            session.execute(update(AccountLink).where(AccountLink.id == row.id)
                            .values(ended_at=now, ended_reason=reason))
            touched.add(row.account_id)
    report.account_links_ended += len(ending)
    record_history(session, [row.account_id for _, row in ending], "link_ended", now=now, actor=actor)

    # Legal rank 1 <-> 2, division or MEF changed: the accounts' snapshots changed.
    for key, row in current.items():
        if key in wanted and key[1] is not None and wanted[key] != row.legal_rank:
            session.execute(update(AccountLink).where(AccountLink.id == row.id).values(legal_rank=wanted[key]))
            touched.add(row.account_id)
        elif key in wanted and key[0] in changed_students:
            touched.add(row.account_id)

    missing = [key for key in wanted if key not in current]
    arriving = {student_id: students[student_id].national_id for student_id, guardian_id in missing
                if guardian_id is None and students[student_id].national_id}
    arrivals = continue_arrivals(uow, school, arriving, now=now, actor=Actor(login=actor))
    to_create = []
    for student_id, linked_guardian in (k for k in missing if k[0] not in arrivals.looked_after):
        student = students[student_id]
        if linked_guardian is None:
            to_create.append(NewCouple(AccountKind.STUDENT, uai, student_id, None, None, student.first_name,
                                       student.usage_name or student.last_name))
        else:
            guardian = guardians[linked_guardian]
            to_create.append(NewCouple(AccountKind.GUARDIAN, uai, student_id, linked_guardian,
                                       wanted[(student_id, linked_guardian)], guardian.first_name,
                                       guardian.last_name))
    # A stable order (names, then SIECLE ids), so homonyms get the same indexes whatever the
    # order of the file.
    to_create.sort(key=lambda c: (c.kind, folded_name(c.last_name), folded_name(c.first_name),
                                  students[c.student_id].siecle_id,
                                  guardians[c.guardian_id].siecle_id if c.guardian_id else ""))
    created = create_accounts(session, school.academy_code, to_create, now=now, actor=actor)
    report.accounts_created += len(created) + arrivals.created
    report.accounts_kept_from_previous_school += arrivals.kept
    report.continuities_pending += arrivals.pending

    bump_versions(session, touched - set(created))
    session.flush()
    emit_account_events(uow, "account.created", created, school_uai=uai)
    emit_account_events(uow, "account.updated", touched - set(created), school_uai=uai)
    # B8: the students this import recorded as departed may be awaited by another school.
    report.continuities_completed_elsewhere += complete_after_departures(
        uow, uai, now=now, actor=Actor(login=actor))
