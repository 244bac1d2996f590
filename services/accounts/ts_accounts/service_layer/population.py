"""A1 and I3: a school's population as its export lists it — MEFs, divisions and groups, students,
guardians and their links — written in the import's transaction. Records stream from the files
into the database in batches (flat memory). Importing the same files again changes nothing; a new
export updates people, adds arrivals and marks departures (students or guardians the export no
longer lists). An export that lists no student, or that would mark more than half of the enrolled
students as departed, is most likely incomplete: refused unless staff confirm the departures."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import cast
from collections.abc import Iterable

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from ts_accounts.adapters.orm import Guardian, GuardianLink, Mef, School, Structure, Student
from ts_accounts.adapters.siecle import ImportFileError
from ts_accounts.domain.contacts import is_valid_email
from ts_accounts.domain.names import name_key
from ts_accounts.domain.population import (
    AddressRecord, GuardianRecord, ImportReport, LinkRecord, MefRecord, Rejection, StructureRecord, StudentRecord,
    StudentStructures,
)
from ts_accounts.service_layer.directory import chunks
from ts_accounts.service_layer.errors import Conflict

BATCH = 1000
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


_STUDENT_FIELDS = ("elenoet", "national_id", "last_name", "usage_name", "first_name", "first_name_2", "first_name_3",
                   "birth_date", "sex", "mef_code", "entry_date", "left_on")
_GUARDIAN_FIELDS = ("civility", "last_name", "first_name", "email", "phone_home", "phone_mobile", "phone_work")


def _table(model: type) -> Table:
    """A mapped class's table, for Core statements over many rows at once."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


@dataclass
class PopulationWriter:
    """One import's writing of the population of `school`; counts what it did in `report`, and
    remembers the students whose accounts' snapshots changed (division or MEF)."""

    session: Session
    school: School
    report: ImportReport
    now: datetime
    confirm_departures: bool = False
    student_ids: dict[str, int] = field(default_factory=dict)  # SIECLE id -> row id, this school
    changed_students: set[int] = field(default_factory=set)  # division or MEF changed: accounts to update

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
        existing = {
            (s.kind, s.code): s for s in self.session.scalars(select(Structure).where(Structure.school_uai == self.uai))
        }
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
        table = _table(Student)
        existing = {row.siecle_id: row for row in self.session.execute(
            select(table).where(table.c.school_uai == self.uai))}
        batch = _RowBatch(self.session, table, self.student_ids)
        seen: dict[str, int | None] = {}
        unchanged: set[str] = set()
        placements: dict[str, StudentStructures] = {}
        leaving = 0  # enrolled students the export says have left (DATE_SORTIE)
        for record in records:
            if isinstance(record, StudentStructures):
                if record.siecle_id not in seen:
                    self.report.rejected.append(Rejection(file, f"élève {record.siecle_id}",
                                                          "division ou groupe d'un élève absent du fichier"))
                    continue
                placements[record.siecle_id] = record
                continue
            if record.siecle_id in seen:
                raise ImportFileError(
                    file,
                    f"l'élève {record.siecle_id} figure deux fois (aussi ligne {seen[record.siecle_id]})",
                    line=record.line,
                    element=f"ELEVE ({record.siecle_id})",
                    field="ELEVE_ID",
                )
            seen[record.siecle_id] = record.line
            leaving += self._student(record, existing.get(record.siecle_id), batch, unchanged)
        batch.flush()
        if placements:  # an export without the STRUCTURES section says nothing of where students sit
            self._place_students(placements, existing, unchanged)
        self._students_departed(existing, seen, leaving, file)

    def _student(self, record: StudentRecord, row, batch: _RowBatch, unchanged: set[str]) -> int:
        """Write one student of the export; 1 if the export says this enrolled student has left."""
        values = {key: getattr(record, key) for key in _STUDENT_FIELDS}
        values["name_key"] = name_key(record.usage_name or record.last_name)
        departed = self.now if record.left_on is not None and record.left_on <= self.now.date() else None
        if row is None:
            batch.insert({**values, "siecle_id": record.siecle_id, "school_uai": self.uai, "groups": [],
                          "departed_at": departed, "created_at": self.now, "updated_at": self.now})
            self.report.count(self.report.departed if departed else self.report.created, "élèves")
            return 0
        self.student_ids[record.siecle_id] = row.id
        was_departed = row.departed_at is not None
        changed = any(getattr(row, key) != value for key, value in values.items())
        if not changed and was_departed == (departed is not None):
            unchanged.add(record.siecle_id)
            self.report.count(self.report.unchanged, "élèves")
            return 0
        batch.update({
            **values,
            "row_id": row.id,
            "departed_at": row.departed_at if was_departed and departed else departed,
            "updated_at": self.now,
        })
        if row.mef_code != record.mef_code:
            self.changed_students.add(row.id)
        bucket = self.report.departed if departed and not was_departed else (
            self.report.created if was_departed and not departed else self.report.updated)
        self.report.count(bucket, "élèves")
        return int(bool(departed and not was_departed))

    def _place_students(self, placements: dict[str, StudentStructures], existing: dict, unchanged: set[str]) -> None:
        """Where each student sits: their division and groups."""
        table = _table(Student)
        moves = []
        for siecle_id, placement in placements.items():
            row = existing.get(siecle_id)
            current = (row.division, list(row.groups or [])) if row is not None else (None, [])
            wanted = (placement.division, list(placement.groups))
            if current == wanted:
                continue
            moves.append({"row_id": self.student_ids[siecle_id], "division": wanted[0], "groups": wanted[1]})
            if row is not None and row.division != placement.division:
                self.changed_students.add(row.id)
            if siecle_id in unchanged:  # only its class or groups changed
                self.report.count(self.report.unchanged, "élèves", -1)
                self.report.count(self.report.updated, "élèves")
        for chunk in chunks(moves, BATCH):
            self.session.execute(update(table).where(table.c.id == bindparam("row_id")), chunk)

    def _students_departed(self, existing: dict, seen: dict[str, int | None], leaving: int, file: str) -> None:
        """I3: students the export no longer lists have left the school."""
        gone = [row.id for siecle_id, row in existing.items() if siecle_id not in seen and row.departed_at is None]
        enrolled = sum(1 for row in existing.values() if row.departed_at is None)
        leaving += len(gone)
        if not self.confirm_departures and (not seen or leaving > MOST_OF_THE_SCHOOL * enrolled):
            raise DeparturesToConfirm(file, leaving, enrolled, len(seen))
        self._mark_departed(_table(Student), gone, "élèves")

    def _mark_departed(self, table: Table, row_ids: list[int], what: str) -> None:
        for chunk in chunks(row_ids, BATCH):
            self.session.execute(
                update(table).where(table.c.id.in_(chunk)).values(departed_at=self.now, updated_at=self.now)
            )
        if row_ids:
            self.report.count(self.report.departed, what, len(row_ids))

    # --- guardians and their links -------------------------------------------------------------

    def _load_student_ids(self) -> None:
        if not self.student_ids:
            self.student_ids = dict(self.session.execute(
                select(Student.siecle_id, Student.id).where(Student.school_uai == self.uai)).all())

    def import_guardians(self, records: Iterable[GuardianRecord | LinkRecord | AddressRecord], file: str) -> None:
        self._load_student_ids()
        table = _table(Guardian)
        existing = {
            row.siecle_id: row for row in self.session.execute(select(table).where(table.c.school_uai == self.uai))
        }
        batch = _RowBatch(self.session, table, {siecle_id: row.id for siecle_id, row in existing.items()})
        seen: dict[str, int | None] = {}
        address_of: dict[str, list[str]] = {}  # ADRESSE_ID -> guardians living there
        pending_links: list[LinkRecord] = []
        address_updates: list[tuple[str, dict]] = []
        for record in records:
            if isinstance(record, GuardianRecord):
                if record.siecle_id in seen:
                    raise ImportFileError(file, f"le responsable {record.siecle_id} figure deux fois (aussi ligne "
                                                f"{seen[record.siecle_id]})", line=record.line,
                                          element=f"PERSONNE ({record.siecle_id})", field="PERSONNE_ID")
                seen[record.siecle_id] = record.line
                if record.address_id:
                    address_of.setdefault(record.address_id, []).append(record.siecle_id)
                self._guardian(record, existing.get(record.siecle_id), batch, file)
            elif isinstance(record, LinkRecord):
                pending_links.append(record)
            else:
                values = {"address_lines": list(record.lines), "postal_code": record.postal_code, "city": record.city,
                          "country": record.country}
                for siecle_id in address_of.get(record.address_id, ()):
                    row = existing.get(siecle_id)
                    if row is None or any(getattr(row, key) != value for key, value in values.items()):
                        address_updates.append((siecle_id, values))
        batch.flush()
        for siecle_id, values in address_updates:
            batch.update({**values, "row_id": batch.ids[siecle_id]})
        batch.flush()
        self._write_links(self._wanted_links(pending_links, batch.ids, seen, file))
        gone = [row.id for siecle_id, row in existing.items() if siecle_id not in seen and row.departed_at is None]
        self._mark_departed(table, gone, "responsables")

    def _guardian(self, record: GuardianRecord, row, batch: _RowBatch, file: str) -> None:
        if record.email and not is_valid_email(record.email):
            self.report.warnings.append(Rejection(
                f"{file}, ligne {record.line}" if record.line else file,
                f"responsable {record.siecle_id} ({record.first_name} {record.last_name})",
                f"adresse électronique mal formée « {record.email} » : elle ne sera pas utilisée"))
        values = {key: getattr(record, key) for key in _GUARDIAN_FIELDS}
        values["name_key"] = name_key(record.last_name)
        if row is None:
            batch.insert({**values, "siecle_id": record.siecle_id, "school_uai": self.uai, "address_lines": [],
                          "created_at": self.now, "updated_at": self.now})
            self.report.count(self.report.created, "responsables")
        elif any(getattr(row, key) != value for key, value in values.items()) or row.departed_at is not None:
            batch.update({**values, "row_id": row.id, "departed_at": None, "updated_at": self.now})
            self.report.count(self.report.updated, "responsables")
        else:
            self.report.count(self.report.unchanged, "responsables")

    def _wanted_links(self, links: list[LinkRecord], guardian_ids: dict[str, int], seen: dict[str, int | None],
                      file: str) -> dict[tuple[int, int], LinkRecord]:
        """The export's links between its students and its guardians; others are rejected."""
        wanted: dict[tuple[int, int], LinkRecord] = {}
        for link in links:
            student_id = self.student_ids.get(link.student_siecle_id)
            guardian_id = guardian_ids.get(link.guardian_siecle_id) if link.guardian_siecle_id in seen else None
            where = f"{file}, ligne {link.line}" if link.line else file
            if student_id is None:
                self.report.rejected.append(Rejection(
                    where, f"responsable {link.guardian_siecle_id}",
                    f"lien vers l'élève {link.student_siecle_id}, inconnu de l'établissement"))
            elif guardian_id is None:
                self.report.rejected.append(Rejection(
                    where, f"élève {link.student_siecle_id}",
                    f"lien vers le responsable {link.guardian_siecle_id}, absent du fichier"))
            else:
                wanted[(guardian_id, student_id)] = link
        return wanted

    def _write_links(self, wanted_links: dict[tuple[int, int], LinkRecord]) -> None:
        links_table = _table(GuardianLink)
        existing_links = {
            (row.guardian_id, row.student_id): row
            for row in self.session.execute(
                select(links_table)
                .join(Guardian, Guardian.id == links_table.c.guardian_id)
                .where(Guardian.school_uai == self.uai)
            )
        }
        new_links, changed_links = [], []
        for key, link in wanted_links.items():
            values = {
                "legal_rank": link.legal_rank,
                "relationship_code": link.relationship_code,
                "is_contact": link.is_contact,
            }
            row = existing_links.get(key)
            if row is None:
                new_links.append({"guardian_id": key[0], "student_id": key[1], **values})
            elif any(getattr(row, column) != value for column, value in values.items()):
                changed_links.append({"g": key[0], "s": key[1], **values})
        for chunk in chunks(new_links, BATCH):
            self.session.execute(insert(links_table), chunk)
        for chunk in chunks(changed_links, BATCH):
            self.session.execute(update(links_table).where(links_table.c.guardian_id == bindparam("g"),
                                                           links_table.c.student_id == bindparam("s")), chunk)
        removed = [key for key in existing_links if key not in wanted_links]
        for guardian_id, student_id in removed:
            self.session.execute(delete(links_table).where(links_table.c.guardian_id == guardian_id,
                                                           links_table.c.student_id == student_id))


@dataclass
class _RowBatch:
    """Inserts and updates of one table, written `BATCH` rows at a time (flat memory for any school);
    `ids` learns the row id of each inserted SIECLE id."""

    session: Session
    table: Table
    ids: dict[str, int]
    inserts: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)

    def insert(self, row: dict) -> None:
        self.inserts.append(row)
        self._flush_when_full()

    def update(self, row: dict) -> None:
        self.updates.append(row)
        self._flush_when_full()

    def _flush_when_full(self) -> None:
        if len(self.inserts) + len(self.updates) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.inserts:
            returning = insert(self.table).returning(self.table.c.id, self.table.c.siecle_id)
            for row in self.session.execute(returning, self.inserts):
                self.ids[row.siecle_id] = row.id
            self.inserts.clear()
        if self.updates:
            self.session.execute(update(self.table).where(self.table.c.id == bindparam("row_id")), self.updates)
            self.updates.clear()
