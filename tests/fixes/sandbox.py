"""A local provider sandbox for refunds and a billing double, for the remediation tests.

:class:`ProviderSandbox` answers Alipay's ``alipay.trade.refund``, WeChat Pay's
``POST /v3/refund/domestic/refunds`` and UnionPay's 退货 (``backTransReq.do``) on 127.0.0.1 and
an ephemeral port. Like the statement fakes of tests/extract (whose server and keys it reuses),
it checks each request's signature with its own code written from the provider's rules, signs
its answers with the provider's test key, and applies the provider's rules: a refund never
exceeds what the payment has left, a repeated request number is the same refund (never a
second), realistic error codes. Knobs: ``timeout_after_accept`` (take the refund, then answer
too late), ``fail_5xx`` (answer 500 without taking it), ``force_error`` (a business refusal).

Accepted refunds are recorded, and :meth:`ProviderSandbox.statement_rows` turns them into the
next day's statement rows for the generator (``etl.generate.ExtraRows``).

:class:`BillingDouble` plays BOSS: it reads the batch files (checksum and manifest checked, as
BOSS would), posts each request key once, and gives the next day's billing export rows.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow as pa

from etl.extract.credentials import AlipayCredentials, UnionPayCredentials, WeChatPayCredentials
from etl.fixes.billing_batch import read_batch
from etl.generate.ledgers import BILLING_ROWS, PAYMENTS_ROWS
from tests.extract.fakes import FakeServer, FakeUnionPay, FakeWeChatPay, Keys, Reply, Request, pem, sign, verifies

RAW_REFUND = {"alipay": "退款", "wechatpay": "REFUND", "unionpay": "S30"}
FEE_RATE = Decimal("0.006")
UNIONPAY_PATH = "/gateway/api/backTransReq.do"
WECHAT_PATH = "/v3/refund/domestic/refunds"
MCHID = "1900000109"
UNIONPAY_MER_ID = "777290058110048"


@dataclass
class Payment:
    provider: str
    txn: str
    order_id: str | None
    amount: Decimal
    refunded: Decimal = Decimal("0.00")


@dataclass
class Refund:
    provider: str
    key: str  # out_request_no / out_refund_no / orderId
    txn: str
    order_id: str | None
    amount: Decimal
    refund_id: str  # the provider's own id of the refund
    at: datetime


@dataclass
class ProviderSandbox:
    keys: Keys
    server: FakeServer = field(default_factory=FakeServer)
    payments: dict[tuple[str, str], Payment] = field(default_factory=dict)
    refunds: dict[tuple[str, str], Refund] = field(default_factory=dict)
    timeout_after_accept: int = 0  # take the refund, then answer after `answer_delay` seconds
    answer_delay: float = 1.5
    fail_5xx: int = 0
    force_error: str | None = None  # answer this business error (a provider code) once
    lock: threading.Lock = field(default_factory=threading.Lock)
    bad_signatures: int = 0

    def __post_init__(self) -> None:
        self.server.route("POST", "/gateway.do", self._alipay)
        self.server.route("POST", WECHAT_PATH, self._wechatpay)
        self.server.route("POST", UNIONPAY_PATH, self._unionpay)

    # -- setup --------------------------------------------------------------------------------
    def start(self) -> "ProviderSandbox":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def add_payment(self, provider: str, txn: str, order_id: str | None, amount: Decimal,
                    refunded: Decimal = Decimal("0.00")) -> None:
        self.payments[(provider, txn)] = Payment(provider, txn, order_id, Decimal(amount), Decimal(refunded))

    def credentials(self, provider: str):
        url = self.server.url
        if provider == "alipay":
            return AlipayCredentials("2021000000000001", self.keys.alipay_app, self.keys.alipay.public_key(),
                                     gateway=f"{url}/gateway.do")
        if provider == "wechatpay":
            return WeChatPayCredentials(MCHID, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", self.keys.wechat_merchant,
                                        self.keys.wechat_platform.public_key(), FakeWeChatPay.serial, base_url=url)
        return UnionPayCredentials(UNIONPAY_MER_ID, str(self.keys.merchant_cert.serial_number),
                                   self.keys.unionpay_merchant, self.keys.root_cert, self.keys.middle_cert,
                                   file_url=f"{url}/")

    def refund_url(self, provider: str) -> str:
        return {"alipay": "", "wechatpay": "", "unionpay": self.server.url + UNIONPAY_PATH}[provider]

    # -- the providers' rules -----------------------------------------------------------------
    def _take(self, provider: str, key: str, txn: str, amount: Decimal) -> tuple[str, Refund | None]:
        """``ok`` (a new refund), ``same`` (this request number again), or the refusal's reason."""
        with self.lock:
            earlier = self.refunds.get((provider, key))
            if earlier is not None:
                return ("same", earlier) if earlier.amount == amount and earlier.txn == txn else ("differs", earlier)
            payment = self.payments.get((provider, txn))
            if payment is None:
                return "no_trade", None
            if amount <= 0 or amount > payment.amount - payment.refunded:
                return "too_much", None
            payment.refunded += amount
            refund = Refund(provider, key, txn, payment.order_id, amount, f"{provider[:2].upper()}{len(self.refunds) + 1:010d}",
                            datetime.now())
            self.refunds[(provider, key)] = refund
            return "ok", refund

    def _before(self) -> Reply | None:
        if self.fail_5xx:
            self.fail_5xx -= 1
            return Reply(500, b'{"code":"SYSTEM_ERROR","message":"system error"}')
        return None

    def _after_accept(self) -> None:
        if self.timeout_after_accept:
            self.timeout_after_accept -= 1
            time.sleep(self.answer_delay)

    def _forced(self) -> str | None:
        code, self.force_error = self.force_error, None
        return code

    # -- Alipay -------------------------------------------------------------------------------
    def _alipay(self, request: Request) -> Reply:
        if (reply := self._before()) is not None:
            return reply
        form = request.form()
        text = "&".join(f"{k}={form[k]}" for k in sorted(form) if k != "sign" and form[k])
        key_name = "alipay_trade_refund_response"
        if form.get("method") != "alipay.trade.refund":
            content = {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method"}
        elif not verifies(self.keys.alipay_app.public_key(), text.encode(), form.get("sign", "")):
            self.bad_signatures += 1
            key_name = "error_response"
            content = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"}
        elif forced := self._forced():
            content = {"code": "40004", "msg": "Business Failed", "sub_code": forced, "sub_msg": forced}
        else:
            biz = json.loads(form["biz_content"])
            amount = Decimal(biz["refund_amount"])
            outcome, refund = self._take("alipay", biz["out_request_no"], biz["trade_no"], amount)
            if outcome in ("ok", "same"):
                payment = self.payments[("alipay", biz["trade_no"])]
                content = {"code": "10000", "msg": "Success", "trade_no": biz["trade_no"],
                           "out_trade_no": biz.get("out_trade_no", ""), "buyer_logon_id": "159****5620",
                           "fund_change": "Y" if outcome == "ok" else "N", "refund_fee": f"{payment.refunded:.2f}"}
            else:
                sub = {"no_trade": ("ACQ.TRADE_NOT_EXIST", "交易不存在"),
                       "too_much": ("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限"),
                       "differs": ("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与之前请求不一致")}[outcome]
                content = {"code": "40004", "msg": "Business Failed", "sub_code": sub[0], "sub_msg": sub[1]}
            if outcome == "ok":
                self._after_accept()
        content_text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        body = f'{{"{key_name}":{content_text},"sign":"{sign(self.keys.alipay, content_text.encode())}"}}'
        return Reply(200, body.encode(), {"Content-Type": "text/html;charset=utf-8"})

    # -- WeChat Pay ---------------------------------------------------------------------------
    def _wechat_signed(self, status: int, answer: dict) -> Reply:
        body = json.dumps(answer, ensure_ascii=False).encode()
        timestamp, nonce = str(int(time.time())), "SANDBOXNONCE0000000000000000000A"
        signature = sign(self.keys.wechat_platform, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
        return Reply(status, body, {"Content-Type": "application/json", "Wechatpay-Timestamp": timestamp,
                                    "Wechatpay-Nonce": nonce, "Wechatpay-Signature": signature,
                                    "Wechatpay-Serial": FakeWeChatPay.serial})

    def _wechatpay(self, request: Request) -> Reply:
        if (reply := self._before()) is not None:
            return reply
        header = request.headers.get("Authorization", "")
        schema, _, params = header.partition(" ")
        fields = {k: v.strip('"') for k, v in (p.split("=", 1) for p in params.split(",") if "=" in p)}
        message = (f"{request.method}\n{request.path_url}\n{fields.get('timestamp')}\n"
                   f"{fields.get('nonce_str')}\n").encode() + request.body + b"\n"
        if not (schema == "WECHATPAY2-SHA256-RSA2048" and fields.get("mchid") == MCHID
                and verifies(self.keys.wechat_merchant.public_key(), message, fields.get("signature", ""))):
            self.bad_signatures += 1
            return self._wechat_signed(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        if forced := self._forced():
            status = {"NOT_ENOUGH": 403, "USER_ACCOUNT_ABNORMAL": 403, "NO_AUTH": 403, "RESOURCE_NOT_EXISTS": 404}.get(forced, 400)
            return self._wechat_signed(status, {"code": forced, "message": forced})
        body = json.loads(request.body)
        amount = Decimal(body["amount"]["refund"]) / 100
        payment = self.payments.get(("wechatpay", body["transaction_id"]))
        if payment is not None and Decimal(body["amount"]["total"]) / 100 != payment.amount:
            return self._wechat_signed(400, {"code": "INVALID_REQUEST", "message": "订单金额与原订单金额不一致"})
        outcome, refund = self._take("wechatpay", body["out_refund_no"], body["transaction_id"], amount)
        if outcome == "no_trade":
            return self._wechat_signed(404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"})
        if outcome == "too_much":
            return self._wechat_signed(400, {"code": "INVALID_REQUEST", "message": "申请退款金额超过订单可退金额"})
        if outcome == "differs":
            return self._wechat_signed(400, {"code": "INVALID_REQUEST", "message": "同一退款单号金额不一致"})
        answer = {"refund_id": refund.refund_id, "out_refund_no": refund.key, "transaction_id": refund.txn,
                  "out_trade_no": refund.order_id or "", "channel": "ORIGINAL", "status": "PROCESSING",
                  "create_time": refund.at.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
                  "amount": {"refund": int(amount * 100), "total": int(payment.amount * 100), "currency": "CNY"}}
        if outcome == "ok":
            self._after_accept()
        return self._wechat_signed(200, answer)

    # -- UnionPay -----------------------------------------------------------------------------
    def _unionpay(self, request: Request) -> Reply:
        if (reply := self._before()) is not None:
            return reply
        form = request.form()
        answer = {k: form.get(k, "") for k in ("version", "encoding", "bizType", "txnTime", "txnType", "txnSubType",
                                               "accessType", "merId", "orderId", "origQryId", "txnAmt")}
        answer.update(signMethod="01", signPubKeyCert=pem(self.keys.leaf_cert))
        missing = [k for k in ("orderId", "origQryId", "txnTime", "txnAmt", "backUrl") if not form.get(k)]
        if not verifies(self.keys.unionpay_merchant.public_key(), FakeUnionPay._digest(form), form.get("signature", "")) \
                or form.get("certId") != str(self.keys.merchant_cert.serial_number):
            self.bad_signatures += 1
            answer.update(respCode="11", respMsg="验证签名失败")
        elif form.get("txnType") != "04" or missing:
            answer.update(respCode="13", respMsg="报文交易要素缺失" + ",".join(missing))
        elif forced := self._forced():
            answer.update(respCode=forced, respMsg="交易失败")
        else:
            outcome, refund = self._take("unionpay", form["orderId"], form["origQryId"], Decimal(form["txnAmt"]) / 100)
            if outcome == "ok":
                answer.update(respCode="00", respMsg="成功[0000000]", queryId=refund.refund_id)
            elif outcome in ("same", "differs"):
                answer.update(respCode="12", respMsg="重复交易")
            elif outcome == "no_trade":
                answer.update(respCode="35", respMsg="原交易不存在或状态不正确")
            else:
                answer.update(respCode="33", respMsg="交易金额超限")
            if outcome == "ok":
                self._after_accept()
        answer["signature"] = sign(self.keys.unionpay_leaf, FakeUnionPay._digest(answer))
        return Reply(200, "&".join(f"{k}={v}" for k, v in answer.items()).encode(),
                     {"Content-Type": "text/plain;charset=UTF-8"})

    # -- the next day's statements ------------------------------------------------------------
    def statement_rows(self, at: datetime) -> pa.Table:
        """Every accepted refund as a statement row of the day of ``at`` (time ``at``), for
        ``ExtraRows.statement``: the refund request number is the row's refund id, the fee
        returned is the contracted fee of the refunded amount."""
        refunds = sorted(self.refunds.values(), key=lambda r: (r.provider, r.key))
        fee = [-(r.amount * FEE_RATE).quantize(Decimal("0.01"), ROUND_HALF_UP) for r in refunds]
        return pa.table({
            "provider": [r.provider for r in refunds],
            "provider_txn_id": [r.txn for r in refunds],
            "refund_id": [r.key for r in refunds],
            "order_id": [r.order_id for r in refunds],
            "kind": ["refund"] * len(refunds),
            "amount": pa.array([r.amount for r in refunds], pa.decimal128(18, 2)),
            "settle_amount": pa.array([r.amount for r in refunds], pa.decimal128(18, 2)),
            "fee": pa.array(fee, pa.decimal128(18, 5)),
            "event_at": pa.array([at] * len(refunds), pa.timestamp("s")),
            "status": ["success"] * len(refunds),
            "raw_type": [RAW_REFUND[r.provider] for r in refunds],
            "pay_detail": pa.array([None] * len(refunds), pa.string()),
        }, schema=PAYMENTS_ROWS)


class BillingDouble:
    """BOSS, as far as the fixes see it: batch files in, the next billing export's rows out."""

    def __init__(self, outbox: Path):
        self.outbox = Path(outbox)
        self.posted: dict[str, dict] = {}

    def take_batches(self) -> int:
        """Read every complete batch in the outbox; each request key is posted once."""
        taken = 0
        for path in sorted(self.outbox.glob("recon_fixes_*.csv")):
            for line in read_batch(path):
                if line["request_key"] not in self.posted:
                    self.posted[line["request_key"]] = line
                    taken += 1
        return taken

    def billing_rows(self, at: datetime) -> pa.Table:
        """The posted lines as billing rows at ``at``: a credit, or a reversal naming its credit;
        the row's credit_id is the request key."""
        lines = sorted(self.posted.values(), key=lambda l: l["request_key"])
        credit = [l["action"] == "CREDIT" for l in lines]
        amount = [Decimal(l["amount"]) * (1 if c else -1) for l, c in zip(lines, credit)]
        return pa.table({
            "credit_id": [l["request_key"] for l in lines],
            "order_id": [l["order_id"] or None for l in lines],
            "msisdn": [l["msisdn"] or None for l in lines],
            "amount": pa.array(amount, pa.decimal128(18, 2)),
            "product_type": [l["product_type"] or None for l in lines],
            "credited_at": pa.array([at] * len(lines), pa.timestamp("s")),
            "result": ["success" if c else "reversed" for c in credit],
            "result_code": ["0000"] * len(lines),
            "reverses_credit_id": [l["reverses_credit_id"] or None for l in lines],
        }, schema=BILLING_ROWS)
