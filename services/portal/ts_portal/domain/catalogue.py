"""What the portal knows of each online service (C2, H7, H9): how its tile and its page present it
to a family, and who sees it. The school's settings say which services are open; the words come
from the families' guide (« La fiche de renseignements », « Les absences », « Les notes »…)."""
from __future__ import annotations

from dataclasses import dataclass

GUARDIANS = frozenset({"guardian"})
STUDENTS = frozenset({"student"})
EVERYONE = GUARDIANS | STUDENTS
ENT = "ent"  # the ENT tile (D2): not a service of the catalogue, counted like one


@dataclass(frozen=True)
class ServiceDescription:
    code: str
    title: str  # the tile's heading
    summary: str  # one line under it
    object_phrase: str  # « la liste des notes » → « la liste des notes de Dylan »
    audience: frozenset[str]
    offers: tuple[str, ...] = ()  # what the service's page says it offers
    url: str | None = None  # where the application is (academy services that have one)

    def link_text(self, first_name: str, kind: str) -> str:
        if kind == "student":
            return f"Consulter {self.object_phrase}"
        return f"{self.object_phrase} de {first_name}"

    def for_kind(self, kind: str) -> bool:
        return kind in self.audience


NATIONAL = {
    service.code: service for service in (
        ServiceDescription(
            "fiche_renseignements", "La fiche de renseignements",
            "Mettez à jour vos coordonnées et celles de votre enfant.", "la fiche de renseignements", GUARDIANS,
            ("Vérifiez les informations que l'établissement connaît de votre enfant et de ses responsables : "
             "adresse, téléphones, adresse électronique.",
             "Proposez des modifications : l'établissement les valide avant de les enregistrer.")),
        ServiceDescription(
            "vie_scolaire", "Les absences",
            "Les absences, les retards et les punitions enregistrés par la vie scolaire.", "le relevé d'absences",
            EVERYONE,
            ("Le relevé des absences et des retards, avec leur motif quand il est connu.",
             "Les punitions et sanctions enregistrées par l'établissement.")),
        ServiceDescription(
            "notes", "Les notes",
            "La liste exhaustive des notes pour chaque contrôle, tout au long de l'année.", "la liste des notes",
            EVERYONE,
            ("Les notes de chaque contrôle, matière par matière, tout au long de l'année.",
             "Les moyennes, selon le calendrier de publication choisi par l'établissement.")),
        ServiceDescription(
            "lsl", "Le livret scolaire du lycée",
            "Les résultats et appréciations de la classe de première et de terminale.", "le livret scolaire",
            EVERYONE,
            ("Les moyennes, les appréciations des professeurs et les compétences évaluées en première et en "
             "terminale, utilisées pour l'examen du baccalauréat.",)),
        ServiceDescription(
            "lsun", "Le livret scolaire du CP à la 3e",
            "Les bilans périodiques et de fin de cycle, tout au long de la scolarité.", "le livret scolaire",
            EVERYONE,
            ("Les bilans périodiques de chaque trimestre ou semestre.",
             "Les bilans de fin de cycle et les attestations (sécurité routière, premiers secours…).")),
        ServiceDescription(
            "paiement", "Le paiement en ligne des factures",
            "Réglez en ligne les factures de l'établissement (demi-pension, internat…).", "les factures",
            GUARDIANS,
            ("La liste des factures de l'établissement et ce qu'il reste à payer.",
             "Le paiement par carte bancaire, en toute sécurité.")),
        ServiceDescription(
            "folios", "Folios",
            "Les expériences et les travaux de vos parcours : orientation, arts et culture, citoyenneté.",
            "le portfolio Folios", STUDENTS,
            ("Gardez une trace de vos expériences et de vos travaux tout au long de votre scolarité.",
             "Préparez votre orientation avec vos professeurs.")),
    )
}

ENT_SERVICE = ServiceDescription(
    ENT, "L'environnement numérique de travail (ENT)",
    "Accédez aux ressources et aux services proposés aux familles par l'équipe pédagogique.", "l'ENT", EVERYONE)


def describe(code: str, *, labels: dict[str, str], urls: dict[str, str]) -> ServiceDescription:
    """A service of the catalogue: a national one as above, an academy one by its label and address."""
    if code in NATIONAL:
        return NATIONAL[code]
    label = labels.get(code) or code
    return ServiceDescription(code, label, "Un service proposé par l'académie.", f"le service « {label} »", EVERYONE,
                              (f"« {label} » est un service en ligne de l'académie, ouvert par l'établissement.",),
                              url=urls.get(code))
