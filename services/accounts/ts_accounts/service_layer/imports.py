"""A1 and I3: importing a school's population, then bringing its accounts in line (B1, B8).

One import is one transaction: a file that turns out malformed halfway rolls everything back.
Records stream from the files into the database in batches (flat memory). Importing the same
files again changes nothing; a new export updates people, adds arrivals and marks departures
(students or guardians the export no longer lists). Then every enrolled student and every
guardian with legal rank 1 or 2 gets an account if they have none — kept from a previous school
of the academy when the student comes from one (continuity, service_layer.continuity: pending
while that school still has the student enrolled) — and the accounts of departures and lost legal
ranks stop serving them; continuities waiting for this school's departures complete.

An export that lists no student, or that would mark more than half of the enrolled students as
departed, is most likely incomplete: it is refused unless staff confirm the departures.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from ts_accounts.adapters.csv_population import CsvPopulation
from ts_accounts.adapters.orm import AccountLink, Guardian, GuardianLink, Mef, School, Structure, Student
from ts_accounts.adapters.siecle import (
    GUARDIANS, KINDS, NOMENCLATURES, STRUCTURES, STUDENTS, ExportFile, ImportFileError, iter_guardians, iter_mefs,
    iter_structures, iter_students,
)
from ts_accounts.domain.contacts import is_valid_email
from ts_accounts.domain.lifecycle import AccountKind
from ts_accounts.domain.names import folded_name
from ts_accounts.domain.population import (
    AddressRecord, GuardianRecord, ImportReport, LinkRecord, MefRecord, Rejection, StructureRecord, StudentRecord,
    StudentStructures,
)
from ts_accounts.service_layer.audit import Actor
from ts_accounts.service_layer.continuity import complete_after_departures, continue_arrivals
from ts_accounts.service_layer.directory import (
    NewCouple, bump_versions, chunks, create_accounts, emit_account_events, lock_school, record_history,
    refresh_planner_statistics,
)
from ts_accounts.service_layer.errors import Conflict, InvalidInput, NotFound
from ts_shared.db import utcnow
from ts_shared.unit_of_work import UnitOfWork

_BATCH = 1000
MOST_OF_THE_SCHOOL = 0.5  # departures beyond this share of the enrolled students need a confirmation


class DeparturesToConfirm(Conflict):
    """The export would empty most of the school: staff confirm the departures first."""

    def __init__(self, file: str, leaving: int, enrolled: int, listed: int):
        if listed == 0:
            message = (f"Le fichier {file} ne contient aucun élève : l'importer déclarerait partis "
                       f"les {enrolled} élève(s) inscrit(s).")
        else:
            message = (f"Le fichier {file} déclarerait partis {leaving} des {enrolled} élèves inscrits "
                       "(plus de la moitié de l'établissement).")
        super().__init__(message + " Vérifiez que l'export est complet ; si ces départs sont réels, confirmez-les. "
                                   "Rien n'a été modifié.")
        self.leaving, self.enrolled, self.listed = leaving, enrolled, listed


@dataclass
class PopulationSource:
    """What one import brings: any of the four kinds of data, each read lazily (streamed)."""

    files: list[str]
    mefs: Callable[[], Iterable[MefRecord]] | None = None
    structures: Callable[[], Iterable[StructureRecord]] | None = None
    students: Callable[[], Iterable[StudentRecord | StudentStructures]] | None = None
    guardians: Callable[[], Iterable[GuardianRecord | LinkRecord | AddressRecord]] | None = None
    student_file: str = ""
    guardian_file: str = ""


def source_from_exports(uai: str, exports: list[ExportFile]) -> PopulationSource:
    """Check the files belong together (one per kind, all of this school) before reading them."""
    by_kind: dict[str, ExportFile] = {}
    for export in exports:
        if export.header.uai != uai:
            raise ImportFileError(export.name, f"cet export est celui de l'établissement {export.header.uai}, "
                                               f"pas de {uai}", element="PARAMETRES", field="UAJ")
        if export.header.kind in by_kind:
            raise ImportFileError(export.name, f"un seul export « {KINDS[export.header.kind]} » par import "
                                               f"(déjà : {by_kind[export.header.kind].name})")
        by_kind[export.header.kind] = export
    return PopulationSource(
        files=[export.name for export in exports],
        mefs=(lambda e=by_kind[NOMENCLATURES]: iter_mefs(e)) if NOMENCLATURES in by_kind else None,
        structures=(lambda e=by_kind[STRUCTURES]: iter_structures(e)) if STRUCTURES in by_kind else None,
        students=(lambda e=by_kind[STUDENTS]: iter_students(e)) if STUDENTS in by_kind else None,
        guardians=(lambda e=by_kind[GUARDIANS]: iter_guardians(e)) if GUARDIANS in by_kind else None,
        student_file=by_kind[STUDENTS].name if STUDENTS in by_kind else "",
        guardian_file=by_kind[GUARDIANS].name if GUARDIANS in by_kind else "",
    )


def source_from_csv(name: str, population: CsvPopulation) -> PopulationSource:
    return PopulationSource(files=[name], mefs=lambda: population.mefs, structures=lambda: population.structures,
                            students=lambda: population.students, guardians=lambda: population.guardians,
                            student_file=name, guardian_file=name)


def import_population(uow: UnitOfWork, *, uai: str, source: PopulationSource, actor: str,
                      clock: Callable[[], datetime] = utcnow, confirm_departures: bool = False) -> ImportReport:
    """Import, in the caller's transaction (the caller commits). Raises ImportFileError on a
    malformed file, DeparturesToConfirm on a students export that would empty the school (unless
    `confirm_departures`); the caller then rolls back and nothing changes."""
    session, now = uow.session, clock()
    if not source.files:
        raise InvalidInput("Aucun fichier à importer.")
    school = lock_school(session, uai)
    if school is None:
        raise NotFound(f"L'établissement {uai} n'existe pas (tsctl school add).")
    report = ImportReport(uai=uai, files=list(source.files))
    run = _ImportRun(session, school, report, now, confirm_departures)
    if source.mefs:
        run.import_mefs(source.mefs())
    if source.structures:
        run.import_structures(source.structures())
    if source.students:
        run.import_students(source.students(), source.student_file)
    if source.guardians:
        run.import_guardians(source.guardians(), source.guardian_file)
    if source.students or source.guardians:
        refresh_planner_statistics(session, "students", "guardians", "guardian_links")
        run.sync_accounts(uow, actor)
    return report


_STUDENT_FIELDS = ("elenoet", "national_id", "last_name", "usage_name", "first_name", "first_name_2", "first_name_3",
                   "birth_date", "sex", "mef_code", "entry_date", "left_on")
_GUARDIAN_FIELDS = ("civility", "last_name", "first_name", "email", "phone_home", "phone_mobile", "phone_work")
_ADDRESS_FIELDS = ("address_lines", "postal_code", "city", "country")


@dataclass
class _ImportRun:
    session: Session
    school: School
    report: ImportReport
    now: datetime
    confirm_departures: bool = False
    student_ids: dict[str, int] = field(default_factory=dict)  # SIECLE id -> row id, this school
    changed_students: set[int] = field(default_factory=set)  # division or MEF changed: accounts to update
    changed_couples: set[tuple[int, int]] = field(default_factory=set)  # legal rank changed

    @property
    def uai(self) -> str:
        return self.school.uai

    # --- reference data ------------------------------------------------------------------------

    def import_mefs(self, records: Iterable[MefRecord]) -> None:
        existing = {mef.code: mef for mef in self.session.scalars(select(Mef).where(Mef.school_uai == self.uai))}
        for record in records:
            values = {"short_label": record.short_label, "long_label": record.long_label,
                      "edition_label": record.edition_label, "attached_mef": record.attached_mef,
                      "mefstat": record.mefstat}
            mef = existing.get(record.code)
            if mef is None:
                existing[record.code] = mef = Mef(school_uai=self.uai, code=record.code, **values)
                self.session.add(mef)
                self.report.count(self.report.created, "MEF")
            elif any(getattr(mef, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(mef, key, value)
                self.report.count(self.report.updated, "MEF")
            else:
                self.report.count(self.report.unchanged, "MEF")
        self.session.flush()

    def import_structures(self, records: Iterable[StructureRecord]) -> None:
        existing = {(s.kind, s.code): s for s in self.session.scalars(select(Structure).where(Structure.school_uai == self.uai))}
        what = {"division": "divisions", "group": "groupes"}
        for record in records:
            structure = existing.get((record.kind, record.code))
            if structure is None:
                existing[(record.kind, record.code)] = structure = Structure(
                    school_uai=self.uai, kind=record.kind, code=record.code, label=record.label)
                self.session.add(structure)
                self.report.count(self.report.created, what[record.kind])
            elif structure.label != record.label:
                structure.label = record.label
                self.report.count(self.report.updated, what[record.kind])
            else:
                self.report.count(self.report.unchanged, what[record.kind])
        self.session.flush()

    # --- students ------------------------------------------------------------------------------

    def import_students(self, records: Iterable[StudentRecord | StudentStructures], file: str) -> None:
        table = Student.__table__
        existing = {row.siecle_id: row for row in self.session.execute(
            select(table).where(table.c.school_uai == self.uai))}
        seen: dict[str, int | None] = {}
        unchanged: set[str] = set()
        placements: dict[str, StudentStructures] = {}
        inserts, updates = [], []
        today = self.now.date()
        leaving = 0  # enrolled students the export says have left (DATE_SORTIE)

        def flush() -> None:
            if inserts:
                for row in self.session.execute(insert(table).returning(table.c.id, table.c.siecle_id), inserts):
                    self.student_ids[row.siecle_id] = row.id
                inserts.clear()
            if updates:
                self.session.execute(update(table).where(table.c.id == bindparam("row_id")), updates)
                updates.clear()

        for record in records:
            if isinstance(record, StudentStructures):
                if record.siecle_id not in seen:
                    self.report.rejected.append(Rejection(file, f"élève {record.siecle_id}",
                                                          "division ou groupe d'un élève absent du fichier"))
                    continue
                placements[record.siecle_id] = record
                continue
            if record.siecle_id in seen:
                raise ImportFileError(file, f"l'élève {record.siecle_id} figure deux fois (aussi ligne {seen[record.siecle_id]})",
                                      line=record.line, element=f"ELEVE ({record.siecle_id})", field="ELEVE_ID")
            seen[record.siecle_id] = record.line
            values = {key: getattr(record, key) for key in _STUDENT_FIELDS}
            departed = self.now if record.left_on is not None and record.left_on <= today else None
            row = existing.get(record.siecle_id)
            if row is None:
                inserts.append({**values, "siecle_id": record.siecle_id, "school_uai": self.uai, "groups": [],
                                "departed_at": departed, "created_at": self.now, "updated_at": self.now})
                self.report.count(self.report.departed if departed else self.report.created, "élèves")
            else:
                self.student_ids[record.siecle_id] = row.id
                was_departed = row.departed_at is not None
                changed = any(getattr(row, key) != value for key, value in values.items())
                if changed or was_departed != (departed is not None):
                    updates.append({**values, "row_id": row.id, "departed_at": row.departed_at if was_departed and departed
                                    else departed, "updated_at": self.now})
                    if row.mef_code != record.mef_code:
                        self.changed_students.add(row.id)
                    leaving += bool(departed and not was_departed)
                    bucket = self.report.departed if departed and not was_departed else (
                        self.report.created if was_departed and not departed else self.report.updated)
                    self.report.count(bucket, "élèves")
                else:
                    unchanged.add(record.siecle_id)
                    self.report.count(self.report.unchanged, "élèves")
            if len(inserts) + len(updates) >= _BATCH:
                flush()
        flush()

        # Where each student sits. An export without the STRUCTURES section says nothing of it.
        if placements:
            moves = []
            for siecle_id, placement in placements.items():
                row = existing.get(siecle_id)
                current = (row.division, list(row.groups or [])) if row is not None else (None, [])
                wanted = (placement.division, list(placement.groups))
                if current != wanted:
                    moves.append({"row_id": self.student_ids[siecle_id], "division": wanted[0], "groups": wanted[1]})
                    if row is not None and row.division != placement.division:
                        self.changed_students.add(row.id)
                    if siecle_id in unchanged:  # only its class or groups changed
                        self.report.count(self.report.unchanged, "élèves", -1)
                        self.report.count(self.report.updated, "élèves")
            for chunk in chunks(moves, _BATCH):
                self.session.execute(update(table).where(table.c.id == bindparam("row_id")), chunk)

        # I3: students the export no longer lists have left the school.
        gone = [row.id for siecle_id, row in existing.items() if siecle_id not in seen and row.departed_at is None]
        enrolled = sum(1 for row in existing.values() if row.departed_at is None)
        leaving += len(gone)
        if not self.confirm_departures and (not seen or leaving > MOST_OF_THE_SCHOOL * enrolled):
            raise DeparturesToConfirm(file, leaving, enrolled, len(seen))
        for chunk in chunks(gone, _BATCH):
            self.session.execute(update(table).where(table.c.id.in_(chunk)).values(departed_at=self.now, updated_at=self.now))
        if gone:
            self.report.count(self.report.departed, "élèves", len(gone))

    # --- guardians and their links -------------------------------------------------------------

    def _load_student_ids(self) -> None:
        if not self.student_ids:
            self.student_ids = dict(self.session.execute(
                select(Student.siecle_id, Student.id).where(Student.school_uai == self.uai)).all())

    def import_guardians(self, records: Iterable[GuardianRecord | LinkRecord | AddressRecord], file: str) -> None:
        self._load_student_ids()
        table, links_table = Guardian.__table__, GuardianLink.__table__
        existing = {row.siecle_id: row for row in self.session.execute(select(table).where(table.c.school_uai == self.uai))}
        guardian_ids = {siecle_id: row.id for siecle_id, row in existing.items()}
        existing_links = {(row.guardian_id, row.student_id): row for row in self.session.execute(
            select(links_table).join(Guardian, Guardian.id == links_table.c.guardian_id).where(Guardian.school_uai == self.uai))}
        seen: dict[str, int | None] = {}
        address_of: dict[str, list[str]] = {}  # ADRESSE_ID -> guardians living there
        wanted_links: dict[tuple[int, int], LinkRecord] = {}
        pending_links: list[LinkRecord] = []
        addresses_seen: set[str] = set()
        inserts, updates, address_updates = [], [], []

        def flush() -> None:
            if inserts:
                for row in self.session.execute(insert(table).returning(table.c.id, table.c.siecle_id), inserts):
                    guardian_ids[row.siecle_id] = row.id
                inserts.clear()
            if updates:
                self.session.execute(update(table).where(table.c.id == bindparam("row_id")), updates)
                updates.clear()

        for record in records:
            if isinstance(record, GuardianRecord):
                if record.siecle_id in seen:
                    raise ImportFileError(file, f"le responsable {record.siecle_id} figure deux fois (aussi ligne "
                                                f"{seen[record.siecle_id]})", line=record.line,
                                          element=f"PERSONNE ({record.siecle_id})", field="PERSONNE_ID")
                seen[record.siecle_id] = record.line
                if record.email and not is_valid_email(record.email):
                    self.report.warnings.append(Rejection(
                        f"{file}, ligne {record.line}" if record.line else file,
                        f"responsable {record.siecle_id} ({record.first_name} {record.last_name})",
                        f"adresse électronique mal formée « {record.email} » : elle ne sera pas utilisée"))
                if record.address_id:
                    address_of.setdefault(record.address_id, []).append(record.siecle_id)
                values = {key: getattr(record, key) for key in _GUARDIAN_FIELDS}
                row = existing.get(record.siecle_id)
                if row is None:
                    inserts.append({**values, "siecle_id": record.siecle_id, "school_uai": self.uai, "address_lines": [],
                                    "created_at": self.now, "updated_at": self.now})
                    self.report.count(self.report.created, "responsables")
                elif any(getattr(row, key) != value for key, value in values.items()) or row.departed_at is not None:
                    updates.append({**values, "row_id": row.id, "departed_at": None, "updated_at": self.now})
                    self.report.count(self.report.updated, "responsables")
                else:
                    self.report.count(self.report.unchanged, "responsables")
                if len(inserts) + len(updates) >= _BATCH:
                    flush()
            elif isinstance(record, LinkRecord):
                pending_links.append(record)
            else:
                addresses_seen.add(record.address_id)
                values = {"address_lines": list(record.lines), "postal_code": record.postal_code, "city": record.city,
                          "country": record.country}
                for siecle_id in address_of.get(record.address_id, ()):
                    row = existing.get(siecle_id)
                    if row is None or any(getattr(row, key) != value for key, value in values.items()):
                        address_updates.append((siecle_id, values))
        flush()
        for siecle_id, values in address_updates:
            updates.append({**values, "row_id": guardian_ids[siecle_id]})
            if len(updates) >= _BATCH:
                self.session.execute(update(table).where(table.c.id == bindparam("row_id")), updates)
                updates.clear()
        if updates:
            self.session.execute(update(table).where(table.c.id == bindparam("row_id")), updates)
            updates.clear()

        for link in pending_links:
            student_id = self.student_ids.get(link.student_siecle_id)
            guardian_id = guardian_ids.get(link.guardian_siecle_id) if link.guardian_siecle_id in seen else None
            where = f"{file}, ligne {link.line}" if link.line else file
            if student_id is None:
                self.report.rejected.append(Rejection(where, f"responsable {link.guardian_siecle_id}",
                                                      f"lien vers l'élève {link.student_siecle_id}, inconnu de l'établissement"))
            elif guardian_id is None:
                self.report.rejected.append(Rejection(where, f"élève {link.student_siecle_id}",
                                                      f"lien vers le responsable {link.guardian_siecle_id}, absent du fichier"))
            else:
                wanted_links[(guardian_id, student_id)] = link

        new_links, changed_links = [], []
        for key, link in wanted_links.items():
            values = {"legal_rank": link.legal_rank, "relationship_code": link.relationship_code, "is_contact": link.is_contact}
            row = existing_links.get(key)
            if row is None:
                new_links.append({"guardian_id": key[0], "student_id": key[1], **values})
            elif any(getattr(row, column) != value for column, value in values.items()):
                changed_links.append({"g": key[0], "s": key[1], **values})
                if row.legal_rank != link.legal_rank:
                    self.changed_couples.add(key)
        for chunk in chunks(new_links, _BATCH):
            self.session.execute(insert(links_table), chunk)
        for chunk in chunks(changed_links, _BATCH):
            self.session.execute(update(links_table).where(links_table.c.guardian_id == bindparam("g"),
                                                           links_table.c.student_id == bindparam("s")), chunk)
        removed = [key for key in existing_links if key not in wanted_links]
        for guardian_id, student_id in removed:
            self.session.execute(delete(links_table).where(links_table.c.guardian_id == guardian_id,
                                                           links_table.c.student_id == student_id))
        gone = [row.id for siecle_id, row in existing.items() if siecle_id not in seen and row.departed_at is None]
        for chunk in chunks(gone, _BATCH):
            self.session.execute(update(table).where(table.c.id.in_(chunk)).values(departed_at=self.now, updated_at=self.now))
        if gone:
            self.report.count(self.report.departed, "responsables", len(gone))

    # --- accounts (B1, B8, I3) -----------------------------------------------------------------

    def sync_accounts(self, uow: UnitOfWork, actor: str) -> None:
        session = self.session
        students = {row.id: row for row in session.execute(
            select(Student.id, Student.siecle_id, Student.first_name, Student.last_name, Student.usage_name,
                   Student.national_id, Student.departed_at).where(Student.school_uai == self.uai))}
        guardians = {row.id: row for row in session.execute(
            select(Guardian.id, Guardian.siecle_id, Guardian.first_name, Guardian.last_name, Guardian.email,
                   Guardian.departed_at).where(Guardian.school_uai == self.uai))}
        links = session.execute(
            select(GuardianLink.guardian_id, GuardianLink.student_id, GuardianLink.legal_rank)
            .join(Guardian, Guardian.id == GuardianLink.guardian_id).where(Guardian.school_uai == self.uai)).all()

        wanted: dict[tuple[int, int | None], int | None] = {}  # (student, guardian) -> legal rank
        for student in students.values():
            if student.departed_at is None:
                wanted[(student.id, None)] = None
        for guardian_id, student_id, rank in links:
            if rank in (1, 2) and students[student_id].departed_at is None and guardians[guardian_id].departed_at is None:
                wanted[(student_id, guardian_id)] = rank

        current = {(row.student_id, row.guardian_id): row for row in session.execute(
            select(AccountLink.id, AccountLink.account_id, AccountLink.student_id, AccountLink.guardian_id,
                   AccountLink.legal_rank).where(AccountLink.school_uai == self.uai, AccountLink.ended_at.is_(None)))}

        touched: set[str] = set()
        # Links that no longer serve anyone here end; the account lives on (continuity, B8).
        ending = [(key, row) for key, row in current.items() if key not in wanted]
        for chunk in chunks(ending, _BATCH):
            for (student_id, guardian_id), row in chunk:
                reason = ("departed" if students[student_id].departed_at is not None
                          else "guardian_departed" if guardian_id and guardians[guardian_id].departed_at is not None
                          else "no_longer_legal_guardian")
                session.execute(update(AccountLink).where(AccountLink.id == row.id)
                                .values(ended_at=self.now, ended_reason=reason))
                touched.add(row.account_id)
        self.report.account_links_ended += len(ending)
        record_history(session, [row.account_id for _, row in ending], "link_ended", now=self.now, actor=actor)

        # Legal rank 1 <-> 2, division or MEF changed: the accounts' snapshots changed.
        for key, row in current.items():
            if key in wanted and key[1] is not None and wanted[key] != row.legal_rank:
                session.execute(update(AccountLink).where(AccountLink.id == row.id).values(legal_rank=wanted[key]))
                touched.add(row.account_id)
            elif key in wanted and key[0] in self.changed_students:
                touched.add(row.account_id)

        missing = [key for key in wanted if key not in current]
        arriving = {student_id: students[student_id].national_id for student_id, guardian_id in missing
                    if guardian_id is None and students[student_id].national_id}
        arrivals = continue_arrivals(uow, self.school, arriving, now=self.now, actor=Actor(login=actor))
        to_create = []
        for student_id, guardian_id in (k for k in missing if k[0] not in arrivals.looked_after):
            student = students[student_id]
            if guardian_id is None:
                to_create.append(NewCouple(AccountKind.STUDENT, self.uai, student_id, None, None, student.first_name,
                                           student.usage_name or student.last_name))
            else:
                guardian = guardians[guardian_id]
                to_create.append(NewCouple(AccountKind.GUARDIAN, self.uai, student_id, guardian_id,
                                           wanted[(student_id, guardian_id)], guardian.first_name, guardian.last_name))
        # A stable order (names, then SIECLE ids), so homonyms get the same indexes whatever the
        # order of the file.
        to_create.sort(key=lambda c: (c.kind, folded_name(c.last_name), folded_name(c.first_name),
                                      students[c.student_id].siecle_id,
                                      guardians[c.guardian_id].siecle_id if c.guardian_id else ""))
        created = create_accounts(session, self.school.academy_code, to_create, now=self.now, actor=actor)
        self.report.accounts_created += len(created) + arrivals.created
        self.report.accounts_kept_from_previous_school += arrivals.kept
        self.report.continuities_pending += arrivals.pending

        bump_versions(session, touched - set(created))
        session.flush()
        emit_account_events(uow, "account.created", created, school_uai=self.uai)
        emit_account_events(uow, "account.updated", touched - set(created), school_uai=self.uai)
        # B8: the students this import recorded as departed may be awaited by another school.
        self.report.continuities_completed_elsewhere += complete_after_departures(
            uow, self.uai, now=self.now, actor=Actor(login=actor))
