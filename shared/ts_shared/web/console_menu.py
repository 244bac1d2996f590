"""The staff console's menu bar (seeds 003 §2–§6), shared by every service that renders console
pages, so that the accounts, notifier and stats pages show the same menus. Each entry names the
right it needs; a staff member sees only what they may open."""
from __future__ import annotations

from dataclasses import dataclass

from ts_shared.web.staff_session import (
    RIGHT_AUDIT, RIGHT_DELEGATE, RIGHT_GUARDIAN_ACCESS, RIGHT_IMPORT, RIGHT_SERVICES, RIGHT_SETTINGS,
    RIGHT_STATISTICS, RIGHT_STUDENT_ACCESS, StaffIdentity,
)


@dataclass(frozen=True)
class Entry:
    label: str
    url: str
    right: str | None  # None: academy administrators


@dataclass(frozen=True)
class Section:
    label: str
    entries: tuple[Entry, ...]


MENU = (
    Section("Gestion des téléservices", (
        Entry("Ouverture / fermeture", "/admin/services/", RIGHT_SERVICES),
        Entry("Configuration Notes", "/admin/services/notes", RIGHT_SERVICES),
        Entry("Paiement en ligne des factures", "/admin/services/payment", RIGHT_SERVICES),
        Entry("Import des fichiers SIECLE", "/admin/import", RIGHT_IMPORT),
    )),
    Section("Paramétrage", (
        Entry("Message d'accueil", "/admin/settings/welcome", RIGHT_SETTINGS),
        Entry("ENT et courrier de notification", "/admin/settings/ent", RIGHT_SETTINGS),
        Entry("Lien de contact établissement", "/admin/settings/contact", RIGHT_SETTINGS),
        Entry("Liens utiles", "/admin/settings/links", RIGHT_SETTINGS),
        Entry("Courriers de notification", "/admin/letters/", RIGHT_SETTINGS),
    )),
    Section("Accès des responsables", (
        Entry("Notifier en masse", "/admin/guardians/notify", RIGHT_GUARDIAN_ACCESS),
        Entry("Gérer le compte responsable / élève", "/admin/guardians/", RIGHT_GUARDIAN_ACCESS),
        Entry("Doublons de responsables", "/admin/guardians/duplicates", RIGHT_GUARDIAN_ACCESS),
        Entry("Comptes bientôt supprimés", "/admin/guardians/expiring", RIGHT_GUARDIAN_ACCESS),
        Entry("Suivi des notifications", "/admin/notifications/", RIGHT_GUARDIAN_ACCESS),
    )),
    Section("Accès des élèves", (
        Entry("Notifier en masse", "/admin/students/notify", RIGHT_STUDENT_ACCESS),
        Entry("Gérer le compte élève", "/admin/students/", RIGHT_STUDENT_ACCESS),
        Entry("Éditer les listes des comptes élèves", "/admin/students/class-lists", RIGHT_STUDENT_ACCESS),
        Entry("Comptes bientôt supprimés", "/admin/students/expiring", RIGHT_STUDENT_ACCESS),
        Entry("Suivi des notifications", "/admin/notifications/", RIGHT_STUDENT_ACCESS),
    )),
    Section("Statistiques", (
        Entry("Synthèse comptes élèves", "/admin/stats/", RIGHT_STATISTICS),
        Entry("Synthèse comptes responsables", "/admin/stats/responsables", RIGHT_STATISTICS),
        Entry("Synthèse accès téléservices", "/admin/stats/acces", RIGHT_STATISTICS),
    )),
    Section("Établissement", (
        Entry("Délégations", "/admin/delegations", RIGHT_DELEGATE),
        Entry("Journal des actions", "/admin/audit", RIGHT_AUDIT),
    )),
)

ACADEMY_MENU = Section("Académie", (
    Entry("Établissements", "/admin/academy/schools", None),
    Entry("Services de l'académie", "/admin/academy/services", None),
    Entry("Continuité d'accès", "/admin/academy/continuity", None),
    Entry("Campagne de notification", "/admin/stats/academie", None),
))


def menu_for(staff: StaffIdentity | None) -> list[Section]:
    """The sections and entries this staff member may open: none of the school's before its
    online services are activated (C1: every page then leads to the activation screen)."""
    if staff is None:
        return []
    sections = []
    for section in MENU if staff.school_activated else ():
        entries = tuple(entry for entry in section.entries if entry.right and staff.can(entry.right))
        if entries:
            sections.append(Section(section.label, entries))
    if staff.academy_admin:
        sections.append(ACADEMY_MENU)
    return sections


def current_section(sections: list[Section], path: str) -> str | None:
    """The section of the menu the page belongs to (the first whose entry the path starts with);
    a page shared by two sections (« Suivi des notifications ») names its own."""
    for section in sections:
        if any(path.startswith(entry.url.rstrip("/")) for entry in section.entries):
            return section.label
    return None


def breadcrumb_trail(sections: list[Section], breadcrumb: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """A page's breadcrumb with every step a link: a menu section (given without a page of its
    own, "#") leads to its first page this staff member may open; None when there is none."""
    pages = {section.label: section.entries[0].url for section in sections if section.entries}
    return [(label, pages.get(label) if not url or url == "#" else url) for label, url in breadcrumb]
