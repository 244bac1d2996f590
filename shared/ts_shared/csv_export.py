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
