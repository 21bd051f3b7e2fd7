"""The matcher against the generator's ground truth: 30 consecutive generated days, every
injected break found with the right type, key and status, and nothing else (precision and
recall 1.0 per type), including breaks that resolve on a later day. The matcher never reads
the ground truth; only this test does."""
from collections import defaultdict

import pandas as pd
import pytest

KEY_COLUMNS = ["business_date", "break_type", "order_id", "provider", "provider_txn_id", "credit_id", "status"]


def _keys(frame: pd.DataFrame) -> set[tuple]:
    frame = frame.fillna("")
    out = set()
    for row in frame[KEY_COLUMNS].astype(str).itertuples(index=False):
        d, t, order_id, provider, txn, credit_id, status = row
        if t in ("ORPHAN_PAYMENT", "FEE_MISMATCH"):
            key = (provider, txn)
        elif t == "ORPHAN_CREDIT":
            key = (credit_id,)
        else:
            key = (order_id,)
        out.add((d, t, key, status))
    return out


@pytest.mark.slow
def test_every_injected_break_is_found_and_nothing_else(month_run):
    settings, truth_dir, dates = month_run
    expected = _keys(pd.read_csv(truth_dir / "breaks.csv", dtype=str))
    found = set()
    for day in dates:
        found |= _keys(pd.read_csv(settings.paths.output / day.isoformat() / "breaks.csv", dtype=str))
    per_type = defaultdict(lambda: {"tp": 0, "fp": [], "fn": []})
    for item in found & expected:
        per_type[item[1]]["tp"] += 1
    for item in found - expected:
        per_type[item[1]]["fp"].append(item)
    for item in expected - found:
        per_type[item[1]]["fn"].append(item)
    report = {t: (v["tp"], sorted(v["fp"])[:3], sorted(v["fn"])[:3]) for t, v in per_type.items()
              if v["fp"] or v["fn"]}
    assert report == {}, f"per type: (true positives, some false positives, some misses): {report}"
    types = {t for _, t, _, _ in expected}
    assert types >= {"LATE_CREDIT", "MISSING_CREDIT", "CREDIT_WITHOUT_PAYMENT", "REFUNDED_BUT_CREDITED",
                     "DUPLICATE_PAYMENT", "DUPLICATE_CREDIT", "AMOUNT_MISMATCH", "STATUS_MISMATCH",
                     "ORPHAN_PAYMENT", "ORPHAN_CREDIT", "FEE_MISMATCH"}
    assert any(s == "resolved" and t == "MISSING_CREDIT" for _, t, _, s in expected)  # resolved on a later day


@pytest.mark.slow
def test_control_totals_balance_every_day(month_run):
    settings, _, dates = month_run
    import json

    for day in dates:
        summary = json.loads((settings.paths.output / day.isoformat() / "run_summary.json").read_text("utf-8"))
        assert summary["control_totals"] and all(t["balanced"] for t in summary["control_totals"]), day
