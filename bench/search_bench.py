"""The console's search over many published nights, one search at a time: an order id, a
provider transaction id, a credit id, a whole phone number (its keyed hash) and an id that is
nowhere, each taken from a night in the middle; the median of --repeat runs of each.

    python bench/search_bench.py --output /tmp/topup-recon-bench/history-n1000000-d8/run-keep60/out

Reads what the nights published (``<output>/<date>/console/``) with the console's own reader
(console.published), as `recon serve` does, after the latest night's breaks are loaded and
numbered. The yardstick (bench/run_bench.py's single-query classification) is timed on
--warehouse when given. Results: bench/results/search-<nights>n[-<label>].json. A benchmark,
never a test.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from run_bench import cpu_model, reference_seconds  # noqa: E402
from console.published import Published  # noqa: E402
from console.reasons import SlaRule  # noqa: E402
from etl.config import load_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, required=True, help="the nights' output folder")
    parser.add_argument("--warehouse", type=Path, help="the nights' warehouse, for the yardstick")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--label", default="")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    pub = Published(args.output, SlaRule.from_settings(load_settings().console))
    days = pub.dates()
    middle = days[len(days) // 2]
    ids, orders = pub.file(middle, "ids"), pub.file(middle, "orders")

    def middle_row(sql: str, path: str, **params: str) -> str:
        """The value ``sql`` selects from the middle row of ``path`` in its order."""
        n = pub.scalar("select count(*) from (" + sql + ")", {"f": path, **params})
        return pub.scalar(sql + " limit 1 offset $k", {"f": path, "k": n // 2, **params})

    ids_of = "select id from read_parquet($f) where kind = $kind and order_id is not null order by id"
    wanted = {
        "order id": middle_row("select order_id from read_parquet($f) order by order_id", orders),
        "transaction id": middle_row(ids_of, ids, kind="txn"),
        "credit id": middle_row(ids_of, ids, kind="credit"),
        "no such id": "NO-SUCH-ID-0000",
    }
    phone = middle_row("select msisdn_hash from read_parquet($f) where msisdn_hash is not null order by order_id",
                       orders)
    _, table = pub.latest_breaks()
    if pub._numbering is not None:  # the pages' own table, numbered and indexed
        pub._numbering.join()
    searches: dict[str, dict] = {}
    for label, (text, phone_hash) in {**{k: (v, None) for k, v in wanted.items()},
                                      "phone number": ("", phone)}.items():
        times, found = [], None
        for _ in range(args.repeat):
            started = time.perf_counter()
            found = pub.search(text, phone_hash)
            times.append(time.perf_counter() - started)
        searches[label] = {"median_ms": round(1000 * statistics.median(times), 1),
                           "orders": len(found["orders"]), "breaks": len(found["breaks"])}
        print(f"{label:16s} {searches[label]['median_ms']:8.1f} ms  orders {searches[label]['orders']}")
    result = {"nights": len(days), "middle_night": middle.isoformat(), "output": str(args.output),
              "machine": {"cpus": os.cpu_count(), "cpu": cpu_model()}, "label": args.label,
              "searches": searches,
              "reference_classification_s": reference_seconds(args.warehouse, 2, None) if args.warehouse else None}
    print(json.dumps({k: result[k] for k in ("nights", "reference_classification_s")}))
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"search-{len(days)}n{'-' + args.label if args.label else ''}.json"
    out.write_text(json.dumps(result, indent=2), "utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()
