"""Render the reports of one business date into the run's (hidden) output folder:
index.html, finance.html, ops.html and product.html (self-contained: inline CSS and SVG, no
script, no request), finance.xlsx, product.xlsx, ops_queue.csv, ops_suggestions.csv and
product_daily.csv.

All aggregation happens in the DuckDB marts of ``sql/marts/``; Python arranges the results,
draws the charts and fills the Jinja2 templates (autoescaped: text from input stays text).
"""
from __future__ import annotations

import logging
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from etl import i18n
from etl.config import shanghai_now, shanghai_wall
from etl.i18n import N_
from etl.privacy import mask_text
from etl.warehouse import Warehouse
from reports import charts, finance, labels, ops, product
from reports.marts import Marts

if TYPE_CHECKING:  # the pipeline imports this module while it runs
    from etl.pipeline import RunSummary

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).with_name("templates")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"  # written literally in base.html.j2
PAGES = (("index", N_("Run")), ("finance", N_("Finance")), ("ops", N_("Ops queue")), ("product", N_("Product")))


def environment(locale: str = i18n.DEFAULT_LOCALE) -> Environment:
    """The reports' templates speaking ``locale``: one Environment per locale (the translations
    and format filters are bound to it), one set of templates for all."""
    return _environment(i18n.normalize(locale))


@cache
def _environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # every value printed from data passes the phone-number mask (input text such as a
        # channel name could hold one); our own SVG charts are masked where they are drawn
        finalize=lambda v: mask_text(v) if isinstance(v, str) and not isinstance(v, Markup) else v,
    )
    i18n.install(env, locale)
    env.filters["label"] = lambda code, kind: labels.label(code, kind, locale)
    env.filters["suggestion"] = lambda text: labels.suggestion(text, locale)
    env.filters["masked"] = lambda text: mask_text(str(text)) if text is not None else ""
    env.filters["svg"] = lambda svg: Markup(svg) if svg else ""  # only our own charts: matplotlib escapes their text
    return env


def _run_context(summary: RunSummary, marts: Marts, fin: dict, ops_ctx: dict, prod: dict) -> dict:
    started = shanghai_wall(summary.started_at)
    elapsed = (shanghai_now() - started).total_seconds() if started else None
    control = [dict(row) for row in summary.control_totals]
    for row in control:
        for key in ("amount_in", "amount_classified"):
            if row.get(key) is not None:
                row[key] = Decimal(str(row[key]))
    return {
        "summary": summary,
        "files_loaded": summary.files_loaded,
        "rows_loaded": sum(int(f.get("rows") or 0) for f in summary.files_loaded),
        "files_quarantined": summary.files_quarantined,
        "control_totals": control,
        "all_balanced": all(row.get("balanced") for row in control),
        "timings": summary.timings,
        "started_at": started,
        "elapsed_seconds": elapsed,
        "breaks_by_type": summary.breaks_by_type,
        "other_dates": [d for (d,) in marts.wh.rows(
            "select distinct business_date from run_log where status = 'ok' and business_date <> $d "
            "and business_date between $d - 14 and $d + 14 order by 1", {"d": summary.business_date})],
        "fin": fin,
        "ops": ops_ctx,
        "prod": prod,
    }


def render_all(wh: Warehouse, business_date: date, folder: Path, summary: RunSummary,
               locale: str = i18n.DEFAULT_LOCALE) -> list[Path]:
    """Write every report and export of ``business_date`` into ``folder`` in ``locale``; return
    their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    locale = i18n.normalize(locale)
    if locale == "zh_CN":
        charts.require_cjk_font()  # before anything is written: no chart with boxes for glyphs
    env = environment(locale)
    marts = Marts(wh, business_date)
    written: list[Path] = []
    try:
        fin = finance.context(marts, business_date, locale)
        ops_ctx = ops.context(marts, business_date, locale)
        prod = product.context(marts, business_date, locale)
        common = {
            "business_date": business_date,
            "generated_at": shanghai_now().strftime("%Y-%m-%d %H:%M:%S"),
            "pages": PAGES,
        }
        pages = {
            "finance": fin,
            "ops": ops_ctx,
            "product": prod,
            "index": _run_context(summary, marts, fin, ops_ctx, prod),
        }
        for name, ctx in pages.items():
            html = env.get_template(f"{name}.html.j2").render(**common, page=name, **ctx)
            path = folder / f"{name}.html"
            path.write_text(html, "utf-8")
            written.append(path)
        written.append(finance.write_xlsx(marts, fin, business_date, folder, locale))
        written.append(ops.write_queue_csv(marts, folder, locale))
        written.append(ops.write_suggestions_csv(marts, folder, locale))
        written.extend(product.write_exports(marts, prod, business_date, folder, locale))
    finally:
        marts.close()
    log.info("reports for %s rendered in %.2fs (marts: %s)", business_date, time.perf_counter() - started,
             ", ".join(f"{k} {v:.2f}s" for k, v in marts.seconds.items()))
    return written
