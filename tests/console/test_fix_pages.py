"""The fix requests' page: ops propose a fix of an open break, finance approves it (复核通过) or
sends it back (驳回); nobody approves their own; the rules are etl.fixes.requests's."""
from __future__ import annotations

import re

from tests.console.conftest import first_break


def _key(page: str) -> str:
    return re.search(r"<td>((?:RC|RF|RV)[0-9A-F]{30})</td>", page).group(1)


def test_ops_propose_and_finance_approve(as_role, site):
    missing = first_break(site[1], "MISSING_CREDIT")
    ops, fin = as_role("ops"), as_role("finance")
    answer = ops.post("/fixes/propose", {"break_key": missing["break_key"], "kind": "recredit", "reason": "掉单补充值"})
    assert answer.status_code == 303, answer.text
    page = ops.get("/fixes").text
    key = _key(page)
    assert "待复核" in page and "补充值" in page
    assert ops.post("/fixes/approve", {"key": key}).status_code == 403  # ops never approve
    assert fin.post("/fixes/approve", {"key": key}).status_code == 303
    assert "复核通过" in fin.get("/fixes").text


def test_finance_may_not_approve_their_own(as_role, site):
    missing = first_break(site[1], "MISSING_CREDIT")
    fin = as_role("finance")
    assert fin.post("/fixes/propose", {"break_key": missing["break_key"], "kind": "recredit",
                                       "reason": "x"}).status_code == 303
    key = _key(fin.get("/fixes").text)
    refused = fin.post("/fixes/approve", {"key": key})
    assert refused.status_code == 409 and "may not approve" in refused.text
    assert fin.post("/fixes/decline", {"key": key, "reason": "no"}).status_code == 409


def test_more_than_the_break_holds_is_refused(as_role, site):
    missing = first_break(site[1], "MISSING_CREDIT")
    refused = as_role("ops").post("/fixes/propose", {"break_key": missing["break_key"], "kind": "refund",
                                                     "amount": "99999.00", "reason": "x"})
    assert refused.status_code == 409 and "more than this fix may move" in refused.text


def test_a_product_user_sees_no_fixes(as_role):
    assert as_role("product").get("/fixes").status_code == 403
