"""Bulk resolve: the queue's own export (CSV or XLSX) with ``reason`` and ``text`` filled in,
uploaded, shown as a preview, and applied all-or-nothing.

The preview is carried to the apply step as a token signed with itsdangerous (bound to the
session, valid 30 minutes), holding each break's key and the version it had at preview: if
anyone acts on one of them meanwhile, nothing is applied.
"""
from __future__ import annotations

import csv
import io
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from console import actions, forms
from console.reasons import REASONS
from etl.privacy import FORMULA_START

MAX_ROWS = 5000
REQUIRED = ("break_key", "reason", "text")


def _clean(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    # the export put an apostrophe before text a spreadsheet would run: take it off again
    if text.startswith("'") and text[1:2] and text[1] in FORMULA_START:
        return text[1:]
    return text


def read_rows(name: str, data: bytes, limit: int) -> list[tuple[int, dict[str, str]]]:
    """(line, row) for every row with a reason or text filled in."""
    if data is None or len(data) == 0:
        raise forms.BadInput("the file is empty")
    if len(data) > limit:
        raise forms.BadInput(f"the file is larger than {limit:,} bytes")
    if data[:4] == b"PK\x03\x04":
        table = _xlsx(data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.BadInput(f"the file is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8 or XLSX") from None
        table = list(csv.reader(io.StringIO(text)))
    if not table:
        raise forms.BadInput("the file is empty")
    header = [_clean(h) for h in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise forms.BadInput("the header lacks " + ", ".join(missing) + " (upload the queue's export, filled in)")
    rows = []
    for line, cells in enumerate(table[1:], start=2):
        row = {h: _clean(cells[i]) if i < len(cells) else "" for i, h in enumerate(header) if h in REQUIRED}
        if not row.get("reason") and not row.get("text"):
            continue
        for column in REQUIRED:
            if row.get(column, "").startswith(FORMULA_START):
                raise forms.BadInput(f"line {line}: {column} holds formula text; nothing was applied")
        rows.append((line, row))
        if len(rows) > MAX_ROWS:
            raise forms.BadInput(f"at most {MAX_ROWS:,} rows at once")
    if not rows:
        raise forms.BadInput("no row has a reason and text filled in")
    return rows


def _xlsx(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - anything openpyxl cannot read is not a workbook we made
        raise forms.BadInput("the file is not a readable XLSX workbook") from None
    sheet = book.worksheets[0]
    table = []
    for row in sheet.iter_rows(values_only=True):
        table.append(list(row))
        if len(table) > MAX_ROWS + 1:
            break
    book.close()
    return table


def register(page, published, settings, redirect, next_run) -> None:  # noqa: ANN001
    def serializer(ctx) -> URLSafeTimedSerializer:  # noqa: ANN001
        return URLSafeTimedSerializer(ctx.request.app.state.bulk_secret, salt="bulk:" + ctx.user.session_hash)

    def check(ctx, rows):  # noqa: ANN001, ANN202
        items, problems = [], []
        state = actions.work_state(ctx.db, [r["break_key"] for _, r in rows])
        for line, r in rows:
            key, reason, text = r["break_key"], r["reason"], r["text"]
            row = published.break_row(key) if key else None
            problem = None
            if row is None:
                problem = ctx._("no such break")
            elif reason not in REASONS:
                problem = ctx._("unknown reason %(r)s: use one of %(all)s", r=reason[:30], all=", ".join(REASONS))
            elif not text:
                problem = ctx._("the text is empty")
            elif row["status"] != "open":
                problem = ctx._("the break is not open")
            elif state[key]["resolution"] is not None and state[key]["resolution"].action == "resolve":
                problem = ctx._("resolved already in the console")
            items.append({"line": line, "key": key, "reason": reason, "text": text, "problem": problem,
                          "version": state.get(key, {}).get("version", 0),
                          "type": row["break_type"] if row else "", "difference": row["difference"] if row else None})
            if problem:
                problems.append(line)
        return items, problems

    @page("GET", "/bulk", "break.bulk_resolve")
    def bulk(ctx):  # noqa: ANN001, ANN202
        forms.only(ctx.fields, ())
        return ctx.render("bulk.html.j2", items=None, token=None, problems=[])

    @page("POST", "/bulk/preview", "break.bulk_resolve", upload=True)
    def bulk_preview(ctx):  # noqa: ANN001, ANN202
        forms.only(ctx.fields, ())
        if ctx.upload is None:
            raise forms.BadInput("choose a file")
        rows = read_rows(ctx.upload.filename or "", ctx.upload_bytes, settings.console.max_upload_bytes)
        items, problems = check(ctx, rows)
        token = None if problems else serializer(ctx).dumps(
            [{"key": i["key"], "reason": i["reason"], "text": i["text"], "version": i["version"]} for i in items])
        return ctx.render("bulk.html.j2", items=items, token=token, problems=problems)

    @page("POST", "/bulk/apply", "break.bulk_resolve")
    def bulk_apply(ctx):  # noqa: ANN001, ANN202
        forms.only(ctx.fields, ("token",))
        try:
            items = serializer(ctx).loads(forms.text(ctx.fields, "token"), max_age=1800)
        except SignatureExpired:
            raise forms.BadInput("the preview is older than 30 minutes: upload the file again") from None
        except BadSignature:
            raise forms.BadInput("the preview is not valid for this session: upload the file again") from None
        effective = next_run()
        for item in items:
            row = published.break_row(item["key"])
            if row is None:
                raise forms.BadInput(f"no such break: {item['key'][:80]}")
            actions.resolve(ctx.db, ctx.user.name, actions.BreakFacts.of(row), int(item["version"]), item["reason"],
                            item["text"], effective, settings.console.writeoff_approval_above, source="bulk",
                            commit=False)
        ctx.audit("bulk.apply", "queue", {"rows": len(items)}, commit=False)
        ctx.db.commit()
        return redirect("/queue?status=awaiting_run")
