"""Start, stop and inspect topup-recon's Airflow deployment on this machine.

    python deploy/ctl.py up [NAME ...]     # metadata DB created and migrated, pool set, processes started, ready
    python deploy/ctl.py down [NAME ...]   # every process group stopped (SIGTERM, then SIGKILL), none left
    python deploy/ctl.py status            # one line per process
    python deploy/ctl.py env               # the completed environment, as the processes get it

The processes are the lines of ``deploy/Procfile``. Each runs in its own process group (its
pid file names the group), so stopping one stops its children too (a Celery worker's pool and
the task processes it forked). ``up`` starts only what is not running, so it also restarts a
process that died. Every setting comes from the environment; what is unset gets the default
below (``deploy/airflow.env.example`` documents each). ``RECON_DEPLOY_PROCESSES`` chooses the
processes this machine runs (default: all of them), for a deployment over several machines.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
PROCFILE = REPO / "deploy" / "Procfile"
WAREHOUSE_POOL = "recon_warehouse"  # etl.orchestration.WAREHOUSE_POOL: the DAG's warehouse tasks use it
READY_TIMEOUT = float(os.environ.get("RECON_DEPLOY_READY_TIMEOUT", "180"))
STOP_TIMEOUT = 30.0


def procfile(path: Path = PROCFILE) -> dict[str, str]:
    """``name: command`` lines, in order; comments and blank lines skipped."""
    found = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            found[name.strip()] = command.strip()
    return found


def _default(env: dict[str, str], key: str, value: str) -> None:
    if not env.get(key):
        env[key] = value


def _secret_file(home: Path) -> Path:
    return home / "secrets.env"


def _secrets(home: Path) -> dict[str, str]:
    """Secrets every process must share (tokens signed by one are checked by another), made once
    per AIRFLOW_HOME and kept in ``secrets.env`` (0600): copy it to the other machines."""
    path = _secret_file(home)
    if not path.exists():
        from cryptography.fernet import Fernet

        path.parent.mkdir(parents=True, exist_ok=True)
        values = {"AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                  "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                  "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.writelines(f"{k}={v}\n" for k, v in values.items())
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every process of the deployment runs with: ``base`` (default: this
    process's) completed with the defaults of a one-machine deployment."""
    env = dict(os.environ if base is None else base)
    _default(env, "AIRFLOW_HOME", str(REPO / "data" / "airflow"))
    home = Path(env["AIRFLOW_HOME"])
    _default(env, "AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
    _default(env, "AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
    _default(env, "AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    _default(env, "AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    _default(env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg://postgres@127.0.0.1:5432/airflow_recon")
    # Airflow's async engine would use asyncpg for postgresql://; psycopg 3 does async too.
    if env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://"):
        _default(env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC", env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    _default(env, "AIRFLOW__CELERY__BROKER_URL", "redis://127.0.0.1:6379/0")
    _default(env, "AIRFLOW__CELERY__RESULT_BACKEND", "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    _default(env, "AIRFLOW__API__HOST", "127.0.0.1")
    _default(env, "AIRFLOW__API__PORT", "8080")
    _default(env, "AIRFLOW__API__BASE_URL", f"http://{env['AIRFLOW__API__HOST']}:{env['AIRFLOW__API__PORT']}")
    _default(env, "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", env["AIRFLOW__API__BASE_URL"].rstrip("/") + "/execution/")
    _default(env, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    _default(env, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(home / "passwords.json"))
    _default(env, "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", "8794")
    _default(env, "RECON_WORKER_DEFAULT_LOG_PORT", "8793")
    _default(env, "RECON_WORKER_WAREHOUSE_LOG_PORT", "8795")
    _default(env, "RECON_WORKER_DEFAULT_CONCURRENCY", "4")
    for key, value in _secrets(home).items():
        _default(env, key, value)
    venv_bin = str(Path(sys.executable).parent)
    if venv_bin not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    return env


def admin_password(env: dict[str, str]) -> str:
    """The password of the first configured user (``RECON_AIRFLOW_ADMIN_PASSWORD``, else made
    once and kept in the SimpleAuthManager's passwords file, where the API server reads it)."""
    path = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    user = env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",")[0].split(":")[0].strip()
    stored = json.loads(path.read_text() or "{}") if path.exists() else {}
    wanted = env.get("RECON_AIRFLOW_ADMIN_PASSWORD") or stored.get(user) or secrets.token_urlsafe(12)
    if stored.get(user) != wanted:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({**stored, user: wanted}, fh)
    return wanted


# -- the metadata database ---------------------------------------------------------------------

def ensure_database(sql_conn: str) -> None:
    """Create the metadata database named in the connection URL if the server lacks it."""
    import psycopg

    parts = urlsplit(sql_conn)
    name = parts.path.lstrip("/")
    if not parts.scheme.startswith("postgresql") or not name:
        return  # another backend: created by its administrator
    server = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(server, autocommit=True) as con:
        if not con.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            con.execute(f'create database "{name}"')  # a name from our own configuration, quoted


def drop_database(sql_conn: str) -> None:
    import psycopg

    parts = urlsplit(sql_conn)
    server = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'drop database if exists "{parts.path.lstrip("/")}" with (force)')


def prepare(env: dict[str, str]) -> None:
    """Metadata DB created and migrated, the warehouse pool set (one slot: one DuckDB writer)."""
    ensure_database(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    admin_password(env)
    for cmd in (["airflow", "db", "migrate"],
                ["airflow", "pools", "set", WAREHOUSE_POOL, "1", "one DuckDB writer: load_and_match and reports"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


# -- processes ----------------------------------------------------------------------------------

def _run_dir(env: dict[str, str]) -> Path:
    return Path(env["AIRFLOW_HOME"]) / "run"


def log_path(env: dict[str, str], name: str) -> Path:
    return Path(env["AIRFLOW_HOME"]) / "logs" / "deploy" / f"{name}.log"


def pid_of(env: dict[str, str], name: str) -> int | None:
    """The process group of ``name`` if it is still alive."""
    path = _run_dir(env) / f"{name}.pid"
    try:
        pgid = int(path.read_text())
        os.killpg(pgid, 0)
        return pgid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


def _expand(command: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: shlex.quote(env.get(m.group(1), "")), command)


def start(env: dict[str, str], name: str, command: str) -> int:
    if pgid := pid_of(env, name):
        return pgid
    log = log_path(env, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    _run_dir(env).mkdir(parents=True, exist_ok=True)
    (_run_dir(env) / f"{name}.offset").write_text(str(log.stat().st_size if log.exists() else 0))
    with log.open("ab") as out:
        proc = subprocess.Popen(["bash", "-c", "exec " + _expand(command, env)], env=env, cwd=REPO,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    (_run_dir(env) / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def stop(env: dict[str, str], name: str, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> None:
    """Signal the process group of ``name`` and wait until no process of it is left
    (SIGKILL after ``timeout``)."""
    pgid = pid_of(env, name)
    if pgid is None:
        (_run_dir(env) / f"{name}.pid").unlink(missing_ok=True)
        return
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        _reap()
        time.sleep(0.2)
    else:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while True:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            _reap()
            time.sleep(0.1)
    (_run_dir(env) / f"{name}.pid").unlink(missing_ok=True)


def _reap() -> None:
    """Collect our own exited children (started by this process), so they are not zombies."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def wanted(env: dict[str, str], names: list[str] | None = None) -> dict[str, str]:
    processes = procfile()
    chosen = names or [n.strip() for n in env.get("RECON_DEPLOY_PROCESSES", "").split(",") if n.strip()] \
        or list(processes)
    unknown = [n for n in chosen if n not in processes]
    if unknown:
        raise SystemExit(f"no process {', '.join(unknown)} in {PROCFILE} (there are: {', '.join(processes)})")
    return {n: processes[n] for n in chosen}


def _log_since_start(env: dict[str, str], name: str) -> str:
    try:
        offset = int((_run_dir(env) / f"{name}.offset").read_text())
        with log_path(env, name).open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")
    except (FileNotFoundError, ValueError):
        return ""


def health(env: dict[str, str]) -> dict | None:
    url = env["AIRFLOW__API__BASE_URL"].rstrip("/") + "/api/v2/monitor/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def wait_ready(env: dict[str, str], names: list[str], timeout: float = READY_TIMEOUT) -> None:
    """Until the API server reports every component healthy and each Celery worker is ready."""
    deadline = time.monotonic() + timeout
    components = {"scheduler": "scheduler", "triggerer": "triggerer", "dag-processor": "dag_processor"}
    while True:
        dead = [n for n in names if pid_of(env, n) is None]
        if dead:
            raise SystemExit(f"{', '.join(dead)} exited at start: see {log_path(env, dead[0])}\n"
                             + _log_since_start(env, dead[0])[-3000:])
        waiting = [n for n in names if n.startswith("worker") and " ready." not in _log_since_start(env, n)]
        if "api-server" in names or any(n in components for n in names):
            status = health(env)
            if status is None:
                waiting.append("api-server")
            else:
                waiting += [n for n, key in components.items() if n in names
                            and status.get(key, {}).get("status") != "healthy"]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"not ready after {timeout:.0f} s: {', '.join(waiting)} (logs in "
                             f"{log_path(env, waiting[0]).parent})")
        time.sleep(1)


def up(env: dict[str, str], names: list[str] | None = None) -> None:
    chosen = wanted(env, names)
    if "scheduler" in chosen:  # the control machine migrates; workers need no metadata DB access
        prepare(env)
    for name, command in chosen.items():
        start(env, name, command)
    wait_ready(env, list(chosen))


def down(env: dict[str, str], names: list[str] | None = None) -> None:
    """SIGTERM to every chosen process group at once, then wait for each (SIGKILL for those
    still there after STOP_TIMEOUT in all)."""
    chosen = list(wanted(env, names)) if names else list(procfile())
    deadline = time.monotonic() + STOP_TIMEOUT
    for name in chosen:
        if pgid := pid_of(env, name):
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for name in chosen:
        stop(env, name, timeout=max(0.0, deadline - time.monotonic()))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("up", "down", "status", "env", "password"):
        print(__doc__)
        return 2
    env = environment()
    command, names = argv[0], argv[1:]
    if command == "up":
        started = time.monotonic()
        up(env, names)
        print(f"Airflow is up in {time.monotonic() - started:.0f} s: {env['AIRFLOW__API__BASE_URL']} "
              f"(user {env['AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS'].split(':')[0]}, password in "
              f"{env['AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE']}); logs in {log_path(env, 'x').parent}")
    elif command == "down":
        down(env, names)
    elif command == "status":
        for name in procfile():
            pgid = pid_of(env, name)
            print(f"{name:<18} {'running, process group ' + str(pgid) if pgid else 'stopped'}")
    elif command == "password":
        print(admin_password(env))
    else:
        for key in sorted(env):
            if key.startswith(("AIRFLOW", "RECON_")):
                hidden = re.search(r"SECRET|FERNET|PASSWORD|_CONN$|BROKER_URL|RESULT_BACKEND", key)
                print(f"{key}={'(set)' if hidden else env[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
