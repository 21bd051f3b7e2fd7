"""The Airflow deployment of deploy/ (bin/airflow-up), brought up for real once per module.

Everything is its own: a uniquely named PostgreSQL database (dropped at the end), a Redis
database number (flushed before and after), free ports for the API server and the log servers,
an AIRFLOW_HOME and recon paths in a temporary folder. The processes run in a mount namespace
(``unshare -m``) where the landing zone is a read-only bind mount, so a write to it fails in the
pipeline; the test process, outside, delivers files as a provider would. The finalizer stops
every process group and checks that no process of the deployment is left.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))
import ctl  # noqa: E402  deploy/ctl.py: the same code bin/airflow-up runs

TIMINGS = REPO / ".pytest_cache" / "deploy-timings.txt"
REDIS_DB = 11  # dedicated to these tests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file under ``root``: (size, mtime_ns, sha256); links by their target."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_file():
            st = path.stat()
            found[rel] = (st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            found[rel] = ("dir",)
    return found


def deliver(src: Path, dst: Path) -> None:
    """Copy a provider's files into the landing zone as a careful uploader does: each under a
    hidden name first, renamed when complete (sensors ignore hidden files)."""
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name("." + target.name + ".part")
        shutil.copy2(path, tmp)
        os.replace(tmp, target)


def read_only_mount_works() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Api:
    """Airflow's REST API v2 with a token from the SimpleAuthManager (``POST /auth/token``)."""

    def __init__(self, base: str, user: str, password: str):
        self.base, self.user, self.password = base.rstrip("/"), user, password
        self.session = requests.Session()
        self.login()

    def login(self) -> None:
        resp = requests.post(f"{self.base}/auth/token", json={"username": self.user, "password": self.password},
                             timeout=30)
        resp.raise_for_status()
        self.token = resp.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, method: str, path: str, **kw):
        url = path if path.startswith("http") else f"{self.base}{path}"
        resp = self.session.request(method, url, timeout=60, **kw)
        if resp.status_code == 401:
            self.login()
            resp = self.session.request(method, url, timeout=60, **kw)
        if resp.status_code >= 400:
            raise AssertionError(f"{method} {path}: {resp.status_code} {resp.text[:1000]}")
        return resp.json() if resp.content and "json" in resp.headers.get("content-type", "") else resp

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.call("POST", path, json=body, **kw)

    def patch(self, path, body, **kw):
        return self.call("PATCH", path, json=body, **kw)


@dataclass
class Deployment:
    root: Path
    env: dict[str, str]
    api: Api
    landing: Path
    pause_dir: Path
    read_only: bool
    timings: list[str] = field(default_factory=list)

    def output(self, day) -> Path:
        return self.root / "output" / day.isoformat()

    def note(self, text: str) -> None:
        self.timings.append(text)
        TIMINGS.parent.mkdir(exist_ok=True)
        with TIMINGS.open("a") as fh:
            fh.write(text + "\n")


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _leftovers(home: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("AIRFLOW_HOME") == home and proc.pid != os.getpid():
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def start_deployment(env: dict[str, str], landing: Path, read_only: bool) -> None:
    """``deploy/ctl.py up`` (what bin/airflow-up runs), inside a mount namespace whose landing
    zone is read-only when that works here; the processes it starts stay in that namespace."""
    up = [sys.executable, str(REPO / "deploy" / "ctl.py"), "up"]
    if read_only:
        quoted = str(landing).replace("'", "'\\''")
        script = (f"mount --bind '{quoted}' '{quoted}' && mount -o remount,bind,ro '{quoted}' && exec "
                  + " ".join(f"'{a}'" for a in up))
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
    else:
        cmd = up
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=ctl.READY_TIMEOUT + 180)
    assert done.returncode == 0, f"airflow-up failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"


def restart(dep: "Deployment", name: str) -> None:
    """Start ``name`` again as a process manager would, in the deployment's mount namespace
    (entered through the API server's) so it too sees the landing zone read-only."""
    cmd = [sys.executable, str(REPO / "deploy" / "ctl.py"), "up", name]
    if dep.read_only:
        cmd = ["nsenter", "-t", str(ctl.pid_of(dep.env, "api-server")), "-m", "--", *cmd]
    done = subprocess.run(cmd, env=dep.env, capture_output=True, text=True, timeout=ctl.READY_TIMEOUT + 60)
    assert done.returncode == 0, f"{name} did not start again:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, request, smtp_sink):
    started = time.monotonic()
    root = tmp_path_factory.mktemp("deploy")
    landing = root / "landing"
    landing.mkdir()
    pause_dir = root / "pause"
    pause_dir.mkdir()
    name = f"recon_deploy_test_{uuid.uuid4().hex[:10]}"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECON_"))}
    port = free_port()
    base.update({
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "AIRFLOW__API__PORT": str(port),
        "RECON_WORKER_DEFAULT_LOG_PORT": str(free_port()),
        "RECON_WORKER_WAREHOUSE_LOG_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "RECON_WORKER_DEFAULT_CONCURRENCY": "4",
        # what a fault costs in waiting: a dead worker's task is noticed after 30 s, retried 3 s later
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
        "RECON_AIRFLOW__POKE_INTERVAL_SECONDS": "3",
        "RECON_AIRFLOW__RETRY_DELAY_SECONDS": "3",
        "RECON_AIRFLOW__RETRIES": "3",
        "RECON_LANDING": str(landing),
        "RECON_WAREHOUSE": str(root / "warehouse" / "recon.duckdb"),
        "RECON_OUTPUT": str(root / "output"),
        "RECON_QUARANTINE": str(root / "quarantine"),
        "RECON_STAGING": str(root / "staging"),
        "RECON_PAUSE_DIR": str(pause_dir),
        "RECON_REPORTS_URL": "http://127.0.0.1:8000/reports/{date}/",
        # alerts by mail to the local sink; the deadline is midnight (see the deadline test)
        "RECON_ALERTS__EMAIL_TO": '["recon-ops@example.com"]',
        "RECON_ALERTS__DEADLINE": "00:00",
        "AIRFLOW__SMTP__SMTP_HOST": "127.0.0.1",
        "AIRFLOW__SMTP__SMTP_PORT": str(smtp_sink.port),
        "AIRFLOW__SMTP__SMTP_STARTTLS": "False",
        "AIRFLOW__SMTP__SMTP_SSL": "False",
        "AIRFLOW__SMTP__SMTP_MAIL_FROM": "airflow@example.com",
    })
    env = ctl.environment(base)
    read_only = read_only_mount_works()
    redis = __import__("redis").Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    redis.flushdb()

    def finish():
        memory = []
        for proc_name in ctl.procfile():  # resident memory of each process group, for docs/AIRFLOW.md
            pgid = ctl.pid_of(env, proc_name)
            rss = sum(p.info["memory_info"].rss for p in psutil.process_iter(["memory_info"])
                      if pgid and _pgid(p.pid) == pgid)
            memory.append(f"{proc_name} {rss / 2**20:.0f} MB")
        t0 = time.monotonic()
        ctl.down(env)
        left = _leftovers(env["AIRFLOW_HOME"])
        for proc in left:  # never leave one behind, even when the check below fails
            proc.kill()
        ctl.drop_database(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        redis.flushdb()
        line = (f"deployment tests: {time.monotonic() - started:.0f} s wall in all "
                f"(down in {time.monotonic() - t0:.0f} s); memory at the end: {', '.join(memory)}")
        TIMINGS.parent.mkdir(exist_ok=True)
        with TIMINGS.open("a") as fh:
            fh.write(line + "\n")
        print(line)
        assert not left, f"processes left behind: {[p.pid for p in left]}"

    request.addfinalizer(finish)
    t0 = time.monotonic()
    start_deployment(env, landing, read_only)
    api = Api(env["AIRFLOW__API__BASE_URL"], "admin", ctl.admin_password(env))
    dep = Deployment(root, env, api, landing, pause_dir, read_only)
    dep.note(f"deployment up in {time.monotonic() - t0:.0f} s (read-only landing mount: {read_only})")
    return dep


@dataclass
class Sink:
    port: int
    messages: list

    def wait_for(self, predicate, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if predicate(m)]
            if found:
                return found
            time.sleep(1)
        raise AssertionError(f"no such mail within {timeout:.0f} s; got {[m['Subject'] for m in self.messages]}")


@pytest.fixture(scope="module")
def smtp_sink():
    """A local SMTP server (aiosmtpd) keeping every message it receives."""
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    messages = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield Sink(port, messages)
    controller.stop()
