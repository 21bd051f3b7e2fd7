"""The product report: orders and GMV by dimension, success and late-credit rates, time to
credit percentiles, CSAT/NPS, complaints per 10,000 orders, trends with day-over-day and
week-over-week change. Expected figures come from the Shop's records via pandas/numpy."""
from datetime import timedelta

import pytest

from functools import partial

from reports import formatting as fmt
from reports.formatting import count, money, nps, number, pct

# these tests read the English pages (fixture `rendered`): units in English words
minutes = partial(fmt.minutes, locale="en")
change = partial(fmt.change, locale="en")
from tests.reports import expected
from tests.reports.conftest import REPORT_DAY, SCRIPT_COMMENT
from tests.reports.readers import row, table


@pytest.fixture(scope="module")
def today(rendered):
    frame = expected.orders_frame(rendered.shop)
    return frame[frame["day"] == REPORT_DAY]


class TestMix:
    """Orders, paid orders, GMV (pay amount of paid orders), credited and success rate."""

    @pytest.mark.parametrize("dimension, table_id", [
        pytest.param("channel", "mix-channel", id="channel"),
        pytest.param("provider", "mix-pay_method", id="pay-method"),
        pytest.param("product_type", "mix-product_type", id="product"),
        pytest.param("province", "mix-province", id="province"),
    ])
    def test_per_value(self, rendered, today, dimension, table_id):
        html = rendered.html("product")
        for value, g in today.groupby(dimension):
            paid = g[g["is_paid"]]
            credited = int(g["is_credited"].sum())
            assert row(html, table_id, value)[1:] == [
                count(len(g)), count(len(paid)), money(sum(paid["pay"])), count(credited),
                pct(credited / len(paid) if len(paid) else None)], (dimension, value)

    def test_hours_add_up_to_the_day(self, rendered, today):
        from tests.reports.readers import xlsx_sheets, sheet_records

        hourly = sheet_records(xlsx_sheets(rendered.folder / "product.xlsx")["Hourly"])
        per_hour = {h: 0 for h in range(24)}
        for r in hourly:
            per_hour[int(r["Hour"])] += int(r["Orders"])
        want = today["created"].map(lambda t: t.hour).value_counts().to_dict()
        assert {h: n for h, n in per_hour.items() if n} == want


class TestTimeToCredit:
    """p50/p95/p99 of minutes from payment to credit, and the late-credit rate, per channel."""

    def test_percentiles_and_late_rate_per_channel(self, rendered, today):
        html = rendered.html("product")
        credited = today[today["is_credited"]]
        for channel, g in list(credited.groupby("channel")) + [("total", credited)]:
            p50, p95, p99 = expected.percentiles(list(g["delay"]))
            late = int(g["is_late"].sum())
            assert row(html, "ttc-table", channel)[1:] == [
                count(len(g)), minutes(p50), minutes(p95), minutes(p99), minutes(g["delay"].mean()),
                count(late), pct(late / len(g), 2)], channel


class TestTrends:
    """Daily figures over 30 days; each order as its latest evaluation has it."""

    def test_kpis_today_day_over_day_and_week_over_week(self, rendered):
        frame = expected.orders_frame(rendered.shop)
        n = frame.groupby("day").size()
        kpi = {r[0]: r for r in table(rendered.html("product"), "kpi-table")[1:]}
        d, d1, d7 = REPORT_DAY, REPORT_DAY - timedelta(days=1), REPORT_DAY - timedelta(days=7)
        assert kpi["Orders"][1:4] == [count(n[d]), change(n[d], n[d1]), change(n[d], n[d7])]
        last7 = n[n.index > d - timedelta(days=7)].sum()
        prev7 = n[(n.index <= d7)].sum()  # only two earlier days exist
        assert kpi["Orders"][4:6] == [count(last7), change(last7, prev7)]

    def test_success_rate_of_yesterday_counts_the_credit_that_came_today(self, rendered):
        """Yesterday's missing credits that arrived today make yesterday's orders successes now."""
        frame = expected.orders_frame(rendered.shop, as_of=REPORT_DAY)
        day = REPORT_DAY - timedelta(days=1)
        g = frame[(frame["day"] == day) & frame["is_paid"]]
        arrived = g[(g["kind"] == "missing_then_late") & g["is_credited"]]
        assert len(arrived) > 0
        rows = {r[0]: r for r in table(rendered.html("product"), "daily-table")[1:]}
        assert rows[day.isoformat()][3] == pct(g["is_credited"].sum() / len(g))

    def test_daily_gmv(self, rendered):
        frame = expected.orders_frame(rendered.shop)
        rows = {r[0]: r for r in table(rendered.html("product"), "daily-table")[1:]}
        for day, g in frame.groupby("day"):
            assert rows[day.isoformat()][2] == money(sum(g[g["is_paid"]]["pay"]))


class TestSatisfaction:
    """CSAT (mean 1–5) and NPS over the 7 days' answers, each response once."""

    def _week(self, rendered):
        surveys = expected.surveys_frame(rendered.shop)
        surveys = surveys[surveys["landing"] > REPORT_DAY - timedelta(days=7)]
        orders = expected.orders_frame(rendered.shop)[["order_id", "channel", "product_type", "is_late", "is_credited"]]
        return surveys.merge(orders, on="order_id", how="left")

    def test_by_channel(self, rendered):
        week = self._week(rendered)
        html = rendered.html("product")
        for channel, g in week.groupby("channel"):
            csat, score = expected.csat_nps(g)
            assert row(html, "sat-channel", channel)[1:] == [
                count(len(g)), number(csat), pct((g["csat"] >= 4).sum() / g["csat"].notna().sum()), nps(score)]

    def test_by_product_total(self, rendered):
        week = self._week(rendered)
        csat, score = expected.csat_nps(week)
        assert row(rendered.html("product"), "sat-product", "total")[1:3] == [count(len(week)), number(csat)]

    def test_late_credits_against_on_time(self, rendered):
        week = self._week(rendered)
        html = rendered.html("product")
        late = week[week["is_late"]]
        on_time = week[week["is_credited"] & ~week["is_late"]]
        assert row(html, "late-table", "credited late")[2:4] == [count(len(late)), number(expected.csat_nps(late)[0])]
        assert row(html, "late-table", "credited on time")[2:4] == [count(len(on_time)),
                                                                      number(expected.csat_nps(on_time)[0])]
        assert expected.csat_nps(late)[0] < expected.csat_nps(on_time)[0]


class TestComplaints:
    def test_per_10k_orders_by_category(self, rendered):
        frame = expected.orders_frame(rendered.shop)
        orders_day = (frame["day"] == REPORT_DAY).sum()
        orders_week = (frame["day"] > REPORT_DAY - timedelta(days=7)).sum()
        day = expected.complaint_counts(rendered.shop, REPORT_DAY, REPORT_DAY)
        week = expected.complaint_counts(rendered.shop, REPORT_DAY - timedelta(days=6), REPORT_DAY)
        html = rendered.html("product")
        for category in ("not_credited", "late_credit", "refund"):
            assert row(html, "complaints-table", category)[1:] == [
                count(day[category]), number(10_000 * day[category] / orders_day, 1),
                count(week[category]), number(10_000 * week[category] / orders_week, 1)], category


class TestComments:
    """Free text from input is shown as text: escaped, phone numbers masked."""

    def test_script_in_a_comment_stays_text(self, rendered):
        html = rendered.html("product")
        assert "<script" not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
        cells = [r[-1] for r in table(html, "comments-table")[1:]]
        assert SCRIPT_COMMENT in cells

    def test_phone_number_in_a_comment_is_masked(self, rendered):
        assert "13912345678" not in rendered.html("product")
        assert "139****5678" in rendered.html("product")

    def test_formula_in_a_comment_is_neutralised_in_xlsx(self, rendered):
        from tests.reports.readers import xlsx_sheets, sheet_records

        comments = [r["Comment"] for r in sheet_records(xlsx_sheets(rendered.folder / "product.xlsx")["Comments"])]
        assert "'=1+2 still waiting" in comments
