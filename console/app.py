"""The web console: routes grouped by page (today, queue, story, search, finance, product,
audit, users), server-rendered with Jinja2, no script.

Every route is declared with ``@page(method, path, permission)``: the wrapper signs the user in
from the session cookie, asks ``console.auth.can`` on the server, checks the CSRF token of every
form, refuses unknown fields, and runs the handler in a worker thread (DuckDB and the store are
blocking). ``ROUTES`` lists them all, so the role tests cover every route there is.
"""
from __future__ import annotations

import csv
import io
import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from console import actions, auth, forms
from console.auth import Current, Policy
from console.published import Published
from console.reasons import AGE_BUCKETS, BREAK_TYPES, CHANNELS, PROVIDERS, REASONS, SLA_STATES, SlaRule, why
from etl import i18n
from etl.config import Settings, shanghai_now
from etl.i18n import N_
from etl.privacy import mask_text, spreadsheet_safe

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_COOKIE = "recon_session"
LOGIN_COOKIE = "recon_login"
CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


class NotSignedIn(Exception):
    pass


class Forbidden(Exception):
    pass


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    permission: str | None   # None: open to anyone (the login page, the stylesheet)
    name: str


ROUTES: list[RouteSpec] = []


@dataclass
class Ctx:
    """One request as a handler sees it."""
    request: Request
    settings: Settings
    db: Session
    published: Published
    user: Current | None
    fields: dict[str, Any]
    env: Environment
    upload: UploadFile | None = None
    upload_bytes: bytes | None = None
    cookies: list[tuple[str, str, dict]] = field(default_factory=list)

    @property
    def _(self) -> Callable[..., str]:
        return self.env.globals["py_gettext"]

    def can(self, permission: str) -> bool:
        return auth.can(self.user.role if self.user else None, permission)

    def render(self, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(user=self.user, can=self.can, path=self.request.url.path,
                                                      **context)
        return HTMLResponse(html, status_code=http_status)

    def audit(self, action: str, target: str, detail: dict[str, Any] | None = None, commit: bool = True) -> None:
        from console.store import audit

        audit.record(self.db, self.user.name if self.user else "?", action, target, detail or {})
        if commit:
            self.db.commit()


def _environment(locale: str) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(HERE.parent / "reports" / "templates")]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        # every value printed from data passes the phone-number mask, as in the reports
        finalize=lambda v: mask_text(v) if isinstance(v, str) and not isinstance(v, Markup) else v,
    )
    i18n.install(env, locale)
    plain = i18n.gettext_for(locale)

    def _(message: str, **values: Any) -> str:
        """gettext for Python code, with %(name)s values (the templates' own is context-bound)."""
        text = plain(message)
        return text % values if values else text

    env.globals["py_gettext"] = _
    env.globals.update(BREAK_TYPES=BREAK_TYPES, PROVIDERS=PROVIDERS, REASONS=REASONS, SLA_STATES=SLA_STATES,
                       AGE_BUCKETS=AGE_BUCKETS, ROLES=auth.ROLES, ROLE_NAMES=auth.ROLE_NAMES_EN,
                       LOCALES=i18n.LOCALES)
    env.filters["svg"] = lambda svg: Markup(svg) if svg else ""  # our own charts only (matplotlib escapes text)
    # the one number an ops user chose to reveal (audited): escaped, and not masked again
    env.filters["safe_number"] = lambda number: Markup.escape(number)
    env.filters["channel"] = lambda code: _(CHANNELS[code]) if code in CHANNELS else (code or "")
    env.filters["why"] = lambda row: why(row, _, env.filters["money"])
    env.filters["qs"] = lambda params: urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return env


def create_app(settings: Settings, store: sessionmaker[Session] | None = None) -> FastAPI:
    """The console for ``settings``: its store migrated, the published outputs under
    ``[paths] output``."""
    if store is None:
        store = auth.open_session_store(settings)
    policy = Policy.from_settings(settings.console)
    published = Published(settings.paths.output, SlaRule.from_settings(settings.console),
                          threads=settings.duckdb.threads, memory_limit="1GB")
    # the latest night's breaks are loaded before the first person asks for them
    threading.Thread(target=published.latest_breaks, daemon=True).start()
    envs = {loc: _environment(loc) for loc in i18n.LOCALES}
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.store, app.state.published = settings, store, published
    app.state.bulk_secret = secrets.token_bytes(32)  # signs bulk previews; a restart voids open previews
    ROUTES.clear()
    use_sso = settings.console.auth == "oidc"

    def secure(request: Request) -> bool:
        mode = settings.console.secure_cookies
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")

    @app.middleware("http")
    async def headers(request: Request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if request.url.path != "/static/console.css":
            response.headers["Cache-Control"] = "no-store"
        if secure(request):
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    def page(method: str, path: str, permission: str | None, *, csrf: bool = True, upload: bool = False):
        def register(handler: Callable[[Ctx], Response]):
            async def endpoint(request: Request) -> Response:
                return await _serve(request, handler, method, permission, csrf, upload)

            endpoint.__name__ = handler.__name__
            app.add_api_route(path, endpoint, methods=[method], name=handler.__name__, include_in_schema=False)
            ROUTES.append(RouteSpec(method, path, permission, handler.__name__))
            return handler
        return register

    async def _serve(request: Request, handler, method: str, permission: str | None, csrf: bool,
                     upload: bool) -> Response:
        fields: dict[str, Any] = dict(request.query_params) if method == "GET" else {}
        file: UploadFile | None = None
        data: bytes | None = None
        limit = settings.console.max_upload_bytes
        if method == "POST":
            size = request.headers.get("content-length")
            if size and size.isdigit() and int(size) > limit + 64_000:
                return _problem(request, 413, N_("The upload is too large (at most %(n)s bytes)."), n=limit)
            try:
                form = await request.form(max_files=1 if upload else 0, max_fields=60, max_part_size=limit)
            except Exception:  # noqa: BLE001 - malformed or oversized multipart: say so, change nothing
                return _problem(request, 400, N_("The form could not be read."))
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    file = value
                    data = await value.read(limit + 1)
                else:
                    fields[key] = value
        return await run_in_threadpool(_handle, request, handler, permission, csrf, fields, file, data)

    def _problem(request: Request, status: int, message: str, **values: Any) -> HTMLResponse:
        env = envs[i18n.DEFAULT_LOCALE]
        text = env.globals["py_gettext"](message, **values)
        html = env.get_template("problem.html.j2").render(user=None, can=lambda p: False, path=request.url.path,
                                                          status=status, message=text)
        return HTMLResponse(html, status_code=status)

    def _handle(request: Request, handler, permission: str | None, csrf: bool, fields: dict[str, Any],
                file: UploadFile | None, data: bytes | None) -> Response:
        with store() as db:
            user = auth.current(db, request.cookies.get(SESSION_COOKIE), policy)
            db.commit()  # hand the connection back to the pool while DuckDB reads: a page may take a while
            env = envs[i18n.normalize(user.locale) if user else i18n.DEFAULT_LOCALE]
            ctx = Ctx(request, settings, db, published, user, fields, env, file, data)
            _ = ctx._
            try:
                if permission is not None:
                    if user is None:
                        raise NotSignedIn()
                    if not auth.can(user.role, permission):
                        raise Forbidden()
                    if request.method == "POST" and csrf and not auth.csrf_ok(user.csrf_token, fields.pop("csrf", None)):
                        return ctx.render("problem.html.j2", 403, status=403, message=_(
                            "This form is out of date or did not come from this console: nothing was changed. "
                            "Reload the page and try again."))
                    fields.pop("csrf", None)
                response = handler(ctx)
            except NotSignedIn:
                if request.method == "GET":
                    return RedirectResponse("/login?" + urlencode({"next": request.url.path}), 303)
                return ctx.render("problem.html.j2", 401, status=401, message=_("Please sign in."))
            except Forbidden:
                return ctx.render("problem.html.j2", 403, status=403,
                                  message=_("Your role may not open this page or do this."))
            except forms.BadInput as exc:
                db.rollback()
                return ctx.render("problem.html.j2", 400, status=400,
                                  message=_("Nothing was changed: %(why)s", why=str(exc)))
            except actions.Refused as exc:
                db.rollback()
                return ctx.render("problem.html.j2", 409, status=409,
                                  message=_("Nothing was changed: %(why)s", why=str(exc)))
            except actions.Conflict:
                db.rollback()
                return ctx.render("problem.html.j2", 409, status=409, message=_(
                    "Someone else acted on this break since you opened it; your change was not made. "
                    "Open the break again to see what they did."))
            for name, value, options in ctx.cookies:
                response.set_cookie(name, value, httponly=True, samesite="lax", secure=secure(request), path="/",
                                    **options)
            return response

    def redirect(url: str) -> RedirectResponse:
        return RedirectResponse(url, 303)

    # ---- sign in, sign out, settings -----------------------------------------------------
    @page("GET", "/static/console.css", None)
    def stylesheet(ctx: Ctx) -> Response:
        return Response((HERE / "static" / "console.css").read_bytes(), media_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})

    @page("GET", "/login", None)
    def login_form(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("next",))
        token = ctx.request.cookies.get(LOGIN_COOKIE)
        if not token or len(token) > 100:
            token = secrets.token_urlsafe(32)
            ctx.cookies.append((LOGIN_COOKIE, token, {"max_age": 3600}))
        return ctx.render("login.html.j2", token=token, next=_safe_next(forms.text(ctx.fields, "next")), failed=False,
                          sso=use_sso)

    @page("POST", "/login", None, csrf=False)
    def login(ctx: Ctx) -> Response:
        if use_sso:
            return ctx.render("problem.html.j2", 403, status=403, message=ctx._("Sign in with the company's single sign-on."))
        forms.only(ctx.fields, ("csrf", "name", "password", "next"))
        token = ctx.request.cookies.get(LOGIN_COOKIE) or ""
        if not auth.csrf_ok(token, ctx.fields.get("csrf")):
            return ctx.render("problem.html.j2", 403, status=403, message=ctx._(
                "This form is out of date or did not come from this console: nothing was changed. "
                "Reload the page and try again."))
        ip = ctx.request.client.host if ctx.request.client else ""
        user = auth.authenticate(ctx.db, forms.text(ctx.fields, "name")[:64], str(ctx.fields.get("password", "")),
                                 policy, ip)
        if user is None:
            return ctx.render("login.html.j2", 400, token=token, next=_safe_next(forms.text(ctx.fields, "next")),
                              failed=True, sso=False)
        session_id = auth.start_session(ctx.db, user, old_session_id=ctx.request.cookies.get(SESSION_COOKIE))
        target = _safe_next(forms.text(ctx.fields, "next")) or auth.home_for(user.role)
        response = redirect(target)
        ctx.cookies.append((SESSION_COOKIE, session_id, {}))
        return response

    @page("POST", "/logout", "self.settings")
    def logout(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ())
        ctx.audit("logout", f"user:{ctx.user.name}")
        auth.end_session(ctx.db, ctx.request.cookies.get(SESSION_COOKIE))
        response = redirect("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @page("GET", "/settings", "self.settings")
    def settings_page(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ())
        return ctx.render("settings.html.j2")

    @page("POST", "/settings", "self.settings")
    def settings_save(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("locale",))
        locale = forms.choice(ctx.fields, "locale", i18n.LOCALES, i18n.DEFAULT_LOCALE)
        auth.set_locale(ctx.db, ctx.user.name, ctx.user.name, locale)
        return redirect("/settings")

    # ---- today ---------------------------------------------------------------------------
    @page("GET", "/", "today.view")
    def today(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ())
        figures = published.today()
        state = actions.day_state(ctx.db, figures["day"]) if figures.get("day") else None
        return ctx.render("today.html.j2", f=figures, day_state=state)

    # ---- queue ---------------------------------------------------------------------------
    def _queue_filter(ctx: Ctx):
        f, assignee, page_no = forms.queue_filter(ctx.fields)
        if assignee == "-":
            f.exclude_keys = actions.keys_where(ctx.db, claimed=True)
        elif assignee:
            f.include_keys = actions.keys_where(ctx.db, assignee=ctx.user.name if assignee == "me" else assignee)
        if f.status in ("pending", "awaiting_run"):
            keys = actions.keys_where(ctx.db, console_status=f.status)
            f.include_keys = keys if f.include_keys is None else sorted(set(keys) & set(f.include_keys))
        return f, assignee, page_no

    @page("GET", "/queue", "queue.view")
    def queue(ctx: Ctx) -> Response:
        f, assignee, page_no = _queue_filter(ctx)
        result = published.queue(f, page_no, settings.console.page_size)
        state = actions.work_state(ctx.db, [r["break_key"] for r in result.rows])
        params = {k: v for k, v in ctx.fields.items() if k != "page"}
        return ctx.render("queue.html.j2", page=result, state=state, params=params, assignee=assignee or "",
                          channels=published.product_options().get("channel", []))

    def _export_name(ctx: Ctx, ext: str) -> str:
        day = published.latest()
        return f"queue-{day.isoformat() if day else 'none'}.{ext}"

    @page("GET", "/queue.csv", "queue.export")
    def queue_csv(ctx: Ctx) -> Response:
        f, _a, _p = _queue_filter(ctx)
        names, rows = published.export_rows(f, settings.console.export_max_rows)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([*names, "reason", "text"])
        for row in rows:
            writer.writerow([spreadsheet_safe(_cell(v)) for v in row] + ["", ""])
        ctx.audit("queue.export", "queue", {"rows": len(rows), "format": "csv", "filters": ctx.fields})
        return Response(("\ufeff" + buffer.getvalue()).encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{_export_name(ctx, "csv")}"'})

    @page("GET", "/queue.xlsx", "queue.export")
    def queue_xlsx(ctx: Ctx) -> Response:
        import xlsxwriter

        f, _a, _p = _queue_filter(ctx)
        names, rows = published.export_rows(f, settings.console.export_max_rows)
        buffer = io.BytesIO()
        book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False})
        sheet = book.add_worksheet("queue")
        sheet.write_row(0, 0, [*names, "reason", "text"])
        for i, row in enumerate(rows, start=1):
            sheet.write_row(i, 0, [spreadsheet_safe(_cell(v)) for v in row])
        book.close()
        ctx.audit("queue.export", "queue", {"rows": len(rows), "format": "xlsx", "filters": ctx.fields})
        return Response(buffer.getvalue(),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{_export_name(ctx, "xlsx")}"'})

    # ---- a break's story and the actions on it --------------------------------------------
    def _break(ctx: Ctx, key: str) -> dict[str, Any]:
        if not key or len(key) > 300:
            raise forms.BadInput("no break named")
        row = published.break_row(key)
        if row is None:
            raise forms.BadInput("no such break in the published runs")
        return row

    @page("GET", "/break", "story.view")
    def story(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("key",))
        row = _break(ctx, forms.text(ctx.fields, "key"))
        ctx.audit("break.view", row["break_key"])
        return ctx.render("story.html.j2", **_story_context(ctx, row))

    def _story_context(ctx: Ctx, row: dict[str, Any], revealed: str | None = None) -> dict[str, Any]:
        from console.store.models import User as UserModel
        from sqlalchemy import select

        state = actions.work_state(ctx.db, [row["break_key"]])[row["break_key"]]
        ops_users = [n for (n,) in ctx.db.execute(select(UserModel.name).where(UserModel.role == "ops",
                                                                               UserModel.disabled.is_(False)))]
        return {"row": row, "state": state, "rows": published.story(row), "others": published.other_breaks(row),
                "notes": actions.notes_of(ctx.db, row["break_key"]),
                "resolutions": actions.resolutions_of(ctx.db, row["break_key"]),
                "trail": _trail(ctx, row["break_key"]), "revealed": revealed, "ops_users": ops_users,
                "next_run": _next_run()}

    def _trail(ctx: Ctx, key: str):
        from console.store.models import AuditEntry
        from sqlalchemy import select

        return list(ctx.db.execute(select(AuditEntry).where(AuditEntry.target == key, AuditEntry.action != "break.view")
                                   .order_by(AuditEntry.seq)).scalars())

    def _next_run() -> date:
        latest = published.latest()
        return (latest + timedelta(days=1)) if latest else shanghai_now().date()

    def _action_fields(ctx: Ctx, *extra: str) -> tuple[dict[str, Any], int]:
        forms.only(ctx.fields, ("key", "version", *extra))
        row = _break(ctx, forms.text(ctx.fields, "key"))
        return row, forms.integer(ctx.fields, "version", -1, 0)

    def _back(row: dict[str, Any]) -> RedirectResponse:
        return redirect("/break?" + urlencode({"key": row["break_key"]}))

    @page("POST", "/break/claim", "break.claim")
    def claim(ctx: Ctx) -> Response:
        row, version = _action_fields(ctx, "assignee")
        assignee = forms.text(ctx.fields, "assignee")[:64] or None
        if assignee and assignee != ctx.user.name and not ctx.can("break.assign"):
            raise Forbidden()
        actions.claim(ctx.db, ctx.user.name, row["break_key"], version, assignee)
        return _back(row)

    @page("POST", "/break/note", "break.note")
    def note(ctx: Ctx) -> Response:
        row, version = _action_fields(ctx, "text")
        actions.add_note(ctx.db, ctx.user.name, row["break_key"], version, forms.text(ctx.fields, "text"))
        return _back(row)

    @page("POST", "/break/resolve", "break.resolve")
    def resolve(ctx: Ctx) -> Response:
        row, version = _action_fields(ctx, "reason", "text")
        reason = forms.choice(ctx.fields, "reason", REASONS)
        if reason is None:
            raise forms.BadInput("choose a reason")
        actions.resolve(ctx.db, ctx.user.name, actions.BreakFacts.of(row), version, reason,
                        forms.text(ctx.fields, "text"), _next_run(), settings.console.writeoff_approval_above)
        return _back(row)

    @page("POST", "/break/reopen", "break.reopen")
    def reopen(ctx: Ctx) -> Response:
        row, version = _action_fields(ctx, "text")
        actions.reopen(ctx.db, ctx.user.name, actions.BreakFacts.of(row), version, forms.text(ctx.fields, "text"),
                       _next_run())
        return _back(row)

    @page("POST", "/break/reveal", "msisdn.reveal")
    def reveal(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("key", "reason"))
        row = _break(ctx, forms.text(ctx.fields, "key"))
        reason = forms.text(ctx.fields, "reason")
        if len(reason) < 4:
            raise forms.BadInput("say why you need the number (at least a few words)")
        from console.sealing import unseal

        number = unseal(settings, row.get("msisdn_sealed"))
        if number is None:
            raise forms.BadInput("this break has no phone number")
        ctx.audit("msisdn.reveal", row["break_key"], {"reason": reason, "msisdn": row.get("msisdn_masked")})
        return ctx.render("story.html.j2", **_story_context(ctx, row, revealed=number))

    # ---- search ----------------------------------------------------------------------------
    @page("GET", "/search", "search.use")
    def search(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("q",))
        q = forms.text(ctx.fields, "q")[:128]
        found = None
        if q:
            from console.sealing import phone_hash

            digits = q.replace(" ", "").replace("-", "")
            is_phone = digits.isdigit() and len(digits) == 11 and digits.startswith("1")
            found = published.search(digits if is_phone else q, phone_hash(settings, digits) if is_phone else None)
            ctx.audit("search", "search", {"q": mask_text(q), "orders": len(found["orders"]),
                                           "breaks": len(found["breaks"])})
        return ctx.render("search.html.j2", q=q, found=found)

    # ---- finance ---------------------------------------------------------------------------
    @page("GET", "/finance", "finance.view")
    def finance(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("day",))
        latest = published.latest()
        day = forms.day(ctx.fields, "day", latest)
        if day is None:
            return ctx.render("finance.html.j2", day=None)
        month_start = day.replace(day=1)
        month = published.settlement(month_start, day)
        by_provider: dict[str, dict[str, Decimal]] = {}
        for r in month:
            agg = by_provider.setdefault(r["provider"], {k: Decimal(0) for k in (
                "gross_paid", "refunds", "fees", "net_settlement", "stated_gross_paid", "stated_refunds")})
            for k in agg:
                agg[k] += Decimal(r[k] or 0)
        return ctx.render("finance.html.j2", day=day, dates=published.dates(),
                          settlement=[r for r in month if r["business_date"] == day], month=by_provider,
                          month_start=month_start, sides=published.breaks_by_side(day) if day in published.dates() else [],
                          pending=actions.pending_writeoffs(ctx.db), day_state=actions.day_state(ctx.db, day),
                          limit=settings.console.writeoff_approval_above)

    @page("POST", "/finance/close", "day.close")
    def close_day(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("day",))
        day = forms.day(ctx.fields, "day")
        if day is None or day not in published.dates():
            raise forms.BadInput("choose a business date that has a published run")
        actions.close_day(ctx.db, ctx.user.name, day)
        return redirect(f"/finance?day={day}")

    @page("POST", "/finance/reopen", "day.reopen")
    def reopen_day(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("day", "reason"))
        day = forms.day(ctx.fields, "day")
        if day is None:
            raise forms.BadInput("choose a business date")
        actions.reopen_day(ctx.db, ctx.user.name, day, forms.text(ctx.fields, "reason"))
        return redirect(f"/finance?day={day}")

    @page("POST", "/finance/decide", "writeoff.approve")
    def decide(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("resolution", "decision", "comment"))
        decision = forms.choice(ctx.fields, "decision", ("approve", "reject"))
        if decision is None:
            raise forms.BadInput("approve or reject")
        actions.decide(ctx.db, ctx.user.name, forms.text(ctx.fields, "resolution")[:32], decision == "approve",
                       forms.text(ctx.fields, "comment"))
        return redirect("/finance")

    # ---- product ---------------------------------------------------------------------------
    @page("GET", "/product", "product.view")
    def product(ctx: Ctx) -> Response:
        from console.product import product_context

        forms.only(ctx.fields, ("from", "to", "channel", "province", "product_type", "pay_method", "split"))
        return ctx.render("product.html.j2", **product_context(ctx, published))

    # ---- the night's reports, as published (each Airflow run links to /reports/<date>/) ------
    def _report(name: str, permission: str, media_type: str) -> None:
        def report(ctx: Ctx) -> Response:
            forms.only(ctx.fields, ())
            try:
                day = date.fromisoformat(ctx.request.path_params["day"])
            except ValueError:
                raise forms.BadInput("the date must be YYYY-MM-DD") from None
            # a fixed file name under a parsed date: no path from the request reaches the disk
            path = settings.paths.output / day.isoformat() / name
            if not path.is_file():
                return ctx.render("problem.html.j2", 404, status=404,
                                  message=ctx._("No report %(name)s for %(day)s.", name=name, day=day.isoformat()))
            disposition = {} if media_type == "text/html" else {
                "Content-Disposition": f'attachment; filename="{day.isoformat()}-{name}"'}
            return Response(path.read_bytes(), media_type=media_type, headers=disposition)

        report.__name__ = "report_" + name.replace(".", "_")
        page("GET", "/reports/{day}/" + name, permission)(report)

    # who reads which file: as the console's own pages (product never sees a phone number)
    for _name, _permission, _media in (
            ("index.html", "today.view", "text/html"),
            ("finance.html", "finance.view", "text/html"),
            ("finance.xlsx", "finance.view", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("ops.html", "queue.view", "text/html"),
            ("ops_queue.csv", "queue.export", "text/csv"),
            ("ops_suggestions.csv", "queue.export", "text/csv"),
            ("product.html", "product.view", "text/html"),
            ("product.xlsx", "product.view", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("product_daily.csv", "product.view", "text/csv")):
        _report(_name, _permission, _media)

    @page("GET", "/reports/{day}/", "today.view")
    def report_home(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ())
        return redirect("index.html")

    # ---- audit -----------------------------------------------------------------------------
    def _audit_query(ctx: Ctx):
        from console.store.models import AuditEntry
        from sqlalchemy import select

        forms.only(ctx.fields, ("actor", "action", "target", "from", "to", "page"))
        q = select(AuditEntry)
        if actor := forms.text(ctx.fields, "actor")[:64]:
            q = q.where(AuditEntry.actor == actor)
        if action := forms.text(ctx.fields, "action")[:64]:
            q = q.where(AuditEntry.action == action)
        if target := forms.text(ctx.fields, "target")[:300]:
            q = q.where(AuditEntry.target == target)
        if first := forms.day(ctx.fields, "from"):
            q = q.where(AuditEntry.at >= first)
        if last := forms.day(ctx.fields, "to"):
            q = q.where(AuditEntry.at < last + timedelta(days=1))
        return q

    @page("GET", "/audit", "audit.view")
    def audit_page(ctx: Ctx) -> Response:
        from console.store.audit import verify
        from console.store.models import AuditEntry
        from sqlalchemy import func, select

        q = _audit_query(ctx)
        page_no = forms.integer(ctx.fields, "page", 1, 1, 10**7)
        size = settings.console.page_size
        total = ctx.db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
        entries = list(ctx.db.execute(q.order_by(AuditEntry.seq.desc()).limit(size).offset((page_no - 1) * size)).scalars())
        actions_known = [a for (a,) in ctx.db.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action))]
        problems = verify(ctx.db)
        params = {k: v for k, v in ctx.fields.items() if k != "page"}
        return ctx.render("audit.html.j2", entries=entries, total=total, page_no=page_no,
                          pages=max(1, -(-total // size)), params=params, actions_known=actions_known,
                          problems=problems)

    @page("GET", "/audit.csv", "audit.export")
    def audit_csv(ctx: Ctx) -> Response:
        from console.store.models import AuditEntry

        q = _audit_query(ctx)
        ctx.fields.pop("page", None)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["seq", "at", "actor", "action", "target", "detail", "prev_hash", "hash"])
        for e in ctx.db.execute(q.order_by(AuditEntry.seq)).scalars():
            writer.writerow([e.seq, e.at.isoformat(), *(spreadsheet_safe(v) for v in (e.actor, e.action, e.target, e.detail)),
                             e.prev_hash, e.hash])
        return Response(("\ufeff" + buffer.getvalue()).encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="audit.csv"'})

    # ---- users (admin) ---------------------------------------------------------------------
    @page("GET", "/users", "users.manage")
    def users(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ())
        return ctx.render("users.html.j2", users=auth.list_users(ctx.db))

    @page("POST", "/users/add", "users.manage")
    def users_add(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("name", "display_name", "role", "password"))
        role = forms.choice(ctx.fields, "role", auth.ROLES)
        try:
            auth.add_user(ctx.db, ctx.user.name, forms.text(ctx.fields, "name"), role or "",
                          str(ctx.fields.get("password", "")), forms.text(ctx.fields, "display_name"))
        except auth.AccountError as exc:
            raise forms.BadInput(str(exc)) from None
        return redirect("/users")

    def _user_change(ctx: Ctx, change: Callable[[str], None]) -> Response:
        try:
            change(forms.text(ctx.fields, "name"))
        except auth.AccountError as exc:
            raise forms.BadInput(str(exc)) from None
        return redirect("/users")

    @page("POST", "/users/disable", "users.manage")
    def users_disable(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("name",))
        if forms.text(ctx.fields, "name") == ctx.user.name:
            raise forms.BadInput("you cannot disable your own account")
        return _user_change(ctx, lambda n: auth.set_disabled(ctx.db, ctx.user.name, n, True))

    @page("POST", "/users/enable", "users.manage")
    def users_enable(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("name",))
        return _user_change(ctx, lambda n: auth.set_disabled(ctx.db, ctx.user.name, n, False))

    @page("POST", "/users/reset", "users.manage")
    def users_reset(ctx: Ctx) -> Response:
        forms.only(ctx.fields, ("name", "password"))
        return _user_change(ctx, lambda n: auth.reset_password(ctx.db, ctx.user.name, n,
                                                               str(ctx.fields.get("password", ""))))

    if use_sso:
        _single_sign_on(app, settings, store, secure, _problem)

    # ---- bulk resolve ----------------------------------------------------------------------
    from console.bulk import register as register_bulk

    register_bulk(page, published, settings, redirect, _next_run)

    # the fix requests' page (etl/fixes, docs/REMEDIATION.md)
    from console import fix_pages

    fix_pages.register(page, redirect, store)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:  # noqa: ARG001
        return _problem(request, 404, N_("There is no such page."))

    @app.exception_handler(405)
    async def not_allowed(request: Request, exc: Exception) -> Response:  # noqa: ARG001
        return _problem(request, 405, N_("There is no such page."))

    return app


def _single_sign_on(app: FastAPI, settings: Settings, store, secure, problem) -> None:  # noqa: ANN001
    """The OpenID Connect login (console/sso.py): two public routes; Starlette's signed session
    cookie holds only the flow's state and nonce, for the ten minutes a login may take."""
    from starlette.middleware.sessions import SessionMiddleware

    from console import sso

    provider = sso.client(settings)
    app.add_middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32), session_cookie="recon_sso",
                       max_age=600, same_site="lax", https_only=settings.console.secure_cookies == "always")

    async def sso_start(request: Request) -> Response:
        return await provider.authorize_redirect(request, str(request.base_url).rstrip("/") + sso.CALLBACK)

    async def sso_callback(request: Request) -> Response:
        try:
            token = await provider.authorize_access_token(request)
        except Exception:  # noqa: BLE001 - any failure of the flow: one answer, nothing signed in
            return problem(request, 400, N_("Single sign-on failed: start again from the sign-in page."))
        claims = dict(token.get("userinfo") or {})

        def finish():
            with store() as db:
                user = sso.account_for(db, settings, claims, sso.client_ip(request))
                if user is None:
                    return None
                return auth.start_session(db, user, request.cookies.get(SESSION_COOKIE)), user.role

        done = await run_in_threadpool(finish)
        if done is None:
            return problem(request, 403, N_("Your account has no role in this console, or it is disabled."))
        session_id, role = done
        response = RedirectResponse(auth.home_for(role), 303)
        response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="lax", secure=secure(request), path="/")
        return response

    for path, endpoint in (("/login/sso", sso_start), (sso.CALLBACK, sso_callback)):
        app.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False)
        ROUTES.append(RouteSpec("GET", path, None, endpoint.__name__))


def _safe_next(target: str) -> str:
    """Only a path of this console (never another site) to go to after signing in."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target \
        and len(target) < 200 and target not in ("/login", "/logout") else ""


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
