"""The console's pages as each user works with them: the queue filtered, sorted and paged in
DuckDB, its export as filtered (and safe in a spreadsheet), search by any id or a whole phone
number (answered masked), a break's story with the file and line of each row, bulk resolve from
the queue's own export, day close and reopen, the audit log's export, the admin's users."""
from __future__ import annotations

import csv
import io
import re

import duckdb
import pytest
from sqlalchemy import select

from console.store.models import AuditEntry, Resolution
from tests.console.conftest import PASSWORD, Browser, first_break


def _breaks(settings):
    from console.published import Published
    from console.reasons import SlaRule

    pub = Published(settings.paths.output, SlaRule.from_settings(settings.console))
    return pub, pub.file(pub.latest(), "breaks")


class TestQueue:
    def test_filters_count_what_duckdb_counts(self, as_role, site):
        pub, path = _breaks(site[1])
        expected = pub.scalar("select count(*) from read_parquet($p) where status = 'open' "
                              "and break_type = 'MISSING_CREDIT'", {"p": path})
        page = as_role("ops").get("/queue", params={"type": "MISSING_CREDIT"}).text
        assert f'id="queue-total">{expected} ' in page
        assert len(re.findall(r'<tr>\s*<td><a href="/break', page)) == expected

    def test_pages_are_disjoint_and_sorted_by_amount(self, site):
        from console.app import create_app
        from console.store import _engine_for
        from etl.config import load_settings
        from tests.console.conftest import ROLE_USERS, site_env

        _engine_for.cache_clear()
        settings = load_settings({**site_env(site[0]), "RECON_CONSOLE__PAGE_SIZE": "5"})
        b = Browser(create_app(settings))
        b.login(ROLE_USERS["ops"])
        seen = []
        for n in (1, 2, 3):
            page = b.get("/queue", params={"sort": "amount", "page": str(n)}).text
            seen += re.findall(r'<a href="/break\?key=([^"]+)"', page)
        assert len(seen) == 15 and len(set(seen)) == 15
        pub, path = _breaks(settings)
        amounts = [r["a"] for r in pub.query("select abs(difference) as a from read_parquet($p) where status = 'open' "
                                              "order by abs(difference) desc, age_days desc, break_key limit 15",
                                              {"p": path})]
        assert amounts == sorted(amounts, reverse=True)

    @pytest.mark.parametrize("sort", ["age", "amount", "type", "first_seen", "provider"])
    def test_every_sort_pages_as_its_order_by(self, site, sort):
        """A page read by the sort's rank (or, as the queue opens, in the table's own order) is the
        page the sort's ORDER BY gives, in both directions, filtered or not."""
        from console.published import SORTS, QueueFilter

        pub, path = _breaks(site[1])
        unranked = pub.latest_breaks()[1]  # loaded, then numbered beside the pages
        pub._numbering.join()  # the rows numbered in every sort: pages ordered by one number
        ranked = pub.latest_breaks()[1]
        assert ranked != unranked and ranked in pub._ranked
        types = [t for (t,) in duckdb.sql(f"select distinct break_type from '{path}' order by 1").fetchall()]
        some_keys = [k for (k,) in duckdb.sql(f"select break_key from '{path}' order by break_key limit 40").fetchall()]
        for descending in (True, False):
            order = SORTS[sort].format(dir="desc" if descending else "asc")
            for f, where, params in [
                (QueueFilter(sort=sort, descending=descending), "status = 'open'", {}),
                (QueueFilter(sort=sort, descending=descending, break_type=types[0]),
                 "status = 'open' and break_type = $t", {"t": types[0]}),
                (QueueFilter(sort=sort, descending=descending, include_keys=some_keys, status="all"),
                 "break_key in (select unnest($keys::varchar[]))", {"keys": some_keys}),
            ]:
                expected = [r["break_key"] for r in pub.query(
                    f"select break_key from read_parquet($p) where {where} order by {order}", {"p": path, **params})]
                assert expected, (sort, where)
                got = [r["break_key"] for n in range(1, 5) for r in pub.queue(f, n, 7).rows]
                assert got == expected[:28], (sort, descending, where)
                pub._table = (pub._table[0], unranked)  # before the numbering: ordered by the sort's columns
                got = [r["break_key"] for n in range(1, 5) for r in pub.queue(f, n, 7).rows]
                pub._table = (pub._table[0], ranked)
                assert got == expected[:28], (sort, descending, where, "unranked")

    def test_a_newer_night_loads_while_pages_keep_the_night_they_had(self, site):
        import shutil
        from datetime import timedelta

        from console.published import QueueFilter

        pub, _ = _breaks(site[1])
        day, table = pub.latest_breaks()
        newer = day + timedelta(days=1)
        output = site[1].paths.output
        shutil.copytree(output / day.isoformat(), output / newer.isoformat())
        import threading

        answered = []
        with pub._load_lock:  # another request is loading the newer night: this one is not held up
            asking = threading.Thread(target=lambda: answered.append(pub.latest_breaks()), daemon=True)
            asking.start()
            asking.join(10)
            assert [d for d, _ in answered] == [day]
        newer_day, newer_table = pub.latest_breaks()
        assert newer_day == newer and newer_table != table
        assert pub.queue(QueueFilter(), 1, 5).business_date == newer

    def test_a_storys_other_breaks_are_its_orders_other_breaks(self, site):
        """Found by the order id, in the table as loaded and once numbered (with its index)."""
        import os

        pub, path = _breaks(site[1])
        # three orders with a second break each (the sample day has none)
        duckdb.execute(f"copy (select * from '{path}' union all select * replace (break_key || '#2' as break_key) "
                       f"from (select * from '{path}' where order_id is not null order by break_key limit 3)) "
                       f"to '{path}.new' (format parquet)")
        os.replace(f"{path}.new", path)
        first = pub.latest_breaks()[1]
        twice = pub.query("select order_id from read_parquet($p) where order_id is not null group by 1 "
                          "having count(*) > 1 order by 1", {"p": path})
        assert len(twice) == 3
        pub._numbering.join()
        ranked = pub.latest_breaks()[1]
        assert ranked in pub._ranked
        for table in (first, ranked):
            pub._table = (pub._table[0], table)
            for order_id in (r["order_id"] for r in twice):
                rows = pub.query("select * from read_parquet($p) where order_id = $o order by break_key",
                                 {"p": path, "o": order_id})
                others = pub.other_breaks(rows[0])
                assert [o["break_key"] for o in others] == [r["break_key"] for r in rows[1:]]

    def test_export_is_the_filtered_queue_and_safe_in_a_spreadsheet(self, as_role, site):
        import os

        pub, path = _breaks(site[1])
        con = duckdb.connect()
        con.execute(f"copy (select * replace (case when break_type = 'ORPHAN_CREDIT' then '=cmd|calc' "
                    f"else channel end as channel, case when break_type = 'ORPHAN_CREDIT' then '=HYPERLINK(1)' "
                    f"else credit_id end as credit_id) from read_parquet($p)) to '{path}.new' (format parquet)",
                    {"p": path})
        os.replace(path + ".new", path)
        r = as_role("ops").get("/queue.csv", params={"type": "ORPHAN_CREDIT"})
        rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        expected = pub.scalar("select count(*) from read_parquet($p) where status = 'open' "
                              "and break_type = 'ORPHAN_CREDIT'", {"p": path})
        assert len(rows) == expected > 0
        assert {row["break_type"] for row in rows} == {"ORPHAN_CREDIT"}
        assert all(row["credit_id"] == "'=HYPERLINK(1)" for row in rows)
        assert "reason" in rows[0] and "text" in rows[0]
        xlsx = as_role("ops").get("/queue.xlsx", params={"type": "ORPHAN_CREDIT"})
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
        assert sheet.max_row == expected + 1
        assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


class TestSearch:
    def _phone(self, settings) -> tuple[str, str]:
        """A whole number and its order, read from the warehouse as a colleague would quote it."""
        con = duckdb.connect(str(settings.paths.warehouse), read_only=True)
        order_id, msisdn = con.execute("select order_id, msisdn from raw_orders order by order_id limit 1").fetchone()
        con.close()
        return order_id, msisdn

    def test_a_whole_phone_number_finds_the_customers_orders_masked(self, as_role, site, app):
        order_id, msisdn = self._phone(site[1])
        page = as_role("ops").get("/search", params={"q": msisdn}).text
        assert order_id in page
        assert msisdn not in page and f"{msisdn[:3]}****{msisdn[-4:]}" in page
        with app.state.store() as db:
            details = [d for (d,) in db.execute(select(AuditEntry.detail).where(AuditEntry.action == "search"))]
        assert details and msisdn not in details[-1]

    def test_the_published_files_hold_no_phone_number(self, site):
        _, msisdn = self._phone(site[1])
        day = site[1].paths.output / "2026-11-01" / "console"
        for path in day.glob("*.parquet"):
            assert msisdn.encode() not in path.read_bytes(), path.name

    def test_a_provider_transaction_id_finds_its_break(self, as_role, site):
        row = first_break(site[1], "DUPLICATE_PAYMENT")
        page = as_role("ops").get("/search", params={"q": row["provider_txn_id"]}).text
        assert row["order_id"] in page and "重复支付" in page


    def test_breaks_found_by_lookups_are_those_the_whole_query_finds(self, site):
        """Each id a search takes, and a phone hash: the breaks found one lookup an id (by the
        numbered table's indexes, and on the table as loaded) are the rows, in the order, that one
        query over the night's file finds."""
        import os

        pub, path = _breaks(site[1])
        # an order with a second break (the sample day has none), so that a search finds two: seen
        # first the same day, its key sorts after the first's but its larger amount lists it first;
        # and a break of another order with the same transaction id, whose key sorts first
        duckdb.execute(f"copy (with one as (select * from '{path}' where order_id is not null "
                       f"and provider_txn_id is not null and difference <> 0 order by break_key limit 1) "
                       f"select * from '{path}' union all select * replace (break_key || '#2' as break_key, "
                       f"cast(difference * 2 as decimal(18, 2)) as difference) from one union all "
                       f"select * replace ('0' || break_key as break_key, 'X' || order_id as order_id) from one) "
                       f"to '{path}.new' (format parquet)")
        os.replace(f"{path}.new", path)
        ids = pub.query("select order_id, provider_txn_id, credit_id, msisdn_hash from read_parquet($p) "
                        "order by break_key desc limit 40", {"p": path})
        texts = {v for r in ids for k, v in r.items() if k != "msisdn_hash" and v}
        hashes = {r["msisdn_hash"] for r in ids if r["msisdn_hash"]}
        assert texts and hashes

        def expected(column_values):
            return [r["break_key"] for r in pub.query(
                "select break_key from read_parquet($p) where "
                + " or ".join(f"{c} = ${c}" for c in column_values) + " order by first_seen desc, break_key",
                {"p": path, **column_values})]

        first = pub.latest_breaks()[1]
        pub._numbering.join()
        ranked = pub.latest_breaks()[1]
        several = 0
        for table in (first, ranked):
            pub._table = (pub._table[0], table)
            for text in sorted(texts):
                got = [b["break_key"] for b in pub.search(text, None)["breaks"]]
                assert got == expected({"order_id": text, "provider_txn_id": text, "credit_id": text}), text
                several += len(got) > 1
            for h in sorted(hashes):
                assert [b["break_key"] for b in pub.search("", h)["breaks"]] == expected({"msisdn_hash": h})
            # more ids than are looked up one by one (an id on many orders): one query instead
            orders = sorted(r["order_id"] for r in ids if r["order_id"])
            assert [b["break_key"] for b in pub._breaks_with(table, {}, [("order_id", o) for o in orders])] == [
                r["break_key"] for r in pub.query(
                    "select break_key from read_parquet($p) where order_id in (select unnest($o::varchar[])) "
                    "order by first_seen desc, break_key", {"p": path, "o": orders})]
        assert several  # the order with two breaks was searched

    def test_a_search_opens_only_the_dates_whose_ids_can_hold_it(self, as_role, site):
        """Each night's orders index holds that night's order ids: a search by one reads its own
        date's file, and still finds the order on every date published."""
        pub, _ = _breaks(site[1])
        files = pub.files("orders")
        assert len(files) == 2
        for path in files:
            order_id = pub.scalar("select max(order_id) from read_parquet($p)", {"p": path})
            assert pub.holding(files, "order_id", [order_id]) == [path]
            page = as_role("ops").get("/search", params={"q": order_id}).text
            assert order_id in page
        assert pub.holding(files, "order_id", ["NO-SUCH-ORDER"]) == []

    def test_a_phone_number_finds_by_its_index_what_a_scan_of_every_order_finds(self, site):
        """Through each date's phone index (and without it, for a date published before it):
        the orders whose whole hash is the number's, newest first; an order listed under the same
        32-bit key with another number (a collision) is not one of them."""
        import os

        pub, _ = _breaks(site[1])
        orders, phones = pub.files("orders"), pub.files("phones")
        assert len(phones) == 2 and all(os.path.exists(p) for p in phones)
        hashes = [r["msisdn_hash"] for r in pub.query(
            "select msisdn_hash from read_parquet($f) group by 1 order by count(*) desc, 1 limit 5", {"f": orders})]

        def scanned(h):
            return [r["order_id"] for r in pub.query(
                "select order_id from read_parquet($f) where msisdn_hash = $h order by created_at desc, "
                "business_date, order_id", {"f": orders, "h": h})]

        def found(h):
            return [r["order_id"] for r in pub.search("", h)["orders"]]

        assert all(scanned(h) for h in hashes)
        for h in hashes:
            assert found(h) == scanned(h)
        # another order under the first number's key: found in the index, refused by its hash
        h = hashes[0]
        other = pub.scalar("select order_id from read_parquet($f) where msisdn_hash <> $h order by order_id limit 1",
                           {"f": orders[0], "h": h})
        duckdb.execute(f"copy (select * from (select * from '{phones[0]}' union all (select business_date, "
                       f"('0x' || left('{h}', 8))::uinteger, '{other}' from '{phones[0]}' limit 1)) "
                       f"order by msisdn_key, order_id) to '{phones[0]}.new' (format parquet)")
        os.replace(f"{phones[0]}.new", phones[0])
        assert other not in found(h) and found(h) == scanned(h)
        # the index is what is read: a date whose index lists nothing yields nothing
        duckdb.execute(f"copy (select * from '{phones[1]}' limit 0) to '{phones[1]}.new' (format parquet)")
        os.replace(f"{phones[1]}.new", phones[1])
        assert [found(h) for h in hashes] != [scanned(h) for h in hashes]
        os.remove(phones[0])  # dates published before the phone index: their orders are scanned
        os.remove(phones[1])
        for h in hashes:
            assert found(h) == scanned(h)

    def test_a_replaced_or_unmeasured_file_is_read_again_or_kept(self, tmp_path):
        """A date run again replaces its files: their ranges are read anew. A file whose footer
        states no range (another writer), or without the column, is always searched."""
        import os

        import pyarrow as pa
        import pyarrow.parquet as pq

        from console.published import Published
        from console.reasons import SlaRule

        pub = Published(tmp_path, SlaRule({"default": 1}, 1, 1))
        path = str(tmp_path / "ids.parquet")
        pq.write_table(pa.table({"id": ["A1", "A2"]}), path)
        assert pub.holding([path], "id", ["B1"]) == []
        pq.write_table(pa.table({"id": ["B1", "B2", "B3"]}), path + ".new")
        os.replace(path + ".new", path)
        assert pub.holding([path], "id", ["B1"]) == [path]
        pq.write_table(pa.table({"id": ["C1"]}), path + ".new", write_statistics=False)
        os.replace(path + ".new", path)
        assert pub.holding([path], "id", ["B1"]) == [path]
        pq.write_table(pa.table({"other": ["C1", "C2"]}), path + ".new")  # a file of another shape
        os.replace(path + ".new", path)
        assert pub.holding([path], "id", ["B1"]) == [path]


class TestStory:
    def test_every_ledger_row_with_its_file_and_line(self, as_role, site):
        row = first_break(site[1], "DUPLICATE_PAYMENT")
        page = as_role("ops").get("/break", params={"key": row["break_key"]}).text
        lines = re.findall(r'<td class="mono">([^<]+\.(?:csv|txt|xlsx|zip|gz)[^<]*:\d+)</td>', page)
        assert len(lines) >= 3  # the order and its two payments at least
        assert "重复支付" in page

    def test_product_role_never_sees_a_story(self, as_role, site):
        assert as_role("product").get("/break", params={"key": first_break(site[1])["break_key"]}).status_code == 403


class TestBulkResolve:
    def test_the_queues_own_export_filled_in_is_applied_all_or_nothing(self, as_role, site, app):
        ops = as_role("ops")
        exported = ops.get("/queue.csv", params={"type": "FEE_MISMATCH"}).content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert len(rows) >= 2
        for row in rows:
            row["reason"], row["text"] = "false_positive", "rate changed on the 1st"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        preview = ops.client.post("/bulk/preview", data={"csrf": ops.csrf},
                                  files={"file": ("queue.csv", buffer.getvalue().encode("utf-8"))})
        assert preview.status_code == 200
        token = re.search(r'name="token" value="([^"]+)"', preview.text).group(1)
        with app.state.store() as db:
            assert db.execute(select(Resolution)).first() is None  # a preview changes nothing
        # someone acts on one of them meanwhile: nothing is applied
        other = Browser(app)
        other.login("wang.ops")
        assert other.post("/break/claim", {"key": rows[0]["break_key"], "version": "0"}).status_code == 303
        assert ops.post("/bulk/apply", {"token": token}).status_code == 409
        with app.state.store() as db:
            assert db.execute(select(Resolution)).first() is None
        preview = ops.client.post("/bulk/preview", data={"csrf": ops.csrf},
                                  files={"file": ("queue.csv", buffer.getvalue().encode("utf-8"))})
        token = re.search(r'name="token" value="([^"]+)"', preview.text).group(1)
        assert ops.post("/bulk/apply", {"token": token}).status_code == 303
        with app.state.store() as db:
            done = db.execute(select(Resolution)).scalars().all()
        assert {r.break_key for r in done} == {row["break_key"] for row in rows}
        assert {r.source for r in done} == {"bulk"}

    def test_a_forged_preview_token_is_refused(self, as_role):
        assert as_role("ops").post("/bulk/apply", {"token": "eyJrZXkiOiJ4In0.forged"}).status_code == 400


class TestFinanceDay:
    def test_close_then_reopen_only_with_a_reason(self, as_role, app):
        fin = as_role("finance")
        assert fin.post("/finance/close", {"day": "2026-11-02"}).status_code == 303
        assert fin.post("/finance/close", {"day": "2026-11-02"}).status_code == 409
        assert fin.post("/finance/reopen", {"day": "2026-11-02", "reason": ""}).status_code == 409
        assert fin.post("/finance/reopen", {"day": "2026-11-02", "reason": "late statement"}).status_code == 303
        page = fin.get("/finance", params={"day": "2026-11-02"}).text
        assert "late statement" in page
        assert fin.post("/finance/close", {"day": "2031-01-01"}).status_code == 400


class TestAuditExport:
    def test_export_holds_the_chain(self, as_role, app):
        as_role("ops").get("/search", params={"q": "X1"})
        r = as_role("auditor").get("/audit.csv", params={"action": "search"})
        rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows and all(len(row["hash"]) == 64 for row in rows)


class TestAdmin:
    def test_adds_a_user_who_can_sign_in(self, as_role, app):
        adm = as_role("admin")
        assert adm.post("/users/add", {"name": "zhou.ops", "display_name": "周", "role": "ops",
                                       "password": PASSWORD}).status_code == 303
        assert adm.post("/users/add", {"name": "x", "role": "root", "password": PASSWORD}).status_code == 400
        assert Browser(app).login("zhou.ops").status_code == 303
        assert adm.post("/users/disable", {"name": "zhou.ops"}).status_code == 303
        assert Browser(app).login("zhou.ops").status_code == 400


class TestLanguage:
    def test_chinese_by_default_english_on_request(self, as_role):
        ops = as_role("ops")
        assert "待办队列" in ops.get("/queue").text
        assert ops.post("/settings", {"locale": "en"}).status_code == 303
        page = ops.get("/queue").text
        assert "Work queue" in page and "待办队列" not in page and 'lang="en"' in page
        assert ops.post("/settings", {"locale": "fr"}).status_code == 400


class TestPublishedReports:
    """Each night's report files, as the night published them, behind the login (Airflow's run
    pages link to /reports/<date>/): each file to the roles that read its console page."""

    def _publish(self, settings, day="2026-11-02"):
        folder = settings.paths.output / day
        for name in ("index.html", "finance.html", "ops.html", "product.html", "ops_queue.csv"):
            (folder / name).write_text(f"<p>{name} of {day}</p>", "utf-8")
        return day

    def test_each_role_reads_its_own_reports(self, as_role, site):
        day = self._publish(site[1])
        finance, product, ops = as_role("finance"), as_role("product"), as_role("ops")
        assert finance.get(f"/reports/{day}/finance.html").text == f"<p>finance.html of {day}</p>"
        assert product.get(f"/reports/{day}/product.html").status_code == 200
        assert product.get(f"/reports/{day}/ops.html").status_code == 403  # ops' page shows phone numbers
        assert product.get(f"/reports/{day}/finance.html").status_code == 403
        assert ops.get(f"/reports/{day}/finance.html").status_code == 403
        export = ops.get(f"/reports/{day}/ops_queue.csv")
        assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]

    def test_the_date_folder_opens_on_its_index(self, as_role, site):
        day = self._publish(site[1])
        browser = as_role("product")
        moved = browser.get(f"/reports/{day}/")
        assert (moved.status_code, moved.headers["location"]) == (303, "index.html")
        assert browser.get(f"/reports/{day}/index.html").text == f"<p>index.html of {day}</p>"

    def test_signed_out_is_sent_to_the_login(self, as_role, site):
        day = self._publish(site[1])
        response = as_role(None).get(f"/reports/{day}/index.html")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")

    @pytest.mark.parametrize("day", ["2026-13-01", "..", "2026-11-02%2F..%2F..", "2099-01-01"])
    def test_a_bad_or_missing_date_changes_nothing_and_reads_nothing(self, as_role, site, day):
        self._publish(site[1])
        response = as_role("finance").get(f"/reports/{day}/finance.html")
        assert response.status_code in (400, 404)
        assert "finance.html of" not in response.text
