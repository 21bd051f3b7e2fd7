"""``recon``: the command line that people and automation use (shared/spec/cli.md)."""
from __future__ import annotations

import logging
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from etl.config import Settings, load_settings
from etl.i18n import normalize
from etl.privacy import MaskingFilter

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="topup-recon: reconcile top-up orders, payment-provider statements and carrier billing, "
         "night by night, and report every break to finance, ops and product.",
)
console = Console(stderr=True)

LandingOpt = Annotated[Optional[Path], typer.Option("--landing", help="Landing zone: <landing>/<date>/<source>/ (env RECON_LANDING).")]
WarehouseOpt = Annotated[Optional[Path], typer.Option("--warehouse", help="DuckDB warehouse file (env RECON_WAREHOUSE).")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", help="Reports and exports: <output>/<date>/ (env RECON_OUTPUT).")]
QuarantineOpt = Annotated[Optional[Path], typer.Option("--quarantine", help="Where bad files go, with their reasons (env RECON_QUARANTINE).")]


def _settings(**paths: Path | None) -> Settings:
    return load_settings().with_paths(**paths)


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True)


def _progress(message: str) -> None:
    console.print(message, highlight=False)


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-11-24", param_hint=option) from None


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)  # one line: scripts grep stderr
    raise typer.Exit(1)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False) -> None:
    _setup_logging(verbose)


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Landing zone to fill; the ground truth goes beside it.")] = Path("data/landing"),
    start: Annotated[str, typer.Option("--start", help="First business date (YYYY-MM-DD).")] = "2026-11-01",
    days: Annotated[int, typer.Option("--days", min=1, help="Consecutive days to generate.")] = 7,
    orders_per_day: Annotated[int, typer.Option("--orders-per-day", min=10, help="Orders per day.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same files.")] = 7,
) -> None:
    """Generate sample ledgers in their real formats, with every kind of break injected."""
    from etl.generate import generate_landing

    first = _parse_date(start, "--start")
    with console.status(f"generating {days} day(s) × {orders_per_day:,} orders …"):
        summary = generate_landing(out, first, days, orders_per_day, seed, load_settings())
    totals = ", ".join(f"{source} {sum(per_day.values()):,}" for source, per_day in summary.rows.items())
    console.print(f"wrote {days} day(s) to {out} in {summary.seconds:.1f}s: {totals} rows", highlight=False)
    console.print(f"ground truth (for tests only; the matcher never reads it): {summary.truth}", highlight=False)


@app.command()
def ingest(
    date_: Annotated[str, typer.Option("--date", help="Business date to load (YYYY-MM-DD).")],
    landing: LandingOpt = None, warehouse: WarehouseOpt = None, quarantine: QuarantineOpt = None,
) -> None:
    """Parse and check one date's landing files and load them into the warehouse."""
    from etl.pipeline import RunError, ingest_only

    settings = _settings(landing=landing, warehouse=warehouse, quarantine=quarantine)
    try:
        summary = ingest_only(settings, _parse_date(date_, "--date"), _progress)
    except RunError as exc:
        _fail(str(exc))
    for q in summary.files_quarantined:
        console.print(f"[yellow]quarantined[/yellow] {q['source_file']}: {q['reason']}", highlight=False)
    console.print(f"loaded {len(summary.files_loaded)} file(s)")


@app.command()
def run(
    date_: Annotated[Optional[str], typer.Option("--date", help="Business date to reconcile (YYYY-MM-DD).")] = None,
    from_: Annotated[Optional[str], typer.Option("--from", help="First date of a range.")] = None,
    to: Annotated[Optional[str], typer.Option("--to", help="Last date of a range (inclusive).")] = None,
    landing: LandingOpt = None, warehouse: WarehouseOpt = None, output: OutputOpt = None,
    quarantine: QuarantineOpt = None,
    locale: Annotated[Optional[str], typer.Option("--locale", help="Language of the reports, exports and alerts: zh_CN (default) or en (env RECON_REPORTS__LOCALE).")] = None,
) -> None:
    """Ingest, match, carry open items, export breaks and render reports for a date or a range."""
    import duckdb

    from etl.match import ControlTotalsError
    from etl.pipeline import RunError, run_dates

    if date_ and (from_ or to):
        raise typer.BadParameter("give --date, or --from and --to, not both")
    if date_:
        dates = [_parse_date(date_, "--date")]
    elif from_ and to:
        first, last = _parse_date(from_, "--from"), _parse_date(to, "--to")
        if last < first:
            raise typer.BadParameter("--to is before --from")
        dates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    else:
        raise typer.BadParameter("give --date, or --from and --to")
    settings = _settings(landing=landing, warehouse=warehouse, output=output, quarantine=quarantine)
    if locale is not None:
        try:
            settings = settings.model_copy(update={"reports": settings.reports.model_copy(
                update={"locale": normalize(locale)})})
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--locale") from None
    try:
        summaries = run_dates(settings, dates, _progress)
    except (RunError, ControlTotalsError) as exc:
        _fail(str(exc))
    except OSError as exc:  # a full disk, a read-only folder: say which file, publish nothing
        _fail(f"cannot write {exc.filename or 'output'}: {exc.strerror or exc}")
    except duckdb.IOException as exc:  # DuckDB's own writes (COPY to Parquet or CSV) on a full disk
        _fail(f"cannot write output: {exc}")
    for s in summaries:
        breaks = sum(s.breaks_by_type.values())
        console.print(
            f"[green]{s.business_date}[/green]: {len(s.files_loaded)} file(s) loaded, "
            f"{len(s.files_quarantined)} quarantined, {breaks:,} break(s) → "
            f"{settings.paths.output / s.business_date.isoformat()}", highlight=False)


@app.command()
def pull(
    date_: Annotated[str, typer.Option("--date", help="Business date to pull (YYYY-MM-DD).")],
    only: Annotated[Optional[str], typer.Option("--only", help="Comma-separated: orders,billing,alipay,wechatpay,unionpay.")] = None,
    landing: LandingOpt = None,
) -> None:
    """Pull a date's orders and billing from the databases and download the provider statements
    into the landing zone (credentials from the environment: docs/SOURCES.md)."""
    from datetime import timedelta as td

    from etl.extract.credentials import CredentialsError, database_uri, provider_credentials
    from etl.extract.database import ExtractError, pull as pull_table
    from etl.extract.providers import DownloadError, download_statement

    settings = _settings(landing=landing)
    day = _parse_date(date_, "--date")
    wanted = (only or ",".join(("orders", "billing", *settings.providers.active))).split(",")
    src = settings.sources
    try:
        for kind in wanted:
            if kind in ("orders", "billing"):
                result = pull_table(
                    kind, database_uri(f"{kind}_db"), day, settings.paths.landing,
                    src.state_dir, chunk_rows=src.chunk_rows, overlap=td(minutes=src.overlap_minutes),
                    cutoff=td(minutes=settings.matching.grace_minutes) if kind == "billing" else td(0))
                console.print(f"{kind}: {sum(f.rows for f in result.files):,} rows in {len(result.files)} file(s)")
            else:
                got = download_statement(kind, day, settings.paths.landing, provider_credentials(kind))
                console.print(f"{kind}: {got.path}", highlight=False)
    except (CredentialsError, ExtractError, DownloadError) as exc:
        _fail(str(exc))


@app.command()
def archive(
    before: Annotated[Optional[str], typer.Option("--before", help="Archive everything dated before this date (YYYY-MM-DD); default: what retention.keep_days no longer keeps.")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Move raw ledger rows and per-order results out of the warehouse into date-partitioned
    Parquet under paths.archive (checked, then deleted). The nightly run does this by itself."""
    from etl.pipeline import RunError
    from etl.retention import RetentionError, archive_command

    settings = _settings(warehouse=warehouse)
    try:
        first_kept, done = archive_command(settings, _parse_date(before, "--before") if before else None)
    except (RunError, RetentionError) as exc:
        _fail(str(exc))
    console.print(f"archived {len(done)} table-date(s), {sum(a.rows for a in done):,} rows, dated before "
                  f"{first_kept} → {settings.paths.archive}", highlight=False)


@app.command()
def resolve(
    key: Annotated[Optional[str], typer.Argument(help="An order id, or a break key like ORPHAN_CREDIT|C123.")] = None,
    by: Annotated[str, typer.Option("--by", help="Who resolves (recorded in the audit trail).")] = ...,
    why: Annotated[Optional[str], typer.Option("--why", help="Why (recorded in the audit trail).")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="CSV of resolutions: key,why (one per line, header).")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="First business date the resolution applies to (default: today, Asia/Shanghai).")] = None,
    reopen: Annotated[bool, typer.Option("--reopen", help="Reopen instead of resolve (supersedes the earlier resolution).")] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Mark open breaks resolved (append-only audit trail: never edited, only superseded)."""
    from etl.resolve import ResolveError, resolve_breaks, resolutions_from_csv

    settings = _settings(warehouse=warehouse)
    effective = _parse_date(as_of, "--as-of") if as_of else None
    if (key is None) == (file is None):
        raise typer.BadParameter("give one ORDER_OR_KEY, or --file")
    if key is not None and not why:
        raise typer.BadParameter("--why is required", param_hint="--why")
    try:
        items = [(key, why)] if key is not None else resolutions_from_csv(file)
        done = resolve_breaks(settings, items, by=by, effective_date=effective,
                              action="reopen" if reopen else "resolve")
    except ResolveError as exc:
        _fail(str(exc))
    for r in done:
        console.print(f"{r.action}d {r.break_key} (effective {r.effective_date})", highlight=False)


def _console_commands() -> None:
    """The console's commands (console/cli.py): its own package, registered here."""
    from console.cli import audit_app, serve, users_app

    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.command("serve")(serve)


_console_commands()


def _fix_commands() -> None:
    """``recon fix …`` (etl/fixes/cli.py)."""
    from etl.fixes.cli import fix_app

    app.add_typer(fix_app, name="fix")


_fix_commands()

if __name__ == "__main__":
    app()
