"""CSV and XLSX exports. CSVs are written by DuckDB straight from the mart tables (the full
ops queue never passes through Python); XLSX workbooks hold the aggregates, with money as
numbers in a ¥ format and every text cell from input neutralised before it is written.

Both are for people, so they speak the run's language: headers, sheet names and our own words
(break types, next actions …, reports/labels.py) are translated; ids and amounts are not."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Sequence

import xlsxwriter

from etl.export import sql_path
from etl.i18n import DEFAULT_LOCALE, gettext_for, normalize
from etl.privacy import mask_text, spreadsheet_safe
from etl.warehouse import Warehouse
from reports import labels


def write_csv(wh: Warehouse, select_sql: str, path: Path) -> Path:
    """``select_sql`` (over temp mart tables, no parameters) to a UTF-8 CSV with a header."""
    wh.con.execute(f"copy ({select_sql}) to {sql_path(path)} (header, delimiter ',', quote '\"')")
    return path


def register_labels(wh: Warehouse, locale: str) -> None:
    """``tr(kind, code)``, a temp macro for the CSVs' SQL: the word for a code in ``locale``
    (reports/labels.py), the code itself where there is none."""
    rows = labels.table(locale)
    wh.con.execute("create or replace temp table report_labels (kind varchar, code varchar, word varchar)")
    wh.con.executemany("insert into temp.main.report_labels values (?, ?, ?)", [list(r) for r in rows])
    wh.con.execute("create or replace temp macro tr(k, c) as coalesce("
                   "(select word from temp.main.report_labels l where l.kind = k and l.code = c), c)")


def header_sql(columns: Sequence[tuple[str, str]], locale: str) -> str:
    """``expression as "header"`` for each (expression, column name): a CSV's header in
    ``locale`` (the "column" words of reports/labels.py; English keeps the names)."""
    def quoted(name: str) -> str:
        return '"' + labels.label(name, "column", locale).replace('"', '""') + '"'

    return ",\n".join(f"{expr} as {quoted(name)}" for expr, name in columns)


@dataclass(frozen=True)
class Col:
    header: str  # a msgid (marked with N_), translated when the sheet is written
    key: str
    kind: str = "text"  # text (from input: neutralised) | label (our own words) | money | fee | count | pct | number | date | timestamp
    width: int = 14
    vocab: str | None = None  # for a label: its kind in reports/labels.py (None: the text is shown as it is)


class Workbook:
    """A thin xlsxwriter wrapper: one call per sheet of rows."""

    def __init__(self, path: Path, locale: str = DEFAULT_LOCALE):
        self.path = path
        self.locale = normalize(locale)
        self._ = gettext_for(self.locale)
        self.book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                                     "strings_to_numbers": False})
        self.book.set_properties({"title": path.stem, "author": "topup-recon", "created": datetime(2000, 1, 1)})
        fmt = self.book.add_format
        self.formats = {
            "header": fmt({"bold": True, "bg_color": "#eef2f7", "border": 1, "text_wrap": True, "valign": "top"}),
            "title": fmt({"bold": True, "font_size": 13}),
            "note": fmt({"italic": True, "font_color": "#555555"}),
            "money": fmt({"num_format": '"¥"#,##0.00;-"¥"#,##0.00'}),
            "fee": fmt({"num_format": '"¥"#,##0.00###;-"¥"#,##0.00###'}),
            "count": fmt({"num_format": "#,##0"}),
            "pct": fmt({"num_format": "0.0%"}),
            "number": fmt({"num_format": "#,##0.00"}),
            "date": fmt({"num_format": "yyyy-mm-dd"}),
            "timestamp": fmt({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "total": fmt({"bold": True, "top": 1}),
        }

    def sheet(self, name: str, title: str, columns: Sequence[Col], rows: Sequence[dict],
              note: str | None = None) -> None:
        ws = self.book.add_worksheet(name[:31])
        ws.write_string(0, 0, title, self.formats["title"])
        first = 1
        if note:
            ws.write_string(1, 0, note, self.formats["note"])
            first = 2
        header_row = first + 1
        for c, col in enumerate(columns):
            ws.write_string(header_row, c, self._(col.header), self.formats["header"])
            ws.set_column(c, c, col.width)
        ws.freeze_panes(header_row + 1, 0)
        for r, row in enumerate(rows, start=header_row + 1):
            for c, col in enumerate(columns):
                value = row.get(col.key)
                if col.kind == "label" and value is not None:
                    value = labels.label(value, col.vocab, self.locale) if col.vocab else value
                self._cell(ws, r, c, value, col.kind)
        if rows:
            ws.autofilter(header_row, 0, header_row + len(rows), len(columns) - 1)

    def _cell(self, ws, r: int, c: int, value: object, kind: str) -> None:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            ws.write_blank(r, c, None)
        elif kind in ("money", "fee", "count", "pct", "number"):
            ws.write_number(r, c, float(value) if isinstance(value, Decimal) else value, self.formats[kind])
        elif kind in ("date", "timestamp") and isinstance(value, (date, datetime)):
            if not isinstance(value, datetime):
                value = datetime(value.year, value.month, value.day)
            ws.write_datetime(r, c, value, self.formats[kind])
        else:
            # text from input files (ids, comments) could start a formula: neutralise, write as text
            ws.write_string(r, c, str(spreadsheet_safe(mask_text(str(value)))))

    def close(self) -> Path:
        self.book.close()
        return self.path
