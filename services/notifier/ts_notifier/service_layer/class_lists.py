"""F3: a class's account list, requested from the console (`class_list.requested`): one PDF and one
CSV, kept as the batch's files (J3)."""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session
from xhtml2pdf import pisa

from ts_notifier.adapters.batches import NotificationBatch
from ts_notifier.adapters.orm import SchoolLetterSettings
from ts_notifier.service_layer.batches import insert_batch
from ts_notifier.service_layer.files import file_slug, store_file
from ts_shared.calendar import PARIS, french_date
from ts_shared.crypto import SecretBox
from ts_shared.csv_export import SpreadsheetWriter
from ts_shared.db import utcnow
from ts_shared.messaging.envelope import Event
from ts_shared.unit_of_work import UnitOfWork

_environment = Environment(loader=FileSystemLoader(str(Path(__file__).resolve().parent.parent / "templates")),
                           undefined=StrictUndefined, autoescape=select_autoescape(("html",)))

CLASS_LIST_COLUMNS = ("Élève", "Division", "Date de naissance", "Identifiant", "Mot de passe provisoire",
                      "Date de notification", "État", "Dernier accès")
STATE_LABELS = {"not_notified": "Non notifié", "notified": "Notifié", "activating": "En cours d'activation",
                "used": "Utilisé"}


class PdfError(RuntimeError):
    pass


def render_class_list_pdf(session: Session, school_uai: str, title: str, columns, rows: list[list[str]], *,
                          on: date) -> bytes:
    school = session.get(SchoolLetterSettings, school_uai)
    html = _environment.get_template("class_list/list.html").render(
        title=title, school=school.name if school else school_uai, on=french_date(on), columns=columns, rows=rows)
    output = io.BytesIO()
    result = pisa.CreatePDF(html, dest=output, encoding="utf-8")
    if result.err:
        raise PdfError(f"the class list PDF could not be rendered ({result.err} error(s))")
    return output.getvalue()


def class_list_rows(rows: list[dict], box: SecretBox) -> list[list[str]]:
    result = []
    for row in sorted(rows, key=lambda r: (r["last_name"].lower(), r["first_name"].lower(), r["student_id"])):
        sealed = row["temporary_password_encrypted"]
        result.append([f"{row['last_name']} {row['first_name']}", row["division"] or "", french_date(row["birth_date"]),
                       row["login"] or "", box.open(sealed) if sealed else (row["password_note"] or ""),
                       french_date(row["notified_at"]), STATE_LABELS.get(row["state"] or "", ""),
                       french_date(row["last_login_at"])])
    return result


def class_list_csv(rows: list[list[str]]) -> bytes:
    """UTF-8 with a BOM and `;` separators: what Excel opens as is."""
    buffer = io.StringIO()
    writer = SpreadsheetWriter(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CLASS_LIST_COLUMNS)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def receive_class_list(uow: UnitOfWork, event: Event) -> None:
    payload, session = event.payload, uow.session
    batch_values = {"id": payload["batch_id"], "school_uai": event.school_uai, "kind": "class_list",
                    "population": "students", "label": f"Liste des comptes élèves – {payload['title']}",
                    "requested_by": payload["requested_by"], "expected": len(payload["rows"]),
                    "received": len(payload["rows"]), "created_at": utcnow()}
    insert_batch(session, batch_values)
    batch = session.get_one(NotificationBatch, payload["batch_id"])
    rows = class_list_rows(payload["rows"], SecretBox(uow.settings.event_key))
    slug = file_slug(payload["title"])
    store_file(uow, batch, "pdf", f"liste-{slug}.pdf",
               render_class_list_pdf(session, event.uai, payload["title"], CLASS_LIST_COLUMNS, rows,
                                     on=utcnow().astimezone(PARIS).date()))
    store_file(uow, batch, "csv", f"liste-{slug}.csv", class_list_csv(rows))
    batch.completed_at = utcnow()
