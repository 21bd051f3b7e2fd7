"""Compare every table of two warehouses as multisets (EXCEPT ALL both ways): how a change shows
that a day or a run of nights gives the same results as the code before it.

    python bench/compare_warehouses.py OLD.duckdb NEW.duckdb [--skip loaded_at,recorded_at]

Prints each table's row counts and the rows only one side holds; exits 1 if any table differs
(``run_log`` always does: it holds the run's timings).
"""
from __future__ import annotations

import argparse
import sys

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--skip", default="loaded_at,recorded_at", help="columns left out (wall-clock times)")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    con = duckdb.connect(config={"threads": 2})
    con.execute("attach $p as a (read_only)", {"p": args.old})
    con.execute("attach $p as b (read_only)", {"p": args.new})
    differing = []
    for (table,) in con.execute("select table_name from duckdb_tables() where database_name = 'a' order by 1").fetchall():
        columns = ", ".join(f'"{c}"' for (c,) in con.execute(
            "select column_name from duckdb_columns() where database_name = 'a' and table_name = $t", {"t": table}
        ).fetchall() if c not in skip)
        a, b = f"select {columns} from a.{table}", f"select {columns} from b.{table}"
        counts = con.execute(f"select (select count(*) from a.{table}), (select count(*) from b.{table}), "
                             f"(select count(*) from ({a} except all {b})), "
                             f"(select count(*) from ({b} except all {a}))").fetchall()[0]
        if counts[2] or counts[3] or counts[0] != counts[1]:
            differing.append(table)
        print(f"{table:32} rows {counts[0]:>11} {counts[1]:>11}  only old {counts[2]:>9}  only new {counts[3]:>9}")
    print("tables differing:", ", ".join(differing) or "none")
    sys.exit(1 if set(differing) - {"run_log"} else 0)


if __name__ == "__main__":
    main()
