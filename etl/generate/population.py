"""The customers: who orders what, when, how they pay, and what they say about it afterwards.

Everything is drawn as whole-day numpy arrays (no Python loop per order), from a
``numpy.random.Generator`` the caller seeds. Categorical columns are small integer codes into
the tables below; money is int64 fen; times are int64 seconds of local Asia/Shanghai wall time
since 1970-01-01 00:00 (naive, like the files). Strings are built once, at the end, by
``etl.generate.ledgers``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY = 86_400
HOUR = 3_600

CHANNELS = ("web", "app", "alipay_mini", "wechat_mini", "jd")
CHANNEL_WEIGHTS = (0.11, 0.36, 0.20, 0.26, 0.07)

PROVIDERS = ("alipay", "wechatpay", "unionpay")  # pay_method code = index here
# P(pay method | channel), rows in CHANNELS order, columns in PROVIDERS order.
METHOD_BY_CHANNEL = np.array(
    [
        [0.45, 0.25, 0.30],  # web: cashier page offers all three
        [0.45, 0.45, 0.10],  # app
        [1.00, 0.00, 0.00],  # alipay_mini
        [0.00, 1.00, 0.00],  # wechat_mini
        [0.10, 0.10, 0.80],  # jd: JD Pay settles through UnionPay cards
    ]
)

PRODUCT_TYPES = ("call_credit", "data", "plan")
PRODUCT_TYPE_WEIGHTS = (0.70, 0.22, 0.08)


@dataclass(frozen=True)
class Product:
    code: str
    product_type: int  # index into PRODUCT_TYPES
    face_fen: int
    weight: float  # within its product type


PRODUCTS: tuple[Product, ...] = (
    Product("CC10", 0, 1_000, 5),
    Product("CC20", 0, 2_000, 10),
    Product("CC30", 0, 3_000, 12),
    Product("CC50", 0, 5_000, 30),
    Product("CC100", 0, 10_000, 25),
    Product("CC200", 0, 20_000, 8),
    Product("DATA1G", 1, 1_000, 15),
    Product("DATA2G", 1, 2_000, 20),
    Product("DATA5G", 1, 3_000, 25),
    Product("DATA10G", 1, 5_000, 25),
    Product("DATA20G", 1, 8_000, 15),
    Product("PLAN4G59", 2, 5_900, 20),
    Product("PLAN5G129", 2, 12_900, 35),
    Product("PLAN5G169", 2, 16_900, 20),
    Product("PLAN5G199", 2, 19_900, 15),
    Product("PLAN5G239", 2, 23_900, 10),
)
PRODUCT_CODES = tuple(p.code for p in PRODUCTS)
PRODUCT_TYPE_OF = np.array([p.product_type for p in PRODUCTS], dtype=np.int8)
FACE_FEN_OF = np.array([p.face_fen for p in PRODUCTS], dtype=np.int64)

# Discount as per-mille of face value, by product type: (per-mille, weight). Call credit is
# sold near face (49.80 for 50), data packs and plans run deeper promotions.
DISCOUNTS: dict[int, tuple[tuple[int, float], ...]] = {
    0: ((1000, 30), (998, 20), (996, 15), (995, 15), (990, 12), (980, 6), (950, 2)),
    1: ((1000, 40), (950, 25), (900, 20), (800, 15)),
    2: ((1000, 60), (950, 25), (900, 15)),
}

# The 31 mainland provinces, weighted by population (millions).
PROVINCES = (
    "GD", "SD", "HA", "JS", "SC", "HE", "HN", "ZJ", "AH", "HB", "GX", "YN", "JX", "LN", "FJ", "SN",
    "GZ", "SX", "CQ", "HL", "XJ", "SH", "GS", "NM", "JL", "BJ", "TJ", "HI", "NX", "QH", "XZ",
)
PROVINCE_WEIGHTS = (
    126, 101, 99, 85, 84, 75, 66, 65, 61, 58, 50, 47, 45, 43, 42, 40,
    39, 35, 32, 31, 26, 25, 25, 24, 24, 22, 14, 10, 7, 6, 4,
)

# Real mobile number segments of the three carriers (first three digits).
MSISDN_PREFIXES = (
    134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 157, 158, 159, 172, 178, 182, 183, 184,
    187, 188, 195, 197, 198,  # China Mobile
    130, 131, 132, 145, 155, 156, 166, 175, 176, 185, 186, 196,  # China Unicom
    133, 149, 153, 173, 177, 180, 181, 189, 190, 191, 193, 199,  # China Telecom
)

# Share of a day's orders per hour: quiet nights, a morning rise, a lunch bump, evening peak.
HOUR_WEIGHTS = np.array(
    [1.2, 0.6, 0.35, 0.25, 0.25, 0.4, 1.0, 2.5, 4.2, 5.0, 5.3, 5.4,
     5.8, 5.0, 4.8, 4.9, 5.0, 5.4, 6.0, 6.8, 7.8, 8.2, 6.8, 3.6]
)

# WeChat's 付款银行 and UnionPay's card type, kept in the canonical ``pay_detail``.
WECHAT_BANKS = ("OTHERS", "CMB_DEBIT", "ICBC_DEBIT", "CCB_DEBIT", "ABC_DEBIT", "CMB_CREDIT", "ICBC_CREDIT")
WECHAT_BANK_WEIGHTS = (0.45, 0.14, 0.12, 0.10, 0.07, 0.07, 0.05)
UNIONPAY_CARDS = ("01", "02")  # debit, credit
UNIONPAY_CARD_WEIGHTS = (0.7, 0.3)


def _p(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def draw_customers(rng: np.random.Generator, n: int, providers: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``n`` orders' who/what/how, without times or outcome: channel, product, money, province,
    msisdn, pay method (only among ``providers``, the active ones) and its pay detail."""
    channel = rng.choice(len(CHANNELS), size=n, p=_p(CHANNEL_WEIGHTS)).astype(np.int8)

    ptype = rng.choice(len(PRODUCT_TYPES), size=n, p=_p(PRODUCT_TYPE_WEIGHTS)).astype(np.int8)
    product = np.empty(n, dtype=np.int16)
    pay_fen = np.empty(n, dtype=np.int64)
    for t in range(len(PRODUCT_TYPES)):
        members = np.flatnonzero(PRODUCT_TYPE_OF == t)
        rows = np.flatnonzero(ptype == t)
        product[rows] = rng.choice(members, size=rows.size, p=_p([PRODUCTS[i].weight for i in members]))
        per_mille, weights = zip(*DISCOUNTS[t])
        pm = np.asarray(per_mille, dtype=np.int64)[rng.choice(len(weights), size=rows.size, p=_p(weights))]
        # round half up to the fen, in integers: exact
        pay_fen[rows] = (FACE_FEN_OF[product[rows]] * pm + 500) // 1000
    face_fen = FACE_FEN_OF[product]

    method = _draw_methods(rng, channel, providers)
    pay_detail = np.full(n, -1, dtype=np.int8)
    wx = method == PROVIDERS.index("wechatpay")
    pay_detail[wx] = rng.choice(len(WECHAT_BANKS), size=int(wx.sum()), p=_p(WECHAT_BANK_WEIGHTS))
    up = method == PROVIDERS.index("unionpay")
    pay_detail[up] = rng.choice(len(UNIONPAY_CARDS), size=int(up.sum()), p=_p(UNIONPAY_CARD_WEIGHTS))

    prefix = np.asarray(MSISDN_PREFIXES, dtype=np.int64)[rng.integers(0, len(MSISDN_PREFIXES), size=n)]
    msisdn = prefix * 100_000_000 + rng.integers(0, 100_000_000, size=n)
    province = rng.choice(len(PROVINCES), size=n, p=_p(PROVINCE_WEIGHTS)).astype(np.int8)
    return {
        "channel": channel,
        "product": product,
        "product_type": PRODUCT_TYPE_OF[product],
        "face_fen": face_fen,
        "pay_fen": pay_fen,
        "pay_method": method,
        "pay_detail": pay_detail,
        "msisdn": msisdn,
        "province": province,
    }


def _draw_methods(rng: np.random.Generator, channel: np.ndarray, providers: tuple[str, ...]) -> np.ndarray:
    active = np.array([p in providers for p in PROVIDERS])
    if not active.any():
        raise ValueError("no active payment provider to draw pay methods from")
    table = METHOD_BY_CHANNEL * active
    # a mini-program whose only provider is inactive falls back to the active ones evenly
    table[table.sum(axis=1) == 0] = active
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(channel.size)
    method = (u[:, None] >= cum[channel]).sum(axis=1)
    # floating-point rounding may leave u just above the last cumulative value
    return np.minimum(method, len(PROVIDERS) - 1).astype(np.int8)


def force_method(customers: dict[str, np.ndarray], rows: np.ndarray, method: str, rng: np.random.Generator) -> None:
    """Make ``rows`` pay with ``method`` (a scenario that needs one provider's features), from a
    channel that offers it."""
    code = PROVIDERS.index(method)
    customers["pay_method"][rows] = code
    customers["channel"][rows] = CHANNELS.index({"alipay": "alipay_mini", "wechatpay": "wechat_mini"}.get(method, "web"))
    if method == "wechatpay":
        customers["pay_detail"][rows] = rng.choice(len(WECHAT_BANKS), size=rows.size, p=_p(WECHAT_BANK_WEIGHTS))
    elif method == "unionpay":
        customers["pay_detail"][rows] = rng.choice(len(UNIONPAY_CARDS), size=rows.size, p=_p(UNIONPAY_CARD_WEIGHTS))
    else:
        customers["pay_detail"][rows] = -1


def draw_times(rng: np.random.Generator, day0: int, n: int, lo_hour: float, hi_hour: float) -> np.ndarray:
    """``n`` times on the day starting at ``day0``, in [lo_hour, hi_hour), following the
    hour-of-day curve restricted to that window."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.arange(24, dtype=float)
    lo = np.clip(starts, lo_hour, hi_hour)
    hi = np.clip(starts + 1, lo_hour, hi_hour)
    width = hi - lo
    if width.sum() <= 0:
        raise ValueError(f"empty hour window [{lo_hour}, {hi_hour})")
    hour = rng.choice(24, size=n, p=_p(HOUR_WEIGHTS * width))
    seconds = (lo[hour] + rng.random(n) * width[hour]) * HOUR
    return day0 + seconds.astype(np.int64)


def checkout_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """From creating the order to the payment succeeding: mostly under a minute, some dawdle."""
    return np.clip(rng.lognormal(3.3, 0.8, size=n), 5, 1_200).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# What customers say afterwards

SURVEY_SHARE = 0.15  # of credited orders
CSAT_P = {False: (0.03, 0.05, 0.12, 0.35, 0.45), True: (0.25, 0.25, 0.25, 0.15, 0.10)}  # by "was late"
NPS_P = {
    False: (0.01, 0.01, 0.01, 0.02, 0.02, 0.05, 0.06, 0.12, 0.20, 0.22, 0.28),
    True: (0.12, 0.10, 0.12, 0.12, 0.10, 0.12, 0.10, 0.08, 0.06, 0.04, 0.04),
}
COMMENT_SHARE = 0.35
# Free text as customers type it: both languages, commas, quotes, line breaks, emoji, and now
# and then markup or a spreadsheet formula (reports must render them escaped).
GOOD_COMMENTS = (
    "到账很快，好评",
    "充值秒到，方便",
    "价格比营业厅便宜，会继续用",
    "Fast top-up, thanks!",
    "works, as always",
    "👍👍👍",
)
BAD_COMMENTS = (
    "话费到账慢了，等了好久",
    "流量包一直没到账，客服也联系不上",
    '充值金额不对，"少到账"了',
    "Took forever to arrive.",
    "Good price, but the app keeps logging me out",
    "line one\nline two, with a comma",
)
ANY_COMMENTS = (
    "界面有点乱，找了半天才找到套餐",
    "优惠券用不了, 希望改进",
    "<script>alert('x')</script>",
    '=HYPERLINK("http://x")',
    "<b>bold</b> & co",
)
COMMENTS = GOOD_COMMENTS + BAD_COMMENTS + ANY_COMMENTS
_GOOD_POOL = np.r_[0:len(GOOD_COMMENTS), len(GOOD_COMMENTS) + len(BAD_COMMENTS):len(COMMENTS)]
_BAD_POOL = np.r_[len(GOOD_COMMENTS):len(COMMENTS)]

COMPLAINT_CATEGORIES = ("not_credited", "late_credit", "wrong_amount", "refund", "payment", "other")


def draw_survey_answers(rng: np.random.Generator, late: np.ndarray) -> dict[str, np.ndarray]:
    """csat, nps (-1 = empty) and a comment code (-1 = none) per survey; lower scores where the
    credit was late."""
    n = late.size
    csat = np.empty(n, dtype=np.int8)
    nps = np.empty(n, dtype=np.int8)
    for flag in (False, True):
        rows = np.flatnonzero(late == flag)
        csat[rows] = 1 + rng.choice(5, size=rows.size, p=_p(CSAT_P[flag]))
        nps[rows] = rng.choice(11, size=rows.size, p=_p(NPS_P[flag]))
    happy = csat >= 4
    comment = np.where(happy, _GOOD_POOL[rng.integers(0, _GOOD_POOL.size, size=n)],
                       _BAD_POOL[rng.integers(0, _BAD_POOL.size, size=n)])
    comment = np.where(rng.random(n) < COMMENT_SHARE, comment, -1).astype(np.int16)
    csat[rng.random(n) < 0.05] = -1
    nps[rng.random(n) < 0.10] = -1
    return {"csat": csat, "nps": nps, "comment": comment}


def draw_surveys(rng: np.random.Generator, oi: np.ndarray, credited_at: np.ndarray, late: np.ndarray) -> dict[str, np.ndarray]:
    """Survey answers from about ``SURVEY_SHARE`` of the credited orders ``oi`` (first credit at
    ``credited_at``; ``late`` ones answer worse). A few answers come without an order id
    (``oi`` = -1)."""
    take = rng.random(oi.size) < SURVEY_SHARE
    oi, credited_at, late = oi[take], credited_at[take], late[take]
    answers = draw_survey_answers(rng, late)
    answers["oi"] = np.where(rng.random(oi.size) < 0.02, -1, oi)
    # most answer within the hour of the credit's SMS, some the next day
    answers["submitted_at"] = credited_at + np.clip(rng.lognormal(7.0, 1.4, size=oi.size), 30, 2 * DAY).astype(np.int64)
    return answers


def draw_complaints(rng: np.random.Generator, oi: np.ndarray, msisdn: np.ndarray, since: np.ndarray,
                    category: np.ndarray, share: np.ndarray) -> dict[str, np.ndarray]:
    """Tickets from the orders ``oi``: each complains with probability ``share`` about
    ``category`` (a COMPLAINT_CATEGORIES code), some time after ``since`` (its payment or
    creation). One in ten tickets is opened by phone number only. ``closed_at`` is -1 for a
    ticket still open when its day's export is taken (the next day 02:00)."""
    take = rng.random(oi.size) < share
    oi, msisdn, since, category = oi[take], msisdn[take], since[take], category[take]
    n = oi.size
    opened_at = since + np.clip(rng.lognormal(8.5, 1.2, size=n), 600, 3 * DAY).astype(np.int64)
    closed_at = opened_at + rng.integers(10 * 60, 8 * HOUR, size=n)
    exported_at = (opened_at // DAY + 1) * DAY + 2 * HOUR
    closed_at = np.where((closed_at < exported_at) & (rng.random(n) < 0.8), closed_at, -1)
    return {
        "oi": np.where(rng.random(n) < 0.1, -1, oi),
        "msisdn": msisdn,
        "opened_at": opened_at,
        "category": category.astype(np.int8),
        "closed_at": closed_at,
    }
