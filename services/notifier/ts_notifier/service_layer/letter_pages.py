"""A batch of paper letters as ONE xhtml2pdf document (D2, D3): each letter a page assembled from
the batch's prepared parts (letter_batch) — the header's three placed blocks, the rest of it and
the body, then the refusal coupon for guardians. The page layout is in templates/letters
(letters.css): each block is printed in its own frame and shrinks to fit it, so a letter never
spans two pages. Also the previews of a part with the fictitious family (the letter editor)."""
from __future__ import annotations

from datetime import date
from html import escape as escape_html

from sqlalchemy.orm import Session

from ts_notifier.adapters.pdf import html_to_pdf, qr_png_data_uri
from ts_notifier.domain import letters as domain
from ts_notifier.domain.letters import GUARDIANS, HEADER, HEADER_ZONES
from ts_notifier.service_layer import letter_templates as templates
from ts_notifier.service_layer.letter_batch import COUPON_MARK, PAPER, LetterBatch, LetterData, layout, prepare_batch

NEXT_FRAME = "<pdf:nextframe></pdf:nextframe>"  # explicitly closed: html5lib would nest what follows


def _geometry() -> dict:
    body_height = domain.PAGE_HEIGHT_MM - domain.BODY_TOP_MM - domain.BOTTOM_MARGIN_MM
    coupon_top = domain.PAGE_HEIGHT_MM - domain.BOTTOM_MARGIN_MM - domain.COUPON_HEIGHT_MM
    return {"sender": domain.SENDER, "place_date": domain.PLACE_DATE, "window": domain.WINDOW, "qr": domain.QR_CODE,
            "left": domain.LEFT_MM, "width": domain.CONTENT_WIDTH_MM, "body_top": domain.BODY_TOP_MM,
            "body_height": body_height, "body_height_coupon": coupon_top - 3 - domain.BODY_TOP_MM,
            "coupon_top": coupon_top, "coupon_height": domain.COUPON_HEIGHT_MM}


GEOMETRY = _geometry()


def _page(batch: LetterBatch, letter: LetterData) -> tuple[str, bool]:
    """One letter's page: its blocks in frame order, and whether it carries the coupon."""
    values = batch.values(letter)
    zones = batch.header.zones
    body = batch.render(batch.body(letter.letter_case), values)
    with_coupon = COUPON_MARK in body
    parts = []
    for zone in HEADER_ZONES:
        parts.append(batch.render(zones[zone], values))
        parts.append(NEXT_FRAME)
    parts.append('<div class="corps">')
    parts.append(batch.render(zones[templates.REST], values))
    parts.append(body.replace(COUPON_MARK, "") if with_coupon else body)
    parts.append("</div>")
    if with_coupon:
        parts.append(NEXT_FRAME)
        parts.append(batch.render(batch.coupon, values))
    return "".join(parts), with_coupon


def _letters_html(batch: LetterBatch, letters: list[LetterData]) -> str:
    pages = [_page(batch, letter) for letter in letters]
    qr = qr_png_data_uri(batch.url)
    css = layout.get_template("letters.css").render(g=GEOMETRY, first_with_coupon=pages[0][1], qr=True)
    head = (f'<html><head><meta charset="utf-8"><title>Courriers de notification – {escape_html(batch.school.name)}'
            f'</title><style>{css}</style></head><body>'
            f'<div id="qr-code"><img src="{qr}" width="{domain.QR_CODE["width"] - 6}mm" '
            f'height="{domain.QR_CODE["width"] - 6}mm"><p class="qr-legende">Flashez ce code pour ouvrir '
            f'{escape_html(batch.url)}</p></div>')
    chunks = [head]
    for index, (page, with_coupon) in enumerate(pages):
        if index:
            template = "avec_coupon" if with_coupon else "sans_coupon"
            chunks.append(f'<pdf:nexttemplate name="{template}"></pdf:nexttemplate><pdf:nextpage></pdf:nextpage>')
        chunks.append(page)
    chunks.append("</body></html>")
    return "".join(chunks)


def letters_html(session: Session, school_uai: str, letters: list[LetterData], *, public_url: str, on: date) -> str:
    """The HTML document the PDF of these letters is rendered from (benchmarks compare renderers on it)."""
    if not letters:
        raise ValueError("no letter to render")
    batch = prepare_batch(session, school_uai, public_url=public_url, on=on, channel=PAPER)
    return _letters_html(batch, letters)


def render_letters_pdf(session: Session, school_uai: str, letters: list[LetterData], *, public_url: str,
                       on: date) -> bytes:
    """One page per letter (a letter never spans two pages), in the given order."""
    return html_to_pdf(letters_html(session, school_uai, letters, public_url=public_url, on=on))


# --- previews with the fictitious family ---------------------------------------------------------------

def sample_letter(letter_case: str) -> LetterData:
    guardian = domain.audience(letter_case) == GUARDIANS
    return LetterData(
        letter_case=letter_case,
        recipient=domain.SAMPLE_GUARDIAN if guardian else domain.SAMPLE_STUDENT_RECIPIENT,
        student=domain.SAMPLE_STUDENT,
        login=domain.SAMPLE_LOGINS[domain.audience(letter_case)],
        temporary_password=domain.SAMPLE_PASSWORD if letter_case in domain.CASES_WITH_PASSWORD else None,
        kept_from_previous_school=letter_case in domain.CONTINUITY_CASES)


def preview_cases(part: str) -> list[str]:
    """The letters a preview of `part` shows: the header on a guardian's and a student's letter."""
    return ["guardian_new", "student_new"] if part == HEADER else [part]


def preview_pdf(session: Session, school_uai: str, part: str, *, public_url: str, on: date,
                source: str | None = None) -> bytes:
    """The PDF of `part` (its saved text, or `source` not saved yet) on the sample family's
    letters, with the school's settings."""
    overrides = {part: source} if source is not None else None
    batch = prepare_batch(session, school_uai, public_url=public_url, on=on, channel=PAPER, overrides=overrides)
    return html_to_pdf(_letters_html(batch, [sample_letter(case) for case in preview_cases(part)]))
