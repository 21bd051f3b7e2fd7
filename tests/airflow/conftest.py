"""Airflow tests run against a throwaway metadata DB.

Airflow reads its configuration when it is first imported, so the environment is set here, at
collection, before any test imports it: ``AIRFLOW_HOME`` in a temporary folder (unless the
caller, e.g. ``.ci/run``, already chose one), no example DAGs, and this checkout's ``dags/``.
``airflow db migrate`` runs once per session (a few seconds; a no-op when already migrated).
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"

_OWN_HOME = "AIRFLOW_HOME" not in os.environ
if _OWN_HOME:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="recon-airflow-")
    atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], True)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated metadata DB for dag.test() and the DagBag."""
    import fcntl

    airflow = Path(sys.executable).with_name("airflow")
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    # pytest-xdist's workers may share one AIRFLOW_HOME (set by the caller): one migrates at a time
    with (home / ".migrate.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, env=os.environ.copy())
    assert done.returncode == 0, f"airflow db migrate failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return home


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def recon_env(root: Path, landing: Path) -> dict[str, str]:
    """Environment that points every recon path into ``root`` (the DAG's tasks read it at run time)."""
    return {
        "RECON_LANDING": str(landing),
        "RECON_WAREHOUSE": str(root / "warehouse" / "recon.duckdb"),
        "RECON_OUTPUT": str(root / "output"),
        "RECON_QUARANTINE": str(root / "quarantine"),
        "RECON_STAGING": str(root / "staging"),
    }


def logical_date_for(business_date: date) -> datetime:
    """The logical date whose manual run reconciles ``business_date``: a manual run (dag.test,
    ``airflow dags trigger``) covers the last complete interval before its logical date."""
    from etl.orchestration import SHANGHAI

    return datetime.combine(business_date + timedelta(days=1), time(), tzinfo=SHANGHAI)
