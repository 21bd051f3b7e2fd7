"""The words the reports show for the codes and fixed phrases the marts return: break types,
providers, channels, product types, provinces, sources, run stages, next actions, how a break
was resolved. Each is a msgid in the context of its kind (``pgettext``), so the English pages
keep the code or the English phrase as the SQL states it, and the Chinese pages show the
glossary's word (shared/spec/glossary-zh.md). A value the table does not know (a new channel
in the input) is shown as it is.

The SQL of ``sql/marts/`` names these values; a test checks that every phrase it can return
is marked here, so a new one cannot reach a Chinese page untranslated unnoticed.
"""
from __future__ import annotations

from functools import cache

from etl.i18n import N_, gettext_for, normalize, pgettext_for


def C_(context: str, message: str) -> tuple[str, str]:
    """Marks a msgid with its context for extraction."""
    return context, message


MARKED: tuple[tuple[str, str], ...] = (
    # break types and outcomes (shared/spec/breaks.md codes)
    C_("break_type", "MISSING_CREDIT"),
    C_("break_type", "LATE_CREDIT"),
    C_("break_type", "CREDIT_WITHOUT_PAYMENT"),
    C_("break_type", "REFUNDED_BUT_CREDITED"),
    C_("break_type", "DUPLICATE_PAYMENT"),
    C_("break_type", "DUPLICATE_CREDIT"),
    C_("break_type", "AMOUNT_MISMATCH"),
    C_("break_type", "STATUS_MISMATCH"),
    C_("break_type", "ORPHAN_PAYMENT"),
    C_("break_type", "ORPHAN_CREDIT"),
    C_("break_type", "FEE_MISMATCH"),
    C_("break_type", "MATCHED"),
    C_("break_type", "REFUNDED_CLEAN"),
    C_("break_type", "UNPAID"),
    # who acts on a break type (mart_finance_breaks_by_type)
    C_("owner", "ops"),
    C_("owner", "finance"),
    C_("owner", "finance, ops"),
    C_("owner", "ops, platform"),
    C_("owner", "product, ops"),
    # what ops do next (report_macros.sql: next_action)
    C_("next_action", "credit manually, or refund"),
    C_("next_action", "refund the extra payment"),
    C_("next_action", "refund the payer, or find the order"),
    C_("next_action", "chase the provider"),
    C_("next_action", "chase the provider (fee)"),
    C_("next_action", "chase the platform team (order status)"),
    C_("next_action", "reverse the credit, or write off"),
    C_("next_action", "reverse the extra credit, or write off"),
    C_("next_action", "match to an order, or write off"),
    C_("next_action", "none (SLA follow-up)"),
    C_("next_action", "investigate"),
    # 长款 / 短款 (report_macros.sql: money_side)
    C_("side", "long"),
    C_("side", "short"),
    C_("side", "none"),
    # how an order was served (report_macros.sql: credit_timing)
    C_("credit_timing", "credited late"),
    C_("credit_timing", "credited on time"),
    C_("credit_timing", "paid, not credited"),
    C_("credit_timing", "unpaid"),
    C_("credit_timing", "order unknown"),
    # how a break was resolved (mart_ops_resolved_summary, mart_ops_resolved_items)
    C_("how", "manual"),
    C_("how", "automatic"),
    C_("how", "credit arrived late"),
    C_("how", "late credit (same run)"),
    C_("how", "credited"),
    C_("how", "credited_late"),
    C_("how", "other"),
    C_("resolved_by", "recon"),
    # the first word of a fallback match suggestion (mart_ops_queue: "order T1 100%")
    C_("suggestion", "order"),
    C_("suggestion", "credit"),
    # payment providers and pay methods
    C_("provider", "alipay"),
    C_("provider", "wechatpay"),
    C_("provider", "unionpay"),
    # where rows come from (control totals, files)
    C_("source", "orders"),
    C_("source", "billing"),
    C_("source", "surveys"),
    C_("source", "complaints"),
    C_("source", "alipay"),
    C_("source", "wechatpay"),
    C_("source", "unionpay"),
    # a published date's run, as the weekly trend reads it
    C_("run_status", "ok"),
    C_("run_status", "missing"),
    C_("run_status", "failed"),
    # the run's stages (run_summary.json timings)
    C_("stage", "stage"),
    C_("stage", "load"),
    C_("stage", "match"),
    C_("stage", "export"),
    C_("stage", "reports"),
    # channels, product types, complaint categories, provinces (codes of the order feed)
    C_("channel", "app"),
    C_("channel", "web"),
    C_("channel", "alipay_mini"),
    C_("channel", "wechat_mini"),
    C_("channel", "jd"),
    C_("product_type", "call_credit"),
    C_("product_type", "data"),
    C_("product_type", "plan"),
    C_("category", "not_credited"),
    C_("category", "late_credit"),
    C_("category", "wrong_amount"),
    C_("category", "refund"),
    C_("category", "payment"),
    C_("category", "other"),
    C_("province", "AH"), C_("province", "BJ"), C_("province", "CQ"), C_("province", "FJ"),
    C_("province", "GD"), C_("province", "GS"), C_("province", "GX"), C_("province", "GZ"),
    C_("province", "HA"), C_("province", "HB"), C_("province", "HE"), C_("province", "HI"),
    C_("province", "HL"), C_("province", "HN"), C_("province", "JL"), C_("province", "JS"),
    C_("province", "JX"), C_("province", "LN"), C_("province", "NM"), C_("province", "NX"),
    C_("province", "QH"), C_("province", "SC"), C_("province", "SD"), C_("province", "SH"),
    C_("province", "SN"), C_("province", "SX"), C_("province", "TJ"), C_("province", "XJ"),
    C_("province", "XZ"), C_("province", "YN"), C_("province", "ZJ"),
    # the columns of the human-facing CSVs (ops_queue.csv, ops_suggestions.csv, product_daily.csv)
    C_("column", "queue_rank"), C_("column", "break_type"), C_("column", "first_seen"),
    C_("column", "age_days"), C_("column", "age_bucket"), C_("column", "next_action"),
    C_("column", "order_id"), C_("column", "provider"), C_("column", "provider_txn_id"),
    C_("column", "credit_id"), C_("column", "msisdn_masked"), C_("column", "order_amount"),
    C_("column", "paid_amount"), C_("column", "credited_amount"), C_("column", "difference"),
    C_("column", "side"), C_("column", "paid_at"), C_("column", "credited_at"), C_("column", "suggestion"),
    C_("column", "break_key"), C_("column", "amount"), C_("column", "minutes_after_payment"),
    C_("column", "candidates"), C_("column", "confidence"), C_("column", "day"), C_("column", "has_run"),
    C_("column", "orders"), C_("column", "paid_orders"), C_("column", "gmv"), C_("column", "credited_orders"),
    C_("column", "late_orders"), C_("column", "success_rate"), C_("column", "late_rate"),
    C_("column", "p50_minutes"), C_("column", "p95_minutes"), C_("column", "p99_minutes"),
    C_("column", "responses"), C_("column", "csat_avg"), C_("column", "nps"), C_("column", "complaints"),
    C_("column", "complaints_per_10k"),
    C_("yesno", "true"),
    C_("yesno", "false"),
    # product dimensions
    C_("dimension", "channel"),
    C_("dimension", "pay_method"),
    C_("dimension", "product_type"),
    C_("dimension", "province"),
)
KINDS = frozenset(context for context, _ in MARKED)
# Pay methods are the providers' codes; a product table's values are of its dimension's kind.
ALIASES = {"pay_method": "provider"}
# Placeholders the marts write for a missing value, and their total rows.
_FIXED = {"(none)": N_("(none)"), "(unknown order)": N_("(unknown order)"), "total": N_("total"), "all": N_("all")}


def label(code: object, kind: str, locale: str) -> str:
    """The word for ``code`` of ``kind`` in ``locale``; an unknown code as it is."""
    if code is None:
        return ""
    text = str(code)
    if text in _FIXED:
        return gettext_for(locale)(_FIXED[text])
    return pgettext_for(locale)(ALIASES.get(kind, kind), text)


def suggestion(text: object, locale: str) -> str:
    """"order T123 100%" → "订单 T123 100%": the kind of the suggested match in words."""
    if not text:
        return ""
    kind, _sep, rest = str(text).partition(" ")
    return f"{label(kind, 'suggestion', locale)} {rest}" if rest else str(text)


@cache
def table(locale: str) -> tuple[tuple[str, str, str], ...]:
    """(kind, code, word) of every marked code in ``locale``, for SQL that writes exports."""
    loc = normalize(locale)
    rows = [(kind, code, label(code, kind, loc)) for kind, code in MARKED]
    rows += [(kind, fixed, label(fixed, kind, loc)) for kind in KINDS | set(ALIASES) for fixed in _FIXED]
    rows += [(alias, code, label(code, alias, loc)) for alias, kind in ALIASES.items() for k, code in MARKED
             if k == kind]
    return tuple(sorted(set(rows)))
