"""CSV and XLSX exports. CSVs are written by DuckDB straight from the mart tables (the full
ops queue never passes through Python); XLSX workbooks hold the aggregates, with money as
numbers in a ¥ format and every text cell from input neutralised before it is written."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Sequence

import xlsxwriter

from etl.export import sql_path
from etl.privacy import mask_text, spreadsheet_safe
from etl.warehouse import Warehouse


def write_csv(wh: Warehouse, select_sql: str, path: Path) -> Path:
    """``select_sql`` (over temp mart tables, no parameters) to a UTF-8 CSV with a header."""
    wh.con.execute(f"copy ({select_sql}) to {sql_path(path)} (header, delimiter ',', quote '\"')")
    return path


@dataclass(frozen=True)
class Col:
    header: str
    key: str
    kind: str = "text"  # text (from input: neutralised) | label (our own words) | money | fee | count | pct | number | date | timestamp
    width: int = 14


class Workbook:
    """A thin xlsxwriter wrapper: one call per sheet of rows."""

    def __init__(self, path: Path):
        self.path = path
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
            ws.write_string(header_row, c, col.header, self.formats["header"])
            ws.set_column(c, c, col.width)
        ws.freeze_panes(header_row + 1, 0)
        for r, row in enumerate(rows, start=header_row + 1):
            for c, col in enumerate(columns):
                self._cell(ws, r, c, row.get(col.key), col.kind)
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
