"""The order in which a date's sources are parsed side by side (etl.ingest.schedule)."""
from __future__ import annotations

import threading
import time

import pytest

from etl.ingest.schedule import first_order, next_source, parse_side_by_side

LEDGERS = {"orders", "billing", "surveys", "complaints"}


def is_statement(source: str) -> bool:
    return source not in LEDGERS


def simulate(seconds: dict[str, float], workers: int = 2) -> tuple[float, list[tuple[str, float, float]]]:
    """The schedule next_source makes when each parse takes ``seconds``: (makespan, spans)."""
    pending = first_order(sorted(seconds, key=lambda s: -seconds[s]), is_statement)
    free_at = [0.0] * workers
    spans: list[tuple[str, float, float]] = []
    while pending:
        worker = min(range(workers), key=lambda w: free_at[w])
        now = free_at[worker]
        running = [s for s, start, end in spans if start <= now < end]
        source = next_source(pending, running, is_statement)
        pending.remove(source)
        spans.append((source, now, now + seconds[source]))
        free_at[worker] = now + seconds[source]
    return max(free_at), spans


def statements_overlap(spans) -> bool:
    statements = [(a, b) for s, a, b in spans if is_statement(s)]
    return any(a1 < b2 and a2 < b1 for i, (a1, b1) in enumerate(statements) for a2, b2 in statements[i + 1:])


@pytest.mark.parametrize("seconds", [
    # one 10M-order day's parses on two machines (bench/stage_bench.py)
    {"orders": 17.6, "billing": 13.7, "wechatpay": 13.3, "alipay": 8.9, "unionpay": 2.4, "surveys": 1.7,
     "complaints": 0.2},
    {"orders": 26.4, "billing": 22.3, "wechatpay": 19.9, "alipay": 10.6, "unionpay": 3.5, "surveys": 2.1,
     "complaints": 0.2},
])
def test_statements_never_run_side_by_side_and_the_step_is_no_longer(seconds):
    """Largest first alone put WeChat's and Alipay's parses side by side (3.9 GB at 10M orders);
    the schedule keeps them apart and ends within a second of the best split on two workers."""
    ours, spans = simulate(seconds)
    assert not statements_overlap(spans)
    best = min(max(sum(seconds[s] for s in lane), sum(seconds.values()) - sum(seconds[s] for s in lane))
               for lane in _subsets(list(seconds)))
    assert ours <= best + 1.0
    plain = sorted(seconds, key=lambda s: -seconds[s])  # largest first, statements anywhere
    assert statements_overlap(_plain_spans(plain, seconds))


def _subsets(items):
    for mask in range(1 << len(items)):
        yield [s for i, s in enumerate(items) if mask >> i & 1]


def _plain_spans(order, seconds):
    free_at, spans = [0.0, 0.0], []
    for source in order:
        w = min(range(2), key=lambda i: free_at[i])
        spans.append((source, free_at[w], free_at[w] + seconds[source]))
        free_at[w] += seconds[source]
    return spans


def test_the_largest_statement_is_considered_first_then_largest_first():
    order = ["orders", "billing", "wechatpay", "alipay", "surveys"]
    assert first_order(order, is_statement) == ["wechatpay", "orders", "billing", "alipay", "surveys"]
    assert first_order(["orders", "billing"], is_statement) == ["orders", "billing"]


def test_a_statement_waits_for_a_ledger_but_never_for_nothing():
    assert next_source(["alipay", "billing"], ["wechatpay"], is_statement) == "billing"
    assert next_source(["alipay", "billing"], ["orders"], is_statement) == "alipay"
    assert next_source(["alipay", "unionpay"], ["wechatpay"], is_statement) == "alipay"  # nothing else: beside


def _tracking(seconds: dict[str, float]):
    lock, running, most = threading.Lock(), [], {"statements": 0, "all": 0}

    def parse(source: str) -> str:
        with lock:
            running.append(source)
            most["statements"] = max(most["statements"], sum(map(is_statement, running)))
            most["all"] = max(most["all"], len(running))
        time.sleep(seconds[source])
        with lock:
            running.remove(source)
        return source.upper()

    return parse, most


def test_parsed_on_threads_every_source_once_never_two_statements_at_once():
    seconds = {"orders": 0.3, "billing": 0.25, "wechatpay": 0.2, "alipay": 0.15, "unionpay": 0.05, "surveys": 0.02}
    parse, most = _tracking(seconds)
    results = parse_side_by_side(sorted(seconds, key=lambda s: -seconds[s]), is_statement, 2, parse)
    assert results == {s: s.upper() for s in seconds}
    assert most == {"statements": 1, "all": 2}


def test_statements_alone_still_use_every_worker():
    seconds = {"wechatpay": 0.2, "alipay": 0.2}
    parse, most = _tracking(seconds)
    assert parse_side_by_side(list(seconds), is_statement, 2, parse) == {"wechatpay": "WECHATPAY", "alipay": "ALIPAY"}
    assert most["statements"] == 2


def test_an_error_is_raised_once_every_parse_has_stopped_and_nothing_more_starts():
    started, stopped, billing_started = [], [], threading.Event()

    def parse(source: str) -> str:
        started.append(source)
        if source == "billing":
            billing_started.set()
        if source == "orders":
            assert billing_started.wait(5)
            raise RuntimeError("disk gone")
        time.sleep(0.2)
        stopped.append(source)
        return source

    with pytest.raises(RuntimeError, match="disk gone"):
        parse_side_by_side(["orders", "billing", "surveys", "complaints"], is_statement, 2, parse)
    assert started == ["orders", "billing"] and stopped == ["billing"]
