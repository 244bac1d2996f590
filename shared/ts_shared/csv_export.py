"""CSV files that staff open in a spreadsheet: the one writer for every export of the project.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel or
LibreOffice as a formula: a student or guardian named `=HYPERLINK(...)` in SIECLE would run it
on the secretary's computer (CSV injection). As OWASP advises, such a cell gets a leading `'`,
which spreadsheets take as « this is text »; the csv module quotes separators, quotes and line
breaks, so one value never spills into the next cell.

Files read back by a program (the CSV import format, written by the synthetic generator) keep
the plain csv writer: their values must come back unchanged.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """The cell's text, made inert if a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SpreadsheetWriter:
    """csv.writer's writerow/writerows, each cell neutralised."""

    def __init__(self, stream: TextIO, **format_options: Any):
        self._writer = csv.writer(stream, **format_options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def spreadsheet_csv(rows: Iterable[Iterable[Any]]) -> bytes:
    """A CSV file for staff: UTF-8 with a BOM and `;` separators (what French spreadsheet software
    opens as is, accents included), every cell through the formula guard."""
    buffer = io.StringIO()
    SpreadsheetWriter(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def export_filename(*parts: str, extension: str = "csv") -> str:
    """`synthese-comptes-eleves_0541234x_college-jean-moulin_2026-11-30.csv`: each part lower-case
    ASCII (accents dropped), other characters as `-`; parts joined by `_`."""
    slugs = []
    for part in parts:
        ascii_text = unicodedata.normalize("NFKD", part).encode("ascii", "ignore").decode().lower()
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:60]
        if slug:
            slugs.append(slug)
    return f"{'_'.join(slugs) or 'export'}.{extension}"
