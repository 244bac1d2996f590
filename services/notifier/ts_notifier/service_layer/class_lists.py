"""F3: the PDF of a class's account list (the CSV is written by batches.class_list_csv)."""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session
from xhtml2pdf import pisa

from ts_notifier.adapters.orm import SchoolLetterSettings
from ts_shared.calendar import french_date

_environment = Environment(loader=FileSystemLoader(str(Path(__file__).resolve().parent.parent / "templates")),
                           undefined=StrictUndefined, autoescape=select_autoescape(("html",)))


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
