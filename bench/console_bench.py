"""The console under load: N signed-in users paging the queue, filtering it, opening breaks'
stories and searching, against one day's published outputs; p50 and p95 per page.

    python bench/console_bench.py --orders 200000 --users 20 --rounds 20 [--inflate-queue 25]

Generates and runs one day of --orders orders (the night's own code), adds --users ops users,
starts `recon serve` in its own process on a free loopback port, and drives it from one thread
per user with httpx (a login, then --rounds rounds of: a queue page, a filtered and sorted queue
page, a story, a search). --inflate-queue K copies the day's breaks K times under new keys, to
page a queue the size a 10M-order day leaves without generating one. The yardstick
(bench/run_bench.py's single-query classification on the same warehouse) is timed in the same
run. Results: bench/results/console-n<N>[-q<K>].json. A benchmark, never a test.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "benchmark password"


def _env(work: Path) -> dict[str, str]:
    return {**os.environ,
            "RECON_LANDING": str(work / "landing"), "RECON_WAREHOUSE": str(work / "wh.duckdb"),
            "RECON_OUTPUT": str(work / "output"), "RECON_QUARANTINE": str(work / "quarantine"),
            "RECON_STAGING": str(work / "staging"), "RECON_REPORTS__ENABLED": "false",
            "RECON_CONSOLE__DATABASE_URL": f"sqlite:///{work / 'console.db'}",
            "RECON_CONSOLE__SEARCH_KEY_FILE": str(work / "search.key"),
            "RECON_CONSOLE__IDLE_MINUTES": "120"}


def prepare(work: Path, day: date, orders: int, users: int, inflate: int, reuse: bool = False) -> dict:
    from etl.config import load_settings
    from etl.generate import generate_landing
    from etl.pipeline import run_dates

    env = _env(work)
    settings = load_settings(env)
    breaks = work / "output" / day.isoformat() / "console" / "breaks.parquet"
    import duckdb

    con = duckdb.connect()
    if reuse and breaks.exists():  # a work folder this script prepared before: its day, queue and users
        return _sample(con, breaks, None)
    started = time.perf_counter()
    generate_landing(work / "landing", day, 1, orders, 11, settings)
    run_dates(settings, [day])
    night = time.perf_counter() - started
    if inflate > 1:
        con.execute(f"copy (select * replace (break_key || case when i = 0 then '' else '#' || i end as break_key) "
                    f"from read_parquet('{breaks}'), range($k) as r(i)) to '{breaks}.new' (format parquet)",
                    {"k": inflate})
        os.replace(f"{breaks}.new", breaks)
    from console.auth import add_user, open_session_store

    store = open_session_store(settings)
    with store() as db:
        for i in range(users):
            add_user(db, "bench", f"bench{i:02d}", "ops", PASSWORD)
    return _sample(con, breaks, round(night, 1))


def _sample(con, breaks: Path, night: float | None) -> dict:  # noqa: ANN001
    keys = [k for (k,) in con.execute(f"select break_key from read_parquet('{breaks}') using sample 2000 rows").fetchall()]
    order_ids = [o for (o,) in con.execute(
        f"select order_id from read_parquet('{breaks}') where order_id is not null using sample 500 rows").fetchall()]
    queue = con.execute(f"select count(*) from read_parquet('{breaks}') where status = 'open'").fetchone()[0]
    return {"keys": keys, "order_ids": order_ids, "queue_rows": queue, "night_s": night}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(work: Path, port: int) -> subprocess.Popen:
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", "from etl.cli import app; app()", "serve", "--port", str(port)],
                            env=_env(work), cwd=ROOT, stdout=log, stderr=log)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((work / "server.log").read_text("utf-8", "replace")[-2000:])
            time.sleep(0.1)
    raise RuntimeError("the console did not start")


def user_day(base: str, name: str, rounds: int, data: dict, pages: int, out: dict, lock: threading.Lock) -> None:
    import re

    import httpx

    rng = random.Random(name)
    timings: dict[str, list[float]] = {"queue": [], "queue_filtered": [], "story": [], "search": []}
    with httpx.Client(base_url=base, timeout=600) as client:
        token = re.search(r'<form class="login".*?name="csrf" value="([^"]+)"', client.get("/login").text, re.S).group(1)
        r = client.post("/login", data={"csrf": token, "name": name, "password": PASSWORD})
        assert r.status_code == 303, r.status_code
        for _ in range(rounds):
            for kind, url, params in (
                ("queue", "/queue", {"page": str(rng.randint(1, pages))}),
                ("queue_filtered", "/queue", {"type": rng.choice(["MISSING_CREDIT", "AMOUNT_MISMATCH", "FEE_MISMATCH",
                                                                  "DUPLICATE_PAYMENT"]),
                                              "sort": "amount", "page": str(rng.randint(1, 5))}),
                ("story", "/break", {"key": rng.choice(data["keys"])}),
                ("search", "/search", {"q": rng.choice(data["order_ids"])}),
            ):
                started = time.perf_counter()
                response = client.get(url, params=params)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"{url} {params}: {response.status_code} (see server.log)")
                timings[kind].append(elapsed)
    with lock:
        for kind, values in timings.items():
            out.setdefault(kind, []).extend(values)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--inflate-queue", type=int, default=1)
    parser.add_argument("--day", default="2026-11-24")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--reuse", action="store_true", help="reuse --work prepared by an earlier run (same --users)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="console-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    day = date.fromisoformat(args.day)
    data = prepare(work, day, args.orders, args.users, args.inflate_queue, args.reuse)
    from bench.run_bench import reference_seconds

    yardstick = reference_seconds(work / "wh.duckdb", 2, "4GB")
    port = free_port()
    proc = serve(work, port)
    try:
        pages = max(1, data["queue_rows"] // 50)
        out: dict[str, list[float]] = {}
        lock = threading.Lock()
        threads = [threading.Thread(target=user_day, args=(f"http://127.0.0.1:{port}", f"bench{i:02d}", args.rounds,
                                                            data, pages, out, lock)) for i in range(args.users)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(10)
    result = {
        "orders": args.orders, "users": args.users, "rounds": args.rounds, "inflate_queue": args.inflate_queue,
        "queue_rows": data["queue_rows"], "night_s": data["night_s"], "cpus": os.cpu_count(),
        "reference_classification_s": yardstick, "wall_s": round(wall, 1),
        "requests": sum(len(v) for v in out.values()),
        "pages": {kind: {"n": len(v), "p50_ms": round(1000 * statistics.median(v), 1),
                         "p95_ms": round(1000 * percentile(v, 0.95), 1), "max_ms": round(1000 * max(v), 1)}
                  for kind, v in out.items()},
    }
    args.results.mkdir(parents=True, exist_ok=True)
    name = f"console-n{args.orders}" + (f"-q{args.inflate_queue}" if args.inflate_queue > 1 else "") + ".json"
    (args.results / name).write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(json.dumps(result, indent=2))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
