"""Which source a free worker parses next, when the sources of a date are parsed side by side.

Largest first (by ``etl.ingest.stage.parse_work``): the long parses start at once and the short
ones fill in at the end. One exception, for memory: a provider statement is read into Python
(pyarrow) whole, beyond DuckDB's budget (a 1 GB WeChat bill peaks at ~2.2 GB, a ledger's DuckDB
pass at ~0.8), so two statements side by side made the parse step's peak. A statement therefore
starts beside another only when nothing else is waiting, and the largest statement starts first:
the statements, which then run one after another, are spread over the step beside the ledgers.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Hashable
from typing import TypeVar

Source = TypeVar("Source", bound=Hashable)
Result = TypeVar("Result")


def first_order(largest_first: list[Source], is_statement: Callable[[Source], bool]) -> list[Source]:
    """The sources in the order they are considered: largest first, the largest statement first of all."""
    statements = [s for s in largest_first if is_statement(s)]
    if not statements:
        return list(largest_first)
    return [statements[0], *(s for s in largest_first if s != statements[0])]


def next_source(pending: list[Source], running: Collection[Source],
                is_statement: Callable[[Source], bool]) -> Source:
    """The first of ``pending`` (in first_order) that may start beside ``running``."""
    if any(is_statement(s) for s in running):
        for source in pending:
            if not is_statement(source):
                return source
    return pending[0]


def parse_side_by_side(largest_first: list[Source], is_statement: Callable[[Source], bool], workers: int,
                       parse: Callable[[Source], Result]) -> dict[Source, Result]:
    """``parse`` each source on ``workers`` threads, each free worker taking next_source. The
    first error is raised once every worker has stopped (no parse is left running)."""
    pending = first_order(largest_first, is_statement)
    running: set[Source] = set()
    results: dict[Source, Result] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not pending or errors:
                    return
                source = next_source(pending, running, is_statement)
                pending.remove(source)
                running.add(source)
            try:
                result = parse(source)
            except BaseException as error:  # noqa: BLE001 - handed to the caller below
                with lock:
                    errors.append(error)
                return
            finally:
                with lock:
                    running.discard(source)
            with lock:
                results[source] = result

    threads = [threading.Thread(target=work, name=f"parse-{i}") for i in range(max(1, min(workers, len(pending))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
