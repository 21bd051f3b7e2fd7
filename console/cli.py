"""``recon serve``, ``recon users add|disable|enable|reset|list`` and ``recon audit verify``.

Passwords are prompted (hidden, typed twice), never taken from the command line, and never
logged. Commands that change accounts are recorded in the audit log as ``cli:<os user>``.
"""
from __future__ import annotations

import getpass
from typing import Annotated, Optional

import typer
from rich.console import Console

from etl.config import load_settings

users_app = typer.Typer(no_args_is_help=True, help="Console accounts: the first admin is made here.")
audit_app = typer.Typer(no_args_is_help=True, help="The console's audit log.")
console = Console(stderr=True)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name in a container: still say it came from the CLI
        return "cli"


def _store():
    from console.auth import open_session_store

    return open_session_store(load_settings())()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


def _new_password() -> str:
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


def _change_account(change, done: str) -> None:
    """Run ``change(db, actor)`` on the store; an AccountError is a one-line failure."""
    from console.auth import AccountError

    with _store() as db:
        try:
            change(db, _actor())
        except AccountError as exc:
            _fail(str(exc))
    console.print(done, highlight=False)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help="ops | finance | product | auditor | admin")],
    display_name: Annotated[str, typer.Option("--display-name", help="Name shown on pages (default: the login).")] = "",
    locale: Annotated[str, typer.Option("--locale", help="zh_CN (default) or en.")] = "zh_CN",
) -> None:
    """Create an account; the password is prompted."""
    from console.auth import add_user

    _change_account(lambda db, actor: add_user(db, actor, name, role, _new_password(), display_name, locale),
                    f"added {name} ({role})")


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Disable an account and end its sessions."""
    from console.auth import set_disabled

    _change_account(lambda db, actor: set_disabled(db, actor, name, True), f"disabled {name}")


@users_app.command("enable")
def users_enable(name: str) -> None:
    """Enable a disabled account again."""
    from console.auth import set_disabled

    _change_account(lambda db, actor: set_disabled(db, actor, name, False), f"enabled {name}")


@users_app.command("reset")
def users_reset(name: str) -> None:
    """Set a new password (prompted); unlocks the account and ends its sessions."""
    from console.auth import reset_password

    _change_account(lambda db, actor: reset_password(db, actor, name, _new_password()), f"password of {name} reset")


@users_app.command("list")
def users_list() -> None:
    """Every account: name, role, state."""
    from console.auth import list_users

    with _store() as db:
        for u in list_users(db):
            state = "disabled" if u.disabled else f"locked until {u.locked_until:%H:%M}" if u.locked_until else "active"
            typer.echo(f"{u.name}\t{u.role}\t{u.locale}\t{state}\t{u.display_name}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain: exit 1 and name each entry edited, deleted or inserted."""
    from console.store.audit import verify
    from console.store.models import AuditHead
    from sqlalchemy import select

    with _store() as db:
        problems = verify(db)
        head = db.execute(select(AuditHead.seq, AuditHead.hash)).one()
    if problems:
        for p in problems:
            console.print(f"[red]broken:[/red] {p}", highlight=False)
        raise typer.Exit(1)
    typer.echo(f"audit log intact: {head.seq} entries, head {head.hash}")


def serve(
    host: Annotated[Optional[str], typer.Option("--host", help="Address to listen on (default [console] host).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="Port (default [console] port; 0 picks a free one).")] = None,
) -> None:
    """The web console (docs/CONSOLE.md): reads what the nightly run published, never the warehouse."""
    import uvicorn

    from console.app import create_app

    settings = load_settings()
    app = create_app(settings)
    uvicorn.run(app, host=host or settings.console.host, port=settings.console.port if port is None else port,
                proxy_headers=True, forwarded_allow_ips="127.0.0.1", server_header=False, log_level="info")
