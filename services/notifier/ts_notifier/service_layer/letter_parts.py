"""Use cases of the letter editor (D3): list a school's parts, save one (checked, sanitised), reset
one to its default. A refused text changes nothing: the previous version stays. Each save and reset
is reported to the audit log (J2) that the accounts service keeps, in its own transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from jinja2 import TemplateError
from sqlalchemy.orm import Session

from ts_notifier.adapters.orm import LetterPart
from ts_notifier.adapters.pdf import PdfRenderingFailed
from ts_notifier.domain.letters import CASES_WITH_PASSWORD, HEADER, PART_LABELS, PARTS
from ts_notifier.service_layer import letter_templates as templates
from ts_notifier.service_layer.letter_pages import preview_pdf
from ts_shared.db import utcnow
from ts_shared.staff_actions import StaffActor, report_staff_action
from ts_shared.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class PartState:
    part: str
    label: str
    customised: bool
    updated_at: datetime | None
    updated_by: str | None


def list_parts(session: Session, school_uai: str) -> list[PartState]:
    stored = templates.customised_parts(session, school_uai)
    return [PartState(part, PART_LABELS[part], part in stored, stored[part].updated_at if part in stored else None,
                      stored[part].updated_by if part in stored else None) for part in PARTS]


def current_source(session: Session, school_uai: str, part: str) -> str:
    row = session.get(LetterPart, (school_uai, part))
    return row.source if row is not None else templates.default_source(part)


@dataclass(frozen=True)
class CheckedText:
    source: str  # sanitised
    cleaned: bool  # the sanitiser removed something from what was typed
    warnings: list[str]  # allowed, but probably not what the school wants
    pdf: bytes  # the part rendered with the sample family (the last check)


def _warnings(part: str, source: str) -> list[str]:
    if part == HEADER:
        used = templates.fields_used(source)
        missing = [label for field, label in (("destinataire", "le nom du destinataire"),
                                             ("adresse_destinataire", "son adresse"),
                                             ("etablissement", "le nom de l'établissement")) if field not in used]
        return [f"L'en-tête n'imprime plus {', '.join(missing)}."] if missing else []
    used = templates.fields_used(source)
    needed = [("identifiant", "l'identifiant"), ("adresse_portail", "l'adresse internet des services")]
    if part in CASES_WITH_PASSWORD:
        needed.append(("mot_de_passe", "le mot de passe provisoire"))
    missing = [label for field, label in needed if field not in used]
    return [f"Attention : ce courrier ne donne plus {', '.join(missing)} au destinataire."] if missing else []


def _in_order_within(kept: list[str], typed: list[str]) -> bool:
    """Whether the sanitiser only dropped fields (those of a comment or of a removed tag), without
    moving or altering any (nh3 moves text out of table rows, and escapes < > &)."""
    remaining = iter(typed)
    return all(token in remaining for token in kept)


def check_text(session: Session, school_uai: str, part: str, raw: str, *, public_url: str, on: date) -> CheckedText:
    """The text `raw` as it would be saved for `part`, checked and rendered with the sample
    family; raises LetterPartRejected with every reason otherwise."""
    if part not in PARTS:
        raise templates.LetterPartRejected([f"La partie « {part} » n'existe pas."])
    raw = (raw or "").replace("\r\n", "\n")
    if len(raw) > templates.MAX_SOURCE_LENGTH * 2:
        raise templates.LetterPartRejected([f"Le texte est trop long ({len(raw)} caractères, "
                                            f"{templates.MAX_SOURCE_LENGTH} au plus)."])
    source = templates.sanitise(raw)
    typed = templates.JINJA_TOKEN.findall(raw)
    kept = templates.JINJA_TOKEN.findall(source)
    if not _in_order_within(kept, typed):
        raise templates.LetterPartRejected([
            "Le nettoyage du HTML a déplacé ou modifié des champs {{ … }} ou des instructions {% … %} : n'y mettez "
            "pas les caractères < > &, et dans un tableau placez les conditions à l'intérieur des cellules."])
    errors = templates.check_source(part, source)
    if errors:
        raise templates.LetterPartRejected(errors)
    try:
        pdf = preview_pdf(session, school_uai, part, public_url=public_url, on=on, source=source)
    except RecursionError as error:  # a last wall: check_source already refuses texts nested this deep
        raise templates.LetterPartRejected([templates.TOO_NESTED]) from error
    except PdfRenderingFailed as error:
        raise templates.LetterPartRejected(["Le courrier ne peut pas être mis en page avec ce texte : simplifiez sa "
                                            "mise en forme (tableaux, listes et blocs imbriqués)."]) from error
    except (TemplateError, ValueError, TypeError) as error:
        raise templates.LetterPartRejected([f"Le courrier ne peut pas être produit avec ce texte pour la famille "
                                            f"d'exemple : {error}"]) from error
    return CheckedText(source, templates.sanitising_changed_text(raw, source), _warnings(part, source), pdf)


def save_part(uow: UnitOfWork, school_uai: str, part: str, raw: str, *, by: StaffActor, public_url: str,
              on: date) -> CheckedText:
    """Save the school's text of `part` once every check passes, and report it."""
    session = uow.session
    checked = check_text(session, school_uai, part, raw, public_url=public_url, on=on)
    row = session.get(LetterPart, (school_uai, part))
    if checked.source == templates.sanitise(templates.default_source(part)):
        if row is not None:
            session.delete(row)  # back to the default text: nothing to keep
    elif row is None:
        session.add(LetterPart(school_uai=school_uai, part=part, source=checked.source, updated_at=utcnow(),
                               updated_by=by.login))
    else:
        row.source, row.updated_at, row.updated_by = checked.source, utcnow(), by.login
    report_staff_action(uow, by, school_uai=school_uai, action="letters.part_saved", target=PART_LABELS[part],
                        summary=f"Modification du texte des courriers « {PART_LABELS[part]} »",
                        detail={"part": part, "characters": len(checked.source)})
    uow.commit()
    return checked


def reset_part(uow: UnitOfWork, school_uai: str, part: str, *, by: StaffActor) -> bool:
    """Back to the default text, reported; False when the part already had it."""
    if part not in PARTS:
        raise templates.LetterPartRejected([f"La partie « {part} » n'existe pas."])
    row = uow.session.get(LetterPart, (school_uai, part))
    if row is None:
        return False
    uow.session.delete(row)
    report_staff_action(uow, by, school_uai=school_uai, action="letters.part_reset", target=PART_LABELS[part],
                        summary=f"Retour au texte par défaut des courriers « {PART_LABELS[part]} »",
                        detail={"part": part})
    uow.commit()
    return True
