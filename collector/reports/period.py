"""Report periods as staff write them (2026-11, 2026-Q3, FY2026, FY2026-Q3, FROM..TO) and 令和 dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from collector import display

REIWA_START = date(2019, 5, 1)


class PeriodError(ValueError):
    """A period that cannot be read; the message shows the accepted forms."""


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, midnight in the display zone ([display] timezone, Japan by default)
    end: datetime  # exclusive
    text: str  # as given

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _span(text: str, first: date, after_last: date) -> Period:
    zone = display.zone()  # a report's days are the days of the times it shows
    return Period(
        datetime(first.year, first.month, first.day, tzinfo=zone),
        datetime(after_last.year, after_last.month, after_last.day, tzinfo=zone),
        text,
    )


def parse_period(text: str) -> Period:
    """年度 (FY) runs April to March; 2026-Q3 is a calendar quarter (Jul-Sep), FY2026-Q3 a fiscal one (Oct-Dec)."""
    t = text.strip().upper()
    if m := re.fullmatch(r"(\d{4})-(\d{2})", t):
        year, month = int(m[1]), int(m[2])
        if 1 <= month <= 12:
            return _span(text, date(year, month, 1), _month_start(year, month + 1))
    elif m := re.fullmatch(r"(\d{4})-Q([1-4])", t):
        first = date(int(m[1]), 3 * int(m[2]) - 2, 1)
        return _span(text, first, _month_start(first.year, first.month + 3))
    elif m := re.fullmatch(r"FY(\d{4})-Q([1-4])", t):
        first = _month_start(int(m[1]), 4 + 3 * (int(m[2]) - 1))
        return _span(text, first, _month_start(first.year, first.month + 3))
    elif m := re.fullmatch(r"FY(\d{4})", t):
        return _span(text, date(int(m[1]), 4, 1), date(int(m[1]) + 1, 4, 1))
    elif m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", t):
        try:
            first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
        except ValueError:
            pass
        else:
            if first <= last:
                return _span(text, first, last + timedelta(days=1))
    raise PeriodError(
        f"invalid period {text!r}: use 2026-11 (month), 2026-Q3 (calendar quarter), "
        "FY2026 (年度, April-March), FY2026-Q3 (fiscal quarter) or 2026-04-01..2026-09-30"
    )


def reiwa(day: date) -> str:
    """令和8年11月2日 (令和元年 for its first year); dates before 令和 are shown in the Western calendar."""
    if day < REIWA_START:
        return f"{day.year}年{day.month}月{day.day}日"
    year = day.year - 2018
    return f"令和{'元' if year == 1 else year}年{day.month}月{day.day}日"


def show_date(value: datetime | date | None, lang: str, with_time: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = value.astimezone(display.zone())
        day, clock = local.date(), local.strftime("%H:%M")
    else:
        day, clock = value, ""
    if lang == "ja":
        return reiwa(day) + (f" {clock}" if with_time and clock else "")
    return day.isoformat() + (f" {clock}" if with_time and clock else "")
