"""A report's figures are the same every time the date is run: no figure may depend on the
order in which DuckDB's threads happened to add up their parts."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from etl.config import load_settings
from etl.warehouse import Warehouse
from reports.marts import parameters

DAY = date(2026, 11, 24)


@pytest.fixture
def wh(tmp_path):
    # two threads over several row groups (122,880 rows each): the parts are added in any order
    settings = load_settings({"RECON_WAREHOUSE": str(tmp_path / "wh.duckdb"), "RECON_DUCKDB__THREADS": "2"})
    with Warehouse(settings) as wh:
        wh.execute(
            "insert into order_eval (business_date, order_id, order_date, outcome, channel, n_payments, net_paid, "
            "n_credits, delay_minutes, sla_minutes) "
            "select $d, 'T' || i, $d, 'MATCHED', 'app', 1, 49.80, 1, "
            # delays of 0.01 to 99.99 minutes, whose float sum depends on the order of addition
            "((i * 7919) % 9999 + 1) / 100, 30 from range(600000) as t(i)", {"d": DAY})
        yield wh


def test_mean_time_to_credit_is_exact_and_the_same_every_run(wh):
    total, n = wh.rows("select sum(delay_minutes), count(*) from order_eval")[0]
    exact = total / n  # Decimal: the true mean
    means = set()
    for _ in range(6):
        wh.model("marts/mart_product_time_to_credit", parameters(DAY))
        means.add(wh.scalar("select mean_minutes from mart_product_time_to_credit where is_total"))
    assert len(means) == 1, f"the mean changed from run to run: {sorted(means)}"
    assert abs(Decimal(repr(means.pop())) - exact) < Decimal("1e-9")
