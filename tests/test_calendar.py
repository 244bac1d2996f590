"""The one school-year calendar (ts_shared.calendar): 1 September in Paris time."""
from __future__ import annotations

from datetime import date, datetime, UTC

import pytest

from ts_shared.calendar import PARIS, school_year_begins, school_year_label, school_year_of


@pytest.mark.parametrize("moment,year", [
    (datetime(2027, 8, 31, 21, 59, tzinfo=UTC), 2026),  # 23:59 in Paris (summer time)
    (datetime(2027, 8, 31, 22, 0, tzinfo=UTC), 2027),  # midnight in Paris: the new year
    (datetime(2027, 9, 1, 0, 0, tzinfo=PARIS), 2027),
    (date(2027, 8, 31), 2026), (date(2027, 9, 1), 2027), (date(2028, 1, 15), 2027),
])
def test_the_school_year_changes_on_1_september_in_paris(moment, year):
    assert school_year_of(moment) == year


def test_labels_and_beginnings():
    assert school_year_label(2027) == "2027/2028" == school_year_label(date(2028, 6, 30))
    assert school_year_begins(2027) == datetime(2027, 8, 31, 22, 0, tzinfo=UTC)
