"""The fix requests' page (/fixes): propose a 补充值, 退款 or 冲正 for an open break, and approve
(复核通过) or send back (驳回) what others proposed. The rules are etl.fixes.requests's, the same
as ``recon fix``'s: this page only asks. Sending stays with ``recon fix send`` (it needs the
providers' keys, which the console does not hold)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Callable

from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from console import actions
from etl.fixes import requests as fix_requests
from etl.fixes.kinds import FixKind
from etl.fixes.store import migrate_fixes
from etl.i18n import N_

# what people read for each kind and state (glossary-zh.md: 补充值, 退款, 冲正, 复核通过, 驳回)
KIND_NAMES = {FixKind.RECREDIT.value: N_("Re-credit"), FixKind.REFUND.value: N_("Refund"),
              FixKind.REVERSAL.value: N_("Credit reversal")}
STATE_NAMES = {"proposed": N_("Waiting for approval"), "approved": N_("Approved"), "declined": N_("Sent back"),
               "sending": N_("Sending"), "sent": N_("Sent"), "accepted": N_("Accepted by the provider"),
               "rejected": N_("Refused by the provider"), "confirmed": N_("Confirmed by the night's run"),
               "unconfirmed": N_("Not confirmed: check with the provider or billing")}


def _actor(ctx) -> fix_requests.Actor:  # noqa: ANN001 - console.app.Ctx
    return fix_requests.Actor(ctx.user.name, ctx.user.role)


def _field(ctx, name: str) -> str:  # noqa: ANN001
    value = str(ctx.fields.get(name) or "").strip()
    if not value:
        raise actions.Refused(ctx._("%(field)s is required", field=name))
    return value


def register(page: Callable, redirect: Callable[[str], Response], store: sessionmaker[Session]) -> None:
    """Declare the page and its actions on the console (``page`` is create_app's decorator), the
    fix requests' table made in its store first."""
    migrate_fixes(store.kw["bind"])

    @page("GET", "/fixes", "fix.view")
    def fixes(ctx) -> Response:  # noqa: ANN001
        rows = fix_requests.fixes(ctx.db, state=ctx.fields.get("state") or None)
        return ctx.render("fixes.html.j2", fixes=rows, kind_names=KIND_NAMES, state_names=STATE_NAMES)

    @page("POST", "/fixes/propose", "fix.propose")
    def fix_propose(ctx) -> Response:  # noqa: ANN001
        amount_text = str(ctx.fields.get("amount") or "").strip()
        try:
            amount = Decimal(amount_text) if amount_text else None
            fix_requests.propose(ctx.request.app.state.store, ctx.settings, _actor(ctx), _field(ctx, "break_key"),
                                 _field(ctx, "kind"), _field(ctx, "reason"), amount)
        except (fix_requests.FixError, ValueError, InvalidOperation, FileNotFoundError) as exc:
            raise actions.Refused(str(exc)) from None
        return redirect("/fixes")

    @page("POST", "/fixes/approve", "fix.approve")
    def fix_approve(ctx) -> Response:  # noqa: ANN001
        try:
            fix_requests.approve(ctx.request.app.state.store, _actor(ctx), _field(ctx, "key"))
        except fix_requests.FixError as exc:
            raise actions.Refused(str(exc)) from None
        return redirect("/fixes")

    @page("POST", "/fixes/decline", "fix.approve")
    def fix_decline(ctx) -> Response:  # noqa: ANN001
        try:
            fix_requests.decline(ctx.request.app.state.store, _actor(ctx), _field(ctx, "key"), _field(ctx, "reason"))
        except fix_requests.FixError as exc:
            raise actions.Refused(str(exc)) from None
        return redirect("/fixes")
