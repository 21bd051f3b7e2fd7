"""The one typed configuration: package defaults, an optional TOML file, then environment.

Precedence, lowest first: ``etl/defaults.toml`` → the file named by ``RECON_CONFIG`` →
environment variables ``RECON_<SECTION>__<KEY>`` (plus the short path aliases
``RECON_LANDING``, ``RECON_WAREHOUSE``, ``RECON_OUTPUT``, ``RECON_QUARANTINE``,
``RECON_STAGING``, ``RECON_ARCHIVE``) → command-line options (applied by the CLI with :meth:`Settings.with_paths`).
"""
from __future__ import annotations

import json
import os
import tomllib
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Provider = Literal["alipay", "wechatpay", "unionpay"]
PROVIDERS: tuple[Provider, ...] = ("alipay", "wechatpay", "unionpay")
# The business's clock: business dates, deadlines, and every time a run records or a report shows.
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_now() -> datetime:
    """Now, as Asia/Shanghai wall time without a zone: how the ledgers state time, and how the
    warehouse's TIMESTAMP columns hold the times we record (a file loaded, a run, a resolution)."""
    return datetime.now(SHANGHAI).replace(tzinfo=None)


def shanghai_stamp() -> str:
    """Now, to the second, with its offset (2026-11-25T02:13:05+08:00): how the files we write
    (run summaries, quarantine reasons, the run lock) state a time, so a reader never guesses the
    clock. The warehouse's TIMESTAMP columns hold shanghai_now()."""
    return datetime.now(SHANGHAI).isoformat(timespec="seconds")


def shanghai_wall(stamp: str | None) -> datetime | None:
    """A recorded time as Shanghai wall time. A stamp without an offset was written before
    stamps carried one, on the machine's clock; anything unreadable is None."""
    try:
        at = datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None
    return at.astimezone(SHANGHAI).replace(tzinfo=None) if at else None


INTERNAL_SOURCES = ("orders", "billing", "surveys", "complaints")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paths(_Section):
    landing: Path
    warehouse: Path
    output: Path
    quarantine: Path
    staging: Path
    archive: Path


class Providers(_Section):
    active: tuple[Provider, ...]
    fee_rates: dict[Provider, Decimal]


class Matching(_Section):
    grace_minutes: int = Field(ge=0)
    amount_tolerance: Decimal = Field(ge=0)
    fallback_window_minutes: int = Field(gt=0)
    recheck_days: int = Field(ge=0)
    sla_minutes: dict[str, int]

    def sla_for(self, product_type: str) -> int:
        return self.sla_minutes.get(product_type, self.sla_minutes["default"])


class Retention(_Section):
    keep_days: int = Field(ge=1)
    nightly: bool = True


class DuckDB(_Section):
    threads: int = Field(ge=1)
    memory_limit: str


class Reports(_Section):
    enabled: bool = True
    locale: str = "zh_CN"

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, v: str) -> str:
        from etl.i18n import normalize

        return normalize(v)


class Alerts(_Section):
    max_open_break_amount: Decimal
    max_open_break_count: int
    email_to: tuple[str, ...] = ()
    deadline: str


class AirflowTiming(_Section):
    """How the DAGs wait and retry (read when the DAG file is parsed)."""
    poke_interval_seconds: int = Field(default=600, gt=0)  # sensors re-check the landing zone this often
    wait_timeout_hours: float = Field(default=16, gt=0)  # a required source still missing then fails the run
    retries: int = Field(default=3, ge=0)
    retry_delay_seconds: int = Field(default=120, gt=0)  # doubled per try, at most 30 minutes
    reports_url: str = "http://127.0.0.1:8000/reports/{date}/"  # the Airflow UI links each run here


class Sources(_Section):
    state_dir: Path
    chunk_rows: int = Field(gt=0)
    overlap_minutes: int = Field(ge=0)
    orders_conn: str
    billing_conn: str
    provider_conns: dict[Provider, str]


class RemediationProvider(_Section):
    """Where a provider's refunds go: credentials by reference, as the statement downloads
    name theirs (docs/SOURCES.md), plus the refund endpoint when it is not the download one."""
    conn: str  # Airflow connection id; outside Airflow the RECON_<PROVIDER>_* variables
    refund_url: str = ""  # empty: the credentials' gateway / base URL (UnionPay: its backTransReq URL)
    notify_url: str = ""  # the provider's asynchronous notification URL, where it requires one


class Remediation(_Section):
    execute: bool = False  # false: write what would be sent under dry_run_dir, send nothing
    kill_switch: bool = False  # true: nothing is sent, whatever is approved
    dry_run_dir: Path = Path("data/fixes/dry_run")
    billing_batch_dir: Path = Path("data/fixes/billing_outbox")  # where BOSS picks up re-credit/reversal batches
    two_approvers_above: Decimal = Field(ge=0)  # a fix above this amount needs two approvers
    unconfirmed_after_days: int = Field(ge=1)
    max_sends_per_hour: int = Field(ge=0)
    max_amount_per_hour: Decimal = Field(ge=0)
    providers: dict[Provider, RemediationProvider]
class ConsoleOidc(_Section):
    """A company SSO (OpenID Connect) in place of the local login: docs/CONSOLE.md."""
    issuer_url: str = ""
    client_id: str = ""
    client_secret_env: str = "RECON_CONSOLE_OIDC_SECRET"  # the secret itself never sits in a file
    role_claim: str = "recon_role"                        # the claim naming one of console.auth.ROLES


class Console(_Section):
    """The web console (console/): where it listens, its own database, sessions and rules."""
    host: str
    port: int = Field(ge=0, le=65535)
    database_url: str
    auth: Literal["local", "oidc"] = "local"
    idle_minutes: int = Field(gt=0)
    session_hours: int = Field(gt=0)
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    lock_after_failures: int = Field(gt=0)
    lock_minutes: int = Field(gt=0)
    writeoff_approval_above: Decimal = Field(ge=0)
    page_size: int = Field(gt=0, le=500)
    export_max_rows: int = Field(gt=0)
    max_upload_bytes: int = Field(gt=0)
    search_key_file: Path
    sla_days: dict[str, int]
    sla_warn_days: int = Field(ge=0)
    sla_large_amount: Decimal = Field(ge=0)
    oidc: ConsoleOidc = ConsoleOidc()

    def sla_for(self, break_type: str) -> int:
        return self.sla_days.get(break_type, self.sla_days["default"])


class Settings(_Section):
    paths: Paths
    providers: Providers
    matching: Matching
    duckdb: DuckDB
    alerts: Alerts
    sources: Sources
    reports: Reports
    remediation: Remediation
    console: Console
    retention: Retention
    airflow: AirflowTiming = AirflowTiming()

    @field_validator("providers")
    @classmethod
    def _rates_for_active(cls, v: Providers) -> Providers:
        missing = [p for p in v.active if p not in v.fee_rates]
        if missing:
            raise ValueError(f"no contracted fee rate for active provider(s) {missing}")
        return v

    @model_validator(mode="after")
    def _keep_what_the_recheck_reads(self) -> "Settings":
        # A re-checked date D reads its own rows and the open items of D - 1: archiving them
        # would change what the re-check finds (etl/retention.py).
        if self.retention.keep_days <= self.matching.recheck_days:
            raise ValueError(f"retention.keep_days ({self.retention.keep_days}) must be more than "
                             f"matching.recheck_days ({self.matching.recheck_days}): a re-checked date "
                             "reads its own rows and the open items of the day before")
        return self

    def with_paths(self, **overrides: Path | str | None) -> "Settings":
        """A copy with the given path options replaced (None leaves a path as it is)."""
        given = {k: Path(v) for k, v in overrides.items() if v is not None}
        return self.model_copy(update={"paths": self.paths.model_copy(update=given)})

    def source_dirs(self) -> tuple[str, ...]:
        """Landing sub-folders this configuration reads, in processing order."""
        return ("orders", *self.providers.active, "billing", "surveys", "complaints")


_PATH_ALIASES = {f"RECON_{k.upper()}": ("paths", k) for k in Paths.model_fields}
_PATH_ALIASES["RECON_REPORTS_URL"] = ("airflow", "reports_url")  # a shortcut, like the paths'


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    over: dict[str, Any] = {}
    for name, raw in environ.items():
        if name in _PATH_ALIASES:
            keys = _PATH_ALIASES[name]
        elif name.startswith("RECON_") and "__" in name:
            keys = tuple(part.lower() for part in name[len("RECON_"):].split("__"))
        else:
            continue
        # JSON for lists and numbers (RECON_PROVIDERS__ACTIVE='["alipay"]'), else the raw string.
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = over
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return over


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    data = tomllib.loads(resources.files("etl").joinpath("defaults.toml").read_text("utf-8"))
    if extra := environ.get("RECON_CONFIG"):
        data = _merge(data, tomllib.loads(Path(extra).read_text("utf-8")))
    data = _merge(data, _env_overrides(environ))
    return Settings.model_validate(data)


@cache
def project_root() -> Path:
    """The checkout holding ``sql/`` and ``reports/`` (the package is installed editable)."""
    return Path(__file__).resolve().parents[1]
