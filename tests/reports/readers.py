"""Reading rendered reports back the way a person would: the text of table cells by table
id, the cells of an XLSX sheet, the rows of a CSV. Standard library only."""
from __future__ import annotations

import csv
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self._stack: list[str | None] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._stack.append(dict(attrs).get("id"))
            if self._stack[-1]:
                self.tables[self._stack[-1]] = []
        elif tag == "tr" and self._stack:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._stack and self._stack[-1]:
                self.tables[self._stack[-1]].append(self._row)
            self._row = None
        elif tag == "table" and self._stack:
            self._stack.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def table(html: str, table_id: str) -> list[list[str]]:
    return tables(html)[table_id]


def row(html: str, table_id: str, first_cell: str) -> list[str]:
    """The row of a table whose first cell reads ``first_cell``."""
    rows = [r for r in table(html, table_id) if r and r[0] == first_cell]
    assert len(rows) == 1, f"{table_id}: {len(rows)} rows start with {first_cell!r}"
    return rows[0]


def header(html: str, table_id: str) -> list[str]:
    return table(html, table_id)[0]


def column(html: str, table_id: str, first_cell: str, name: str, header_row: int = 0) -> str:
    head = table(html, table_id)[header_row]
    return row(html, table_id, first_cell)[head.index(name)]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def xlsx_sheets(path: Path) -> dict[str, list[list[object]]]:
    """Every sheet as rows of values (shared strings resolved, numbers as float)."""
    with zipfile.ZipFile(path) as z:
        strings = []
        if "xl/sharedStrings.xml" in z.namelist():
            root = ElementTree.fromstring(z.read("xl/sharedStrings.xml"))
            strings = ["".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t")) for si in root.findall("m:si", _NS)]
        book = ElementTree.fromstring(z.read("xl/workbook.xml"))
        names = [s.get("name") for s in book.find("m:sheets", _NS)]
        out = {}
        for i, name in enumerate(names, start=1):
            root = ElementTree.fromstring(z.read(f"xl/worksheets/sheet{i}.xml"))
            rows = []
            for r in root.iter(f"{{{_NS['m']}}}row"):
                cells: dict[int, object] = {}
                for c in r.findall("m:c", _NS):
                    col = _col(c.get("r"))
                    v = c.find("m:v", _NS)
                    if c.get("t") == "s":
                        cells[col] = strings[int(v.text)]
                    elif c.get("t") == "inlineStr":
                        cells[col] = "".join(t.text or "" for t in c.iter(f"{{{_NS['m']}}}t"))
                    elif v is not None:
                        cells[col] = float(v.text)
                rows.append([cells.get(j) for j in range(max(cells) + 1)] if cells else [])
            out[name] = rows
        return out


def _col(ref: str) -> int:
    letters = re.match(r"[A-Z]+", ref).group(0)
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def sheet_records(sheet: list[list[object]]) -> list[dict[str, object]]:
    """Rows under the header row (the first row whose cells are all text, after the title)."""
    for i, r in enumerate(sheet):
        if i >= 1 and len(r) > 2 and all(isinstance(v, str) for v in r):
            head = r
            return [dict(zip(head, x)) for x in sheet[i + 1:]]
    raise AssertionError("no header row")
