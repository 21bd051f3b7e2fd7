"""``recon fix options|propose|approve|reject|send|status``: the fix requests from the command
line, the same actions and rules as the console's.

The acting person is a console user: ``--as NAME`` and their password, prompted (hidden) or, for
scripts, one line on stdin with ``--password-stdin``. It is checked against the console's
accounts (the same lockout, the attempt in the audit log): a typed name is never trusted.
"""
from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from etl.config import load_settings

fix_app = typer.Typer(no_args_is_help=True,
                      help="Fixes of breaks: 补充值 re-credit, 退款 refund, 冲正 reversal; proposed by one person, "
                           "approved (复核通过) by another from finance, sent, confirmed by the next night's run.")
console = Console(stderr=True)
out = Console()

AsOpt = Annotated[str, typer.Option("--as", help="Your console user name (the password is prompted).")]
StdinOpt = Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")]


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _session(name: str, password_stdin: bool):
    """(settings, sessionmaker, actor) for the signed-in user."""
    from etl.fixes.requests import FixError, sign_in
    from etl.fixes.store import open_store

    settings = load_settings()
    db_factory = open_store(settings)
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else typer.prompt("password", hide_input=True)
    try:
        actor = sign_in(db_factory, settings, name, password)
    except FixError as exc:
        _fail(str(exc))
    return settings, db_factory, actor


def _show(fix) -> None:  # noqa: ANN001 - FixRequest
    from etl.fixes.kinds import ZH, FixKind

    approvers = ", ".join(a for a in (fix.approver_1, fix.approver_2) if a) or "-"
    out.print(f"{fix.key}  {fix.state:<11} {ZH[FixKind(fix.kind)]} {fix.kind:<8} {fix.amount:>10}  "
              f"{fix.break_key}  target {fix.target}  maker {fix.maker}  approvers {approvers}"
              f"{'  (' + fix.outcome_code + ')' if fix.outcome_code else ''}", highlight=False)


@fix_app.command("options")
def options(break_key: Annotated[str, typer.Argument(help="A break key of the latest run, e.g. DUPLICATE_PAYMENT|T2026…")],
            as_: AsOpt, password_stdin: StdinOpt = False) -> None:
    """The fixes an open break allows, each with the most it may move."""
    from etl.fixes import targets
    from etl.fixes.requests import FixError, _require

    settings, _, actor = _session(as_, password_stdin)
    try:
        _require(actor, "fix.view")
        with targets.open_warehouse(settings) as wh:
            found = targets.fix_options(wh, [break_key])
    except (FixError, FileNotFoundError) as exc:
        _fail(str(exc))
    if not found:
        _fail(f"no fix for {break_key}: not an open break of the latest run, or its type has none")
    for o in found:
        out.print(f"{o.kind:<8} target {o.target}  up to {o.max_amount}", highlight=False)


@fix_app.command("propose")
def propose(break_key: Annotated[str, typer.Argument(help="The open break to fix.")],
            kind: Annotated[str, typer.Option("--kind", help="refund | recredit | reversal")],
            why: Annotated[str, typer.Option("--why", help="Why (recorded, and shown to the approver).")],
            as_: AsOpt, amount: Annotated[Optional[str], typer.Option("--amount", help="Default: all the fix may move.")] = None,
            password_stdin: StdinOpt = False) -> None:
    """Propose a fix; another person from finance approves it."""
    from etl.fixes import requests

    settings, db_factory, actor = _session(as_, password_stdin)
    try:
        value = Decimal(amount) if amount is not None else None
        fix = requests.propose(db_factory, settings, actor, break_key, kind, why, value)
    except (requests.FixError, ValueError, InvalidOperation, FileNotFoundError) as exc:
        _fail(str(exc))
    _show(fix)


@fix_app.command("approve")
def approve(key: Annotated[str, typer.Argument(help="The fix request's key.")], as_: AsOpt,
            password_stdin: StdinOpt = False) -> None:
    """复核通过: approve a fix someone else proposed (finance)."""
    from etl.fixes import requests

    _, db_factory, actor = _session(as_, password_stdin)
    try:
        _show(requests.approve(db_factory, actor, key))
    except requests.FixError as exc:
        _fail(str(exc))


@fix_app.command("reject")
def reject(key: Annotated[str, typer.Argument(help="The fix request's key.")],
           why: Annotated[str, typer.Option("--why", help="Why it is sent back.")], as_: AsOpt,
           password_stdin: StdinOpt = False) -> None:
    """驳回: send a proposal back to its maker (finance)."""
    from etl.fixes import requests

    _, db_factory, actor = _session(as_, password_stdin)
    try:
        _show(requests.decline(db_factory, actor, key, why))
    except requests.FixError as exc:
        _fail(str(exc))


@fix_app.command("send")
def send(key: Annotated[Optional[str], typer.Argument(help="The fix request's key.")] = None,
         all_: Annotated[bool, typer.Option("--all", help="Every approved fix (billing ones in one batch).")] = False,
         as_: AsOpt = "", password_stdin: StdinOpt = False) -> None:
    """Send approved fixes: refunds to their providers, re-credits and reversals to billing as a
    batch. A dry run unless the remediation setting execute is true."""
    from etl.fixes import requests

    if (key is None) == (not all_):
        raise typer.BadParameter("give one KEY, or --all")
    if not as_:
        raise typer.BadParameter("--as is required", param_hint="--as")
    settings, db_factory, actor = _session(as_, password_stdin)
    try:
        done = [requests.send(db_factory, settings, actor, key)] if key else requests.send_all(db_factory, settings, actor)
    except (requests.FixError, FileNotFoundError) as exc:
        _fail(str(exc))
    if not settings.remediation.execute:
        console.print(f"dry run (remediation execute = false): written to {settings.remediation.dry_run_dir}, "
                      "nothing sent", highlight=False)
    for fix in done:
        _show(fix)


@fix_app.command("status")
def status(key: Annotated[Optional[str], typer.Argument(help="One fix request (default: all).")] = None,
           state: Annotated[Optional[str], typer.Option("--state", help="Only this state, e.g. unconfirmed.")] = None,
           as_: AsOpt = "", password_stdin: StdinOpt = False) -> None:
    """Fix requests and where each stands."""
    from etl.fixes import requests

    if not as_:
        raise typer.BadParameter("--as is required", param_hint="--as")
    _, db_factory, actor = _session(as_, password_stdin)
    try:
        requests._require(actor, "fix.view")
    except requests.FixError as exc:
        _fail(str(exc))
    with db_factory() as db:
        found = [requests._get(db, key)] if key else requests.fixes(db, state=state)
    for fix in found:
        _show(fix)
