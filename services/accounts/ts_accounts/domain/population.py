"""A school's population as the import files describe it (A1): plain records, whatever the
format they came in (SIECLE BEE XML or CSV)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class MefRecord:
    code: str
    short_label: str | None
    long_label: str | None
    edition_label: str | None
    attached_mef: str | None
    mefstat: str | None


@dataclass(frozen=True)
class StructureRecord:
    kind: str  # "division" | "group"
    code: str
    label: str | None


@dataclass(frozen=True)
class StudentRecord:
    siecle_id: str
    elenoet: str | None
    national_id: str | None
    last_name: str
    usage_name: str | None
    first_name: str
    first_name_2: str | None
    first_name_3: str | None
    birth_date: date
    sex: str | None
    mef_code: str | None
    entry_date: date | None
    left_on: date | None
    line: int | None = field(default=None, compare=False)  # where the file gives it (for errors)


@dataclass(frozen=True)
class StudentStructures:
    """Where a student sits: one division and any number of groups."""

    siecle_id: str
    division: str | None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class GuardianRecord:
    siecle_id: str
    civility: str | None
    last_name: str
    first_name: str
    email: str | None
    phone_home: str | None
    phone_mobile: str | None
    phone_work: str | None
    address_id: str | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AddressRecord:
    address_id: str
    lines: tuple[str, ...]
    postal_code: str | None
    city: str | None
    country: str | None


@dataclass(frozen=True)
class LinkRecord:
    student_siecle_id: str
    guardian_siecle_id: str
    legal_rank: int  # 0 = contact only (no account), 1 or 2 = legal guardian
    relationship_code: str | None
    is_contact: bool
    line: int | None = field(default=None, compare=False)


@dataclass
class Rejection:
    """A record the import could not use, and why (French, for the report)."""

    source: str  # "ElevesSansAdresses.xml, ligne 120"
    record: str  # "élève 1234567" / "responsable 998877"
    reason: str


@dataclass
class ImportReport:
    uai: str
    files: list[str] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    departed: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    # Imported, but staff should look (e.g. an email too malformed to be used).
    warnings: list[Rejection] = field(default_factory=list)
    accounts_created: int = 0
    accounts_kept_from_previous_school: int = 0
    account_links_ended: int = 0
    # B8: arriving students whose previous school still has them enrolled (no account yet), and
    # other schools' continuities completed by the departures this import recorded.
    continuities_pending: int = 0
    continuities_completed_elsewhere: int = 0

    def count(self, bucket: dict[str, int], what: str, n: int = 1) -> None:
        bucket[what] = bucket.get(what, 0) + n
