"""A1 and I3: importing a school's population, then bringing its accounts in line (B1, B8).

One import is one transaction: a file that turns out malformed halfway rolls everything back.
`population` writes the records the files list, `account_sync` then gives every enrolled student
and legal guardian an account (or continues the one of their previous school, B8); `import_files`
is the use case staff (console, API) and ops (tsctl) run.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from collections.abc import Callable, Iterable, Sequence

from ts_accounts.adapters.csv_population import CsvPopulation, read_csv_population
from ts_accounts.adapters.siecle import (
    GUARDIANS, KINDS, NOMENCLATURES, STRUCTURES, STUDENTS, ExportFile, ImportFileError, inspect_export, iter_guardians,
    iter_mefs, iter_structures, iter_students,
)
from ts_accounts.domain.population import (
    AddressRecord, GuardianRecord, ImportReport, LinkRecord, MefRecord, StructureRecord, StudentRecord,
    StudentStructures,
)
from ts_accounts.service_layer.account_sync import sync_accounts
from ts_accounts.service_layer.audit import Actor, record
from ts_accounts.service_layer.directory import lock_school, refresh_planner_statistics
from ts_accounts.service_layer.errors import InvalidInput, NotFound
from ts_accounts.service_layer.population import PopulationWriter
from ts_shared.db import utcnow
from ts_shared.unit_of_work import UnitOfWork

SIECLE, CSV = "siecle", "csv"  # the formats of an import: SIECLE BEE exports, or the CSV of schools without SIECLE

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
        mefs=partial(iter_mefs, by_kind[NOMENCLATURES]) if NOMENCLATURES in by_kind else None,
        structures=partial(iter_structures, by_kind[STRUCTURES]) if STRUCTURES in by_kind else None,
        students=partial(iter_students, by_kind[STUDENTS]) if STUDENTS in by_kind else None,
        guardians=partial(iter_guardians, by_kind[GUARDIANS]) if GUARDIANS in by_kind else None,
        student_file=by_kind[STUDENTS].name if STUDENTS in by_kind else "",
        guardian_file=by_kind[GUARDIANS].name if GUARDIANS in by_kind else "",
    )


def source_from_csv(name: str, population: CsvPopulation) -> PopulationSource:
    return PopulationSource(files=[name], mefs=lambda: population.mefs, structures=lambda: population.structures,
                            students=lambda: population.students, guardians=lambda: population.guardians,
                            student_file=name, guardian_file=name)


def import_population(uow: UnitOfWork, *, uai: str, source: PopulationSource, actor: str,
                      clock: Callable[[], datetime] = utcnow, confirm_departures: bool = False) -> ImportReport:
    """The step of every import, in the caller's transaction (the caller commits). Raises
    ImportFileError on a malformed file, DeparturesToConfirm on a students export that would empty
    the school (unless `confirm_departures`); the caller then rolls back and nothing changes."""
    session, now = uow.session, clock()
    if not source.files:
        raise InvalidInput("Aucun fichier à importer.")
    school = lock_school(session, uai)
    if school is None:
        raise NotFound(f"L'établissement {uai} n'existe pas (tsctl school add).")
    report = ImportReport(uai=uai, files=list(source.files))
    writer = PopulationWriter(session, school, report, now, confirm_departures)
    if source.mefs:
        writer.import_mefs(source.mefs())
    if source.structures:
        writer.import_structures(source.structures())
    if source.students:
        writer.import_students(source.students(), source.student_file)
    if source.guardians:
        writer.import_guardians(source.guardians(), source.guardian_file)
    if source.students or source.guardians:
        refresh_planner_statistics(session, "students", "guardians", "guardian_links")
        sync_accounts(uow, school, report, now=now, actor=actor, changed_students=writer.changed_students)
    return report


def import_files(uow: UnitOfWork, actor: Actor, *, uai: str, file_format: str, paths: Sequence[Path],
                 names: Sequence[str] | None = None, confirm_departures: bool = False) -> ImportReport:
    """A1: import the files of a school — SIECLE exports (one per kind, each an .xml or a .zip
    holding one) or one CSV file — record the import in the school's audit log and commit.
    `names`: the files as staff named them (uploads), for the audit log. A refused file
    (ImportFileError), departures to confirm (DeparturesToConfirm) or any other refusal: nothing
    changes."""
    names = list(names) if names is not None else [Path(path).name for path in paths]
    if file_format == CSV:
        if len(paths) != 1:
            raise InvalidInput(errors={"files": "Un seul fichier CSV par import."})
        source = source_from_csv(names[0], read_csv_population(paths[0]))
    elif file_format == SIECLE:
        source = source_from_exports(uai, [inspect_export(path) for path in paths])
    else:
        raise InvalidInput(errors={"format": "Format d'import inconnu : choisissez les exports SIECLE ou le CSV."})
    report = import_population(uow, uai=uai, source=source, actor=actor.login, confirm_departures=confirm_departures)
    record(uow.session, actor, school_uai=uai, action="import.done",
           summary=f"Import de {', '.join(names)} : {_summary(report)}"
                   + (" (départs confirmés)" if confirm_departures else ""),
           detail={"accounts_created": report.accounts_created, "rejected": len(report.rejected),
                   "warnings": len(report.warnings), "departures_confirmed": confirm_departures})
    uow.commit()
    return report


def _summary(report: ImportReport) -> str:
    parts = [f"{report.created.get(kind, 0)} {kind} créés, {report.updated.get(kind, 0)} mis à jour, "
             f"{report.departed.get(kind, 0)} partis" for kind in ("élèves", "responsables")
             if any(kind in bucket for bucket in (report.created, report.updated, report.unchanged, report.departed))]
    return "; ".join(parts) + f"; {report.accounts_created} compte(s) créé(s)"
