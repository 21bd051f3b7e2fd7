"""Fix requests and their states; who may move them (maker-checker); sending, with the money
rules checked again at the last moment.

    proposed ──approve (finance, not the maker; two approvers above the threshold)──▶ approved
    proposed ──decline (驳回)──▶ declined          declined / rejected ──propose again──▶ proposed
    approved ──send──▶ sending ──▶ accepted | rejected   (the provider's answer)
                               └─▶ sent                   (billing batch written, or the answer was lost)
    sent ──send again (same key)──▶ …                     accepted | sent ──night's run──▶ confirmed
    accepted | sent ──N days, nothing seen──▶ unconfirmed (raised to ops; confirmed when it lands)

Every change of state is one conditional UPDATE that names the state it leaves (and the people
it must not be), so of two people acting at once exactly one wins; the database's CHECKs
(etl/fixes/store/models.py) refuse an approval by the maker or an amount above the break's
bound whatever the code does. Every request, response and change of state goes to the
console's audit log in the same transaction.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from console.auth import can
from etl.config import Settings, shanghai_now
from etl.extract.providers.http import DEFAULT_POLICY, DownloadError, Http, RetryPolicy
from etl.fixes import targets
from etl.fixes.billing_batch import BatchLine, write_batch
from etl.fixes.kinds import FixKind, fix_key
from etl.fixes.senders import RefundRequest, send_refund
from etl.fixes.store import record
from etl.fixes.store.models import FixRequest

log = logging.getLogger(__name__)

IN_FLIGHT = ("sending", "sent", "accepted", "unconfirmed")  # sent, and not yet seen in a statement
ACTIVE = ("proposed", "approved", *IN_FLIGHT)  # neither finished nor refused
SENT_STATES = ("sending", "sent", "accepted", "rejected", "confirmed", "unconfirmed")
STALE_SENDING = timedelta(minutes=10)  # a send that crashed mid-way may be taken again after this


class FixError(ValueError):
    """An action refused, with the reason (said to the person, and recorded)."""


@dataclass(frozen=True)
class Actor:
    """A person the console knows, with their role (console.auth.ROLES), or the night's run."""
    name: str
    role: str


RUN = Actor("recon-run", "system")


def _audit(db: Session, who: Actor, what: str, fix: FixRequest | str, **detail: Any) -> None:
    """One entry of the console's audit log, in the caller's transaction (target ``fix:<key>``)."""
    key = fix if isinstance(fix, str) else fix.key
    record(db, who.name, what, f"fix:{key}", detail)


def _require(actor: Actor, permission: str) -> None:
    if not can(actor.role, permission):
        raise FixError(f"{actor.name} ({actor.role}) may not {permission.split('.', 1)[1]} fixes")


def _get(db: Session, key: str) -> FixRequest:
    fix = db.get(FixRequest, key)
    if fix is None:
        raise FixError(f"no fix request {key}")
    return fix


def _transition(db: Session, key: str, where: list, values: dict) -> bool:
    """One conditional UPDATE; True when it changed the row (the conditions held)."""
    values = {**values, "version": FixRequest.version + 1}
    result = db.execute(update(FixRequest).where(FixRequest.key == key, *where).values(**values)
                        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _refused(db_factory: sessionmaker[Session], actor: Actor, key: str, action: str, reason: str) -> FixError:
    """Record a refusal in the audit log (its own transaction) and return the error to raise."""
    with db_factory() as db, db.begin():
        _audit(db, actor, "fix.refused", key, refused=action, reason=reason)
    return FixError(reason)


# ---------------------------------------------------------------------------- propose

def in_flight_refunds(db: Session, provider: str, provider_txn_id: str, but: str | None = None) -> Decimal:
    """Refunds of the payment approved or sent and not yet in a statement (``but`` left out)."""
    where = [FixRequest.kind == "refund", FixRequest.provider == provider,
             FixRequest.provider_txn_id == provider_txn_id, FixRequest.state.in_(("approved", *IN_FLIGHT))]
    if but:
        where.append(FixRequest.key != but)
    return db.execute(select(func.coalesce(func.sum(FixRequest.amount), 0)).where(*where)).scalar_one()


def propose(db_factory: sessionmaker[Session], settings: Settings, actor: Actor, break_key: str, kind: str,
            reason: str, amount: Decimal | None = None, target: str | None = None) -> FixRequest:
    """Propose a fix of the open break ``break_key`` as of the latest run. The amount defaults to
    the most the fix may move, and may not exceed it."""
    _require(actor, "fix.propose")
    if not reason.strip():
        raise FixError("say why (reason)")
    kind = FixKind(kind).value
    with targets.open_warehouse(settings) as wh:
        run_date = targets.latest_run_date(wh)
        options = [o for o in targets.fix_options(wh, [break_key], run_date)
                   if o.kind == kind and (target is None or o.target == target)]
        remaining = (targets.payment_remaining(wh, options[0].provider, options[0].provider_txn_id)
                     if options and kind == "refund" else None)
    if not options:
        raise FixError(f"no {kind} fix for {break_key}: not an open break of the run of {run_date}, "
                       "or its type has no such fix (docs/REMEDIATION.md)")
    option = options[0]
    bound = option.max_amount
    amount = bound if amount is None else Decimal(amount)
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise FixError(f"amount {amount} must be positive, in fen")
    if amount > bound:
        raise FixError(f"amount {amount} is more than this fix may move ({bound}): the break holds no more")
    key = fix_key(break_key, kind, option.target)
    now = shanghai_now()
    two = amount > settings.remediation.two_approvers_above
    with db_factory() as db, db.begin():
        other = db.execute(select(FixRequest.key, FixRequest.kind, FixRequest.state).where(
            FixRequest.break_key == break_key, FixRequest.key != key, FixRequest.state.in_(ACTIVE))).first()
        if other is not None:
            # one remedy at a time: a re-credit and a refund of one missing credit would pay twice
            raise FixError(f"{break_key} already has fix {other.key} ({other.kind}, {other.state}): "
                           "wait for it to be confirmed, or have it declined")
        if kind == "refund":
            left = (remaining or Decimal(0)) - in_flight_refunds(db, option.provider, option.provider_txn_id, but=key)
            if amount > left:
                raise FixError(f"amount {amount} is more than payment {option.provider_txn_id} has left ({left}) "
                               "after its refunds and the refunds already on their way")
        fields = dict(break_key=break_key, break_type=option.break_type, business_date=run_date, kind=kind,
                      target=option.target, order_id=option.order_id, provider=option.provider,
                      provider_txn_id=option.provider_txn_id, credit_id=option.credit_id,
                      product_type=option.product_type, payment_amount=option.payment_amount, amount=amount,
                      max_amount=bound, reason=reason.strip(), state="proposed", approvals_needed=2 if two else 1,
                      maker=actor.name, made_at=now, approver_1=None, approved_1_at=None, approver_2=None,
                      approved_2_at=None, declined_by=None, declined_at=None, decline_reason=None)
        # proposed again after a refusal: a new send (UnionPay's txnTime, the hourly limits)
        resend = dict(first_sent_at=None, last_sent_at=None, outcome_code=None, outcome_message=None)
        existing = db.get(FixRequest, key)
        if existing is None:
            db.add(FixRequest(key=key, send_attempts=0, version=0, **fields))
            db.flush()
        elif existing.state in ("declined", "rejected"):
            # the same break, kind and target keep their key: proposing again reuses it, so a
            # provider that took an earlier request with it can never refund twice
            if not _transition(db, key, [FixRequest.state == existing.state], {**fields, **resend}):
                raise FixError(f"{key} changed meanwhile; look again")
        else:
            raise FixError(f"{key} is already {existing.state} (proposed by {existing.maker})")
        _audit(db, actor, "fix.propose", key, break_key=break_key, kind=kind, target=option.target,
               amount=str(amount), bound=str(bound), approvals_needed=2 if two else 1, reason=reason.strip())
    with db_factory() as db:
        return _get(db, key)


# ---------------------------------------------------------------------------- approve / decline

def approve(db_factory: sessionmaker[Session], actor: Actor, key: str) -> FixRequest:
    """复核通过: a finance user who is not the maker (nor the first approver). The fix is
    approved with the last approval it needs."""
    _require(actor, "fix.approve")
    with db_factory() as db:
        fix = _get(db, key)
    if fix.maker == actor.name:
        raise _refused(db_factory, actor, key, "approve", f"{actor.name} proposed {key} and may not approve it")
    if fix.approver_1 == actor.name:
        raise _refused(db_factory, actor, key, "approve", f"{actor.name} has approved {key} already: "
                                                          "a second approver must be someone else")
    now = shanghai_now()
    with db_factory() as db, db.begin():
        # the UPDATE comes first in its transaction, and its WHERE re-asserts every rule
        first = _transition(db, key, [FixRequest.state == "proposed", FixRequest.approver_1.is_(None),
                                      FixRequest.maker != actor.name],
                            {"approver_1": actor.name, "approved_1_at": now,
                             "state": _case_state()})
        second = first or _transition(db, key, [FixRequest.state == "proposed", FixRequest.approver_1.is_not(None),
                                                FixRequest.approver_2.is_(None), FixRequest.approvals_needed == 2,
                                                FixRequest.maker != actor.name, FixRequest.approver_1 != actor.name],
                                      {"approver_2": actor.name, "approved_2_at": now, "state": "approved"})
        if first or second:
            fix = _get(db, key)
            _audit(db, actor, "fix.approve", fix, approval=1 if first else 2, state=fix.state, amount=str(fix.amount))
            if fix.state == "approved":
                _audit(db, actor, "fix.state", fix, **{"from": "proposed", "to": "approved"})
    if not (first or second):
        with db_factory() as db:
            state = _get(db, key).state
        raise _refused(db_factory, actor, key, "approve", f"{key} is {state}, not waiting for an approval")
    return fix


def _case_state():
    from sqlalchemy import case

    return case((FixRequest.approvals_needed == 1, "approved"), else_="proposed")


def decline(db_factory: sessionmaker[Session], actor: Actor, key: str, reason: str) -> FixRequest:
    """驳回: a finance user who is not the maker sends a proposal back, with the reason."""
    _require(actor, "fix.approve")
    if not reason.strip():
        raise FixError("say why (reason)")
    with db_factory() as db, db.begin():
        done = _transition(db, key, [FixRequest.state == "proposed", FixRequest.maker != actor.name],
                           {"state": "declined", "declined_by": actor.name, "declined_at": shanghai_now(),
                            "decline_reason": reason.strip()})
        if done:
            fix = _get(db, key)
            _audit(db, actor, "fix.decline", fix, reason=reason.strip())
            _audit(db, actor, "fix.state", fix, **{"from": "proposed", "to": "declined"})
    if not done:
        with db_factory() as db:
            fix = _get(db, key)
        why = (f"{actor.name} proposed {key} and may not decline it" if fix.maker == actor.name
               else f"{key} is {fix.state}, not waiting for an approval")
        raise _refused(db_factory, actor, key, "decline", why)
    return fix


# ---------------------------------------------------------------------------- send

CredentialsFor = Callable[[str], Any]


def _limits(db: Session, settings: Settings, fix: FixRequest, now: datetime) -> str | None:
    """Why the per-hour limits refuse a first send of ``fix`` now, or None."""
    if fix.first_sent_at is not None:
        return None  # a retry of the same request: counted when it was first sent
    hour_ago = now - timedelta(hours=1)
    count, amount = db.execute(select(func.count(), func.coalesce(func.sum(FixRequest.amount), 0))
                               .where(FixRequest.first_sent_at >= hour_ago)).one()
    rules = settings.remediation
    if count + 1 > rules.max_sends_per_hour:
        return f"the limit of {rules.max_sends_per_hour} sends an hour is reached"
    if Decimal(amount) + fix.amount > rules.max_amount_per_hour:
        return (f"sending {fix.amount} would pass the limit of {rules.max_amount_per_hour} an hour "
                f"({amount} sent in the last hour)")
    return None


def _refund_request(fix: FixRequest, first_sent_at: datetime) -> RefundRequest:
    return RefundRequest(key=fix.key, provider=fix.provider, provider_txn_id=fix.provider_txn_id,
                         order_id=fix.order_id, amount=fix.amount, payment_amount=fix.payment_amount,
                         reason=fix.reason, first_sent_at=first_sent_at)


def _batch_line(fix: FixRequest, msisdn: str | None, at: datetime) -> BatchLine:
    return BatchLine(request_key=fix.key, kind=fix.kind, order_id=fix.order_id, msisdn=msisdn, amount=fix.amount,
                     product_type=fix.product_type, reverses_credit_id=fix.credit_id if fix.kind == "reversal" else None,
                     reason=fix.reason, requested_at=at)


def _dry_run(settings: Settings, fix: FixRequest, payload: dict) -> str:
    folder = settings.remediation.dry_run_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{fix.key}.json"
    path.touch(mode=0o600)  # what would be sent may hold a whole phone number
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    return str(path)


def send(db_factory: sessionmaker[Session], settings: Settings, actor: Actor, key: str, *,
         credentials_for: CredentialsFor | None = None, http: Http | None = None,
         policy: RetryPolicy = DEFAULT_POLICY) -> FixRequest:
    """Send an approved fix (or repeat one whose outcome is unknown) with its one key.

    Refused before anything leaves: the kill switch, the per-hour limits, and a refund above
    what its payment has left now (the warehouse's statements, less the other refunds on their
    way). With ``[remediation] execute = false`` the request is written to ``dry_run_dir``
    and the fix stays approved."""
    now = shanghai_now()
    ready = _prepare(db_factory, settings, actor, key, now)
    if isinstance(ready, FixRequest):  # a dry run
        return ready
    fix, msisdn, first_sent_at = ready
    if fix.kind == "refund":
        return _send_refund(db_factory, settings, actor, fix, first_sent_at, credentials_for, http, policy)
    return _send_billing(db_factory, settings, actor, [(fix, msisdn)], now)[0]


def send_all(db_factory: sessionmaker[Session], settings: Settings, actor: Actor, *,
             credentials_for: CredentialsFor | None = None, http: Http | None = None,
             policy: RetryPolicy = DEFAULT_POLICY) -> list[FixRequest]:
    """Send every approved fix (and repeat those whose outcome is unknown): refunds one by one,
    re-credits and reversals together in one billing batch. A refusal (a limit, the kill
    switch) stops the rest; what was claimed before it is still sent."""
    now = shanghai_now()
    with db_factory() as db:
        keys = [f.key for f in db.execute(select(FixRequest).where(FixRequest.state.in_(("approved", "sent")))
                                          .order_by(FixRequest.made_at, FixRequest.key)).scalars()]
    done: list[FixRequest] = []
    billing: list[tuple[FixRequest, str | None]] = []
    try:
        for key in keys:
            ready = _prepare(db_factory, settings, actor, key, now)
            if isinstance(ready, FixRequest):
                done.append(ready)
            elif ready[0].kind == "refund":
                done.append(_send_refund(db_factory, settings, actor, ready[0], ready[2], credentials_for, http, policy))
            else:
                billing.append((ready[0], ready[1]))
    finally:
        if billing:
            done.extend(_send_billing(db_factory, settings, actor, billing, now))
    return done


def _prepare(db_factory: sessionmaker[Session], settings: Settings, actor: Actor, key: str,
             now: datetime) -> FixRequest | tuple[FixRequest, str | None, datetime]:
    """Every check before a send, then the claim: (the fix, the phone for a billing line, the
    first send's time), or the fix itself after a dry run."""
    _require(actor, "fix.send")
    rules = settings.remediation
    if rules.kill_switch:
        raise _refused(db_factory, actor, key, "send", "the kill switch is on ([remediation] kill_switch): nothing is sent")
    with db_factory() as db:
        fix = _get(db, key)
        if fix.state not in ("approved", "sent", "sending"):
            raise FixError(f"{key} is {fix.state}: only an approved fix, or one whose outcome is unknown, is sent")
        limit = _limits(db, settings, fix, now)
        in_flight = in_flight_refunds(db, fix.provider, fix.provider_txn_id, but=key) if fix.kind == "refund" else None
    if limit:
        raise _refused(db_factory, actor, key, "send", limit)
    msisdn = None
    with targets.open_warehouse(settings) as wh:
        if fix.kind == "refund":
            remaining = targets.payment_remaining(wh, fix.provider, fix.provider_txn_id)
            already = targets.landed_keys(wh, [key], date.max)
            left = (remaining or Decimal(0)) - in_flight
            if not already and fix.amount > left:
                raise _refused(db_factory, actor, key, "send",
                               f"{fix.amount} is more than payment {fix.provider_txn_id} has left now ({left}): "
                               "not sent")
        else:
            msisdn = targets.msisdn_for(wh, fix.order_id, fix.credit_id)
    first_sent_at = fix.first_sent_at or now
    if not rules.execute:
        payload = ({"provider": fix.provider, "request": _refund_request(fix, first_sent_at).__dict__}
                   if fix.kind == "refund" else {"billing_batch_line": _batch_line(fix, None, now).row()})
        path = _dry_run(settings, fix, payload)
        with db_factory() as db, db.begin():
            _audit(db, actor, "fix.dry_run", key, written=path)
        log.info("dry run: %s written to %s, nothing sent", key, path)
        with db_factory() as db:
            return _get(db, key)

    # claim it: of two senders at once, one goes on
    with db_factory() as db, db.begin():
        claimed = _transition(db, key, [FixRequest.state.in_(("approved", "sent", "sending")),
                                        (FixRequest.state != "sending") | (FixRequest.last_sent_at < now - STALE_SENDING)],
                              {"state": "sending", "first_sent_at": first_sent_at, "last_sent_at": now,
                               "send_attempts": FixRequest.send_attempts + 1})
        if claimed:
            _audit(db, actor, "fix.state", key, **{"from": fix.state, "to": "sending"})
    if not claimed:
        raise _refused(db_factory, actor, key, "send", f"{key} is being sent by someone else")
    return fix, msisdn, first_sent_at


def _finish(db_factory, actor: Actor, key: str, state: str, audit_action: str, detail: dict, **values) -> FixRequest:
    with db_factory() as db, db.begin():
        _transition(db, key, [FixRequest.state == "sending"], {"state": state, **values})
        _audit(db, actor, audit_action, key, **detail)
        _audit(db, actor, "fix.state", key, **{"from": "sending", "to": state})
    with db_factory() as db:
        return _get(db, key)


def _send_refund(db_factory, settings: Settings, actor: Actor, fix: FixRequest, first_sent_at: datetime,
                 credentials_for: CredentialsFor | None, http: Http | None, policy: RetryPolicy) -> FixRequest:
    request = _refund_request(fix, first_sent_at)
    endpoint = settings.remediation.providers[fix.provider]
    with db_factory() as db, db.begin():
        _audit(db, actor, "fix.send.request", fix, provider=fix.provider, endpoint=endpoint.refund_url or "(gateway)",
               out_request_no=fix.key, provider_txn_id=fix.provider_txn_id, amount=str(fix.amount))
    try:
        credentials = (credentials_for or _credentials(settings))(fix.provider)
        outcome = send_refund(request, credentials, endpoint, http=http, policy=policy)
    except DownloadError as exc:  # TransientError after the retries, SignatureError, SendError
        # the outcome is unknown: the fix stays sent, and the next send repeats the same key
        return _finish(db_factory, actor, fix.key, "sent", "fix.send.response",
                       {"outcome": "unknown", "error": type(exc).__name__, "message": str(exc)},
                       outcome_code=type(exc).__name__, outcome_message=str(exc)[:1000])
    return _finish(db_factory, actor, fix.key, outcome.status, "fix.send.response",
                   {"outcome": outcome.status, "code": outcome.code, "message": outcome.message,
                    "request": outcome.request, "response": outcome.response},
                   outcome_code=outcome.code, outcome_message=outcome.message[:1000],
                   provider_refund_id=outcome.provider_refund_id)


def _send_billing(db_factory, settings: Settings, actor: Actor, fixes: list[tuple[FixRequest, str | None]],
                  now: datetime) -> list[FixRequest]:
    lines = [_batch_line(fix, msisdn, now) for fix, msisdn in fixes]
    try:
        written = write_batch(lines, settings.remediation.billing_batch_dir, now)
    except OSError as exc:
        for fix, _ in fixes:  # nothing was published (the batch is written atomically): back to approved
            _finish(db_factory, actor, fix.key, "approved", "fix.send.response",
                    {"outcome": "not written", "error": str(exc)})
        raise FixError(f"the billing batch could not be written: {exc}") from exc
    done = []
    for fix, _ in fixes:
        done.append(_finish(db_factory, actor, fix.key, "sent", "fix.send.request",
                            {"batch_file": written.path.name, "sha256": written.sha256, "action": fix.kind,
                             "amount": str(fix.amount), "order_id": fix.order_id, "credit_id": fix.credit_id},
                            batch_file=written.path.name))
    return done


def _credentials(settings: Settings) -> CredentialsFor:
    """Provider credentials from the environment (``RECON_<PROVIDER>_*``, docs/SOURCES.md), as
    ``recon pull`` reads them; a DAG passes ``credentials_for`` reading its Airflow connections
    (``[remediation.providers.<p>] conn``)."""
    from etl.extract.credentials import provider_credentials

    return lambda provider: provider_credentials(provider)


def credentials_from_connections(settings: Settings) -> CredentialsFor:
    """For a DAG task that sends: each provider's credentials from its Airflow connection
    (``[remediation.providers.<p>] conn``), as the statement downloads read theirs."""
    from etl.extract.credentials import provider_credentials

    return lambda provider: provider_credentials(provider, conn_id=settings.remediation.providers[provider].conn)


# ---------------------------------------------------------------------------- status

def fixes(db: Session, state: str | None = None, break_key: str | None = None) -> list[FixRequest]:
    query = select(FixRequest).order_by(FixRequest.made_at, FixRequest.key)
    if state:
        query = query.where(FixRequest.state == state)
    if break_key:
        query = query.where(FixRequest.break_key == break_key)
    return list(db.execute(query).scalars())


def sign_in(db_factory: sessionmaker[Session], settings: Settings, name: str, password: str) -> Actor:
    """The console user ``name``, when ``password`` is theirs (console.auth.authenticate: the same
    lockout, and the attempt in the audit log). The CLI never takes a typed name on trust."""
    from console.auth import Policy, authenticate

    with db_factory() as db:
        user = authenticate(db, name, password, Policy.from_settings(settings.console), ip="cli")
        if user is None:
            raise FixError("unknown user or wrong password (or the account is locked or disabled)")
        return Actor(user.name, user.role)

